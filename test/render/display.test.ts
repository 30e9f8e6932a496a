/**
 * The display kernels (src/render/display.ts) against their CPU reference
 * (src/reference/display.ts), and Grad-CAM++'s displayed coefficients against the weights
 * explain() computed: Σ_ij a^k_ij·ReLU(g^k_ij) must give back w^c_k.
 */
import { describe, expect, it } from 'vitest';
import { InvalidInputError, ShapeMismatchError } from '../../src/core/errors';
import { Model } from '../../src/model/model';
import { canvasRowStride } from '../../src/render/canvas';
import { colormapLUT } from '../../src/render/colormaps';
import { gradcamppAlpha, guidedRGBA, normalizeChannels } from '../../src/render/display';
import { readRGBA } from '../../src/render/overlay';
import { channelWeights } from '../../src/reference/attribution';
import * as ref from '../../src/reference/display';
import { hostTensor } from '../../src/reference/tensor';
import { plainNet } from '../cases/nets';
import { expectAllclose, F32, f32Reduction, maxAbs, type Tol } from '../util/compare';
import { getEngine } from '../util/gpu';
import { randn } from '../util/random';
import { explain } from '../../src/attribution/explain';

// Not a named tolerance: Grad-CAM++'s coefficients g² / (2g² + Σ A·g³) divide by a sum that
// can be near 0, which amplifies its float32 error without bound; kept at what this test has
// always required.
const ALPHA_TOL: Tol = { atol: 1e-6, rtol: 1e-4 };

describe('normalizeChannels', () => {
  const [B, K, h, w] = [3, 5, 4, 7];
  const data = randn(B * K * h * w, 41);
  const Z = h * w;
  // Row 1: channel 2 constant (min–max gives zeros), channel 4 all zero (signed gives 0.5).
  data.fill(0.75, (1 * K + 2) * Z, (1 * K + 3) * Z);
  data.fill(0, (1 * K + 4) * Z, (1 * K + 5) * Z);

  it.each(['minmax', 'signed'] as const)(
    '%s scaling equals the reference, constant channels included',
    async (scale) => {
      const e = await getEngine();
      const ids = [4, 0, 2, 3];
      for (const row of [0, 1, 2]) {
        const got = await e.scope(async () => {
          const src = e.upload(data, [B, K, h, w], 'src');
          const out = await normalizeChannels(e, src, ids, { row, scale });
          expect(out.shape).toEqual([ids.length, h, w]);
          return out.read();
        });
        const want = ref.normalizeChannels(hostTensor([B, K, h, w], data), ids, { row, scale });
        expectAllclose(got, want.data, F32, `${scale}, row ${row}`); // (v − min) / range, v / 2m + ½
        for (const v of got) expect(v >= 0 && v <= 1).toBe(true);
      }
      // The reference's own edge values, stated independently of it.
      // (constant 0.75: min–max 0, signed 1; all zero: min–max 0, signed 0.5.)
      const row1 = ref.normalizeChannels(hostTensor([B, K, h, w], data), [2, 4], { row: 1, scale });
      const fill = scale === 'minmax' ? [0, 0] : [1, 0.5];
      expect(row1.data.every((v, i) => v === fill[Math.floor(i / Z)])).toBe(true);
      expect(e.liveTensors).toBe(0);
    },
  );

  it('rejects channel ids and rows out of range, and non-4-D tensors', async () => {
    const e = await getEngine();
    await e.scope(async () => {
      const src = e.upload(data, [B, K, h, w], 'src');
      await expect(normalizeChannels(e, src, [K], { scale: 'minmax' })).rejects.toThrow(InvalidInputError);
      await expect(normalizeChannels(e, src, [0], { row: B, scale: 'minmax' })).rejects.toThrow(/row 3/);
      await expect(normalizeChannels(e, src.reshape([B * K, h, w]), [0], { scale: 'minmax' })).rejects.toThrow(
        ShapeMismatchError,
      );
    });
    expect(e.liveTensors).toBe(0);
  });
});

describe('gradcamppAlpha', () => {
  it('equals the reference on random A and G, for every row of a batch of two images', async () => {
    const e = await getEngine();
    const [N, T, K, h, w] = [2, 2, 6, 5, 3];
    const A = Float32Array.from(randn(N * K * h * w, 51), Math.abs);
    const G = randn(T * N * K * h * w, 52, 0.3);
    G.fill(0, 0, h * w); // a zero-gradient channel: a = 0 there (denominator 0)
    const ids = [0, 5, 2];
    for (let row = 0; row < T * N; row++) {
      const got = await e.scope(async () => {
        const a = e.upload(A, [N, K, h, w], 'A');
        const g = e.upload(G, [T * N, K, h, w], 'G');
        return (await gradcamppAlpha(e, a, g, ids, row)).read();
      });
      const want = ref.gradcamppAlpha(hostTensor([N, K, h, w], A), hostTensor([T * N, K, h, w], G), ids, row);
      expectAllclose(got, want.data, ALPHA_TOL, `row ${row}`);
      if (row === 0) expect(got.subarray(0, h * w).every((v) => v === 0)).toBe(true);
    }
    expect(e.liveTensors).toBe(0);
  });

  it('gives back the Grad-CAM++ weights explain() computed: w_k = Σ_ij a_ij·ReLU(g_ij)', async () => {
    const e = await getEngine();
    const model = await Model.load(e, plainNet());
    try {
      const [C, H, W] = model.inputShape;
      const { alpha, G, weights, K } = await e.scope(async () => {
        const x = e.upload(randn(C * H * W, 61), [1, C, H, W], 'x');
        const r = await explain(model, x, { methods: ['gradcam++'], targets: [3] });
        const k = r.activations.shape[1];
        const ids = Array.from({ length: k }, (_, i) => i);
        const a = await gradcamppAlpha(e, r.activations, r.gradients!, ids);
        const out = {
          alpha: await a.read(),
          G: await r.gradients!.read(),
          weights: await r.maps['gradcam++']!.weights.read(),
          K: k,
        };
        r.destroy();
        return out;
      });
      const Z = G.length / K;
      const fromAlpha = Array.from({ length: K }, (_, k) => {
        let s = 0;
        for (let j = 0; j < Z; j++) s += alpha[k * Z + j] * Math.max(0, G[k * Z + j]);
        return s;
      });
      // explain() sums the Z terms a·ReLU(g), all of one sign, in float32
      expectAllclose(fromAlpha, weights, f32Reduction(Z, maxAbs(weights)), 'Σ a·ReLU(g) vs explain() weights');
      expect(weights.some((v) => v !== 0)).toBe(true);
    } finally {
      model.destroy();
    }
    expect(e.liveTensors).toBe(0);
  });

  it('the reference agrees with the reference Grad-CAM++ weights', () => {
    const [K, h, w] = [4, 3, 3];
    const A = hostTensor([1, K, h, w], Float32Array.from(randn(K * h * w, 71), Math.abs));
    const G = hostTensor([1, K, h, w], randn(K * h * w, 72));
    const a = ref.gradcamppAlpha(A, G, [0, 1, 2, 3]);
    const wk = channelWeights('gradcam++', A, G);
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let j = 0; j < h * w; j++) s += a.data[k * h * w + j] * Math.max(0, G.data[k * h * w + j]);
      expect(s).toBeCloseTo(wk.data[k], 12);
    }
  });
});

describe('guidedRGBA', () => {
  const [T, H, W] = [2, 5, 70]; // W > 64: rows padded to 256 bytes, as drawToCanvas needs

  it('equals the reference bytes (±1 only at rounding ties), with padded rows', async () => {
    const e = await getEngine();
    const maps = randn(T * 3 * H * W, 81, 0.01);
    for (const target of [0, 1]) {
      const got = await e.scope(async () => {
        const m = e.upload(maps, [T, 3, H, W], 'guided');
        const rgba = await guidedRGBA(e, m, { target, rowStride: canvasRowStride(W) });
        expect(rgba.shape).toEqual([H, canvasRowStride(W)]);
        return readRGBA(e, rgba, W, H);
      });
      const want = ref.guidedRGBA(hostTensor([T, 3, H, W], maps), { target });
      let off = 0;
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) off = Math.max(off, Math.abs(got[i] - want[i]));
      expect(off, `target ${target}: largest byte difference`).toBeLessThanOrEqual(1);
      // The largest magnitude reaches the end of the range.
      expect(Math.max(...want.filter((_, i) => i % 4 !== 3)) === 255 || Math.min(...want) === 0).toBe(true);
    }
    expect(e.liveTensors).toBe(0);
  });

  it('a zero map is mid-grey, never NaN', async () => {
    const e = await getEngine();
    const got = await e.scope(async () => {
      const m = e.upload(new Float32Array(3 * H * W), [3, H, W], 'zero');
      return readRGBA(e, await guidedRGBA(e, m), W, H);
    });
    for (let i = 0; i < got.length; i++) expect(got[i]).toBe(i % 4 === 3 ? 255 : 128);
    await expect(
      e.scope(async () => guidedRGBA(e, e.upload(new Float32Array(2 * H * W), [2, H, W], 'two-channel'))),
    ).rejects.toThrow(ShapeMismatchError);
    expect(e.liveTensors).toBe(0);
  });
});

describe('bwr colormap (diverging, for signed quantities)', () => {
  it('runs blue → white → red', () => {
    const lut = colormapLUT('bwr');
    expect([...lut.slice(0, 3)]).toEqual([0, 0, 1]);
    expect([...lut.slice(765, 768)]).toEqual([1, 0, 0]);
    // entry 128 is x = 128/255, just past white: red stays 1, green and blue fall.
    expect(lut[384]).toBe(1);
    expect(lut[385]).toBeCloseTo(1 - (128 / 255 - 0.5) * 2, 6);
  });
});
