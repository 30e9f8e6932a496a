/**
 * evaluate(): how faithful is a map? The faithfulness metrics of docs/METRICS.md on the GPU,
 * with batched forwards: deletion and insertion (Petsiuk et al. 2018), Average Drop and
 * Increase in Confidence (Chattopadhay et al. 2018), and Win % between two evaluations.
 *
 * A map is a Tensor of R = T·N rows at the input's resolution ([T, (N,) H, W] as explain()'s
 * `maps[m].input`, row r = t·N + i: target t, image i), or a method name, which explain() turns
 * into its maps first. Every perturbed image of every row goes through the model in batches of
 * at most `batch` images (default: as many as the device's buffer limits allow for the largest
 * activation; a batch that fails for lack of memory is halved and tried again).
 *
 * Conventions (the CPU reference's, src/reference/metrics.ts): pixels ordered by the map,
 * ties by pixel index; n steps give n + 1 images, k_s = ⌊s·HW/n⌋ pixels changed at step s; the
 * score is the softmax probability of the target; AUC by the trapezoid rule over [0, 1].
 */
import { GPUExecutionError, InvalidInputError, MethodNotApplicableError, ResourceLimitError } from '../core/errors';
import { sizeOf } from '../core/shape';
import type { Recorder } from '../gpu/recorder';
import { Tensor } from '../gpu/tensor';
import { explain, type LayerMaps, type Targets } from '../attribution/explain';
import { isInputGradient, isMethod, METHODS, type Method } from '../methods/registry';
import { Model } from '../model/model';
import { softmaxForward } from '../ops/softmax';
import { curveBatch, gaussianBlur, mapRanks, maskedBatch } from './kernels';
import { energyInBoxes, pointingHit, type Box } from './localization';

export const METRICS = [
  'deletion',
  'insertion',
  'average-drop',
  'increase-in-confidence',
  'pointing-game',
  'energy-in-boxes',
] as const;
export type Metric = (typeof METRICS)[number];
export type Baseline = 'zero' | 'blur';

export interface EvaluateOptions {
  metric: Metric;
  /** The map rows [T, (N,) H, W] (values in [0, 1] for the confidence metrics), or a method to explain with. */
  map: Tensor | Method;
  /**
   * With a map tensor: the T class indices of its rows (required). With a method: explain()'s
   * targets (default { topK: 1 }).
   */
  targets?: Targets;
  /** explain()'s layer, with a method. */
  layer?: string;
  /** Deletion and insertion: the number of steps n (n + 1 images per row). Default 20. */
  steps?: number;
  /** Deletion and insertion: what removed pixels become. Default 'zero' (deletion), 'blur' (insertion). */
  baseline?: Baseline;
  /**
   * The localization metrics: the ground-truth boxes of each row r = t·N + i, half-open pixel
   * boxes [x0, y0, x1, y1] at the input's resolution.
   */
  boxes?: readonly (readonly Box[])[];
  /** The most images per forward pass (default: from the device limits). */
  batch?: number;
  /** Called after each batch with the images done and the total. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface EvaluationRow {
  image: number;
  target: number;
  /** The metric's value for this row: the AUC, or the drop in %, or 1/0 for an increase. */
  value: number;
  /** Deletion and insertion: the score at each of the n + 1 steps. */
  curve?: Float64Array;
  /** The confidence metrics: Y, the score on the input, and O, the score on x ⊙ map. */
  score?: number;
  masked?: number;
}

export interface Evaluation {
  metric: Metric;
  /**
   * The metric over all rows: the mean AUC, Average Drop in %, the % of rows with an increase,
   * the % of rows whose map peaks in a box (pointing game), the mean % of the map's mass in the boxes.
   */
  value: number;
  rows: EvaluationRow[];
  /** The number of images that went through the model, and in how many forward passes. */
  images: number;
  forwards: number;
}

const KNOWN = ['metric', 'map', 'targets', 'layer', 'steps', 'baseline', 'boxes', 'batch', 'onProgress', 'signal'];

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `'${v}'` : typeof v;
}

/**
 * The most images of this model's input a forward pass can hold within the device's buffer
 * limits: the limit over the largest tensor of one image.
 */
export function maxBatch(model: Model): number {
  const g = model.graph;
  let per = sizeOf(g.shape(g.input, 1));
  for (const node of g.nodes) per = Math.max(per, sizeOf(g.shape(node.output, 1)));
  const l = model.engine.limits;
  return Math.max(1, Math.floor(Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize) / (per * 4)));
}

/**
 * Win %: the share of rows where map A's drop in confidence is smaller than map B's (both
 * 'average-drop' evaluations of the same images and targets), in %. Ties count for neither.
 */
export function winPercent(a: Evaluation, b: Evaluation): number {
  if (a.metric !== 'average-drop' || b.metric !== 'average-drop' || a.rows.length !== b.rows.length) {
    throw new InvalidInputError('winPercent: needs two average-drop evaluations of the same rows');
  }
  const wins = a.rows.filter((r, k) => r.value < b.rows[k].value).length;
  return (wins / a.rows.length) * 100;
}

/**
 * Evaluate a map (or a method's maps) on `input` [N, C, H, W]. Options are checked before
 * anything is allocated (InvalidInputError and subclasses); nothing is left allocated after a
 * failure.
 */
export async function evaluate(model: Model, input: Tensor, opts: EvaluateOptions): Promise<Evaluation> {
  if (!(model instanceof Model))
    throw new InvalidInputError(`evaluate: the first argument must be a Model, got ${describe(model)}`);
  const n = model.checkInput(input);
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts))
    throw new InvalidInputError(`evaluate: options must be an object, got ${describe(opts)}`);
  for (const k of Object.keys(opts)) {
    if (!KNOWN.includes(k))
      throw new InvalidInputError(`evaluate: unknown option '${k}'; the options are ${KNOWN.join(', ')}`);
  }
  const metric = opts.metric;
  if (!(METRICS as readonly unknown[]).includes(metric))
    throw new InvalidInputError(`evaluate: unknown metric ${describe(metric)}; choose from ${METRICS.join(', ')}`);
  const [, C, H, W] = input.shape;
  const hw = H * W;
  const curve = metric === 'deletion' || metric === 'insertion';
  const steps = opts.steps ?? 20;
  if (curve && (!Number.isInteger(steps) || steps < 1 || steps > hw))
    throw new InvalidInputError(`evaluate: steps must be an integer in [1, ${hw}] (the pixels), got ${steps}`);
  const baseline = opts.baseline ?? (metric === 'insertion' ? 'blur' : 'zero');
  if (baseline !== 'zero' && baseline !== 'blur')
    throw new InvalidInputError(`evaluate: baseline must be 'zero' or 'blur', got ${describe(baseline)}`);
  const cap = opts.batch ?? maxBatch(model);
  if (!Number.isInteger(cap) || cap < 1)
    throw new InvalidInputError(`evaluate: batch must be a positive integer, got ${describe(opts.batch)}`);
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function')
    throw new InvalidInputError('evaluate: onProgress must be a function');
  const K = model.graph.shape(model.graph.scores)[1];
  const localization = metric === 'pointing-game' || metric === 'energy-in-boxes';
  if (localization) {
    const b = opts.boxes;
    const box = (v: unknown) =>
      Array.isArray(v) && v.length === 4 && v.every((c) => Number.isFinite(c)) && v[0] <= v[2] && v[1] <= v[3];
    if (!Array.isArray(b) || !b.every((row) => Array.isArray(row) && row.every(box)))
      throw new InvalidInputError(
        `evaluate: ${metric} needs boxes: per map row, a list of [x0, y0, x1, y1] boxes (x0 ≤ x1, y0 ≤ y1)`,
      );
  }
  opts.signal?.throwIfAborted();

  // The map rows and their targets.
  let map: Tensor;
  let targets: number[];
  let own: { destroy(): void } | null = null;
  if (opts.map instanceof Tensor) {
    map = opts.map;
    if (map.destroyed) throw new InvalidInputError(`evaluate: the map (tensor '${map.label}') was destroyed`);
    if (map.engine !== model.engine) throw new InvalidInputError('evaluate: the map belongs to another engine');
    const rows = map.size / hw;
    const s = map.shape;
    if (s.length < 2 || s[s.length - 2] !== H || s[s.length - 1] !== W || !Number.isInteger(rows) || rows % n) {
      throw new InvalidInputError(
        `evaluate: the map must be [T, (N,) ${H}, ${W}] with N = ${n} (the input's size), got [${s.join(', ')}]`,
      );
    }
    const t = opts.targets;
    if (!Array.isArray(t) || t.length !== rows / n)
      throw new InvalidInputError(`evaluate: with a map tensor, targets must list its ${rows / n} class indices`);
    for (const c of t) {
      if (!Number.isInteger(c) || c < 0 || c >= K)
        throw new InvalidInputError(`evaluate: target class ${c} is not a class index of this model (0 … ${K - 1})`);
    }
    targets = Array.from({ length: rows }, (_, r) => t[Math.floor(r / n)]);
  } else {
    const m = opts.map;
    if (!isMethod(m))
      throw new InvalidInputError(
        `evaluate: map must be a Tensor or a method (${METHODS.join(', ')}), got ${describe(m)}`,
      );
    if (isInputGradient(m))
      throw new MethodNotApplicableError(
        `evaluate: '${m}' gives a gradient per channel, not a map; pass its saliency as a tensor`,
      );
    const tg: unknown = opts.targets;
    if (typeof tg === 'object' && tg !== null && ('seed' in tg || 'above' in tg))
      throw new InvalidInputError(
        'evaluate: targets must be class indices or { topK } (a metric scores one class per row)',
      );
    const ex = await explain(model, input, { methods: [m], targets: opts.targets, layer: opts.layer });
    own = ex;
    map = (ex.maps[m] as LayerMaps).input;
    const classes = await ex.readClasses(); // [N][T]
    targets = Array.from({ length: ex.t * n }, (_, r) => classes[r % n][Math.floor(r / n)]);
  }

  try {
    const rows = targets.length;
    if (localization) {
      const boxes = opts.boxes!;
      if (boxes.length !== rows)
        throw new InvalidInputError(`evaluate: boxes lists ${boxes.length} rows, the maps have ${rows}`);
      const data = await map.read();
      const out = targets.map((t, r) => {
        const m = data.subarray(r * hw, (r + 1) * hw);
        const b = boxes[r] as Box[];
        const value = metric === 'pointing-game' ? (pointingHit(m, W, b) ? 1 : 0) : energyInBoxes(m, W, b);
        return { image: r % n, target: t, value };
      });
      opts.onProgress?.(rows, rows);
      return { metric, value: 100 * mean(out.map((r) => r.value)), rows: out, images: 0, forwards: 0 };
    }
    const e = model.engine.recorder('evaluate');
    if (curve) {
      const per = steps + 1;
      const total = rows * per;
      const { ranks, base } = await e.run(async () => ({
        ranks: await mapRanks(e, map, hw),
        base: baseline === 'blur' ? await gaussianBlur(e, input) : e.zeros(input.shape, 'metric:zero'),
      }));
      try {
        const imageTargets = Array.from({ length: total }, (_, j) => targets[Math.floor(j / per)]);
        const { scores, forwards } = await batchedScores(model, e, total, cap, imageTargets, opts, (first, count) =>
          curveBatch(e, metric, input, base, ranks, steps, first, count),
        );
        const out = Array.from({ length: rows }, (_, r) => {
          const c = scores.slice(r * per, (r + 1) * per);
          return { image: r % n, target: targets[r], value: trapezoid(c), curve: c };
        });
        return { metric, value: mean(out.map((r) => r.value)), rows: out, images: total, forwards };
      } finally {
        ranks.destroy();
        base.destroy();
      }
    }
    // Confidence metrics: images 0 … N−1 the inputs, N … N+R−1 the masked inputs.
    const all = await e.run(async () => {
      const masked = await maskedBatch(e, input, map);
      const batch = e.empty([n + rows, C, H, W], 'metric:confidence');
      e.copy(input, batch, 0);
      e.copy(masked, batch, n * C * hw);
      masked.destroy();
      return batch;
    });
    try {
      const imageTargets = [...Array.from({ length: n }, () => -1), ...targets];
      // Y for image i depends on the target; score the inputs once per row instead.
      const { scores, forwards, probs } = await batchedScores(
        model,
        e,
        n + rows,
        cap,
        imageTargets,
        opts,
        (first, count) => Promise.resolve(e.slice(all, first * C * hw, [count, C, H, W], 'metric:chunk')),
        n,
      );
      const out = targets.map((t, r) => {
        const Y = probs![(r % n) * K + t];
        const O = scores[n + r];
        const drop = (Math.max(0, Y - O) / Y) * 100;
        const value = metric === 'average-drop' ? drop : O > Y ? 1 : 0;
        return { image: r % n, target: t, value, score: Y, masked: O };
      });
      const value = mean(out.map((r) => r.value)) * (metric === 'average-drop' ? 1 : 100);
      return { metric, value, rows: out, images: n + rows, forwards };
    } finally {
      all.destroy();
    }
  } finally {
    own?.destroy();
  }
}

/**
 * The score of image j's target (imageTargets[j]; −1 for none) for `total` images made chunk by
 * chunk by `make(first, count)`, at most `cap` per forward pass; a chunk that fails for lack of
 * memory is halved and tried again. Also the full probabilities [keep, K] of the first `keep`
 * images.
 */
async function batchedScores(
  model: Model,
  e: Recorder,
  total: number,
  cap: number,
  imageTargets: readonly number[],
  opts: EvaluateOptions,
  make: (first: number, count: number) => Promise<Tensor>,
  keep = 0,
): Promise<{ scores: Float64Array; forwards: number; probs: Float32Array | null }> {
  const g = model.graph;
  const K = g.shape(g.scores)[1];
  const scores = new Float64Array(total);
  const probs = keep ? new Float32Array(keep * K) : null;
  let size = Math.min(cap, total);
  let forwards = 0;
  for (let first = 0; first < total;) {
    opts.signal?.throwIfAborted();
    const count = Math.min(size, total - first);
    let p: Tensor;
    try {
      p = await e.run(async () => {
        const batch = await make(first, count);
        const acts = await model.forward(batch, { recorder: e });
        const out = g.scores === g.output ? await softmaxForward(e, acts.output) : e.copy(acts.output);
        acts.destroy();
        batch.destroy();
        return out;
      });
    } catch (err) {
      const memory =
        err instanceof ResourceLimitError || (err instanceof GPUExecutionError && /memory/i.test(err.message));
      if (memory && size > 1) {
        size = Math.max(1, Math.floor(size / 2));
        continue;
      }
      throw err;
    }
    let host: Float32Array;
    try {
      host = await p.read();
    } finally {
      p.destroy();
    }
    forwards++;
    for (let b = 0; b < count; b++) {
      const t = imageTargets[first + b];
      if (t >= 0) scores[first + b] = host[b * K + t];
    }
    if (probs && first < keep) probs.set(host.subarray(0, Math.min(count, keep - first) * K), first * K);
    first += count;
    opts.onProgress?.(first, total);
  }
  return { scores, forwards, probs };
}

/** The trapezoid area of a curve of n + 1 points over [0, 1]. */
function trapezoid(c: Float64Array): number {
  let s = 0;
  for (let k = 0; k + 1 < c.length; k++) s += (c[k] + c[k + 1]) / 2;
  return s / (c.length - 1);
}

function mean(v: number[]): number {
  return v.reduce((a, b) => a + b, 0) / v.length;
}
