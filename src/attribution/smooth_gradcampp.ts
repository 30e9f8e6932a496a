/**
 * Smooth Grad-CAM++'s channel weights (Omeiza et al. 2019): Grad-CAM++'s with the gradient's
 * first three powers averaged over noisy copies of the input. Shaders: input_perturb.wgsl (the
 * copies, SmoothGrad's generator with an absolute σ), smooth_gradcampp_weights.wgsl (the
 * moments and the weights).
 *
 * Batching: the S copies of the N images form one batch of S·N rows (copy-major, row s·N + i),
 * which runs through Model.forward once; the T targets one backward pass to the layer over
 * T·S·N rows (row (t·S + s)·N + i, seeded with the class of row t·N + i), as the sampled
 * input-gradient methods do (input_gradients.ts). The batch is not split: a model whose largest
 * tensor at batch T·S·N does not fit one storage binding gets ResourceLimitError.
 */
import type { Recorder } from '../gpu/recorder';
import { grid1d } from '../gpu/engine';
import { defineKernel } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import { binaryForward } from '../ops/elementwise';
import { FINITE, GRADCAMPP } from '../ops/includes';
import { seedFromClasses } from '../ops/seed';
import type { Model } from '../model/model';
import { perturbInput } from './input_gradients';
import weightsCode from '../../shaders/smooth_gradcampp_weights.wgsl?raw';

const WG = 64; // `override WG` of smooth_gradcampp_weights

const WEIGHTS = defineKernel({
  name: 'smooth_gradcampp_weights',
  code: weightsCode,
  params: { rows: 'u32', n: 'u32', k: 'u32', z: 'u32', copies: 'u32', slot: 'u32' },
  bindings: ['A', 'G', 'weights'],
  includes: [FINITE, GRADCAMPP],
});

/** The moments' weights from A [N, K, h, w] and the copies' gradients G [T·S·N, K, h, w] into `slot` of weights [M, T·N, K]. */
export async function smoothGradcamppWeightsFrom(
  e: Recorder,
  A: Tensor,
  G: Tensor,
  copies: number,
  weights: Tensor,
  slot: number,
): Promise<void> {
  const [n, k, h, w] = A.shape;
  const rows = G.shape[0] / copies;
  const kern = await e.kernel(WEIGHTS, { overrides: { WG } });
  e.dispatch(kern, { A, G, weights }, { rows, n, k, z: h * w, copies, slot }, grid1d(rows * k, WG));
}

/**
 * Smooth Grad-CAM++'s weights for the rows' classes (`classes` [T·N]) at `layer`, A being the
 * layer's activations of x itself, into `slot` of weights [M, T·N, K]: the copies x + σ·z, one
 * forward, one backward, one weights dispatch.
 */
export async function smoothGradcamppWeights(
  e: Recorder,
  model: Model,
  x: Tensor,
  layer: string,
  A: Tensor,
  classes: Tensor,
  t: number,
  noise: { n: number; sigma: number; seed: number },
  weights: Tensor,
  slot: number,
): Promise<void> {
  const g = model.graph;
  const n = x.shape[0];
  const S = noise.n;
  const copies = await perturbInput(e, x, { kind: 'smoothgrad', ...noise }, 0, S, true);
  const acts = await model.forward(copies, { keep: [], backwardTo: [layer], backwardFrom: g.scores, recorder: e });
  const k = g.shape(g.scores, 1)[1];
  const seeds = await seedFromClasses(e, classes, k);
  // Seeds [T, S, N, K]: row (t·S + s)·N + i has the class of row t·N + i.
  const rowSeeds = seeds.reshape([t, 1, n, k]);
  const ones = e.upload(new Float32Array(S).fill(1), [1, S, 1, 1], 'smoothgradcam++:ones');
  const expanded = await binaryForward(e, 'mul', rowSeeds, ones);
  const batchSeeds = expanded.reshape([t * S * n, k]);
  const G = await model.backward(acts, batchSeeds, { to: layer, from: g.scores, recorder: e });
  await smoothGradcamppWeightsFrom(e, A, G, S, weights, slot);
  for (const tensor of [G, batchSeeds, expanded, ones, rowSeeds, seeds, copies]) tensor.destroy();
  acts.destroy();
}
