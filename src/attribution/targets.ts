/**
 * What explain() explains: the targets (which class, or which combination of classes, each row
 * b = t·N + i stands for) and the explained score (the logit, the softmax probability or the
 * sigmoid), and the backward seed rows ∂score/∂y that follow from them, built on the GPU.
 * CPU reference: src/reference/targets.ts (the formulas are written out there).
 *
 * Targets:
 *   number[]            the same classes for every image (T = the list's length);
 *   { topK }            the k highest logits of each image (topk.wgsl, no readback);
 *   { seed: v }         one row per image whose score-space vector is v (length K; or [N][K],
 *                       one vector per image): score Σ_c v_c·s_c with s the logit, probability
 *                       or sigmoid; T = 1 and the row's class id is −1 (no single class);
 *   { above: thr }      every class whose sigmoid (score 'logit' or 'sigmoid') or softmax
 *                       probability (score 'probability') is above thr ∈ (0, 1), per image,
 *                       highest logit first. T is data-dependent: the logits are read back once
 *                       (one readback and one more submission, after the forward pass). T is
 *                       the largest count over the images (at least 1); an image with fewer
 *                       classes gets rows of class −1 at the end, whose seeds, weights and maps
 *                       are all zero. readClasses() tells which rows are real.
 *
 * Seeds: one-hot rows (seed_onehot.wgsl; class −1 a zero row) or the uploaded seed vectors, as
 * ∂(logit score)/∂y (logitSeeds); the other scores through the ops' own backward kernels, which
 * are the score's chain rule (scoreSeeds): 'probability' softmax_backward (p ⊙ (v − Σ v⊙p): for
 * a one-hot v, p_c·(onehot(c) − p)), 'sigmoid' the sigmoid's elementwise backward
 * (v ⊙ σ(y) ⊙ (1 − σ(y))). The sampled input-gradient methods map each perturbed copy's logit
 * seeds at that copy's own logits (input_gradients.ts).
 *
 * The methods without a backward seed: CAM of a seed vector has the weights v·W (camSeedWeights);
 * the perturbation methods take the score and the seed vectors (perturbation.ts: each score is
 * then v·s); checkTargetMethods refuses the rest (CAM of the probability or sigmoid, Smooth
 * Grad-CAM++ of anything but class logits).
 */
import { InvalidInputError, MethodNotApplicableError } from '../core/errors';
import type { Recorder } from '../gpu/recorder';
import type { Tensor } from '../gpu/tensor';
import { channelMethod, isChannel, methodOf, type Method } from '../methods/registry';
import { unaryBackward, unaryForward } from '../ops/elementwise';
import { matmulForward } from '../ops/matmul';
import { seedFromClasses } from '../ops/seed';
import { softmaxBackward, softmaxForward } from '../ops/softmax';
import { topkClasses } from './kernels';

/** The explained score of a target: its logit y_c (default), softmax(y)_c, or σ(y_c) (multi-label models). */
export type Score = 'logit' | 'probability' | 'sigmoid';
export const SCORES: readonly Score[] = ['logit', 'probability', 'sigmoid'];

/**
 * Class indices (the same for every image), the top k classes of each image, a seed vector over
 * the classes (the same for every image, or [N][K]), or every class above a threshold.
 */
export type Targets =
  | readonly number[]
  | { topK: number }
  | { seed: readonly number[] | readonly (readonly number[])[] }
  | { above: number };

/** The class id of rows that explain no single class: padding rows of { above }, seed-vector rows. */
export const NO_CLASS = -1;

/** The checked targets: t is T, or null where it is known only after the forward pass ({ above }). */
export type TargetPlan =
  | { kind: 'classes'; classes: readonly number[]; t: number }
  | { kind: 'topK'; t: number }
  | { kind: 'seed'; vectors: Float32Array; t: 1 }
  | { kind: 'above'; threshold: number; t: null };

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `'${v}'` : typeof v;
}

export function checkScore(score: unknown): Score {
  if (score === undefined) return 'logit';
  if (!SCORES.includes(score as Score)) {
    throw new InvalidInputError(
      `explain: unknown score ${describe(score)} ${String(score)}; choose from ${SCORES.join(', ')}`,
    );
  }
  return score as Score;
}

/** The targets, checked against the model's K classes and the batch's N images. */
export function checkTargets(targets: unknown, numClasses: number, n: number): TargetPlan {
  if (Array.isArray(targets)) {
    if (targets.length === 0) throw new InvalidInputError('targets is an empty list');
    for (const c of targets) {
      if (!Number.isInteger(c) || c < 0 || c >= numClasses) {
        throw new InvalidInputError(`target class ${c} is not a class index of this model (0 … ${numClasses - 1})`);
      }
    }
    return { kind: 'classes', classes: targets as number[], t: targets.length };
  }
  const keys = typeof targets === 'object' && targets !== null ? Object.keys(targets) : [];
  if (keys.length !== 1 || !['topK', 'seed', 'above'].includes(keys[0])) {
    throw new InvalidInputError(
      `targets must be a list of class indices, { topK: k }, { seed: vector } or { above: threshold }, got ${describe(targets)}` +
        (keys.length ? ` with keys ${keys.join(', ')}` : ''),
    );
  }
  const value: unknown = (targets as Record<string, unknown>)[keys[0]];
  if (keys[0] === 'topK') {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > numClasses) {
      throw new InvalidInputError(`topK must be an integer in [1, ${numClasses}], got ${String(value)}`);
    }
    return { kind: 'topK', t: value };
  }
  if (keys[0] === 'above') {
    if (typeof value !== 'number' || !(value > 0 && value < 1)) {
      throw new InvalidInputError(
        `targets.above must be a threshold in (0, 1), got ${describe(value)} ${String(value)}`,
      );
    }
    return { kind: 'above', threshold: value, t: null };
  }
  return { kind: 'seed', vectors: checkSeed(value, numClasses, n), t: 1 };
}

/** A seed vector [K] or per-image vectors [N][K], finite numbers, as one [N, K] array. */
function checkSeed(v: unknown, k: number, n: number): Float32Array {
  if (!Array.isArray(v) || v.length === 0) {
    throw new InvalidInputError(
      `targets.seed must be a vector of ${k} numbers or ${n} such vectors, got ${describe(v)}`,
    );
  }
  const perImage = Array.isArray(v[0]);
  const rows = (perImage ? v : [v]) as unknown[];
  if (perImage && rows.length !== n) {
    throw new InvalidInputError(`targets.seed has ${rows.length} vectors for ${n} images`);
  }
  const out = new Float32Array(n * k);
  rows.forEach((r, i) => {
    const where = perImage ? `targets.seed[${i}]` : 'targets.seed';
    if (!Array.isArray(r) || r.length !== k) {
      throw new InvalidInputError(
        `${where} must have one number per class (${k}), got ${Array.isArray(r) ? r.length : describe(r)}`,
      );
    }
    r.forEach((x: unknown, c) => {
      if (typeof x !== 'number' || !Number.isFinite(x)) {
        throw new InvalidInputError(`${where}[${c}] is ${describe(x)} ${String(x)}, not a finite number`);
      }
    });
  });
  for (let i = 0; i < n; i++) out.set((perImage ? rows[i] : rows[0]) as number[], i * k);
  return out;
}

/**
 * Refuses (MethodNotApplicableError) the methods that do not start from a backward seed where
 * the score or the targets have no meaning for them:
 *   CAM (the linear head's row w^c: the logit's)      score 'logit' (a seed vector v: weights v·W);
 * (Score-CAM and Ablation-CAM take every score and every target: Score-CAM weights by the softmax
 * as published, or by the sigmoid; Ablation-CAM's (y − y_k)/y is on the explained score; a seed
 * vector v makes each of those scores Σ_c v_c·s_c.)
 */
export function checkTargetMethods(plan: TargetPlan, score: Score, methods: readonly Method[]): void {
  const seed = plan.kind === 'seed';
  for (const m of methods) {
    let why: string | null = null;
    if (isChannel(m) && channelMethod(m).source === 'linear-head') {
      if (score !== 'logit') why = `its weights are the linear head's row of the logit, not of the ${score}`;
    } else if (isChannel(m) && channelMethod(m).source === 'noisy-gradients') {
      // Smooth Grad-CAM++ seeds its noisy copies' backward pass with the logit's one-hot rows.
      if (score !== 'logit' || seed || plan.kind === 'above') {
        why = "its noisy copies are seeded with each row's class logit";
      }
    }
    if (why) {
      throw new MethodNotApplicableError(
        `${methodOf(m).label} cannot explain the score '${score}'${seed ? ' of seed-vector targets' : ''}: ${why}. ` +
          `Use score 'logit' with class targets, or a gradient method such as 'gradcam'.`,
      );
    }
  }
}

/**
 * The class id of every row, [T·N] float32 (row t·N + i), and T. { above } reads the logits
 * back: this submits what `e` recorded so far (the forward pass).
 */
export async function targetClasses(
  e: Recorder,
  plan: TargetPlan,
  scores: Tensor,
  score: Score,
): Promise<{ classes: Tensor; t: number }> {
  const [n, k] = scores.shape;
  if (plan.kind === 'topK') return { classes: await topkClasses(e, scores, plan.t), t: plan.t };
  if (plan.kind === 'classes') {
    const rows = Array.from({ length: plan.t * n }, (_, b) => plan.classes[Math.floor(b / n)]);
    return { classes: e.upload(rows, [rows.length], 'classes'), t: plan.t };
  }
  if (plan.kind === 'seed') return { classes: e.upload(new Array<number>(n).fill(NO_CLASS), [n], 'classes'), t: 1 };
  const y = await e.read(scores);
  const perImage = Array.from({ length: n }, (_, i) =>
    classesAbove(y.subarray(i * k, (i + 1) * k), plan.threshold, score),
  );
  const t = Math.max(1, ...perImage.map((c) => c.length));
  const rows = Array.from({ length: t * n }, (_, b) => perImage[b % n][Math.floor(b / n)] ?? NO_CLASS);
  return { classes: e.upload(rows, [rows.length], 'classes'), t };
}

/** One image's classes whose σ(y_c) (or softmax probability) is above thr, highest logit first, lower index on ties. */
function classesAbove(y: Float32Array, thr: number, score: Score): number[] {
  const m = Math.max(...y);
  const z = y.reduce((s, v) => s + Math.exp(v - m), 0);
  const value = (c: number) => (score === 'probability' ? Math.exp(y[c] - m) / z : 1 / (1 + Math.exp(-y[c])));
  const above = Array.from(y, (_, c) => c).filter((c) => value(c) > thr);
  return above.sort((a, b) => y[b] - y[a] || a - b);
}

/**
 * The rows' seeds for the logit score, [T·N, K]: one-hot at each row's class (a zero row for
 * class −1) or the seed vectors. What scoreSeeds maps to the explained score.
 */
export async function logitSeeds(e: Recorder, plan: TargetPlan, classes: Tensor, k: number): Promise<Tensor> {
  if (plan.kind !== 'seed') return seedFromClasses(e, classes, k);
  return e.upload(plan.vectors, [plan.vectors.length / k, k], 'seeds');
}

/**
 * ∂score/∂y [R, K] from the logit seeds `v` [R, K] (R a multiple of the rows of `scores`, row r
 * at scores row r mod M): `scores` are the logits [M, K], `probabilities` their softmax (score
 * 'probability'; made here when null). Returns `v` itself for score 'logit', else a new tensor
 * (v is left to the caller). One or two dispatches; no readback.
 */
export async function scoreSeeds(
  e: Recorder,
  v: Tensor,
  scores: Tensor,
  probabilities: Tensor | null,
  score: Score,
): Promise<Tensor> {
  if (score === 'logit') return v;
  if (score === 'probability') {
    const p = probabilities ?? (await softmaxForward(e, scores));
    const seeds = await softmaxBackward(e, v, p);
    if (!probabilities) p.destroy(); // recorded; a later reuse of the pooled buffer is ordered after it
    return seeds;
  }
  const s = await unaryForward(e, 'sigmoid', scores);
  const seeds = await unaryBackward(e, 'sigmoid', v, s);
  s.destroy();
  return seeds;
}

/**
 * CAM's weights for seed-vector targets: the head is linear in the pooled activations, so the
 * score Σ_c v_c·y_c has the weights Σ_c v_c·W[c, :] = (V·W) [N, K] (V the seed vectors [N, classes],
 * W the linear weight [classes, K]), written to slot `slot` of `weights` [M, N, K].
 */
export async function camSeedWeights(
  e: Recorder,
  plan: Extract<TargetPlan, { kind: 'seed' }>,
  linearWeight: Tensor,
  weights: Tensor,
  slot: number,
): Promise<void> {
  const [classes, k] = linearWeight.shape;
  // matmul takes stacks of matrices: one stack of one [N, classes] · [classes, K].
  const v = e.upload(plan.vectors, [1, plan.vectors.length / classes, classes], 'cam:seeds');
  const W = linearWeight.reshape([1, classes, k]);
  const w = await matmulForward(e, v, W);
  e.copy(w, weights, slot * w.size);
  for (const t of [v, W, w]) t.destroy();
}
