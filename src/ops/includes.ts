/**
 * The WGSL snippets several kernels share (shaders/include/, pulled in with `#include "name"`),
 * one Include each, for the `includes` of the kernels' definitions. Each snippet's opening
 * comment says what it provides and what the including kernel must declare.
 */
import type { Include } from '../gpu/kernel';
import bilinearSampleCode from '../../shaders/include/bilinear_sample.wgsl?raw';
import conv2dTileCode from '../../shaders/include/conv2d_tile.wgsl?raw';
import erfCode from '../../shaders/include/erf.wgsl?raw';
import finiteCode from '../../shaders/include/finite.wgsl?raw';
import gradcamppCode from '../../shaders/include/gradcampp.wgsl?raw';
import minmaxReduceCode from '../../shaders/include/minmax_reduce.wgsl?raw';
import pcgNormalCode from '../../shaders/include/pcg_normal.wgsl?raw';
import poolGatherCode from '../../shaders/include/pool_gather.wgsl?raw';
import sumMaxReduceCode from '../../shaders/include/sum_max_reduce.wgsl?raw';
import windowMaxCode from '../../shaders/include/window_max.wgsl?raw';

/** A map's value at an output pixel of a half-pixel-centred bilinear resize. */
export const BILINEAR_SAMPLE: Include = { name: 'bilinear_sample', code: bilinearSampleCode };
/** The conv tile: which tile an invocation computes, clamps, bias and guarded stores. */
export const CONV2D_TILE: Include = { name: 'conv2d_tile', code: conv2dTileCode };
/** Values that are not finite made finite (by their bits), and an overflow-free min–max ratio. */
export const FINITE: Include = { name: 'finite', code: finiteCode };
/** Grad-CAM++'s per-position coefficient a = g² / (2g² + S·g³). */
export const GRADCAMPP: Include = { name: 'gradcampp', code: gradcamppCode };
/** The min and max over a workgroup. */
export const MINMAX_REDUCE: Include = { name: 'minmax_reduce', code: minmaxReduceCode };
/** The seeded standard normal values of src/methods/sampling.ts (PCG hash, Box–Muller). */
export const PCG_NORMAL: Include = { name: 'pcg_normal', code: pcgNormalCode };
/** The pooling windows that contain a cell. */
export const POOL_GATHER: Include = { name: 'pool_gather', code: poolGatherCode };
/** The sum and the max over a workgroup. */
export const SUM_MAX_REDUCE: Include = { name: 'sum_max_reduce', code: sumMaxReduceCode };
/** A pooling window's first maximum. */
export const WINDOW_MAX: Include = { name: 'window_max', code: windowMaxCode };
/** The error function on the elementwise kernels' type T. */
export const ERF: Include = { name: 'erf', code: erfCode };

const BY_NAME: Readonly<Record<string, Include>> = Object.fromEntries(
  [
    BILINEAR_SAMPLE,
    CONV2D_TILE,
    ERF,
    FINITE,
    GRADCAMPP,
    MINMAX_REDUCE,
    PCG_NORMAL,
    POOL_GATHER,
    SUM_MAX_REDUCE,
    WINDOW_MAX,
  ].map((i) => [i.name, i]),
);

/** The snippets named in an op's definition (e.g. an elementwise entry's `includes`). */
export function includesNamed(names: readonly string[]): Include[] {
  return names.map((n) => {
    const inc = BY_NAME[n];
    if (!inc) throw new Error(`unreachable: no WGSL snippet '${n}' in shaders/include/`);
    return inc;
  });
}
