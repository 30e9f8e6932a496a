/**
 * Compare GPU overlay bytes with the CPU overlay of the reference map. The two maps agree to
 * float32 precision, so a pixel may fall in the neighbouring colormap bin only where the
 * reference value lies within `edge` of a bin boundary k/256; every other pixel must be equal.
 */
import { expect } from 'vitest';

export function expectOverlayMatches(
  got: Uint8ClampedArray,
  want: Uint8ClampedArray,
  refMap: ArrayLike<number>,
  edge = 1e-4,
): void {
  expect(got.length).toBe(want.length);
  let nearEdge = 0;
  const bad: string[] = [];
  for (let p = 0; p < refMap.length; p++) {
    const same = got[4 * p] === want[4 * p] && got[4 * p + 1] === want[4 * p + 1] && got[4 * p + 2] === want[4 * p + 2];
    if (same && got[4 * p + 3] === 255) continue;
    const v = refMap[p] * 256;
    if (Math.abs(v - Math.round(v)) < edge * 256) {
      nearEdge++;
      continue;
    }
    if (bad.length < 5)
      bad.push(
        `pixel ${p} (map ${refMap[p]}): got ${[...got.subarray(4 * p, 4 * p + 4)]}, want ${[...want.subarray(4 * p, 4 * p + 4)]}`,
      );
  }
  expect(bad, bad.join('\n')).toEqual([]);
  expect(nearEdge).toBeLessThan(refMap.length / 10);
}
