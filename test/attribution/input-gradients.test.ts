/**
 * The input-gradient methods over perturbed copies (SmoothGrad, Guided SmoothGrad, Integrated
 * Gradients) and those from the gradient at the input (Saliency, Gradient × Input): the copies
 * on the GPU against the reference generator, their defining properties (SmoothGrad with σ = 0
 * is the plain gradient; Integrated Gradients' completeness), the accumulation over chunks of
 * copies, seeding, and typed errors for bad options. GPU against the CPU reference and PyTorch
 * for every method: methods.test.ts and pytorch.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { explain } from '../../src/attribution/explain';
import { copiesPerChunk, perturbInput, sampledInputGradients } from '../../src/attribution/input_gradients';
import type { Recorder } from '../../src/gpu/recorder';
import { InvalidInputError } from '../../src/core/errors';
import { inputGradientMethod } from '../../src/methods/registry';
import type { InputSamples } from '../../src/methods/types';
import { Model } from '../../src/model/model';
import { seedFromClasses } from '../../src/ops/seed';
import { perturbedCopies } from '../../src/reference/input_gradients';
import { hostTensor } from '../../src/reference/tensor';
import { loadFixture } from '../cases/fixtures';
import { NETS } from '../cases/nets';
import { EXACT, expectAllclose, F32, f32Reduction, maxAbs, U32 } from '../util/compare';
import { getEngine } from '../util/gpu';
import { randn } from '../util/random';

const SHAPE = [2, 3, 11, 9]; // N = 2 images of the plain net's input
const SIZE = SHAPE.reduce((a, b) => a * b, 1);

describe('the perturbed copies', () => {
  it('SmoothGrad noise and Integrated Gradients path points on the GPU equal the reference generator', async () => {
    const e = await getEngine();
    const xs = randn(SIZE, 11);
    const x = e.upload(xs, SHAPE);
    const xh = hostTensor(SHAPE, xs);
    const cases: InputSamples[] = [
      { kind: 'smoothgrad', n: 5, sigma: 0.2, seed: 123456789 },
      { kind: 'integrated', steps: 5, baseline: -0.5 },
    ];
    for (const samples of cases) {
      const want = perturbedCopies(xh, samples).data;
      // Copies 2 … 4 alone (a chunk): the same values as in the batch of all five.
      const copies = await perturbInput(e, x, samples, 2, 3);
      // x + σz: float32 log, cos and sqrt against float64 (a few roundings of z, order 1, and of
      // the sum): F32's rtol on the result, and 4u of σ·|z| ≤ 4·σ·6 absolute (|z| < 5.8 for
      // 24-bit uniforms). The path points x' + α(x − x'): two roundings, within F32.
      // (The range of all values bounds each image's.)
      const range = Math.max(...xs) - Math.min(...xs);
      const tol = samples.kind === 'smoothgrad' ? { atol: 4 * U32 * 6 * samples.sigma * range, rtol: F32.rtol } : F32;
      expectAllclose(await copies.read(), want.subarray(2 * SIZE, 5 * SIZE), tol, `${samples.kind} copies`);
      copies.destroy();
    }
    x.destroy();
    expect(e.liveTensors).toBe(0);
  });
});

describe('properties', () => {
  it('SmoothGrad with σ = 0 is the plain gradient: |·| is Saliency, times x is Gradient × Input', async () => {
    const e = await getEngine();
    const model = await Model.load(e, NETS.plain());
    const input = e.upload(randn(SIZE, 12), SHAPE);
    const r = await explain(model, input, {
      methods: ['smoothgrad', 'saliency', 'gradient-x-input'],
      targets: { topK: 2 },
      smoothgrad: { samples: 3, sigma: 0 },
    });
    const sg = await r.maps.smoothgrad!.input.read();
    const sal = await r.maps.saliency!.input.read();
    const gxi = await r.maps['gradient-x-input']!.input.read();
    const xs = await input.read();
    expect(r.maps.smoothgrad!.input.shape).toEqual([2, 2, 3, 11, 9]);
    expect(maxAbs(sal)).toBeGreaterThan(0);
    // The mean of 3 equal gradients: 3g and /3 rounded once each.
    expectAllclose(
      sal,
      Array.from(sg, (v) => Math.abs(v)),
      F32,
      '|SmoothGrad(σ = 0)| = Saliency',
    );
    expectAllclose(
      gxi,
      Array.from(sg, (v, k) => v * xs[k % SIZE]),
      F32,
      'SmoothGrad(σ = 0)·x = Gradient × Input',
    );
    r.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });

  it('Integrated Gradients is complete: Σ attributions = y(x) − y(x′) within 1 % (gap_head, 128 steps)', async () => {
    const fx = loadFixture('gap_head');
    const e = await getEngine();
    const model = await Model.load(e, fx.graph);
    const input = e.upload(fx.input.data, fx.input.shape);
    const baseline = -0.25;
    const zero = e.upload(new Float32Array(fx.input.data.length).fill(baseline), fx.input.shape);
    const r = await explain(model, input, {
      methods: ['integrated-gradients'],
      targets: fx.targets,
      integratedGradients: { steps: 128, baseline },
    });
    const atBaseline = await explain(model, zero, { methods: ['gradcam'], targets: fx.targets });
    const ig = await r.maps['integrated-gradients']!.input.read();
    const y = await r.scores.read();
    const y0 = await atBaseline.scores.read();
    const chw = fx.input.data.length;
    fx.targets.forEach((c, t) => {
      let sum = 0;
      for (let k = 0; k < chw; k++) sum += ig[t * chw + k];
      const dy = y[c] - y0[c];
      expect(Math.abs(dy), `class ${c}: y(x) − y(x′)`).toBeGreaterThan(0.1);
      expect(Math.abs(sum - dy), `class ${c}: Σ IG = ${sum}, y(x) − y(x′) = ${dy}`).toBeLessThanOrEqual(
        0.01 * Math.abs(dy),
      );
    });
    r.destroy();
    atBaseline.destroy();
    input.destroy();
    zero.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });

  it('the noise is seeded: the same seed gives the same map, another seed another', async () => {
    const e = await getEngine();
    const model = await Model.load(e, NETS.plain());
    const input = e.upload(randn(SIZE, 13), SHAPE);
    const run = async (seed: number) => {
      const r = await explain(model, input, { methods: ['smoothgrad'], smoothgrad: { samples: 4, seed } });
      const v = await r.maps.smoothgrad!.input.read();
      r.destroy();
      return v;
    };
    const a = await run(1);
    expectAllclose(await run(1), a, EXACT, 'same seed');
    const b = await run(2);
    expect(maxAbs(Array.from(a, (v, k) => v - b[k]))).toBeGreaterThan(1e-3 * maxAbs(a));
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });
});

describe('batching', () => {
  it('copies in chunks of 3 accumulate to the one-batch result (8 copies, two guided kinds)', async () => {
    const e = await getEngine();
    const model = await Model.load(e, NETS.plain());
    const input = e.upload(randn(SIZE, 14), SHAPE);
    const samples: InputSamples = { kind: 'smoothgrad', n: 8, sigma: 0.1, seed: 3 };
    const group = (['smoothgrad', 'guided-smoothgrad'] as const).map((name) => ({
      name,
      d: inputGradientMethod(name),
    }));
    const classes = e.upload([0, 0, 3, 3], [4], 'classes'); // T = 2 targets × N = 2 images
    const seeds = await seedFromClasses(e, classes, 5);
    const run = async (chunk: number) => {
      const maps = await sampledInputGradients(e, model, input, seeds, samples, group, 2, chunk);
      const out = Object.fromEntries(await Promise.all([...maps].map(async ([m, t]) => [m, await t.read()])));
      for (const t of maps.values()) t.destroy();
      return out as Record<string, Float32Array>;
    };
    const d0 = e.stats.dispatches;
    const whole = await run(Infinity);
    const d1 = e.stats.dispatches;
    const chunked = await run(3);
    const d2 = e.stats.dispatches;
    for (const m of ['smoothgrad', 'guided-smoothgrad']) {
      // Sums of 8 gradients/8 in another grouping: an f32 sum of 8 terms of the map's size.
      expectAllclose(chunked[m], whole[m], f32Reduction(8, maxAbs(whole[m])), `${m} in chunks`);
      expect(maxAbs(whole[m])).toBeGreaterThan(0);
    }
    // Three chunks: three perturb + forward + two backward + two reduce rounds instead of one.
    expect(d2 - d1).toBeGreaterThan(2 * (d1 - d0) - 1);
    classes.destroy();
    seeds.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });

  it('the copies per chunk: as many as keep the largest tensor at batch T·copies·N within one binding', async () => {
    const e = await getEngine();
    const model = await Model.load(e, NETS.plain());
    const g = model.graph;
    const largest = Math.max(
      ...[g.input, ...g.nodes.map((x) => x.output)].map((t) => g.shape(t, 1).reduce((a, b) => a * b)),
    );
    // A device whose bindings hold exactly T·N·3 copies of the largest tensor (T = 2, N = 2) …
    const limited = (bytes: number) =>
      ({ limits: { maxStorageBufferBindingSize: bytes, maxBufferSize: 2 ** 40 } }) as unknown as Recorder;
    expect(copiesPerChunk(model, limited(4 * largest * 2 * 2 * 3), 2, 2, 16)).toBe(3);
    expect(copiesPerChunk(model, limited(4 * largest * 2 * 2 * 3 - 4), 2, 2, 16)).toBe(2);
    // … never fewer than 1, never more than asked for.
    expect(copiesPerChunk(model, limited(4), 2, 2, 16)).toBe(1);
    expect(copiesPerChunk(model, e, 2, 2, 16)).toBe(16);
    model.destroy();
  });
});

describe('options', () => {
  it('bad sampling options get typed errors naming them, and the engine stays usable', async () => {
    const e = await getEngine();
    const model = await Model.load(e, NETS.plain());
    const input = e.upload(randn(SIZE / 2, 15), [1, 3, 11, 9]);
    const live = e.liveTensors;
    const bad: [object, RegExp][] = [
      [{ smoothgrad: { samples: 0 } }, /smoothgrad\.samples must be an integer in \[1, 4096\], got 0/],
      [{ smoothgrad: { samples: 2.5 } }, /smoothgrad\.samples/],
      [{ smoothgrad: { sigma: -0.1 } }, /smoothgrad\.sigma must be a finite number ≥ 0/],
      [{ smoothgrad: { sigma: NaN } }, /smoothgrad\.sigma/],
      [{ smoothgrad: { seed: -1 } }, /smoothgrad\.seed must be an integer in \[0, 2\^32\)/],
      [{ smoothgrad: { noise: 1 } }, /unknown smoothgrad option 'noise'/],
      [{ smoothgrad: 5 }, /smoothgrad must be an object/],
      [{ integratedGradients: { steps: 5000 } }, /integratedGradients\.steps must be an integer in \[1, 4096\]/],
      [{ integratedGradients: { baseline: Infinity } }, /integratedGradients\.baseline must be a finite number/],
      [{ integratedGradients: { baseline: 'zero' } }, /baseline must be a finite number, got 'zero'/],
    ];
    for (const [opts, msg] of bad) {
      const run = explain(model, input, { methods: ['smoothgrad', 'integrated-gradients'], ...opts });
      await expect(run, JSON.stringify(opts)).rejects.toThrow(InvalidInputError);
      await expect(explain(model, input, { methods: ['smoothgrad'], ...opts })).rejects.toThrow(msg);
    }
    expect(e.liveTensors).toBe(live); // nothing allocated by the refused calls
    const ok = await explain(model, input, {
      methods: ['smoothgrad', 'integrated-gradients'],
      smoothgrad: { samples: 2 },
      integratedGradients: { steps: 2 },
    });
    expect(ok.maps['integrated-gradients']!.input.shape).toEqual([1, 3, 11, 9]);
    ok.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });
});
