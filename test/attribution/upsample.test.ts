/**
 * upsample_bilinear.wgsl (upsampleBilinear: the bilinear resize with half-pixel centres, then
 * each map min–max normalised) against the CPU reference (reference/attribution.ts:
 * upsampleBilinear then normalizeMinMax), on upscalings by integer and non-integer factors,
 * downscalings (source columns skipped), more output rows than the kernel's 32 invocations,
 * single rows and columns, and constant maps (zeros).
 */
import { describe, expect, it } from 'vitest';
import { upsampleBilinear } from '../../src/attribution/kernels';
import { normalizeMinMax, upsampleBilinear as refUpsample } from '../../src/reference/attribution';
import { hostTensor } from '../../src/reference/tensor';
import { expectAllclose } from '../util/compare';
import { getEngine } from '../util/gpu';
import { randn } from '../util/random';

// Values of magnitude ~1 and spans of ~4: f32 interpolation and rescaling errors are ~1e-7.
const TOL = { atol: 2e-6, rtol: 0 };

describe('upsample_bilinear', () => {
  it.each([
    // [maps, h, w, H, W]
    [3, 5, 7, 13, 11], // non-integer factors, H < 32 rows
    [2, 12, 12, 96, 96], // factor 8 (a shipped model's layer to its input)
    [1, 7, 7, 224, 224], // factor 32, seven rows per invocation
    [2, 2, 3, 70, 9], // more rows than invocations, W < 3·w/2 in one direction
    [2, 12, 12, 5, 7], // downscaling: source columns skipped
    [1, 1, 4, 3, 9], // one source row
    [1, 6, 1, 33, 2], // one source column
  ])('%i maps %i×%i → %i×%i equal the reference', async (R, h, w, H, W) => {
    const e = await getEngine();
    const values = randn(R * h * w, R * 1000 + h * 10 + w);
    const src = e.upload(values, [R, h, w]);
    const dst = await upsampleBilinear(e, src, H, W);
    expect(dst.shape).toEqual([R, H, W]);
    const want = normalizeMinMax(refUpsample(hostTensor([R, h, w], values), H, W));
    expectAllclose(await dst.read(), want.data, TOL, `${R}×${h}×${w} → ${H}×${W}`);
    src.destroy();
    dst.destroy();
  });

  it('a constant map (and a 1×1 source) becomes zeros; the other maps of the call are unaffected', async () => {
    const e = await getEngine();
    const values = new Float32Array(3 * 4 * 4);
    values.fill(2.5, 0, 16); // map 0: constant
    values.set(randn(16, 7), 16); // map 1: random
    values.fill(-1, 32); // map 2: constant
    const src = e.upload(values, [3, 4, 4]);
    const dst = await upsampleBilinear(e, src, 9, 10);
    const got = await dst.read();
    const want = normalizeMinMax(refUpsample(hostTensor([3, 4, 4], values), 9, 10));
    expect([...got.subarray(0, 90)].every((v) => v === 0)).toBe(true);
    expect([...got.subarray(180)].every((v) => v === 0)).toBe(true);
    expectAllclose(got, want.data, TOL, 'constant and random maps');
    const one = e.upload([4], [1, 1, 1]);
    const up = await upsampleBilinear(e, one, 3, 5);
    expect([...(await up.read())]).toEqual(new Array(15).fill(0));
    for (const t of [src, dst, one, up]) t.destroy();
  });
});
