/**
 * Reductions over axes after the batch, of tensors of any rank: reducemean and reducesum
 * (keepdims or not). The gradient spreads dy back over the reduced axes (times 1/R for the mean
 * of R elements). CPU reference: src/reference/reduce.ts; GPU dispatchers: src/ops/reduce.ts.
 *
 * ONNX ReduceMean / ReduceSum: axes from the attribute (ReduceMean before opset 18, ReduceSum
 * before 13) or a constant input. A mean over H and W of a 4-D tensor is a global average pool
 * (so CAM's GAP → linear head is recognised, `x.mean([2, 3])` included); reductions of
 * constants (shape arithmetic) are folded.
 */
import { InvalidInputError, ShapeMismatchError } from '../core/errors';
import { shapeStr, sizeOf, type Shape } from '../core/shape';
import { defineOp, type Attrs, type OnnxContext, type OpDef } from './op';

export interface ReduceParams {
  /** Axes reduced, sorted, each ≥ 1 (never the batch). */
  axes: number[];
  keepdims: boolean;
}

function reduceParams(a: Attrs): ReduceParams {
  const axes = a.axes;
  const keepdims = a.keepdims ?? true;
  if (
    !Array.isArray(axes) ||
    axes.length === 0 ||
    !axes.every((d) => Number.isInteger(d) && d >= 1) ||
    new Set(axes).size !== axes.length ||
    typeof keepdims !== 'boolean'
  ) {
    throw new InvalidInputError(
      `reduce: axes must be distinct integers ≥ 1 (not the batch) and keepdims a boolean, got ${JSON.stringify(a)}`,
    );
  }
  return { axes: [...(axes as number[])].sort((x, y) => x - y), keepdims };
}

/** The output shape with the reduced axes kept as 1s (what the kernels index by). */
export function keptShape(x: Shape, p: ReduceParams): number[] {
  if (p.axes[p.axes.length - 1] >= x.length) {
    throw new ShapeMismatchError(`reduce: axes [${p.axes}] out of range for ${shapeStr(x)}`);
  }
  return x.map((d, i) => (p.axes.includes(i) ? 1 : d));
}

/** Number of elements reduced into each output element. */
export function reducedCount(x: Shape, p: ReduceParams): number {
  return sizeOf(p.axes.map((a) => x[a]));
}

function reduceOp(kind: 'mean' | 'sum', onnx: string): OpDef<ReduceParams> {
  return defineOp<ReduceParams>({
    inputs: 1,
    params: reduceParams,
    shape([x], p) {
      const kept = keptShape(x, p);
      return p.keepdims ? kept : kept.filter((_, i) => !p.axes.includes(i));
    },
    layout: ([x], p) => (!x ? null : p.keepdims ? x : x.filter((_, i) => !p.axes.includes(i))),
    saves: {},
    onnx: { [onnx]: (c) => reduceRule(c, kind) },
  });
}

function reduceRule(c: OnnxContext, kind: 'mean' | 'sum'): void {
  const attrAxes = (kind === 'mean' ? c.opset < 18 : c.opset < 13) || !c.inputs[1];
  const keepdims = c.attrs.int('keepdims', 1) === 1;
  const k = c.constantOrNull(0);
  const x = k ? '' : c.tensor(0);
  const dims = k ? k.dims : c.shape(x);
  let axes: number[] | null;
  if (attrAxes) axes = c.attrs.ints('axes');
  else {
    const a = c.constant(1, 'axes');
    if (a.float) c.fail('the axes must be an integer tensor');
    axes = [...a.data];
  }
  if (!axes || axes.length === 0) {
    if (c.attrs.int('noop_with_empty_axes', 0) === 1) {
      return k ? c.alias(k) : void c.emit({ op: 'identity', inputs: [x] });
    }
    axes = [...dims.keys()];
  }
  const norm = [...new Set(axes.map((a) => c.axis(a, dims.length)))].sort((p, q) => p - q);
  if (k) {
    // Shape arithmetic on constants: only whole reductions of small tensors occur.
    const p = { axes: norm.map((a) => a + 1), keepdims };
    const kept = keptShape([1, ...k.dims], p).slice(1);
    const out = new Float64Array(sizeOf(kept));
    const r = sizeOf(norm.map((a) => k.dims[a]));
    for (let i = 0; i < k.data.length; i++) {
      let [rem, o, stride] = [i, 0, 1];
      for (let d = k.dims.length - 1; d >= 0; d--) {
        const coord = rem % k.dims[d];
        rem = Math.floor(rem / k.dims[d]);
        if (!norm.includes(d)) o += coord * stride;
        stride *= kept[d];
      }
      out[o] += k.data[i] / (kind === 'mean' ? r : 1);
    }
    const dimsOut = keepdims ? kept : kept.filter((_, i) => !norm.includes(i));
    return c.alias({ dims: dimsOut, data: k.float ? Float32Array.from(out) : out, float: k.float });
  }
  if (norm[0] === 0) c.fail(`reducing the batch axis (axes [${axes}]) is not supported`);
  if (kind === 'mean' && dims.length === 4 && norm.length === 2 && norm[0] === 2 && norm[1] === 3) {
    if (keepdims) return void c.emit({ op: 'globalavgpool', inputs: [x] });
    const g = c.emit({ op: 'globalavgpool', inputs: [x], temp: true });
    return void c.emit({ op: 'reshape', inputs: [g], attrs: { shape: [dims[1]] } });
  }
  c.emit({ op: kind === 'mean' ? 'reducemean' : 'reducesum', inputs: [x], attrs: { axes: norm, keepdims } });
}

export const REDUCEMEAN = reduceOp('mean', 'ReduceMean');
export const REDUCESUM = reduceOp('sum', 'ReduceSum');
