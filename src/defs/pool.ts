/**
 * Pooling: max pool, average pool and global average pool: parameters, shape rules and ONNX
 * rules. CPU reference: src/reference/pool.ts; GPU dispatchers: src/ops/pool.ts.
 *
 * Sizes: N batch, C channels, H×W input, OH×OW output. Output cell (oh, ow) looks at input rows
 * oh·SH − top … oh·SH − top + KH − 1 and the matching columns; cells outside the input are padding.
 */
import { InvalidInputError, ShapeMismatchError } from '../core/errors';
import { shapeStr, type Shape } from '../core/shape';
import { foldZeroPad } from './layout';
import { defineOp, type Attrs, type OnnxContext } from './op';

export interface Pool2dParams {
  kernel: [number, number];
  stride: [number, number];
  /** [top, left, bottom, right] */
  pads: [number, number, number, number];
  /** Round the output size up (the last window may hang past the padding). */
  ceilMode: boolean;
  /** Average pool: divide by the window clipped to the padded input, padding included. */
  countIncludePad: boolean;
}

/** Fill in the defaults (ONNX): stride = kernel, no padding, floor mode, countIncludePad false. */
export function pool2dParams(attrs: {
  kernel: [number, number];
  stride?: [number, number];
  pads?: [number, number, number, number];
  ceilMode?: boolean;
  countIncludePad?: boolean;
}): Pool2dParams {
  const pair = (v: unknown) => (Array.isArray(v) ? [v[0], v[1]] : [NaN, NaN]) as [number, number];
  const kernel = pair(attrs.kernel);
  const p: Pool2dParams = {
    kernel,
    stride: attrs.stride === undefined ? [kernel[0], kernel[1]] : pair(attrs.stride),
    pads:
      attrs.pads === undefined
        ? [0, 0, 0, 0]
        : Array.isArray(attrs.pads)
          ? [attrs.pads[0], attrs.pads[1], attrs.pads[2], attrs.pads[3]]
          : [NaN, NaN, NaN, NaN],
    ceilMode: !!attrs.ceilMode,
    countIncludePad: !!attrs.countIncludePad,
  };
  checkParams(p);
  return p;
}

function checkParams(p: Pool2dParams): void {
  const ints = (v: readonly number[], len: number, min: number) =>
    v.length === len && v.every((d) => Number.isInteger(d) && d >= min);
  if (!ints(p.kernel, 2, 1))
    throw new InvalidInputError(`pool2d: kernel must be two positive integers, got ${shapeStr(p.kernel)}`);
  if (!ints(p.stride, 2, 1))
    throw new InvalidInputError(`pool2d: stride must be two positive integers, got ${shapeStr(p.stride)}`);
  if (!ints(p.pads, 4, 0)) {
    throw new InvalidInputError(
      `pool2d: pads must be four integers ≥ 0 [top, left, bottom, right], got ${shapeStr(p.pads)}`,
    );
  }
  // A pad smaller than the kernel means every window holds at least one input cell, so a max
  // is always defined and an average never divides by zero.
  const [top, left, bottom, right] = p.pads;
  if (top >= p.kernel[0] || bottom >= p.kernel[0] || left >= p.kernel[1] || right >= p.kernel[1]) {
    throw new InvalidInputError(
      `pool2d: each pad must be smaller than the kernel, got pads ${shapeStr(p.pads)} for kernel ${shapeStr(p.kernel)}`,
    );
  }
}

/**
 * Output size along one axis of n cells (PyTorch/ONNX): floor or ceil of (n + pads − k) / s,
 * plus 1; in ceil mode the last window must start inside the input or the leading padding,
 * else it is dropped.
 */
function outSize(n: number, k: number, s: number, before: number, after: number, ceil: boolean): number {
  const span = n + before + after - k;
  if (span < 0) return 0;
  let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (o - 1) * s >= n + before) o--;
  return o;
}

/** [N, C, OH, OW] for input x [N, C, H, W]. Throws ShapeMismatchError / InvalidInputError. */
export function pool2dOutputShape(x: Shape, p: Pool2dParams): number[] {
  expect4d(x, 'pool2d input');
  checkParams(p);
  const [N, C, H, W] = x;
  const [top, left, bottom, right] = p.pads;
  const OH = outSize(H, p.kernel[0], p.stride[0], top, bottom, p.ceilMode);
  const OW = outSize(W, p.kernel[1], p.stride[1], left, right, p.ceilMode);
  if (OH < 1 || OW < 1) {
    throw new ShapeMismatchError(
      `pool2d: input ${shapeStr(x)} is smaller than kernel ${shapeStr(p.kernel)} with pads ${shapeStr(p.pads)}`,
    );
  }
  return [N, C, OH, OW];
}

function expect4d(x: Shape, what: string): void {
  if (x.length !== 4) throw new ShapeMismatchError(`${what}: expected a 4-D tensor, got ${x.length}-D ${shapeStr(x)}`);
}

/** MaxPool / AveragePool → maxpool2d / avgpool2d. */
function windowRule(op: 'maxpool2d' | 'avgpool2d') {
  return (c: OnnxContext) => {
    const x = c.tensor(0);
    const kernel = c.attrs.ints('kernel_shape');
    if (!kernel || kernel.length !== 2) c.fail(`kernel_shape must have 2 entries (2-D pooling), got [${kernel ?? ''}]`);
    const k: [number, number] = [kernel![0], kernel![1]];
    const dil = c.attrs.ints('dilations');
    if (dil && dil.some((d) => d !== 1)) c.fail(`dilations [${dil}] are not supported (only 1)`);
    const stride = c.pair('strides');
    const attrs: Record<string, unknown> = {
      kernel: k,
      stride,
      pads: c.pads(x, k, stride, [1, 1]),
      ceilMode: c.attrs.int('ceil_mode', 0) === 1,
    };
    let input = x;
    if (op === 'avgpool2d') {
      const include = c.attrs.int('count_include_pad', 0) === 1;
      attrs.countIncludePad = include;
      // A zero Pad before the pool (how torch exports count_include_pad = True) becomes the
      // pool's padding, counted in the divisor: exact where the pool has no padding of its own
      // not counted and no ceil-mode windows past the border.
      const own = attrs.pads as [number, number, number, number];
      if ((include || own.every((v) => v === 0)) && !attrs.ceilMode) {
        const folded = foldZeroPad(c, x, own);
        if (folded) {
          input = folded.x;
          attrs.pads = folded.pads;
          attrs.countIncludePad = true;
        }
      }
    }
    c.emit({ op, inputs: [input], attrs });
  };
}

const poolParams = (a: Attrs) => pool2dParams(a as Parameters<typeof pool2dParams>[0]);

export const MAXPOOL2D = defineOp<Pool2dParams>({
  inputs: 1,
  params: poolParams,
  shape: ([x], p) => pool2dOutputShape(x, p),
  layout: 'nchw',
  // The backward finds each window's argmax again in the forward input.
  saves: { inputs: [0] },
  onnx: { MaxPool: windowRule('maxpool2d') },
});

export const AVGPOOL2D = defineOp<Pool2dParams>({
  inputs: 1,
  params: poolParams,
  shape: ([x], p) => pool2dOutputShape(x, p),
  layout: 'nchw',
  saves: {},
  onnx: { AveragePool: windowRule('avgpool2d') },
});

export const GLOBALAVGPOOL = defineOp<Record<string, never>>({
  inputs: 1,
  params: () => ({}),
  shape([x]) {
    expect4d(x, 'globalavgpool input');
    return [x[0], x[1], 1, 1];
  },
  layout: 'nchw',
  saves: {},
  onnx: { GlobalAveragePool: (c) => c.emit({ op: 'globalavgpool', inputs: [c.tensor(0)] }) },
});
