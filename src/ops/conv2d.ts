/**
 * 2-D convolution: forward (optionally with a fused ReLU) and backward with respect to the input.
 * Shaders: conv2d_forward.wgsl, conv2d_backward.wgsl. The attribute defaults and the output-shape
 * rule live in the CPU reference (src/reference/conv2d.ts) and are re-exported here.
 *
 * N batch, Cin / Cout channels, H×W input, KH×KW kernel, OH×OW output, g groups, T targets.
 */
import type { Engine } from '../gpu/engine';
import { grid1d } from '../gpu/engine';
import { InvalidInputError, ShapeMismatchError } from '../gpu/errors';
import { Uniforms } from '../gpu/kernel';
import { shapeStr, type Shape, type Tensor } from '../gpu/tensor';
import { conv2dOutputShape, type Conv2dParams } from '../reference/conv2d';
import forwardCode from '../../shaders/conv2d_forward.wgsl?raw';
import backwardCode from '../../shaders/conv2d_backward.wgsl?raw';
import { targetsOf } from './util';

export { conv2dOutputShape, conv2dParams, type Conv2dParams } from '../reference/conv2d';

/**
 * How conv2d_forward.wgsl splits the work: each invocation computes `co` output channels (1, or
 * 4 as the lanes of a vec4) times `ow` consecutive output pixels of one row (1..MAX_OW), in
 * workgroups of `wg` invocations. Every variant computes the same result; which is fastest
 * depends on the adapter and the layer, so a tuner may pick one per adapter.
 */
export interface Conv2dVariant {
  co: 1 | 4;
  ow: number;
  wg?: number;
}

/** Must equal MAX_OWT in conv2d_forward.wgsl. */
export const MAX_OW = 8;
const WG = 64; // default `override WG` of both shaders

export interface Conv2dForwardOptions {
  /** Fuse y = max(y, 0) into the store. */
  relu?: boolean;
  /** Register-tile shape; default from defaultConv2dVariant. */
  variant?: Conv2dVariant;
}

/**
 * The default tile: 4 channels per invocation unless a group has fewer than 4 output channels
 * (depthwise), and up to 4 pixels along the row (an unrolled register tile was the fastest
 * shape on SwiftShader; see DESIGN.md).
 */
export function defaultConv2dVariant(w: Shape, p: Conv2dParams, outShape: Shape): Conv2dVariant {
  const coutG = w[0] / p.groups;
  const OW = outShape[3];
  return { co: coutG >= 4 ? 4 : 1, ow: OW >= 4 ? 4 : OW >= 2 ? 2 : 1, wg: WG };
}

function checkVariant(v: Conv2dVariant, maxWG: number): void {
  const ok =
    (v.co === 1 || v.co === 4) &&
    Number.isInteger(v.ow) &&
    v.ow >= 1 &&
    v.ow <= MAX_OW &&
    (v.wg === undefined || (Number.isInteger(v.wg) && v.wg >= 1 && v.wg <= maxWG));
  if (!ok) {
    throw new InvalidInputError(
      `conv2dForward: variant ${JSON.stringify(v)} is invalid (co must be 1 or 4, ow 1..${MAX_OW}, wg 1..${maxWG})`,
    );
  }
}

/** The scalar fields shared by both shaders' Params, after `count`, in declaration order. */
function shapeUniforms(u: Uniforms, xShape: Shape, w: Shape, out: Shape, p: Conv2dParams): Uniforms {
  const [, Cin, H, W] = xShape;
  const [Cout, CinG, KH, KW] = w;
  const [, , OH, OW] = out;
  return u.u32(
    Cin,
    H,
    W,
    Cout,
    OH,
    OW,
    KH,
    KW,
    p.stride[0],
    p.stride[1],
    p.pads[0],
    p.pads[1],
    p.dilation[0],
    p.dilation[1],
    CinG,
    Cout / p.groups,
  );
}

/** x: [N, Cin, H, W], w: [Cout, Cin/g, KH, KW], b: [Cout] or null. Returns y: [N, Cout, OH, OW]. */
export async function conv2dForward(
  e: Engine,
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  p: Conv2dParams,
  opts: Conv2dForwardOptions = {},
): Promise<Tensor> {
  const outShape = conv2dOutputShape(x.shape, w.shape, p);
  const Cout = w.shape[0];
  if (b && (b.rank !== 1 || b.shape[0] !== Cout)) {
    throw new ShapeMismatchError(
      `conv2dForward: bias ${shapeStr(b.shape)} does not match weight ${shapeStr(w.shape)} (expected [${Cout}])`,
    );
  }
  const v = opts.variant ?? defaultConv2dVariant(w.shape, p, outShape);
  const wg = v.wg ?? WG;
  checkVariant(v, e.limits.maxComputeInvocationsPerWorkgroup);
  e.checkFits(outShape, 'conv2d');

  const [N, , OH, OW] = outShape;
  const coTiles = Math.ceil(Cout / p.groups / v.co); // per group
  const owTiles = Math.ceil(OW / v.ow);
  const count = N * p.groups * coTiles * OH * owTiles;
  const k = await e.kernel({
    name: 'conv2d_forward',
    code: forwardCode,
    defines: { CO4: v.co === 4, BIAS: b !== null, RELU: !!opts.relu },
    overrides: { WG: wg, OWT: v.ow },
  });
  const y = e.empty(outShape, 'conv2d');
  const u = shapeUniforms(new Uniforms().u32(count), x.shape, w.shape, outShape, p).u32(
    coTiles,
    p.groups * coTiles,
    owTiles,
  );
  e.dispatch(k, b ? [x, w, b, y] : [x, w, y], u, grid1d(count, wg));
  return y;
}

/**
 * dy: [T·N, Cout, OH, OW] output gradients of T targets; w: [Cout, Cin/g, KH, KW]; inputShape:
 * the forward input's [N, Cin, H, W]. Returns dx: [T·N, Cin, H, W].
 */
export async function conv2dBackward(
  e: Engine,
  dy: Tensor,
  w: Tensor,
  p: Conv2dParams,
  inputShape: Shape,
): Promise<Tensor> {
  const outShape = conv2dOutputShape(inputShape, w.shape, p);
  const T = targetsOf(dy.shape, outShape, 'conv2dBackward');
  const [N, Cin, H, W] = inputShape;
  const dxShape = [T * N, Cin, H, W];
  e.checkFits(dxShape, 'conv2d:dx');
  const count = T * N * Cin * H * W;
  const k = await e.kernel({ name: 'conv2d_backward', code: backwardCode, overrides: { WG } });
  const dx = e.empty(dxShape, 'conv2d:dx');
  e.dispatch(
    k,
    [dy, w, dx],
    shapeUniforms(new Uniforms().u32(count), inputShape, w.shape, outShape, p),
    grid1d(count, WG),
  );
  return dx;
}
