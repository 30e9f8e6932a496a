/**
 * The perturbation methods on the CPU: channel weights from one extra forward pass per channel
 * of the layer, written out one channel at a time (the GPU batches them; the reference does
 * not, so a batching error cannot hide in both). Notation of attribution.ts; rows b = t·N + i.
 *
 * Score-CAM (Wang et al. 2020):   M_k = norm(up(A^k)), α_k = softmax(y(x ⊙ M_k))^c
 * Ablation-CAM (Desai & Ramaswamy 2020):   w_k = (y^c − y^c_k) / y^c, y^c_k the score with
 *                                          channel k of the layer zeroed (0 where y^c = 0)
 * With another explained score (src/reference/targets.ts): Score-CAM's α_k is σ(y(x ⊙ M_k))^c
 * for 'sigmoid' (the softmax otherwise); Ablation-CAM's y are the probabilities or sigmoids.
 * Each row explains a vector v over the classes (one-hot at its class, or a seed vector), and
 * every score above is the dot product v·s (for a one-hot v exactly s_c).
 */
import { normalizeMinMax, upsampleBilinear } from './attribution';
import type { RefModel } from './model';
import { softmaxForward } from './softmax';
import { sigmoid, type Score } from './targets';
import { hostTensor, type HostTensor } from './tensor';

/** The logits [R, classes] as the explained score: themselves, their softmax, their sigmoid. */
function asScore(y: HostTensor, score: Score): HostTensor {
  if (score === 'logit') return y;
  if (score === 'probability') return softmaxForward(y);
  return hostTensor(y.shape, Array.from(y.data, sigmoid));
}

/** v·s with s the `nc` values of `s` from index `at` on (one row of scores). */
function dot(v: ArrayLike<number>, s: ArrayLike<number>, at: number, nc: number): number {
  let acc = 0;
  for (let c = 0; c < nc; c++) acc += v[c] * s[at + c];
  return acc;
}

/**
 * Score-CAM's weights [B, K]: for every channel k, each image i masked by its own upsampled
 * (bilinear, half-pixel centres), min–max normalised (constant → zeros) map of channel k; one
 * forward of the N masked images; row b's score of image b % N (v·p, p the probabilities).
 * x: [N, C, H, W], A: [N, K, h, w], rowVectors[b] the vector over the classes of row b.
 */
export function scoreCamWeights(
  model: RefModel,
  x: HostTensor,
  A: HostTensor,
  rowVectors: readonly ArrayLike<number>[],
  score: Score = 'logit',
): HostTensor {
  const [N, C, H, W] = x.shape;
  const [, K, h, w] = A.shape;
  const B = rowVectors.length;
  const out = hostTensor([B, K]);
  for (let k = 0; k < K; k++) {
    const masked = hostTensor(x.shape);
    for (let i = 0; i < N; i++) {
      const map = hostTensor([1, h, w], A.data.subarray((i * K + k) * h * w, (i * K + k + 1) * h * w));
      const mask = normalizeMinMax(upsampleBilinear(map, H, W));
      for (let c = 0; c < C; c++) {
        for (let p = 0; p < H * W; p++) {
          const at = (i * C + c) * H * W + p;
          masked.data[at] = x.data[at] * mask.data[p];
        }
      }
    }
    const logits = model.forward(masked).get(model.graph.scores)!;
    const probs = asScore(logits, score === 'sigmoid' ? 'sigmoid' : 'probability');
    const nc = probs.shape[1];
    for (let b = 0; b < B; b++) out.data[b * K + k] = dot(rowVectors[b], probs.data, (b % N) * nc, nc);
  }
  return out;
}

/**
 * Ablation-CAM's weights [B, K]: for every channel k, the layer's activations with channel k
 * zeroed in every image, the network run on from there (RefModel.forward's `replace`), y^c_k
 * the score of row b (v·y_k, v its vector over the classes); w = (y^c − y^c_k) / y^c with y^c the unablated score (0 where
 * y^c = 0). x: [N, C, H, W], A: the layer's activations [N, K, h, w], scores [N, classes].
 */
export function ablationCamWeights(
  model: RefModel,
  x: HostTensor,
  layer: string,
  A: HostTensor,
  scores: HostTensor,
  rowVectors: readonly ArrayLike<number>[],
  score: Score = 'logit',
): HostTensor {
  const [N, K, h, w] = A.shape;
  const base = asScore(scores, score);
  const Z = h * w;
  const nc = scores.shape[1];
  const B = rowVectors.length;
  const out = hostTensor([B, K]);
  for (let k = 0; k < K; k++) {
    const ablated = hostTensor(A.shape, A.data);
    for (let i = 0; i < N; i++) ablated.data.fill(0, (i * K + k) * Z, (i * K + k + 1) * Z);
    const yk = asScore(model.forward(x, new Map([[layer, ablated]])).get(model.graph.scores)!, score);
    for (let b = 0; b < B; b++) {
      const at = (b % N) * nc;
      const y = dot(rowVectors[b], base.data, at, nc);
      out.data[b * K + k] = y !== 0 ? (y - dot(rowVectors[b], yk.data, at, nc)) / y : 0;
    }
  }
  return out;
}
