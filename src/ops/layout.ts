/**
 * Transpose, slice and pad forward and backward, and the backward of the reductions (a
 * broadcast of dy over the reduced axes): all one gather kernel (shaders/gather.wgsl), each
 * output element reading at most one source element through a per-dim affine map of its
 * coordinates. Rank ≤ 8. Backward functions take dy [T·N, ...] (T targets stacked on the batch)
 * and return dx [T·N, ...input dims].
 */
import { ShapeMismatchError } from '../core/errors';
import { sizeOf, type Shape } from '../core/shape';
import { inversePerm, sliceWindow, type PadParams, type SliceParams } from '../defs/layout';
import { keptShape, type ReduceParams } from '../defs/reduce';
import { grid1d } from '../gpu/engine';
import { defineKernel } from '../gpu/kernel';
import type { Recorder } from '../gpu/recorder';
import type { Tensor } from '../gpu/tensor';
import gatherCode from '../../shaders/gather.wgsl?raw';

const WG = 256;
const MAX_RANK = 8;
const DIMS = 'array<vec4u, 2>';

const GATHER = defineKernel({
  name: 'gather',
  code: gatherCode,
  params: {
    count: 'u32',
    rank: 'u32',
    scale: 'f32',
    fill: 'f32',
    out_dims: DIMS,
    mul: 'array<vec4i, 2>',
    add: 'array<vec4i, 2>',
    div: DIMS,
    src_dims: DIMS,
    src_strides: DIMS,
  },
  bindings: ['src', 'dst'],
});

/** How output dim d finds its source coordinate: t = (c·mul + add) / div, valid in [0, srcDim). */
interface Axis {
  mul: number;
  add: number;
  div: number;
  srcDim: number;
  srcStride: number;
}

function strides(shape: Shape): number[] {
  return shape.map((_, d) => sizeOf(shape.slice(d + 1)));
}

const pad8 = (v: number[], fill: number) => [...v, ...new Array<number>(MAX_RANK - v.length).fill(fill)];

async function gather(
  e: Recorder,
  src: Tensor,
  out: Shape,
  axes: Axis[],
  label: string,
  opts: { scale?: number; fill?: number } = {},
): Promise<Tensor> {
  if (out.length > MAX_RANK) throw new ShapeMismatchError(`${label}: rank ${out.length} is above ${MAX_RANK}`);
  const k = await e.kernel(GATHER, { overrides: { WG } });
  const dst = e.empty(out, label);
  e.dispatch(
    k,
    { src, dst },
    {
      count: dst.size,
      rank: out.length,
      scale: opts.scale ?? 1,
      fill: opts.fill ?? 0,
      out_dims: pad8([...out], 1),
      mul: pad8(
        axes.map((a) => a.mul),
        0,
      ),
      add: pad8(
        axes.map((a) => a.add),
        0,
      ),
      div: pad8(
        axes.map((a) => a.div),
        1,
      ),
      src_dims: pad8(
        axes.map((a) => a.srcDim),
        1,
      ),
      src_strides: pad8(
        axes.map((a) => a.srcStride),
        0,
      ),
    },
    grid1d(dst.size, WG),
  );
  return dst;
}

/** Output dim d is dim d of src, unmoved. */
const same = (src: Shape, d: number): Axis => ({ mul: 1, add: 0, div: 1, srcDim: src[d], srcStride: strides(src)[d] });

/** y = x with its dims permuted: y dim d is x dim perm[d]. */
export function transposeForward(
  e: Recorder,
  x: Tensor,
  perm: readonly number[],
  label = 'transpose',
): Promise<Tensor> {
  const st = strides(x.shape);
  const axes = perm.map((p) => ({ mul: 1, add: 0, div: 1, srcDim: x.shape[p], srcStride: st[p] }));
  return gather(
    e,
    x,
    perm.map((p) => x.shape[p]),
    axes,
    label,
  );
}

export function transposeBackward(e: Recorder, dy: Tensor, perm: readonly number[]): Promise<Tensor> {
  return transposeForward(e, dy, inversePerm(perm), 'transpose:dx');
}

export function sliceForward(e: Recorder, x: Tensor, p: SliceParams): Promise<Tensor> {
  const w = sliceWindow(x.shape, p);
  const st = strides(x.shape);
  const axes = [
    same(x.shape, 0),
    ...w.begin.map((b, i) => ({ mul: w.step[i], add: b, div: 1, srcDim: x.shape[i + 1], srcStride: st[i + 1] })),
  ];
  return gather(e, x, [x.shape[0], ...w.size], axes, 'slice');
}

/** dx: dy scattered into zeros at the window's positions (`input`: the forward input's shape). */
export function sliceBackward(e: Recorder, dy: Tensor, p: SliceParams, input: Shape): Promise<Tensor> {
  const w = sliceWindow(input, p);
  const st = strides(dy.shape);
  const axes = [
    same(dy.shape, 0),
    ...w.begin.map((b, i) => {
      const s = w.step[i];
      // c = b + t·s  ⇔  t = (c − b)/s = (b − c)/|s| for s < 0.
      return s > 0
        ? { mul: 1, add: -b, div: s, srcDim: w.size[i], srcStride: st[i + 1] }
        : { mul: -1, add: b, div: -s, srcDim: w.size[i], srcStride: st[i + 1] };
    }),
  ];
  return gather(e, dy, [dy.shape[0], ...input.slice(1)], axes, 'slice:dx');
}

export function padForward(e: Recorder, x: Tensor, p: PadParams): Promise<Tensor> {
  const r = x.rank - 1;
  const st = strides(x.shape);
  const axes = [
    same(x.shape, 0),
    ...x.shape.slice(1).map((d, i) => ({ mul: 1, add: -p.pads[i], div: 1, srcDim: d, srcStride: st[i + 1] })),
  ];
  const out = [x.shape[0], ...x.shape.slice(1).map((d, i) => d + p.pads[i] + p.pads[r + i])];
  return gather(e, x, out, axes, 'pad', { fill: p.value });
}

/** dx: the interior of dy. */
export function padBackward(e: Recorder, dy: Tensor, p: PadParams, input: Shape): Promise<Tensor> {
  const st = strides(dy.shape);
  const axes = [
    same(dy.shape, 0),
    ...input
      .slice(1)
      .map((_, i) => ({ mul: 1, add: p.pads[i], div: 1, srcDim: dy.shape[i + 1], srcStride: st[i + 1] })),
  ];
  return gather(e, dy, [dy.shape[0], ...input.slice(1)], axes, 'pad:dx');
}

/** dx = scale · dy broadcast back over the reduced axes (`input`: the forward input's shape). */
export function reduceBackward(e: Recorder, dy: Tensor, p: ReduceParams, input: Shape, scale: number): Promise<Tensor> {
  const kept = [dy.shape[0], ...keptShape(input, p).slice(1)];
  if (sizeOf(kept) !== dy.size) {
    throw new ShapeMismatchError(`reduce backward: gradient [${dy.shape}] does not match [${kept}]`);
  }
  const st = strides(kept);
  const axes = kept.map((d, i) =>
    p.axes.includes(i)
      ? { mul: 0, add: 0, div: 1, srcDim: 1, srcStride: 0 }
      : { mul: 1, add: 0, div: 1, srcDim: d, srcStride: st[i] },
  );
  return gather(e, dy, [dy.shape[0], ...input.slice(1)], axes, 'reduce:dx', { scale });
}
