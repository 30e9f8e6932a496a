/**
 * evaluate(): how faithful is a map? The faithfulness metrics of docs/METRICS.md on the GPU,
 * with batched forwards: deletion and insertion (Petsiuk et al. 2018), Average Drop and
 * Increase in Confidence (Chattopadhay et al. 2018), Win % between two evaluations, and ROAD
 * (Rong et al. 2022: MoRF, LeRF and combined, the noisy linear imputation solved on the GPU).
 *
 * A map is a Tensor of R = T·N rows at the input's resolution ([T, (N,) H, W] as explain()'s
 * `maps[m].input`, row r = t·N + i: target t, image i), or a method name, which explain() turns
 * into its maps first. Every perturbed image of every row goes through the model in batches of
 * at most `batch` images (default: as many as the device's buffer limits allow for the largest
 * activation; a batch that fails for lack of memory is halved and tried again).
 *
 * Conventions (the CPU reference's, src/reference/metrics.ts): pixels ordered by the map,
 * ties by pixel index; n steps give n + 1 images, k_s = ⌊s·HW/n⌋ pixels changed at step s; the
 * score is the softmax probability of the target; AUC by the trapezoid rule over [0, 1]; ROAD's
 * definitions are src/methods/road.ts.
 */
import { GPUExecutionError, InvalidInputError, MethodNotApplicableError, ResourceLimitError } from '../core/errors';
import { sizeOf } from '../core/shape';
import type { Recorder } from '../gpu/recorder';
import { Tensor } from '../gpu/tensor';
import { explain, type LayerMaps, type Targets } from '../attribution/explain';
import { isInputGradient, isMethod, METHODS, type Method } from '../methods/registry';
import { ROAD_PERCENTILES, ROAD_SIGMA, roadCount, roadOrders, type RoadMetric } from '../methods/road';
import { Model } from '../model/model';
import { softmaxForward } from '../ops/softmax';
import {
  curveBatch,
  gaussianBlur,
  mapOrder,
  mapRanks,
  maskedBatch,
  roadBatch,
  roadMaxIterations,
  ROAD_TOL,
} from './kernels';
import { energyInBoxes, pointingHit, type Box } from './localization';

export const METRICS = [
  'deletion',
  'insertion',
  'average-drop',
  'increase-in-confidence',
  'pointing-game',
  'energy-in-boxes',
  'road-morf',
  'road-lerf',
  'road',
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
  /**
   * ROAD: the percentages of the pixels removed, each in [0, 100) (default 10, 20, …, 90). The
   * k = ⌊p·H·W/100⌋ most (MoRF) or least (LeRF) relevant pixels are removed.
   */
  percentiles?: readonly number[];
  /** ROAD: σ of the Gaussian noise added to the imputed values (default 0.01, in the model's input space). */
  sigma?: number;
  /** ROAD: the noise's seed, an integer in [0, 2³²) (default 0). */
  seed?: number;
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
  /**
   * Deletion and insertion: the score at each of the n + 1 steps. ROAD: the score at each
   * percentile (road: (LeRF − MoRF)/2 at each percentile).
   */
  curve?: Float64Array;
  /** road: the MoRF and the LeRF scores at each percentile. */
  morf?: Float64Array;
  lerf?: Float64Array;
  /** The confidence metrics: Y, the score on the input, and O, the score on x ⊙ map. */
  score?: number;
  masked?: number;
}

export interface Evaluation {
  metric: Metric;
  /**
   * The metric over all rows: the mean AUC, Average Drop in %, the % of rows with an increase,
   * the % of rows whose map peaks in a box (pointing game), the mean % of the map's mass in the boxes,
   * ROAD's mean score over the percentiles (road-morf ↓, road-lerf ↑) or of (LeRF − MoRF)/2 (road ↑).
   */
  value: number;
  rows: EvaluationRow[];
  /** The number of images that went through the model, and in how many forward passes. */
  images: number;
  forwards: number;
  /**
   * ROAD: the imputation's conjugate-gradient solves (one per image and channel), their most
   * iterations and largest final relative residual ‖r‖/‖b‖ (the solve stops at 1e-6).
   */
  imputation?: { iterations: number; residual: number };
}

const KNOWN = [
  'metric',
  'map',
  'targets',
  'layer',
  'steps',
  'baseline',
  'boxes',
  'percentiles',
  'sigma',
  'seed',
  'batch',
  'onProgress',
  'signal',
];

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
  const road = metric === 'road-morf' || metric === 'road-lerf' || metric === 'road';
  const percentiles = opts.percentiles ?? ROAD_PERCENTILES;
  if (
    !Array.isArray(percentiles) ||
    percentiles.length === 0 ||
    !percentiles.every((v) => typeof v === 'number' && v >= 0 && v < 100)
  )
    throw new InvalidInputError(
      `evaluate: percentiles must be a non-empty list of numbers in [0, 100), got ${describe(opts.percentiles)}`,
    );
  const sigma = opts.sigma ?? ROAD_SIGMA;
  if (typeof sigma !== 'number' || !Number.isFinite(sigma) || sigma < 0)
    throw new InvalidInputError(`evaluate: sigma must be a finite number ≥ 0, got ${describe(opts.sigma)}`);
  const seed = opts.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)
    throw new InvalidInputError(`evaluate: seed must be an integer in [0, 2^32), got ${describe(opts.seed)}`);
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
    if (road) {
      const orders = roadOrders(metric as RoadMetric);
      const P = percentiles.length;
      const per = orders.length * P;
      const total = rows * per;
      const counts = Float32Array.from(percentiles, (p) => roadCount(p, hw));
      const { sorted, cnt, stats } = await e.run(async () => ({
        sorted: await mapOrder(e, map, hw),
        cnt: e.upload(counts, [P], 'metric:road-counts'),
        stats: e.zeros([total * C, 2], 'metric:road-stats'),
      }));
      try {
        const solve = {
          o0: orders[0],
          orders: orders.length,
          counts: cnt,
          stats,
          maxIterations: roadMaxIterations(H, W),
          tol: ROAD_TOL,
          sigma,
          seed,
        };
        const imageTargets = Array.from({ length: total }, (_, q) => targets[Math.floor(q / per)]);
        const { scores, forwards } = await batchedScores(model, e, total, cap, imageTargets, opts, (first, count) =>
          roadBatch(e, input, sorted.ranks, sorted.order, solve, first, count),
        );
        const st = await stats.read();
        let iterations = 0;
        let residual = 0;
        for (let s = 0; s < total * C; s++) {
          iterations = Math.max(iterations, st[2 * s]);
          residual = Math.max(residual, st[2 * s + 1]);
        }
        const out = Array.from({ length: rows }, (_, r): EvaluationRow => {
          const part = (u: number) => scores.slice(r * per + u * P, r * per + (u + 1) * P);
          const row = { image: r % n, target: targets[r] };
          if (metric !== 'road') return { ...row, value: meanOf(part(0)), curve: part(0) };
          const morf = part(0);
          const lerf = part(1);
          const c = lerf.map((l, j) => (l - morf[j]) / 2);
          return { ...row, value: meanOf(c), curve: c, morf, lerf };
        });
        const value = mean(out.map((r) => r.value));
        return { metric, value, rows: out, images: total, forwards, imputation: { iterations, residual } };
      } finally {
        sorted.ranks.destroy();
        sorted.order.destroy();
        cnt.destroy();
        stats.destroy();
      }
    }
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

function meanOf(v: Float64Array): number {
  return mean(Array.from(v));
}
