/**
 * Targets and explained scores on the CPU: which class (or seed vector) each row b = t·N + i
 * explains, and the backward seed row ∂score/∂y of that row, float64, as the GPU's
 * src/attribution/targets.ts builds them.
 *
 * Scores of a row with score-space vector v (one-hot(c) for a class target, the caller's seed
 * vector otherwise), logits y and p = softmax(y) of its image:
 *   logit        s = Σ_c v_c·y_c               ∂s/∂y_j = v_j
 *   probability  s = Σ_c v_c·p_c               ∂s/∂y_j = p_j·(v_j − Σ_c v_c·p_c)
 *   sigmoid      s = Σ_c v_c·σ(y_c)            ∂s/∂y_j = v_j·σ(y_j)·(1 − σ(y_j))
 * For v = onehot(c) these are y_c, p_c (seed p_c·(onehot(c) − p)) and σ(y_c). A row of class −1
 * (padding, see aboveClasses) has v = 0: a zero seed, so all its maps are zero.
 */
import { hostTensor, type HostTensor } from './tensor';

/** The explained score of a target (the `score` option of explain()). */
export type Score = 'logit' | 'probability' | 'sigmoid';
export const SCORES: readonly Score[] = ['logit', 'probability', 'sigmoid'];

/** The targets of explain(): class ids, top k, a seed vector over the classes (shared or [N][K]), or every class above a threshold. */
export type TargetSpec =
  | readonly number[]
  | { topK: number }
  | { seed: readonly number[] | readonly (readonly number[])[] }
  | { above: number };

/** The class id of padding rows (and of seed-vector rows, which explain no single class). */
export const NO_CLASS = -1;

export const sigmoid = (y: number): number => 1 / (1 + Math.exp(-y));

/**
 * The classes of one image whose sigmoid σ(y_c) (score 'logit' or 'sigmoid') or softmax
 * probability (score 'probability') is above `threshold`, highest logit first, lower index
 * first on ties. `logits` is the image's row [K].
 */
export function aboveClasses(logits: ArrayLike<number>, threshold: number, score: Score): number[] {
  const k = logits.length;
  let m = -Infinity;
  for (let j = 0; j < k; j++) m = Math.max(m, logits[j]);
  let s = 0;
  for (let j = 0; j < k; j++) s += Math.exp(logits[j] - m);
  const value = (c: number) => (score === 'probability' ? Math.exp(logits[c] - m) / s : sigmoid(logits[c]));
  const idx = Array.from({ length: k }, (_, c) => c).filter((c) => value(c) > threshold);
  return idx.sort((a, b) => logits[b] - logits[a] || a - b);
}

/**
 * Per-image class lists made rectangular: T = the longest list (at least 1), shorter lists
 * padded at the end with NO_CLASS. Returns [N][T].
 */
export function padClasses(perImage: readonly (readonly number[])[]): number[][] {
  const t = Math.max(1, ...perImage.map((c) => c.length));
  return perImage.map((c) => [...c, ...Array<number>(t - c.length).fill(NO_CLASS)]);
}

/**
 * Seed rows [T·N, K]: row b = t·N + i is ∂score/∂y of image i for the score-space vector
 * `vector(b)` (length K; all zero for a padding row). `scores` are the logits [N, K].
 */
export function scoreSeeds(
  scores: HostTensor,
  t: number,
  vector: (b: number) => ArrayLike<number>,
  score: Score,
): HostTensor {
  const [n, k] = scores.shape;
  const seeds = hostTensor([t * n, k]);
  for (let b = 0; b < t * n; b++) {
    const v = vector(b);
    const y = scores.data.subarray((b % n) * k, ((b % n) + 1) * k);
    const out = seeds.data.subarray(b * k, (b + 1) * k);
    if (score === 'logit') {
      for (let j = 0; j < k; j++) out[j] = v[j];
    } else if (score === 'sigmoid') {
      for (let j = 0; j < k; j++) out[j] = v[j] * sigmoid(y[j]) * (1 - sigmoid(y[j]));
    } else {
      let m = -Infinity;
      for (let j = 0; j < k; j++) m = Math.max(m, y[j]);
      let s = 0;
      for (let j = 0; j < k; j++) s += Math.exp(y[j] - m);
      const p = Array.from(y, (yj) => Math.exp(yj - m) / s);
      let vp = 0;
      for (let j = 0; j < k; j++) vp += v[j] * p[j];
      for (let j = 0; j < k; j++) out[j] = p[j] * (v[j] - vp);
    }
  }
  return seeds;
}

/** One-hot of class c over k classes; all zero for NO_CLASS. */
export function oneHot(c: number, k: number): Float64Array {
  const v = new Float64Array(k);
  if (c !== NO_CLASS) v[c] = 1;
  return v;
}
