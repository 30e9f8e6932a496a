/**
 * 2-D convolution (cross-correlation, as in PyTorch and ONNX): its parameters, its shape rule and
 * its ONNX rule. The CPU reference is src/reference/conv2d.ts, the GPU dispatcher src/ops/conv2d.ts.
 *
 *   x is (N, Cin, H, W), w is (Cout, Cin/g, KH, KW), b is (Cout), y is (N, Cout, OH, OW).
 */
import { InvalidInputError, ShapeMismatchError } from '../core/errors';
import { shapeStr, type Shape } from '../core/shape';
import { foldZeroPad } from './layout';
import { asFloat32, constWeight, defineOp, type Attrs, type WeightSpec } from './op';

export interface Conv2dParams {
  /** [sh, sw] */
  stride: [number, number];
  /** [top, left, bottom, right] zero padding */
  pads: [number, number, number, number];
  /** [dh, dw]: kernel taps are dh rows / dw columns apart in the input */
  dilation: [number, number];
  groups: number;
}

/** Fill in defaults (stride 1, no padding, dilation 1, one group) and check the values. */
export function conv2dParams(attrs: Partial<Conv2dParams> = {}): Conv2dParams {
  const p: Conv2dParams = {
    stride: attrs.stride ?? [1, 1],
    pads: attrs.pads ?? [0, 0, 0, 0],
    dilation: attrs.dilation ?? [1, 1],
    groups: attrs.groups ?? 1,
  };
  const positive = (v: number) => Number.isInteger(v) && v >= 1;
  const bad = (what: string, v: unknown) => new InvalidInputError(`conv2d: ${what} ${JSON.stringify(v)} is invalid`);
  if (!Array.isArray(p.stride) || p.stride.length !== 2 || !p.stride.every(positive)) throw bad('stride', p.stride);
  if (!Array.isArray(p.dilation) || p.dilation.length !== 2 || !p.dilation.every(positive))
    throw bad('dilation', p.dilation);
  if (!Array.isArray(p.pads) || p.pads.length !== 4 || !p.pads.every((v) => Number.isInteger(v) && v >= 0))
    throw bad('pads', p.pads);
  if (!positive(p.groups)) throw bad('groups', p.groups);
  return {
    stride: [p.stride[0], p.stride[1]],
    pads: [p.pads[0], p.pads[1], p.pads[2], p.pads[3]],
    dilation: [p.dilation[0], p.dilation[1]],
    groups: p.groups,
  };
}

/**
 * Output shape [N, Cout, OH, OW] of a conv of x [N, Cin, H, W] with weight w [Cout, Cin/g, KH, KW]:
 *   OH = floor((H + pad_top + pad_bottom − dh·(KH − 1) − 1) / sh) + 1, and likewise OW.
 * Throws ShapeMismatchError (naming both shapes) when the shapes do not fit together.
 */
export function conv2dOutputShape(x: Shape, w: Shape, p: Conv2dParams): number[] {
  const fail = (why: string) =>
    new ShapeMismatchError(`conv2d: input ${shapeStr(x)} and weight ${shapeStr(w)} (groups ${p.groups}): ${why}`);
  if (x.length !== 4) throw fail('input must be 4-D [N, Cin, H, W]');
  if (w.length !== 4) throw fail('weight must be 4-D [Cout, Cin/groups, KH, KW]');
  const [N, Cin, H, W] = x;
  const [Cout, CinG, KH, KW] = w;
  const g = p.groups;
  if (Cin % g !== 0) throw fail(`Cin ${Cin} is not divisible by groups`);
  if (Cout % g !== 0) throw fail(`Cout ${Cout} is not divisible by groups`);
  if (CinG !== Cin / g) throw fail(`weight has ${CinG} input channels per group, input has Cin/groups = ${Cin / g}`);
  const [sh, sw] = p.stride;
  const [pt, pl, pb, pr] = p.pads;
  const [dh, dw] = p.dilation;
  const OH = Math.floor((H + pt + pb - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + pl + pr - dw * (KW - 1) - 1) / sw) + 1;
  if (!(OH >= 1 && OW >= 1)) throw fail(`output size ${OH}×${OW} is not positive (kernel larger than padded input)`);
  return [N, Cout, OH, OW];
}

export const CONV2D = defineOp<Conv2dParams>({
  inputs: 1,
  weights: { weight: 'required', bias: 'optional' },
  params: (a: Attrs) => conv2dParams(a as Partial<Conv2dParams>),
  shape([x], p, w) {
    if (w.bias && (w.bias.length !== 1 || w.bias[0] !== w.weight[0])) {
      throw new ShapeMismatchError(
        `bias ${shapeStr(w.bias)} does not match weight ${shapeStr(w.weight)} (expected [${w.weight[0]}])`,
      );
    }
    return conv2dOutputShape(x, w.weight, p);
  },
  // The input gradient needs only the weights.
  saves: {},
  layout: 'nchw',
  onnx: {
    Conv(c) {
      const x = c.tensor(0);
      const w = c.constant(1, 'weight', 'float');
      if (w.dims.length !== 4)
        c.fail(`only 2-D convolutions are supported (a 4-D weight), got weight dims [${w.dims}]`);
      const k: [number, number] = [w.dims[2], w.dims[3]];
      const ks = c.attrs.ints('kernel_shape');
      if (ks && (ks.length !== 2 || ks[0] !== k[0] || ks[1] !== k[1])) {
        c.fail(`kernel_shape [${ks}] does not match the weight's dims [${w.dims}]`);
      }
      const stride = c.pair('strides');
      const dilation = c.pair('dilations');
      const weights: Record<string, WeightSpec> = { weight: constWeight(w) };
      if (c.inputs[2]) {
        const b = c.constant(2, 'bias', 'float');
        weights.bias = { shape: [b.data.length], data: asFloat32(b.data) };
      }
      let pads = c.pads(x, k, stride, dilation);
      // A zero Pad before the conv becomes the conv's own padding.
      const folded = foldZeroPad(c, x, pads);
      if (folded) pads = folded.pads;
      c.emit({
        op: 'conv2d',
        inputs: [folded ? folded.x : x],
        attrs: { stride, pads, dilation, groups: c.attrs.int('group', 1) },
        weights,
      });
    },
  },
});
