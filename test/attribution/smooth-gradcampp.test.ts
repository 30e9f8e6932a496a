/**
 * Smooth Grad-CAM++ (src/attribution/smooth_gradcampp.ts). Its golden values are in
 * pytorch.test.ts (every registered method) and the GPU against the CPU reference on three
 * networks in methods.test.ts; here: σ = 0 gives Grad-CAM++ exactly (every copy is x), the
 * options change the noise as the reference says, the weights kernel alone against the
 * reference formula, typed errors, no leaks.
 */
import { describe, expect, it } from 'vitest';
import { explain } from '../../src/attribution/explain';
import { smoothGradcamppWeightsFrom } from '../../src/attribution/smooth_gradcampp';
import { InvalidInputError } from '../../src/core/errors';
import { isMultiPass, smoothGradcamppA } from '../../src/methods/registry';
import { Model } from '../../src/model/model';
import { explainReference } from '../../src/reference/explain';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { NETS } from '../cases/nets';
import { expectAllclose, f32Reduction, MAPS, maxAbs, NETWORK } from '../util/compare';
import { getEngine } from '../util/gpu';
import { randn } from '../util/random';

describe('Smooth Grad-CAM++', () => {
  it('is multi-pass; its coefficient is m2 / (2·m2 + S·m3), 0 where the denominator is 0', () => {
    expect(isMultiPass('smoothgradcam++')).toBe(true);
    // m2 = 0.5, m3 = −0.25, S = 4: 0.5 / (1 − 1) → 0; m2 = 0.25, m3 = 0.125, S = 4: 0.25 / 1.
    expect(smoothGradcamppA(0.5, -0.25, 4)).toBe(0);
    expect(smoothGradcamppA(0.25, 0.125, 4)).toBe(0.25);
  });

  it('the weights kernel equals the reference formula on random moments', async () => {
    const e = await getEngine();
    const [n, k, h, w, T, S] = [2, 3, 4, 5, 2, 3];
    const z = h * w;
    const a = randn(n * k * z, 8).map(Math.abs);
    const g = randn(T * S * n * k * z, 9);
    const A = e.upload(a, [n, k, h, w]);
    const G = e.upload(g, [T * S * n, k, h, w]);
    const weights = e.zeros([2, T * n, k]);
    await smoothGradcamppWeightsFrom(e, A, G, S, weights, 1);
    const got = await weights.read();
    const want = new Float64Array(2 * T * n * k);
    for (let t = 0; t < T; t++)
      for (let i = 0; i < n; i++)
        for (let c = 0; c < k; c++) {
          let sumA = 0;
          for (let j = 0; j < z; j++) sumA += a[(i * k + c) * z + j];
          let wk = 0;
          for (let j = 0; j < z; j++) {
            const v = Array.from({ length: S }, (_, s) => g[(((t * S + s) * n + i) * k + c) * z + j]);
            const m = (p: number) => v.reduce((acc, x) => acc + x ** p, 0) / S;
            wk += smoothGradcamppA(m(2), m(3), sumA) * Math.max(m(1), 0);
          }
          want[(T * n + t * n + i) * k + c] = wk;
        }
    expectAllclose(got, want, f32Reduction(z * S), 'weights');
    for (const t of [A, G, weights]) t.destroy();
    expect(e.liveTensors).toBe(0);
  });

  it('σ = 0 gives Grad-CAM++; other options change the noise as the CPU reference does', async () => {
    const e = await getEngine();
    const spec = NETS.residual();
    const model = await Model.load(e, spec);
    const [c, h, w] = spec.input.shape;
    const xs = randn(2 * c * h * w, 71);
    const input = e.upload(xs, [2, c, h, w]);
    const zero = await explain(model, input, {
      methods: ['smoothgradcam++', 'gradcam++'],
      targets: { topK: 2 },
      layer: 'relu1',
      smoothgradcampp: { sigma: 0 },
    });
    const pp = await zero.maps['gradcam++']!.weights.read();
    expectAllclose(await zero.maps['smoothgradcam++']!.weights.read(), pp, NETWORK, 'σ = 0 weights');
    zero.destroy();
    const opts = {
      methods: ['smoothgradcam++'] as const,
      targets: { topK: 2 },
      // A layer whose gradient depends on the input (after relu2 the net is linear).
      layer: 'relu1',
      smoothgradcampp: { samples: 5, sigma: 0.5, seed: 3 },
    };
    const r = await explain(model, input, opts);
    const ref = explainReference(new RefModel(spec), hostTensor([2, c, h, w], xs), opts);
    const want = ref.maps['smoothgradcam++']!;
    const wgot = await r.maps['smoothgradcam++']!.weights.read();
    expectAllclose(wgot, want.weights!.data, { atol: NETWORK.rtol * maxAbs(want.weights!.data), rtol: 0 }, 'weights');
    expectAllclose(await r.maps['smoothgradcam++']!.input.read(), want.input!.data, MAPS, 'upsampled');
    // Not Grad-CAM++'s weights.
    expect(maxAbs(Array.from(wgot, (v, i) => v - pp[i]))).toBeGreaterThan(1e-3);
    r.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });

  it('refuses bad options and augSmooth with InvalidInputError, leaving the engine usable', async () => {
    const e = await getEngine();
    const spec = NETS.residual();
    const model = await Model.load(e, spec);
    const input = e.upload(
      randn(
        spec.input.shape.reduce((a, b) => a * b, 1),
        5,
      ),
      [1, ...spec.input.shape],
    );
    const live = e.liveTensors;
    const methods = ['smoothgradcam++'] as const;
    for (const [smoothgradcampp, message] of [
      [{ samples: 0 }, /smoothgradcampp.samples must be an integer/],
      [{ sigma: -1 }, /smoothgradcampp.sigma must be a finite number/],
      [{ seed: 1.5 }, /smoothgradcampp.seed must be an integer/],
      [{ n: 3 }, /unknown smoothgradcampp option 'n'/],
    ] as const) {
      await expect(explain(model, input, { methods, smoothgradcampp: smoothgradcampp as never })).rejects.toThrow(
        InvalidInputError,
      );
      await expect(explain(model, input, { methods, smoothgradcampp: smoothgradcampp as never })).rejects.toThrow(
        message,
      );
    }
    await expect(explain(model, input, { methods, augSmooth: true })).rejects.toThrow(
      /augSmooth does not apply to smoothgradcam\+\+/,
    );
    expect(e.liveTensors).toBe(live);
    const ok = await explain(model, input, { methods });
    expect(ok.maps['smoothgradcam++']!.input.shape).toEqual([1, ...spec.input.shape.slice(1)]);
    ok.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });
});
