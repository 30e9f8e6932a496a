/**
 * The CPU reference of the faithfulness metrics (docs/METRICS.md), in float64 plain loops on
 * RefModel: the pixel order of a map, the Gaussian-blurred baseline, the deletion and insertion
 * batches and curves with their area, Average Drop and Increase in Confidence, ROAD's imputed
 * batch (noisy linear imputation by conjugate gradients) and its curves. Same names,
 * arguments and conventions as the GPU implementation (src/metrics/); no GPU, no shaders.
 *
 * Conventions (shared with the GPU):
 *   rows       r = t·N + i (target t, image i), like explain()'s maps; map rows [R, H, W];
 *   order      pixel p comes before q when map[p] > map[q], or map[p] = map[q] and p < q;
 *   steps      n steps give n + 1 images s = 0 … n with k_s = ⌊s·HW / n⌋ pixels changed;
 *   deletion   image s: the first k_s pixels of the order (all channels) set to the baseline;
 *   insertion  image s: the baseline with the first k_s pixels of the order taken from x;
 *   score      the softmax probability of the row's target (the model's own output when it
 *              already ends in a softmax or sigmoid);
 *   AUC        the trapezoid rule over s/n ∈ [0, 1]: (1/n)·Σ_s (c_s + c_{s+1})/2.
 */
import {
  ROAD_NEIGHBOURS,
  ROAD_ORDERS,
  ROAD_PERCENTILES,
  ROAD_SIGMA,
  roadCount,
  roadNoiseKey,
  roadOrders,
  roadRemoved,
  type RoadMetric,
} from '../methods/road';
import { noiseAt } from '../methods/sampling';
import { RefModel } from './model';
import { softmaxForward } from './softmax';
import { hostTensor, type HostTensor } from './tensor';

/** RISE's blur: an 11 × 11 Gaussian, σ = 5. */
export const BLUR_KLEN = 11;
export const BLUR_SIGMA = 5;

/** Rank of every pixel of each map row [R, H, W] (0 = the most relevant), the order above. */
export function mapRanks(map: HostTensor): Int32Array {
  const [R, H, W] = rowsShape(map);
  const hw = H * W;
  const ranks = new Int32Array(R * hw);
  for (let r = 0; r < R; r++) {
    const v = map.data.subarray(r * hw, (r + 1) * hw);
    const order = Array.from({ length: hw }, (_, p) => p).sort((p, q) => (v[q] !== v[p] ? v[q] - v[p] : p - q));
    order.forEach((p, k) => (ranks[r * hw + p] = k));
  }
  return ranks;
}

/** [R, H, W] of a map given as [H, W], [R, H, W] or [T, N, H, W]. */
export function rowsShape(map: HostTensor): [number, number, number] {
  const s = map.shape;
  const H = s[s.length - 2];
  const W = s[s.length - 1];
  return [map.data.length / (H * W), H, W];
}

/** The sampled 1-D Gaussian of the blur, normalised to sum 1. */
export function gaussianTaps(klen = BLUR_KLEN, sigma = BLUR_SIGMA): Float64Array {
  const h = Math.floor(klen / 2);
  const g = Float64Array.from({ length: klen }, (_, i) => Math.exp(-((i - h) ** 2) / (2 * sigma * sigma)));
  const s = g.reduce((a, b) => a + b, 0);
  return g.map((v) => v / s);
}

/** x [N, C, H, W] blurred per channel with the separable Gaussian, zero padding (torch conv2d with padding klen/2). */
export function gaussianBlur(x: HostTensor, klen = BLUR_KLEN, sigma = BLUR_SIGMA): HostTensor {
  const [N, C, H, W] = x.shape;
  const g = gaussianTaps(klen, sigma);
  const h = Math.floor(klen / 2);
  const out = hostTensor(x.shape);
  for (let nc = 0; nc < N * C; nc++) {
    const base = nc * H * W;
    for (let y = 0; y < H; y++) {
      for (let xx = 0; xx < W; xx++) {
        let s = 0;
        for (let dy = -h; dy <= h; dy++) {
          const yy = y + dy;
          if (yy < 0 || yy >= H) continue;
          for (let dx = -h; dx <= h; dx++) {
            const x2 = xx + dx;
            if (x2 < 0 || x2 >= W) continue;
            s += g[dy + h] * g[dx + h] * x.data[base + yy * W + x2];
          }
        }
        out.data[base + y * W + xx] = s;
      }
    }
  }
  return out;
}

export type Baseline = 'zero' | 'blur';
export type CurveMetric = 'deletion' | 'insertion';

/** Pixels changed at step s of n over hw pixels: ⌊s·hw / n⌋. */
export function pixelsAtStep(s: number, n: number, hw: number): number {
  return Math.floor((s * hw) / n);
}

/**
 * The deletion (or insertion) batch of every map row: [R·(n + 1), C, H, W], image r·(n + 1) + s
 * from image i = r mod N of x, its baseline and the map's ranks.
 */
export function curveBatch(
  metric: CurveMetric,
  x: HostTensor,
  baseline: HostTensor,
  ranks: Int32Array,
  rows: number,
  steps: number,
): HostTensor {
  const [N, C, H, W] = x.shape;
  const hw = H * W;
  const out = hostTensor([rows * (steps + 1), C, H, W]);
  for (let r = 0; r < rows; r++) {
    const i = r % N;
    for (let s = 0; s <= steps; s++) {
      const k = pixelsAtStep(s, steps, hw);
      const dst = (r * (steps + 1) + s) * C * hw;
      for (let c = 0; c < C; c++) {
        for (let p = 0; p < hw; p++) {
          const first = ranks[r * hw + p] < k;
          const src = (i * C + c) * hw + p;
          const fromX = metric === 'deletion' ? !first : first;
          out.data[dst + c * hw + p] = fromX ? x.data[src] : baseline.data[src];
        }
      }
    }
  }
  return out;
}

/** Per image of a batch, the score of class `targets[j]`: softmax probability (see the header). */
export function targetScores(model: RefModel, batch: HostTensor, targets: ArrayLike<number>): Float64Array {
  const g = model.graph;
  const values = model.forward(batch);
  const probs = g.scores === g.output ? softmaxForward(values.get(g.scores)!) : values.get(g.output)!;
  const K = probs.shape[1];
  return Float64Array.from({ length: batch.shape[0] }, (_, j) => probs.data[j * K + targets[j]]);
}

/** The trapezoid area of a curve of n + 1 points over [0, 1]. */
export function auc(curve: ArrayLike<number>): number {
  const n = curve.length - 1;
  let s = 0;
  for (let k = 0; k < n; k++) s += (curve[k] + curve[k + 1]) / 2;
  return s / n;
}

export interface RefCurveRow {
  image: number;
  target: number;
  value: number;
  curve: Float64Array;
}

/**
 * Deletion or insertion for each map row (rows t·N + i, targets[t]): the score curve of n + 1
 * points and its AUC.
 */
export function curveReference(
  model: RefModel,
  x: HostTensor,
  map: HostTensor,
  targets: readonly number[],
  opts: { metric: CurveMetric; steps: number; baseline: Baseline },
): RefCurveRow[] {
  const N = x.shape[0];
  const [R] = rowsShape(map);
  const base = opts.baseline === 'blur' ? gaussianBlur(x) : hostTensor(x.shape);
  const batch = curveBatch(opts.metric, x, base, mapRanks(map), R, opts.steps);
  const per = opts.steps + 1;
  const tj = Array.from({ length: R * per }, (_, j) => targets[Math.floor(Math.floor(j / per) / N)]);
  const scores = targetScores(model, batch, tj);
  return Array.from({ length: R }, (_, r) => {
    const curve = scores.slice(r * per, (r + 1) * per);
    return { image: r % N, target: targets[Math.floor(r / N)], value: auc(curve), curve };
  });
}

export interface RefConfidenceRow {
  image: number;
  target: number;
  /** Y: the score on the input. */
  score: number;
  /** O: the score on the input times the map (x ⊙ map, the map broadcast over channels). */
  masked: number;
  /** max(0, Y − O) / Y · 100. */
  drop: number;
  /** O > Y. */
  increase: boolean;
}

/** x ⊙ map for every row: [R, C, H, W], image r mod N times map row r. */
export function maskedBatch(x: HostTensor, map: HostTensor): HostTensor {
  const [N, C, H, W] = x.shape;
  const [R] = rowsShape(map);
  const hw = H * W;
  const out = hostTensor([R, C, H, W]);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      for (let p = 0; p < hw; p++) {
        out.data[(r * C + c) * hw + p] = x.data[((r % N) * C + c) * hw + p] * map.data[r * hw + p];
      }
    }
  }
  return out;
}

/** Average Drop and Increase in Confidence, per row (Chattopadhay et al. 2018). */
export function confidenceReference(
  model: RefModel,
  x: HostTensor,
  map: HostTensor,
  targets: readonly number[],
): RefConfidenceRow[] {
  const N = x.shape[0];
  const [R] = rowsShape(map);
  const rowTarget = (r: number) => targets[Math.floor(r / N)];
  const masked = targetScores(
    model,
    maskedBatch(x, map),
    Array.from({ length: R }, (_, r) => rowTarget(r)),
  );
  const g = model.graph;
  const values = model.forward(x);
  const probs = g.scores === g.output ? softmaxForward(values.get(g.scores)!) : values.get(g.output)!;
  const K = probs.shape[1];
  return Array.from({ length: R }, (_, r) => {
    const Y = probs.data[(r % N) * K + rowTarget(r)];
    const O = masked[r];
    return {
      image: r % N,
      target: rowTarget(r),
      score: Y,
      masked: O,
      drop: (Math.max(0, Y - O) / Y) * 100,
      increase: O > Y,
    };
  });
}

// ROAD (Rong et al. 2022): src/methods/road.ts has the definitions shared with the GPU.

export interface Imputation {
  /** The image [C, H, W] with the removed pixels imputed (no noise). */
  values: Float64Array;
  /** The conjugate-gradient iterations of each channel's solve, and its final ‖r‖/‖b‖. */
  iterations: number[];
  residual: number[];
}

/**
 * Noisy linear imputation without the noise, of one image [C, H, W] (flat): the removed pixels
 * (removed[p] = 1) solve S_p·v_p − Σ_{q removed} w_pq·v_q = Σ_{q kept} w_pq·x_q per channel
 * (ROAD_NEIGHBOURS inside the image; S_p the sum of their weights), kept pixels are copied. The
 * matrix is symmetric (w_pq = w_qp) and positive definite while a pixel is kept (every group of
 * removed pixels touches a kept one); solved by conjugate gradients from v = 0 in float64 until
 * ‖r‖ ≤ tol·‖b‖.
 */
export function linearImputation(
  image: ArrayLike<number>,
  C: number,
  H: number,
  W: number,
  removed: Uint8Array,
  tol = 1e-12,
): Imputation {
  const P = H * W;
  const values = Float64Array.from(image);
  const ids: number[] = [];
  for (let p = 0; p < P; p++) if (removed[p]) ids.push(p);
  const n = ids.length;
  const iterations: number[] = [];
  const residual: number[] = [];
  if (n === 0) return { values, iterations: new Array(C).fill(0), residual: new Array(C).fill(0) };
  if (n === P) throw new Error('linearImputation: every pixel removed, nothing to impute from');
  const index = new Int32Array(P).fill(-1);
  ids.forEach((p, j) => (index[p] = j));
  // Per unknown j: S_j, its removed neighbours (unknown index, weight), its kept ones (pixel, weight).
  const S = new Float64Array(n);
  const inner: [number, number][][] = [];
  const outer: [number, number][][] = [];
  ids.forEach((p, j) => {
    const y = Math.floor(p / W);
    const x = p % W;
    const rin: [number, number][] = [];
    const rout: [number, number][] = [];
    for (const [dy, dx, w] of ROAD_NEIGHBOURS) {
      const yy = y + dy;
      const xx = x + dx;
      if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
      S[j] += w;
      const q = yy * W + xx;
      if (removed[q]) rin.push([index[q], w]);
      else rout.push([q, w]);
    }
    inner.push(rin);
    outer.push(rout);
  });
  const apply = (v: Float64Array, into: Float64Array) => {
    for (let j = 0; j < n; j++) {
      let s = S[j] * v[j];
      for (const [k, w] of inner[j]) s -= w * v[k];
      into[j] = s;
    }
  };
  const dot = (a: Float64Array, b: Float64Array) => {
    let s = 0;
    for (let j = 0; j < n; j++) s += a[j] * b[j];
    return s;
  };
  for (let c = 0; c < C; c++) {
    const b = new Float64Array(n);
    for (let j = 0; j < n; j++) for (const [q, w] of outer[j]) b[j] += w * image[c * P + q];
    const v = new Float64Array(n);
    const r = Float64Array.from(b);
    const d = Float64Array.from(b);
    const Ad = new Float64Array(n);
    const bb = dot(b, b);
    let rr = bb;
    let it = 0;
    for (; it < 10 * n && rr > tol * tol * bb; it++) {
      apply(d, Ad);
      const alpha = rr / dot(d, Ad);
      for (let j = 0; j < n; j++) {
        v[j] += alpha * d[j];
        r[j] -= alpha * Ad[j];
      }
      const next = dot(r, r);
      for (let j = 0; j < n; j++) d[j] = r[j] + (next / rr) * d[j];
      rr = next;
    }
    iterations.push(it);
    residual.push(bb > 0 ? Math.sqrt(rr / bb) : 0);
    ids.forEach((p, j) => (values[c * P + p] = v[j]));
  }
  return { values, iterations, residual };
}

/**
 * ROAD's batch for every map row: [R·per, C, H, W] with per = orders.length·P, image
 * r·per + u·P + j: image r mod N of x with the pixels of order orders[u] at percentile j removed
 * and imputed, plus σ·z on the imputed values (src/methods/road.ts). Also each solve's
 * iterations and residual, per image and channel.
 */
export function roadBatch(
  x: HostTensor,
  ranks: Int32Array,
  rows: number,
  orders: readonly number[],
  percentiles: readonly number[],
  sigma: number,
  seed: number,
): { batch: HostTensor; iterations: number[]; residual: number[] } {
  const [N, C, H, W] = x.shape;
  const hw = H * W;
  const P = percentiles.length;
  const per = orders.length * P;
  const batch = hostTensor([rows * per, C, H, W]);
  const iterations: number[] = [];
  const residual: number[] = [];
  for (let r = 0; r < rows; r++) {
    const image = x.data.subarray((r % N) * C * hw, ((r % N) + 1) * C * hw);
    orders.forEach((o, u) => {
      percentiles.forEach((pct, j) => {
        const k = roadCount(pct, hw);
        const removed = new Uint8Array(hw);
        for (let p = 0; p < hw; p++) removed[p] = roadRemoved(ranks[r * hw + p], k, hw, ROAD_ORDERS[o]) ? 1 : 0;
        const imp = linearImputation(image, C, H, W, removed);
        const key = roadNoiseKey(seed, o, j, P, r);
        if (sigma > 0) {
          for (let c = 0; c < C; c++) {
            for (let p = 0; p < hw; p++) if (removed[p]) imp.values[c * hw + p] += sigma * noiseAt(key, c * hw + p);
          }
        }
        batch.data.set(imp.values, (r * per + u * P + j) * C * hw);
        iterations.push(...imp.iterations);
        residual.push(...imp.residual);
      });
    });
  }
  return { batch, iterations, residual };
}

export interface RefRoadRow {
  image: number;
  target: number;
  /** road-morf, road-lerf: the mean score over the percentiles; road: the mean of (LeRF − MoRF)/2. */
  value: number;
  /** The score per percentile (road: (LeRF − MoRF)/2 per percentile). */
  curve: Float64Array;
  /** road: the MoRF and LeRF scores per percentile. */
  morf?: Float64Array;
  lerf?: Float64Array;
}

/**
 * ROAD for each map row (rows t·N + i, targets[t]): the score of the row's target on each
 * imputed image (roadBatch), per order and percentile, and the row's value.
 */
export function roadReference(
  model: RefModel,
  x: HostTensor,
  map: HostTensor,
  targets: readonly number[],
  opts: { metric: RoadMetric; percentiles?: readonly number[]; sigma?: number; seed?: number },
): RefRoadRow[] {
  const N = x.shape[0];
  const [R] = rowsShape(map);
  const percentiles = opts.percentiles ?? ROAD_PERCENTILES;
  const P = percentiles.length;
  const orders = roadOrders(opts.metric);
  const per = orders.length * P;
  const { batch } = roadBatch(x, mapRanks(map), R, orders, percentiles, opts.sigma ?? ROAD_SIGMA, opts.seed ?? 0);
  const tj = Array.from({ length: R * per }, (_, q) => targets[Math.floor(Math.floor(q / per) / N)]);
  const scores = targetScores(model, batch, tj);
  return Array.from({ length: R }, (_, r) => {
    const part = (u: number) => scores.slice(r * per + u * P, r * per + (u + 1) * P);
    const row = { image: r % N, target: targets[Math.floor(r / N)] };
    if (opts.metric !== 'road') {
      const curve = part(0);
      return { ...row, value: meanOf(curve), curve };
    }
    const morf = part(0);
    const lerf = part(1);
    const curve = lerf.map((l, j) => (l - morf[j]) / 2);
    return { ...row, value: meanOf(curve), curve, morf, lerf };
  });
}

function meanOf(v: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < v.length; k++) s += v[k];
  return s / v.length;
}
