/**
 * Dispatchers of the faithfulness metrics' kernels, with the CPU reference's names and
 * conventions (src/reference/metrics.ts): the pixel ranks of a map (a bitonic sort on the GPU),
 * the Gaussian-blurred baseline, the deletion/insertion batch, the masked batch x ⊙ map, ROAD's
 * imputed batch (noisy linear imputation solved by conjugate gradients on the GPU).
 * Shaders: metric_sort_init.wgsl, metric_bitonic.wgsl, metric_rank_scatter.wgsl,
 * metric_blur.wgsl, metric_perturb.wgsl, metric_mask.wgsl, road_impute.wgsl.
 */
import type { Recorder } from '../gpu/recorder';
import { grid1d } from '../gpu/engine';
import { defineKernel } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import sortInitCode from '../../shaders/metric_sort_init.wgsl?raw';
import bitonicCode from '../../shaders/metric_bitonic.wgsl?raw';
import scatterCode from '../../shaders/metric_rank_scatter.wgsl?raw';
import blurCode from '../../shaders/metric_blur.wgsl?raw';
import perturbCode from '../../shaders/metric_perturb.wgsl?raw';
import maskCode from '../../shaders/metric_mask.wgsl?raw';
import roadCode from '../../shaders/road_impute.wgsl?raw';
import { PCG_NORMAL, SUM_MAX_REDUCE } from '../ops/includes';

const WG = 256; // `override WG` of every metric kernel

/** RISE's blur: an 11 × 11 Gaussian, σ = 5 (the CPU reference's BLUR_KLEN, BLUR_SIGMA). */
export const BLUR_KLEN = 11;
export const BLUR_SIGMA = 5;

const SORT_INIT = defineKernel({
  name: 'metric_sort_init',
  code: sortInitCode,
  params: { count: 'u32', hw: 'u32', p2: 'u32' },
  bindings: ['map', 'keys', 'idx'],
});
const BITONIC = defineKernel({
  name: 'metric_bitonic',
  code: bitonicCode,
  params: { count: 'u32', hw: 'u32', p2: 'u32', k: 'u32', j: 'u32' },
  bindings: ['keys', 'idx'],
});
const SCATTER = defineKernel({
  name: 'metric_rank_scatter',
  code: scatterCode,
  params: { count: 'u32', hw: 'u32', p2: 'u32' },
  bindings: ['idx', 'ranks'],
});
const BLUR = defineKernel({
  name: 'metric_blur',
  code: blurCode,
  params: { count: 'u32', h: 'u32', w: 'u32', half: 'u32', sigma: 'f32' },
  bindings: ['src', 'dst'],
});
const PERTURB = defineKernel({
  name: 'metric_perturb',
  code: perturbCode,
  params: {
    count: 'u32',
    first: 'u32',
    per: 'u32',
    steps: 'u32',
    hw: 'u32',
    c: 'u32',
    n: 'u32',
    mode: 'u32',
  },
  bindings: ['x', 'base', 'ranks', 'out'],
});
const MASK = defineKernel({
  name: 'metric_mask',
  code: maskCode,
  params: { count: 'u32', hw: 'u32', c: 'u32', n: 'u32' },
  bindings: ['x', 'map', 'out'],
});

const ROAD = defineKernel({
  name: 'road_impute',
  code: roadCode,
  params: {
    systems: 'u32',
    first: 'u32',
    per: 'u32',
    np: 'u32',
    o0: 'u32',
    p2: 'u32',
    h: 'u32',
    w: 'u32',
    c: 'u32',
    n: 'u32',
    max_iter: 'u32',
    seed: 'u32',
    tol: 'f32',
    sigma: 'f32',
  },
  bindings: ['x', 'ranks', 'order', 'counts', 'out', 'work', 'stats'],
  includes: [SUM_MAX_REDUCE, PCG_NORMAL],
});

/**
 * The rank of every pixel of each of the R map rows (`map` of R·hw values): [R, hw], u32 bits in
 * a float32 tensor (read it as a Uint32Array). Rank 0 is the most relevant pixel; equal values
 * rank by pixel index. A bitonic sort of the rows padded to a power of two, log2(p2)·(log2(p2)+1)/2
 * dispatches.
 */
export async function mapRanks(e: Recorder, map: Tensor, hw: number): Promise<Tensor> {
  const { ranks, order } = await mapOrder(e, map, hw);
  order.destroy();
  return ranks;
}

/**
 * mapRanks' ranks, and the sorted pixels they come from: `order` [R, p2] (u32 bits; p2 = hw
 * rounded up to a power of two), row r's pixels by rank in slots 0 … hw − 1, padding after.
 */
export async function mapOrder(e: Recorder, map: Tensor, hw: number): Promise<{ ranks: Tensor; order: Tensor }> {
  const R = map.size / hw;
  let p2 = 1;
  while (p2 < hw) p2 *= 2;
  const keys = e.empty([R, p2], 'metric:keys');
  const idx = e.empty([R, p2], 'metric:idx');
  const init = await e.kernel(SORT_INIT, { overrides: { WG } });
  e.dispatch(init, { map, keys, idx }, { count: R * p2, hw, p2 }, grid1d(R * p2, WG));
  if (p2 > 1) {
    const stage = await e.kernel(BITONIC, { overrides: { WG } });
    const pairs = (R * p2) / 2;
    for (let k = 2; k <= p2; k *= 2) {
      for (let j = k / 2; j >= 1; j /= 2) {
        e.dispatch(stage, { keys, idx }, { count: pairs, hw, p2, k, j }, grid1d(pairs, WG));
      }
    }
  }
  const ranks = e.empty([R, hw], 'metric:ranks');
  const scatter = await e.kernel(SCATTER, { overrides: { WG } });
  e.dispatch(scatter, { idx, ranks }, { count: R * hw, hw, p2 }, grid1d(R * hw, WG));
  keys.destroy();
  return { ranks, order: idx };
}

/** x [N, C, H, W] blurred per channel with a klen × klen Gaussian of σ, zero padding. */
export async function gaussianBlur(e: Recorder, x: Tensor, klen = BLUR_KLEN, sigma = BLUR_SIGMA): Promise<Tensor> {
  const [, , h, w] = x.shape;
  const out = e.empty(x.shape, 'metric:blur');
  const k = await e.kernel(BLUR, { overrides: { WG } });
  e.dispatch(k, { src: x, dst: out }, { count: x.size, h, w, half: Math.floor(klen / 2), sigma }, grid1d(x.size, WG));
  return out;
}

/**
 * Images first … first + count − 1 of the deletion (or insertion) batch of R·(steps + 1) images
 * (image r·(steps + 1) + s: step s of map row r, from image r mod N of x): [count, C, H, W].
 */
export async function curveBatch(
  e: Recorder,
  metric: 'deletion' | 'insertion',
  x: Tensor,
  base: Tensor,
  ranks: Tensor,
  steps: number,
  first: number,
  count: number,
): Promise<Tensor> {
  const [n, c, h, w] = x.shape;
  const out = e.empty([count, c, h, w], `metric:${metric}`);
  const k = await e.kernel(PERTURB, { overrides: { WG } });
  const params = {
    count: out.size,
    first,
    per: steps + 1,
    steps,
    hw: h * w,
    c,
    n,
    mode: metric === 'deletion' ? 0 : 1,
  };
  e.dispatch(k, { x, base, ranks, out }, params, grid1d(out.size, WG));
  return out;
}

/** x ⊙ map for every map row r (image r mod N of x): [R, C, H, W]. */
export async function maskedBatch(e: Recorder, x: Tensor, map: Tensor): Promise<Tensor> {
  const [n, c, h, w] = x.shape;
  const hw = h * w;
  const R = map.size / hw;
  const out = e.empty([R, c, h, w], 'metric:masked');
  const k = await e.kernel(MASK, { overrides: { WG } });
  e.dispatch(k, { x, map, out }, { count: out.size, hw, c, n }, grid1d(out.size, WG));
  return out;
}

export interface RoadSolve {
  /** The first order's index o (0 MoRF, 1 LeRF) and the number of orders (1 or 2). */
  o0: number;
  orders: number;
  /** The pixels removed per percentile, [P] (integers as float32). */
  counts: Tensor;
  /** Per system of the whole batch (image, channel): iterations and the final ‖r‖/‖b‖, [total·C, 2]. */
  stats: Tensor;
  /** Conjugate-gradient iterations at most, and the relative residual that stops them. */
  maxIterations: number;
  tol: number;
  sigma: number;
  seed: number;
}

/** ROAD's stopping rule: ‖r‖ ≤ ROAD_TOL·‖b‖ in float32, within ROAD_MAX_ITERATIONS(H, W) iterations. */
export const ROAD_TOL = 1e-6;
/** CG's iterations grow with the holes' diameter: 8 per pixel of the longer side, plus 64. */
export const roadMaxIterations = (h: number, w: number) => 8 * Math.max(h, w) + 64;

/**
 * Images first … first + count − 1 of ROAD's batch of R·per images (per = orders·P; image
 * r·per + u·P + j: map row r, order o0 + u, percentile j, from image r mod N of x), the removed
 * pixels imputed by conjugate gradients (one workgroup per image and channel) plus the seeded
 * noise: [count, C, H, W]. Also writes each solve's iterations and residual into `s.stats`.
 */
export async function roadBatch(
  e: Recorder,
  x: Tensor,
  ranks: Tensor,
  order: Tensor,
  s: RoadSolve,
  first: number,
  count: number,
): Promise<Tensor> {
  const [n, c, h, w] = x.shape;
  const P = s.counts.size;
  const out = e.empty([count, c, h, w], 'metric:road');
  const work = e.empty([count * c, 3, h * w], 'metric:road-work');
  const wg = e.adapter.isSoftware ? 64 : 256; // barrier-heavy: smaller workgroups on software adapters
  const k = await e.kernel(ROAD, { overrides: { WG: wg } });
  const params = {
    systems: count * c,
    first,
    per: s.orders * P,
    np: P,
    o0: s.o0,
    p2: (order.size / ranks.size) * h * w,
    h,
    w,
    c,
    n,
    max_iter: s.maxIterations,
    seed: s.seed,
    tol: s.tol,
    sigma: s.sigma,
  };
  e.dispatch(k, { x, ranks, order, counts: s.counts, out, work, stats: s.stats }, params, grid1d(count * c, 1));
  work.destroy();
  return out;
}
