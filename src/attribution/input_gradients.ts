/**
 * The input-gradient methods other than Guided Backprop and Guided Grad-CAM (those are
 * guidedGradcam in kernels.ts): Saliency and Gradient × Input from the gradient at the input,
 * SmoothGrad, Guided SmoothGrad and Integrated Gradients from the gradients at a batch of
 * perturbed copies of it. Shaders: input_perturb.wgsl (the copies), input_gradient_reduce.wgsl
 * (the mean over the copies, times x − x', |·|).
 *
 * Batching: the S copies of the N images form one batch of S·N rows (row s·N + i, copy-major),
 * which runs through Model.forward once; the T targets then take one backward pass over T·S·N
 * rows (row (t·S + s)·N + i, seeded with the class of row t·N + i), once per guided kind. Where
 * that batch would not fit the device (maxStorageBufferBindingSize against the largest tensor
 * of the graph at batch 1), the copies run in chunks and the reduce kernel accumulates.
 */
import type { Recorder } from '../gpu/recorder';
import { grid1d } from '../gpu/engine';
import { defineKernel } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import { sizeOf } from '../core/shape';
import { binaryForward } from '../ops/elementwise';
import { FINITE, MINMAX_REDUCE, PCG_NORMAL } from '../ops/includes';
import { sampleCount } from '../methods/sampling';
import type { InputGradientMethod, InputSamples } from '../methods/types';
import type { Model } from '../model/model';
import { scoreSeeds, type Score } from './targets';
import perturbCode from '../../shaders/input_perturb.wgsl?raw';
import reduceCode from '../../shaders/input_gradient_reduce.wgsl?raw';

const WG_PERTURB = 256; // `override WG` of input_perturb: one workgroup per copy
const WG_ELEMENTWISE = 256; // `override WG` of input_gradient_reduce

const PERTURB = defineKernel({
  name: 'input_perturb',
  code: perturbCode,
  params: {
    rows: 'u32',
    n: 'u32',
    chw: 'u32',
    s0: 'u32',
    seed: 'u32',
    steps: 'u32',
    sigma: 'f32',
    baseline: 'f32',
  },
  bindings: ['x', 'out'],
  includes: [MINMAX_REDUCE, PCG_NORMAL],
});

const REDUCE = defineKernel({
  name: 'input_gradient_reduce',
  code: reduceCode,
  params: {
    count: 'u32',
    s: 'u32',
    n: 'u32',
    chw: 'u32',
    first: 'u32',
    last: 'u32',
    scale: 'f32',
    baseline: 'f32',
  },
  bindings: ['grad', 'x', 'out'],
  includes: [FINITE],
});

/**
 * Copies s0 … s0 + count − 1 of the N images of x [N, C, H, W], as [count·N, C, H, W]
 * (input_perturb.wgsl). With `absolute`, SmoothGrad's σ is samples.sigma itself instead of a
 * fraction of each image's range (Smooth Grad-CAM++).
 */
export async function perturbInput(
  e: Recorder,
  x: Tensor,
  samples: InputSamples,
  s0: number,
  count: number,
  absolute = false,
): Promise<Tensor> {
  const [n, c, h, w] = x.shape;
  const smooth = samples.kind === 'smoothgrad';
  const kern = await e.kernel(PERTURB, {
    defines: { SMOOTHGRAD: smooth, ABSOLUTE: absolute },
    overrides: { WG: WG_PERTURB },
  });
  const out = e.empty([count * n, c, h, w], `${samples.kind}:copies`);
  e.dispatch(
    kern,
    { x, out },
    {
      rows: count * n,
      n,
      chw: c * h * w,
      s0,
      seed: smooth ? samples.seed : 0,
      steps: smooth ? 1 : samples.steps,
      sigma: smooth ? samples.sigma : 0,
      baseline: smooth ? 0 : samples.baseline,
    },
    grid1d(count * n, 1),
  );
  return out;
}

/**
 * Accumulate the gradients grad [T·S·N, C, H, W] (rows (t·S + s)·N + i) of S copies into out
 * [T·N, C, H, W]: out = (first ? 0 : out) + scale·Σ_s grad (· (x − baseline) with `times`),
 * |out| after the last chunk with `abs` (input_gradient_reduce.wgsl).
 */
export async function reduceInputGradients(
  e: Recorder,
  grad: Tensor,
  x: Tensor,
  out: Tensor,
  o: { s: number; scale: number; times: number | null; abs: boolean; first: boolean; last: boolean },
): Promise<void> {
  const [n, c, h, w] = x.shape;
  const kern = await e.kernel(REDUCE, {
    defines: { TIMES_INPUT: o.times !== null, ABS: o.abs },
    overrides: { WG: WG_ELEMENTWISE },
  });
  e.dispatch(
    kern,
    { grad, x: o.times !== null ? x : null, out },
    {
      count: out.size,
      s: o.s,
      n,
      chw: c * h * w,
      first: o.first ? 1 : 0,
      last: o.last ? 1 : 0,
      scale: o.scale,
      baseline: o.times ?? 0,
    },
    grid1d(out.size, WG_ELEMENTWISE),
  );
}

/** x − x' factor of a method: the baseline of its path, 0 without one, null when it does not multiply. */
export function timesBaseline(d: InputGradientMethod, samples: InputSamples | null): number | null {
  if (d.times !== 'input') return null;
  return samples?.kind === 'integrated' ? samples.baseline : 0;
}

/**
 * The most copies per chunk for T targets over N images: the largest tensor of the graph at
 * batch T·copies·N must fit one storage binding (its batch-1 size from the graph's shapes).
 */
export function copiesPerChunk(model: Model, e: Recorder, t: number, n: number, total: number): number {
  const g = model.graph;
  let largest = 1;
  for (const name of [g.input, ...g.nodes.map((node) => node.output)]) {
    largest = Math.max(largest, sizeOf(g.shape(name, 1)));
  }
  const max = Math.min(e.limits.maxStorageBufferBindingSize, e.limits.maxBufferSize);
  const rows = Math.floor(max / (4 * largest));
  return Math.max(1, Math.min(total, Math.floor(rows / (t * n))));
}

/**
 * The maps of the sampled methods `methods` (all with the same `samples`), [T·N, C, H, W] each:
 * per chunk of copies one perturb dispatch, one forward, one backward per guided kind and one
 * reduce per method. `seeds` [T·N, K] are the rows' logit seeds (one-hot, or seed vectors);
 * with another `score` each copy's seed is ∂score/∂y at that copy's logits (targets.ts
 * scoreSeeds). `maxChunk` caps the copies per chunk below what the device allows (for tests of
 * the accumulation).
 */
export async function sampledInputGradients(
  e: Recorder,
  model: Model,
  x: Tensor,
  seeds: Tensor,
  samples: InputSamples,
  methods: readonly { name: string; d: InputGradientMethod }[],
  t: number,
  maxChunk = Infinity,
  score: Score = 'logit',
): Promise<Map<string, Tensor>> {
  const g = model.graph;
  const [n, c, h, w] = x.shape;
  const k = seeds.shape[1];
  const total = sampleCount(samples);
  const chunk = Math.max(1, Math.min(maxChunk, copiesPerChunk(model, e, t, n, total)));
  const out = new Map<string, Tensor>();
  for (const m of methods) out.set(m.name, e.empty([t * n, c, h, w], m.name));
  const guidedKinds = [...new Set(methods.map((m) => m.d.guided))];
  const rowSeeds = seeds.reshape([t, 1, n, k]);
  for (let s0 = 0; s0 < total; s0 += chunk) {
    const count = Math.min(chunk, total - s0);
    const copies = await perturbInput(e, x, samples, s0, count);
    const acts = await model.forward(copies, {
      keep: [g.scores],
      backwardTo: [g.input],
      backwardFrom: g.scores,
      recorder: e,
    });
    // Seeds [T, count, N, K]: row (t·count + s)·N + i has the class of row t·N + i.
    const ones = e.upload(new Float32Array(count).fill(1), [1, count, 1, 1], 'copies:ones');
    const expanded = await binaryForward(e, 'mul', rowSeeds, ones);
    const logitSeeds = expanded.reshape([t * count * n, k]);
    expanded.destroy();
    const batchSeeds = await scoreSeeds(e, logitSeeds, acts.get(g.scores), null, score);
    if (batchSeeds !== logitSeeds) logitSeeds.destroy();
    ones.destroy();
    for (const guided of guidedKinds) {
      const grad = await model.backward(acts, batchSeeds, { to: g.input, from: g.scores, guided, recorder: e });
      for (const m of methods.filter((q) => q.d.guided === guided)) {
        await reduceInputGradients(e, grad, x, out.get(m.name)!, {
          s: count,
          scale: 1 / total,
          times: timesBaseline(m.d, samples),
          abs: m.d.magnitude === 'abs',
          first: s0 === 0,
          last: s0 + count >= total,
        });
      }
      grad.destroy();
    }
    batchSeeds.destroy();
    acts.destroy();
    copies.destroy();
  }
  rowSeeds.destroy();
  return out;
}
