/**
 * Dispatchers of the faithfulness metrics' kernels, with the CPU reference's names and
 * conventions (src/reference/metrics.ts): the pixel ranks of a map (a bitonic sort on the GPU),
 * the Gaussian-blurred baseline, the deletion/insertion batch, the masked batch x ⊙ map.
 * Shaders: metric_sort_init.wgsl, metric_bitonic.wgsl, metric_rank_scatter.wgsl,
 * metric_blur.wgsl, metric_perturb.wgsl, metric_mask.wgsl.
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

/**
 * The rank of every pixel of each of the R map rows (`map` of R·hw values): [R, hw], u32 bits in
 * a float32 tensor (read it as a Uint32Array). Rank 0 is the most relevant pixel; equal values
 * rank by pixel index. A bitonic sort of the rows padded to a power of two, log2(p2)·(log2(p2)+1)/2
 * dispatches.
 */
export async function mapRanks(e: Recorder, map: Tensor, hw: number): Promise<Tensor> {
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
  idx.destroy();
  return ranks;
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
