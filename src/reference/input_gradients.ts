/**
 * The input-gradient methods beyond Guided Backprop on the CPU: Saliency, Gradient × Input,
 * SmoothGrad (plain and guided) and Integrated Gradients, written out with the reference
 * executor. The copies are those of shaders/input_perturb.wgsl, from the same generator
 * (src/methods/sampling.ts); all copies run as one batch (no chunking here).
 *
 * Shapes: x [N, C, H, W]; gradients and maps [B, C, H, W] with rows b = t·N + i.
 */
import { noiseAt, noiseKey, pathAlpha, sampleCount } from '../methods/sampling';
import type { InputGradientMethod, InputSamples } from '../methods/types';
import type { RefModel } from './model';
import { oneHot, scoreSeeds, type Score } from './targets';
import { hostTensor, type HostTensor } from './tensor';

/** The S copies of every image, [S·N, C, H, W], row s·N + i: x + σ·z (SmoothGrad) or x' + α_s(x − x') (IG). */
export function perturbedCopies(x: HostTensor, samples: InputSamples): HostTensor {
  const [N, C, H, W] = x.shape;
  const chw = C * H * W;
  const S = sampleCount(samples);
  const out = hostTensor([S * N, C, H, W]);
  for (let s = 0; s < S; s++) {
    for (let i = 0; i < N; i++) {
      const src = x.data.subarray(i * chw, (i + 1) * chw);
      const dst = (s * N + i) * chw;
      if (samples.kind === 'smoothgrad') {
        let lo = Infinity;
        let hi = -Infinity;
        for (const v of src) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
        const sigma = samples.sigma * (hi - lo);
        const key = noiseKey(samples.seed, s, i);
        for (let e = 0; e < chw; e++) out.data[dst + e] = src[e] + sigma * noiseAt(key, e);
      } else {
        const a = pathAlpha(s, samples.steps);
        const b = samples.baseline;
        for (let e = 0; e < chw; e++) out.data[dst + e] = b + a * (src[e] - b);
      }
    }
  }
  return out;
}

/**
 * An input-gradient method's map from the gradients at its copies (or at x itself, one copy):
 * the mean over the copies, times x − x' where the method multiplies by the input, |·| for
 * Saliency. grad [T·S·N, C, H, W] with rows (t·S + s)·N + i. Returns [T·N, C, H, W].
 */
export function reduceInputGradients(
  d: InputGradientMethod,
  grad: HostTensor,
  x: HostTensor,
  samples: InputSamples | null,
): HostTensor {
  const [N, C, H, W] = x.shape;
  const nchw = N * C * H * W;
  const S = samples ? sampleCount(samples) : 1;
  const T = grad.shape[0] / (S * N);
  const baseline = samples?.kind === 'integrated' ? samples.baseline : 0;
  const out = hostTensor([T * N, C, H, W]);
  for (let t = 0; t < T; t++) {
    for (let ie = 0; ie < nchw; ie++) {
      let v = 0;
      for (let s = 0; s < S; s++) v += grad.data[(t * S + s) * nchw + ie];
      v /= S;
      if (d.times === 'input') v *= x.data[ie] - baseline;
      out.data[t * nchw + ie] = d.magnitude === 'abs' ? Math.abs(v) : v;
    }
  }
  return out;
}

/**
 * A sampled method's map: the copies through the model as one batch, one backward pass for all
 * T·S·N rows (row (t·S + s)·N + i seeded with the class of row t·N + i), then the reduction.
 */
export function sampledInputGradient(
  model: RefModel,
  d: InputGradientMethod,
  x: HostTensor,
  samples: InputSamples,
  /** Row b's class (−1: a zero seed), or its seed row over the K classes (a logit seed vector). */
  rowClass: (b: number) => number | ArrayLike<number>,
  T: number,
  /** The explained score: each copy's seed is ∂score/∂y at that copy's logits (src/reference/targets.ts). */
  score: Score = 'logit',
): HostTensor {
  const g = model.graph;
  const N = x.shape[0];
  const S = sampleCount(samples);
  const copies = perturbedCopies(x, samples);
  const values = model.forward(copies);
  const K = values.get(g.scores)!.shape[1];
  // Row (t·S + s)·N + i: the score of row t·N + i at copy s·N + i (scoreSeeds takes b mod S·N).
  const seeds = scoreSeeds(
    values.get(g.scores)!,
    T,
    (b) => {
      const v = rowClass(Math.floor(b / (S * N)) * N + (b % N));
      return typeof v === 'number' ? oneHot(v, K) : v;
    },
    score,
  );
  const grad = model.backward(values, seeds, g.input, { from: g.scores, guided: d.guided });
  return reduceInputGradients(d, grad, x, samples);
}
