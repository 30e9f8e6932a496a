/**
 * Model.load's `weightStorage: 'f16'` on whole networks: the shipped models (a sample image,
 * preprocessed as their sidecars say) and the residual test network, against the float64 CPU
 * reference on the float32 weights (bench/f16.ts measures; `npm run bench:f16` prints the same
 * figures for more networks, docs/BENCHMARKS.md states them). The tolerances are the ones the
 * docs state: about 5× the largest error measured on these networks.
 *
 *   logits: max |Δ| ≤ 2e-3 · max |logit|; the top-5 classes unchanged (shipped models)
 *   maps (Grad-CAM, Grad-CAM++, CAM): raw max |Δ| ≤ 2e-3 · max |raw|; normalised and upsampled
 *     maps (values in [0, 1]) max |Δ| ≤ 5e-3
 *   weights: at most 55% of the float32 model's pool bytes (biases and depthwise convs stay f32)
 *
 * Each stored weight is within 2^-10 of its float32 value (test/ops/half.test.ts); the float32
 * engine's own error on the same runs is checked too, as the baseline.
 */
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/core/errors';
import { Model } from '../../src/model/model';
import { loadOnnx } from '../../src/model/onnx';
import { f16Accuracy, formatRows, shippedCase, type ErrorFigures } from '../../bench/f16';
import { residualNet } from '../cases/nets';
import { getEngine } from '../util/gpu';
import { randn } from '../util/random';

const F16_TOL = { logitsRel: 2e-3, rawRel: 2e-3, mapAbs: 5e-3 };
const F32_TOL = { logitsRel: 1e-5, rawRel: 1e-5, mapAbs: 1e-5 };

function expectWithin(f: ErrorFigures, tol: typeof F16_TOL, what: string): void {
  expect(f.logitsRel, `${what}: logits`).toBeLessThanOrEqual(tol.logitsRel);
  for (const [m, e] of Object.entries(f.maps)) {
    expect(e.rawRel, `${what}: ${m} raw map`).toBeLessThanOrEqual(tol.rawRel);
    expect(e.layerAbs, `${what}: ${m} normalised map`).toBeLessThanOrEqual(tol.mapAbs);
    expect(e.inputAbs, `${what}: ${m} upsampled map`).toBeLessThanOrEqual(tol.mapAbs);
  }
}

describe("weightStorage 'f16' against the float32 reference", () => {
  it.each(['fashion_cam', 'fashion_deep'])('shipped model %s', async (name) => {
    const e = await getEngine();
    const { spec, x } = shippedCase(name);
    const r = await f16Accuracy(e, name, spec, x);
    console.info(formatRows([r]));
    expectWithin(r.f32, F32_TOL, `${name} f32`);
    expectWithin(r.f16, F16_TOL, `${name} f16`);
    expect(r.f32.top5 && r.f16.top5).toBe(true);
    expect(r.f16.weightBytes).toBeLessThanOrEqual(0.55 * r.f32.weightBytes);
    expect(e.liveTensors).toBe(0);
  });

  it('the residual test network (strided and 1×1 convs, a skip connection, avg-pool)', async () => {
    const e = await getEngine();
    const spec = residualNet();
    const x = randn(
      spec.input.shape.reduce((a, b) => a * b, 1),
      77,
    );
    const r = await f16Accuracy(e, 'residual', spec, x);
    console.info(formatRows([r]));
    expectWithin(r.f32, F32_TOL, 'residual f32');
    expectWithin(r.f16, F16_TOL, 'residual f16');
    expect(e.liveTensors).toBe(0);
  });

  it("loadOnnx passes weightStorage on: the shipped model's weights in half the memory", async () => {
    const e = await getEngine();
    const bytes: Record<string, number> = {};
    for (const weightStorage of ['f32', 'f16'] as const) {
      const before = e.pool.liveBytes;
      const { model } = await loadOnnx(e, 'weights/fashion_cam.onnx', { weightStorage });
      bytes[weightStorage] = e.pool.liveBytes - before;
      model.destroy();
    }
    expect(bytes.f16).toBeGreaterThan(0);
    expect(bytes.f16).toBeLessThanOrEqual(0.55 * bytes.f32);
    expect(e.liveTensors).toBe(0);
  });

  it('refuses a weight beyond the largest half, and an unknown weightStorage, before any GPU work', async () => {
    const e = await getEngine();
    const spec = residualNet();
    const conv = spec.nodes.find((n) => n.op === 'conv2d')!;
    const data = Float32Array.from(conv.weights!.weight.data);
    data[3] = 70000;
    const bad = {
      ...spec,
      nodes: spec.nodes.map((n) =>
        n === conv ? { ...n, weights: { ...n.weights!, weight: { ...n.weights!.weight, data } } } : n,
      ),
    };
    await expect(Model.load(e, bad, { weightStorage: 'f16' })).rejects.toThrow(InvalidInputError);
    await expect(Model.load(e, bad, { weightStorage: 'f16' })).rejects.toThrow(/70000 at index 3/);
    await expect(Model.load(e, spec, { weightStorage: 'half' as 'f16' })).rejects.toThrow(/weightStorage/);
    (await Model.load(e, bad)).destroy(); // f32 storage takes it
    expect(e.liveTensors).toBe(0);
  });
});
