/**
 * Tolerance check |actual − expected| ≤ atol + rtol·|expected|, element by element. On failure
 * the message names the worst element (by error / allowed), both values and the counts.
 */
import { expect } from 'vitest';

export interface Tol {
  atol: number;
  rtol: number;
}

/** Default for float32 GPU results against the float64 reference. */
export const F32: Tol = { atol: 1e-5, rtol: 1e-4 };

export function allcloseReport(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tol,
): { ok: boolean; message: string } {
  if (actual.length !== expected.length) {
    return { ok: false, message: `length ${actual.length} != expected length ${expected.length}` };
  }
  let worst = -1;
  let worstRatio = 0;
  let bad = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const b = expected[i];
    const allowed = tol.atol + tol.rtol * Math.abs(b);
    const err = Math.abs(a - b);
    const ratio = Number.isNaN(err) ? Infinity : err / allowed;
    if (ratio > 1) bad++;
    if (ratio > worstRatio || worst < 0) {
      worstRatio = ratio;
      worst = i;
    }
  }
  const message =
    `${bad} of ${actual.length} elements outside atol=${tol.atol} + rtol=${tol.rtol}·|ref|; ` +
    `worst at index ${worst}: got ${actual[worst]}, expected ${expected[worst]} ` +
    `(error ${Math.abs(actual[worst] - expected[worst]).toExponential(3)}, ${worstRatio.toFixed(2)}× allowed)`;
  return { ok: bad === 0 && actual.length > 0, message };
}

export function expectAllclose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tol = F32,
  what = 'values',
): void {
  const r = allcloseReport(actual, expected, tol);
  expect(r.ok, `${what}: ${r.message}`).toBe(true);
}
