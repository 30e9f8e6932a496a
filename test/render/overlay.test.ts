import { describe, expect, it } from 'vitest';
import { InvalidInputError, ShapeMismatchError } from '../../src/core/errors';
import { canvasRowStride } from '../../src/render/canvas';
import { COLORMAPS, colormapLUT, LUT_SIZE } from '../../src/render/colormaps';
import { overlay, readRGBA } from '../../src/render/overlay';
import * as ref from '../../src/reference/render';
import { hostTensor } from '../../src/reference/tensor';
import { getEngine } from '../util/gpu';
import { rng } from '../util/random';

const H = 7;
const W = 13;

/** A map with the awkward values: exact 0 and 1, bin edges k/256, and out-of-range values (clamped). */
function testMap(seed: number): Float32Array {
  const r = rng(seed);
  const m = new Float32Array(H * W);
  for (let i = 0; i < m.length; i++) m[i] = r();
  m.set([0, 1, 0.5, 1 / 256, 255 / 256, 254.5 / 256, -0.25, 1.5, 1 - 2 ** -24]);
  return m;
}

function testImage(seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: 3 * H * W }, () => r());
}

/** Pre-rounding value clamp(blend, 0, 255) of byte i, for the reference inputs (to spot rounding ties). */
function unrounded(
  map: Float32Array,
  image: Float32Array | null,
  colormap: string,
  opacity: number,
  i: number,
): number {
  const p = i >> 2;
  const c = i & 3;
  if (c === 3) return 255;
  const lut255 = colormapLUT(colormap).map((v) => 255 * v);
  const k = Math.min(255, Math.floor(Math.min(1, Math.max(0, map[p])) * 256));
  const v = image ? (1 - opacity) * 255 * image[c * H * W + p] + opacity * lut255[3 * k + c] : lut255[3 * k + c];
  return Math.min(255, Math.max(0, v));
}

/**
 * GPU bytes must equal the reference's. The only allowed difference is ±1 where the float64
 * value before rounding lies within 1e-3 of a tie k + 0.5: the GPU blends in float32, which can
 * land on the other side of the tie (see overlay.wgsl). Returns how many bytes needed that.
 */
function expectSameBytes(got: Uint8ClampedArray, want: Uint8ClampedArray, exact: (i: number) => number): number {
  expect(got.length).toBe(want.length);
  let ties = 0;
  for (let i = 0; i < want.length; i++) {
    if (got[i] === want[i]) continue;
    const x = exact(i);
    const nearTie = Math.abs(x - Math.floor(x) - 0.5) < 1e-3;
    if (!nearTie || Math.abs(got[i] - want[i]) > 1) {
      throw new Error(
        `byte ${i} (pixel ${i >> 2}, channel ${'rgba'[i & 3]}): GPU ${got[i]}, reference ${want[i]} (exact ${x})`,
      );
    }
    ties++;
  }
  return ties;
}

describe('colormaps', () => {
  it('are 256 RGB entries in [0, 1]', () => {
    for (const name of COLORMAPS) {
      const lut = colormapLUT(name);
      expect(lut.length).toBe(LUT_SIZE * 3);
      for (const v of lut) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
    }
  });

  it('jet runs from dark blue to dark red, grayscale(v) = v', () => {
    const jet = colormapLUT('jet');
    expect([...jet.slice(0, 3)]).toEqual([0, 0, 0.5]);
    expect([...jet.slice(765, 768)]).toEqual([0.5, 0, 0]);
    // matplotlib: cm.jet(0.5) = (0.490196…, 1, 0.477546…), entry 128
    expect(jet[384]).toBeCloseTo(0.4901961, 6);
    expect(jet[385]).toBe(1);
    expect(jet[386]).toBeCloseTo(0.4775459, 6);
    const gray = colormapLUT('grayscale');
    for (let i = 0; i < 256; i++) for (let c = 0; c < 3; c++) expect(gray[3 * i + c]).toBe(Math.fround(i / 255));
  });

  it('viridis and turbo match the published tables', () => {
    const close = (lut: Float32Array, i: number, rgb: number[], tol: number) =>
      rgb.forEach((v, c) => expect(Math.abs(lut[3 * i + c] - v)).toBeLessThan(tol));
    const viridis = colormapLUT('viridis');
    close(viridis, 0, [0.267004, 0.004874, 0.329415], 1e-6);
    close(viridis, 255, [0.993248, 0.906157, 0.143936], 1e-6);
    // entries between anchors: within 1/255 of the published table
    close(viridis, 64, [0.229739, 0.322361, 0.545706], 1 / 255);
    close(viridis, 128, [0.127568, 0.566949, 0.550556], 1 / 255);
    close(viridis, 200, [0.440137, 0.811138, 0.340967], 1 / 255);
    const turbo = colormapLUT('turbo');
    close(turbo, 0, [0.18995, 0.07176, 0.23217], 1e-6);
    close(turbo, 255, [0.4796, 0.01583, 0.01055], 1e-6);
    close(turbo, 64, [0.15844, 0.73551, 0.92305], 1 / 255);
    close(turbo, 128, [0.64362, 0.98999, 0.23356], 1 / 255);
    close(turbo, 200, [0.95801, 0.39958, 0.08831], 1 / 255);
  });

  it('an unknown name is an InvalidInputError listing the valid ones', () => {
    expect(() => colormapLUT('hot')).toThrow(InvalidInputError);
    expect(() => colormapLUT('hot')).toThrow(/turbo, jet, viridis, grayscale/);
  });

  it('the reference picks entry floor(256·v): jet(0.5) is (125, 255, 122)', () => {
    const out = ref.overlay(hostTensor([1, 1], [0.5]), null, { colormap: 'jet', opacity: 1 });
    expect([...out]).toEqual([125, 255, 122, 255]);
  });
});

describe('overlay on the GPU equals the reference', () => {
  const cases: [string, number, boolean][] = [];
  for (const cm of COLORMAPS) {
    for (const opacity of [0, 0.4, 1]) cases.push([cm, opacity, true]);
    cases.push([cm, 0.4, false]);
  }

  it.each(cases)('%s, opacity %s, image %s', async (colormap, opacity, withImage) => {
    const e = await getEngine();
    const seed = COLORMAPS.indexOf(colormap as never) * 10 + opacity * 10;
    const m = testMap(100 + seed);
    const img = withImage ? testImage(200 + seed) : null;
    const got = await e.scope(async () => {
      const map = e.upload(m, [H, W], 'map');
      const image = img ? e.upload(img, [3, H, W], 'image') : null;
      const rgba = await overlay(e, map, image, { colormap, opacity });
      expect(rgba.shape).toEqual([H, W]);
      return readRGBA(e, rgba, W, H);
    });
    const want = ref.overlay(hostTensor([H, W], m), img ? hostTensor([3, H, W], img) : null, { colormap, opacity });
    const ties = expectSameBytes(got, want, (i) => unrounded(m, img, colormap, opacity, i));
    if (ties) console.log(`${colormap} ${opacity} ${withImage}: ${ties} bytes off by one at rounding ties`);
    // The colormap alone, or at opacity 1, is bit-exact by construction.
    if (!withImage || opacity === 1) expect(ties).toBe(0);
    expect(e.liveTensors).toBe(0);
  });

  it('canvas row stride: rows padded to 256 bytes with zeros, dropped by readRGBA; [1, H, W] map, [1, 3, H, W] image', async () => {
    const e = await getEngine();
    expect([1, 13, 64, 65, 224].map(canvasRowStride)).toEqual([64, 64, 64, 128, 256]);
    const m = testMap(7);
    const img = testImage(8);
    const stride = canvasRowStride(W);
    await e.scope(async () => {
      const map = e.upload(m, [1, H, W]);
      const image = e.upload(img, [1, 3, H, W]);
      const rgba = await overlay(e, map, image, { colormap: 'turbo', opacity: 0.6, rowStride: stride });
      expect(rgba.shape).toEqual([H, stride]);
      const words = new Uint32Array((await rgba.read()).buffer);
      for (let y = 0; y < H; y++) {
        for (let x = W; x < stride; x++) expect(words[y * stride + x]).toBe(0);
        for (let x = 0; x < W; x++) expect(words[y * stride + x] >>> 24).toBe(255);
      }
      const want = ref.overlay(hostTensor([1, H, W], m), hostTensor([1, 3, H, W], img), {
        colormap: 'turbo',
        opacity: 0.6,
      });
      expectSameBytes(await readRGBA(e, rgba, W, H), want, (i) => unrounded(m, img, 'turbo', 0.6, i));
    });
    expect(e.liveTensors).toBe(0);
  });

  it('draws map t of a [T, H, W] stack', async () => {
    const e = await getEngine();
    const stack = new Float32Array(3 * H * W);
    for (let t = 0; t < 3; t++) stack.set(testMap(40 + t), t * H * W);
    const img = testImage(43);
    for (const target of [0, 2]) {
      const got = await e.scope(async () => {
        const maps = e.upload(stack, [3, H, W]);
        const image = e.upload(img, [3, H, W]);
        return readRGBA(e, await overlay(e, maps, image, { colormap: 'viridis', opacity: 1, target }), W, H);
      });
      const one = hostTensor([H, W], stack.subarray(target * H * W, (target + 1) * H * W));
      const want = ref.overlay(one, hostTensor([3, H, W], img), { colormap: 'viridis', opacity: 1 });
      expect(
        ref.overlay(hostTensor([3, H, W], stack), hostTensor([3, H, W], img), {
          colormap: 'viridis',
          opacity: 1,
          target,
        }),
      ).toEqual(want);
      expect(got).toEqual(want);
    }
    expect(e.liveTensors).toBe(0);
  });

  it('rejects bad input with typed errors, allocating nothing', async () => {
    const e = await getEngine();
    await e.scope(async () => {
      const map = e.upload(testMap(1), [H, W]);
      const before = e.liveTensors;
      const small = e.upload(testImage(2).subarray(0, 3 * H * (W - 1)), [3, H, W - 1]);
      const gray = e.upload(testImage(2).subarray(0, H * W), [1, H, W]);
      const flat = e.upload(new Float32Array(5), [5]);
      const n = e.liveTensors;
      await expect(overlay(e, map, null, { colormap: 'hot', opacity: 1 })).rejects.toThrow(/valid colormaps: turbo/);
      await expect(overlay(e, map, small, { colormap: 'jet', opacity: 0.5 })).rejects.toThrow(ShapeMismatchError);
      await expect(overlay(e, map, gray, { colormap: 'jet', opacity: 0.5 })).rejects.toThrow(InvalidInputError);
      await expect(overlay(e, flat, null, { colormap: 'jet', opacity: 0.5 })).rejects.toThrow(ShapeMismatchError);
      await expect(overlay(e, map, null, { colormap: 'jet', opacity: 1.5 })).rejects.toThrow(InvalidInputError);
      await expect(overlay(e, map, null, { colormap: 'jet', opacity: 1, target: 1 })).rejects.toThrow(
        InvalidInputError,
      );
      await expect(overlay(e, map, null, { colormap: 'jet', opacity: NaN })).rejects.toThrow(InvalidInputError);
      await expect(overlay(e, map, null, { colormap: 'jet', opacity: 1, rowStride: W - 1 })).rejects.toThrow(
        InvalidInputError,
      );
      await expect(readRGBA(e, map, W + 1, H)).rejects.toThrow(ShapeMismatchError);
      expect(e.liveTensors).toBe(n);
      expect(n - before).toBe(3);
    });
    expect(e.liveTensors).toBe(0);
  });
});
