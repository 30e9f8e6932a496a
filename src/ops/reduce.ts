/**
 * reducemean / reducesum forward over axes after the batch (shaders/reduce.wgsl, one invocation
 * per output element); the backward is a broadcast (reduceBackward in src/ops/layout.ts).
 */
import { ShapeMismatchError } from '../core/errors';
import { sizeOf } from '../core/shape';
import { keptShape, reducedCount, type ReduceParams } from '../defs/reduce';
import { grid1d } from '../gpu/engine';
import { defineKernel } from '../gpu/kernel';
import type { Recorder } from '../gpu/recorder';
import type { Tensor } from '../gpu/tensor';
import reduceCode from '../../shaders/reduce.wgsl?raw';

const WG = 256;
const MAX_RANK = 8;
const DIMS = 'array<vec4u, 2>';

const REDUCE = defineKernel({
  name: 'reduce',
  code: reduceCode,
  params: { count: 'u32', rank: 'u32', r: 'u32', scale: 'f32', out_dims: DIMS, red_dims: DIMS, src_strides: DIMS },
  bindings: ['src', 'dst'],
});

const pad8 = (v: number[], fill: number) => [...v, ...new Array<number>(MAX_RANK - v.length).fill(fill)];

/** The sum (mean: times 1/R) of x over p.axes; the output has the op's shape (keepdims or not). */
export async function reduceForward(
  e: Recorder,
  x: Tensor,
  p: ReduceParams,
  mean: boolean,
  outShape: readonly number[],
): Promise<Tensor> {
  if (x.rank > MAX_RANK) throw new ShapeMismatchError(`reduce: rank ${x.rank} is above ${MAX_RANK}`);
  const kept = keptShape(x.shape, p);
  const r = reducedCount(x.shape, p);
  const k = await e.kernel(REDUCE, { overrides: { WG } });
  const y = e.empty(outShape, mean ? 'reducemean' : 'reducesum');
  if (y.size !== sizeOf(kept)) throw new ShapeMismatchError(`reduce: output [${outShape}] does not match [${kept}]`);
  e.dispatch(
    k,
    { src: x, dst: y },
    {
      count: y.size,
      rank: x.rank,
      r,
      scale: mean ? 1 / r : 1,
      out_dims: pad8(kept, 1),
      red_dims: pad8(
        x.shape.map((d, i) => (p.axes.includes(i) ? d : 1)),
        1,
      ),
      src_strides: pad8(
        x.shape.map((_, d) => sizeOf(x.shape.slice(d + 1))),
        0,
      ),
    },
    grid1d(y.size, WG),
  );
  return y;
}
