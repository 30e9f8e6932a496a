/**
 * 2-D pooling: max pool, average pool and global average pool, forward and backward.
 * Shaders: maxpool2d_forward.wgsl, maxpool2d_backward.wgsl, maxpool2d_backward_windows.wgsl,
 * avgpool2d_forward.wgsl, avgpool2d_backward.wgsl, globalavgpool_forward.wgsl,
 * globalavgpool_backward.wgsl; the snippets they include: include/window_max.wgsl (a max-pool
 * window's first maximum, one search for every max-pool kernel so that they agree on the
 * winner), include/pool_gather.wgsl (the windows that contain an input cell) and
 * include/sum_max_reduce.wgsl (global average pool's workgroup sum).
 *
 * Sizes: N batch, C channels, H×W input, OH×OW output, T targets. Backward passes take the
 * gradients of T targets stacked over the forward batch, [T·N, C, OH, OW], and return
 * [T·N, C, H, W]; none uses atomics. Average and global average pool backward are gathers (one
 * invocation per input-gradient cell). Max pool backward reads the saved forward input x (the
 * forward saves no indices) with one of three kernels (MaxPoolBackwardOptions): 'windows' when
 * the windows do not overlap, one invocation per window writing its whole window for all
 * targets (dx zeroed first unless the windows tile the input exactly); otherwise 'argmax',
 * where the forward kernel's ARGMAX variant first writes each window's argmax into a temporary
 * index buffer [N, C, OH, OW], once for all targets, that the gather then reads; or, on
 * request, 'gather', which searches each window again for every cell and target.
 */
import type { Recorder } from '../gpu/recorder';
import { grid1d } from '../gpu/engine';
import { InvalidInputError } from '../core/errors';
import { defineKernel } from '../gpu/kernel';
import { type Tensor } from '../gpu/tensor';
import { shapeStr, type Shape } from '../core/shape';
import maxForwardCode from '../../shaders/maxpool2d_forward.wgsl?raw';
import maxBackwardCode from '../../shaders/maxpool2d_backward.wgsl?raw';
import maxBackwardWindowsCode from '../../shaders/maxpool2d_backward_windows.wgsl?raw';
import avgForwardCode from '../../shaders/avgpool2d_forward.wgsl?raw';
import avgBackwardCode from '../../shaders/avgpool2d_backward.wgsl?raw';
import gapForwardCode from '../../shaders/globalavgpool_forward.wgsl?raw';
import gapBackwardCode from '../../shaders/globalavgpool_backward.wgsl?raw';
import { pool2dOutputShape, type Pool2dParams } from '../defs/pool';
import { POOL_GATHER, SUM_MAX_REDUCE, WINDOW_MAX } from './includes';
import { expectRank, targetsOf } from './util';

const WG = 256; // matches `override WG` of every pool shader but globalavgpool_forward

/** Window geometry, shared by the pool shaders' Params (pads: top, left, and for avg pool bottom, right). */
const WINDOW = {
  h: 'u32',
  w: 'u32',
  oh: 'u32',
  ow: 'u32',
  kh: 'i32',
  kw: 'i32',
  sh: 'i32',
  sw: 'i32',
  pt: 'i32',
  pl: 'i32',
} as const;
const AVG_WINDOW = { ...WINDOW, pb: 'i32', pr: 'i32' } as const;

/** The windows that contain an input cell (the gathers: avg and max pool backward). */
/** A window's first maximum (every max-pool kernel, so that they agree on the winner). */

const MAX_FORWARD = defineKernel({
  name: 'maxpool2d_forward',
  code: maxForwardCode,
  params: { count: 'u32', ...WINDOW },
  bindings: ['x', 'y'],
  includes: [WINDOW_MAX],
});
const MAX_BACKWARD = defineKernel({
  name: 'maxpool2d_backward',
  code: maxBackwardCode,
  params: { count: 'u32', xplanes: 'u32', ...WINDOW },
  bindings: ['dy', 'x', 'dx'],
  includes: [POOL_GATHER, WINDOW_MAX],
});
const MAX_BACKWARD_WINDOWS = defineKernel({
  name: 'maxpool2d_backward_windows',
  code: maxBackwardWindowsCode,
  params: { count: 'u32', xplanes: 'u32', t: 'u32', ...WINDOW },
  bindings: ['dy', 'x', 'dx'],
  includes: [WINDOW_MAX],
});
const AVG_FORWARD = defineKernel({
  name: 'avgpool2d_forward',
  code: avgForwardCode,
  params: { count: 'u32', ...AVG_WINDOW },
  bindings: ['x', 'y'],
});
const AVG_BACKWARD = defineKernel({
  name: 'avgpool2d_backward',
  code: avgBackwardCode,
  params: { count: 'u32', ...AVG_WINDOW },
  bindings: ['dy', 'dx'],
  includes: [POOL_GATHER],
});
const GAP_FORWARD = defineKernel({
  name: 'globalavgpool_forward',
  code: gapForwardCode,
  params: { planes: 'u32', hw: 'u32' },
  bindings: ['x', 'y'],
  includes: [SUM_MAX_REDUCE],
});
const GAP_BACKWARD = defineKernel({
  name: 'globalavgpool_backward',
  code: gapBackwardCode,
  params: { count: 'u32', hw: 'u32' },
  bindings: ['dy', 'dx'],
});

/** Shapes of a pool backward: forward output y and dx [T·N, C, H, W]; validates dy against y. */
function backwardShapes(
  dy: Shape,
  inputShape: Shape,
  p: Pool2dParams,
  what: string,
): { yShape: number[]; dxShape: number[] } {
  const yShape = pool2dOutputShape(inputShape, p);
  targetsOf(dy, yShape, what);
  return { yShape, dxShape: [dy[0], inputShape[1], inputShape[2], inputShape[3]] };
}

/** The window geometry fields of the pool shaders' Params. */
function windowParams(inputShape: Shape, yShape: Shape, p: Pool2dParams) {
  const [kh, kw] = p.kernel;
  const [sh, sw] = p.stride;
  const [pt, pl, pb, pr] = p.pads;
  return { h: inputShape[2], w: inputShape[3], oh: yShape[2], ow: yShape[3], kh, kw, sh, sw, pt, pl, pb, pr };
}

/** x: [N, C, H, W] → [N, C, OH, OW], the maximum of each window (padding never wins). */
export async function maxPool2dForward(e: Recorder, x: Tensor, p: Pool2dParams): Promise<Tensor> {
  const yShape = pool2dOutputShape(x.shape, p);
  const k = await e.kernel(MAX_FORWARD, { overrides: { WG } });
  const y = e.empty(yShape, 'maxpool');
  const count = y.size;
  e.dispatch(k, { x, y }, { count, ...windowParams(x.shape, yShape, p) }, grid1d(count, WG));
  return y;
}

/**
 * dy: [T·N, C, OH, OW]; x: [N, C, H, W] the saved forward input. Each window's gradient goes
 * to its first maximum (row-major scan order, as PyTorch). Returns dx: [T·N, C, H, W].
 */
export async function maxPool2dBackward(
  e: Recorder,
  dy: Tensor,
  x: Tensor,
  p: Pool2dParams,
  opts: MaxPoolBackwardOptions = {},
): Promise<Tensor> {
  const { yShape, dxShape } = backwardShapes(dy.shape, x.shape, p, 'maxPool2dBackward');
  const disjoint = p.stride[0] >= p.kernel[0] && p.stride[1] >= p.kernel[1];
  const kernel = opts.kernel ?? (disjoint ? 'windows' : 'argmax');
  if (kernel === 'windows') {
    if (!disjoint) {
      throw new InvalidInputError(
        `maxPool2dBackward: kernel 'windows' needs windows that do not overlap (stride ≥ kernel), got kernel ${shapeStr(p.kernel)} stride ${shapeStr(p.stride)}`,
      );
    }
    const [, , H, W] = x.shape;
    const [, , OH, OW] = yShape;
    // Every input cell in some window? Else the cells no window writes must read 0.
    const covered =
      p.stride[0] === p.kernel[0] &&
      p.stride[1] === p.kernel[1] &&
      p.pads.every((v) => v === 0) &&
      OH * p.kernel[0] === H &&
      OW * p.kernel[1] === W;
    const k = await e.kernel(MAX_BACKWARD_WINDOWS, { overrides: { WG } });
    const dx = covered ? e.empty(dxShape, 'maxpool:dx') : e.zeros(dxShape, 'maxpool:dx');
    const xplanes = x.shape[0] * x.shape[1];
    const count = xplanes * OH * OW;
    const t = dy.shape[0] / x.shape[0];
    e.dispatch(k, { dy, x, dx }, { count, xplanes, t, ...windowParams(x.shape, yShape, p) }, grid1d(count, WG));
    return dx;
  }
  if (kernel !== 'argmax' && kernel !== 'gather') {
    throw new InvalidInputError(`maxPool2dBackward: unknown kernel '${kernel as string}' (windows, argmax, gather)`);
  }
  // 'argmax': each window's argmax once, for all targets; the gather then reads it.
  let argmax: Tensor | null = null;
  if (kernel === 'argmax') {
    const fk = await e.kernel(MAX_FORWARD, { defines: { ARGMAX: true }, overrides: { WG } });
    argmax = e.empty(yShape, 'maxpool:argmax');
    const count = argmax.size;
    e.dispatch(fk, { x, y: argmax }, { count, ...windowParams(x.shape, yShape, p) }, grid1d(count, WG));
  }
  const k = await e.kernel(MAX_BACKWARD, { defines: { ARGMAX: kernel === 'argmax' }, overrides: { WG } });
  const dx = e.empty(dxShape, 'maxpool:dx');
  const count = dx.size;
  const u = { count, xplanes: x.shape[0] * x.shape[1], ...windowParams(x.shape, yShape, p) };
  e.dispatch(k, { dy, x: argmax ?? x, dx }, u, grid1d(count, WG));
  argmax?.destroy(); // its buffer returns to the pool; work recorded after this runs after the gather
  return dx;
}

export interface MaxPoolBackwardOptions {
  /**
   * 'windows': one invocation per window writes the window for all targets (pools whose windows
   * do not overlap); 'argmax': each window's argmax once, then one invocation per dx element
   * reads the argmax of the windows containing it; 'gather': the same, searching each window
   * again. Default: 'windows' where it applies, else 'argmax'.
   */
  kernel?: 'windows' | 'argmax' | 'gather';
}

/** x: [N, C, H, W] → [N, C, OH, OW], window sums / divisor (see Pool2dParams.countIncludePad). */
export async function avgPool2dForward(e: Recorder, x: Tensor, p: Pool2dParams): Promise<Tensor> {
  const yShape = pool2dOutputShape(x.shape, p);
  const k = await e.kernel(AVG_FORWARD, { defines: { COUNT_INCLUDE_PAD: p.countIncludePad }, overrides: { WG } });
  const y = e.empty(yShape, 'avgpool');
  const count = y.size;
  e.dispatch(k, { x, y }, { count, ...windowParams(x.shape, yShape, p) }, grid1d(count, WG));
  return y;
}

/**
 * dy: [T·N, C, OH, OW]; inputShape: the forward input's shape [N, C, H, W] (dy's leading dim
 * must be a multiple of N). Returns dx: [T·N, C, H, W].
 */
export async function avgPool2dBackward(e: Recorder, dy: Tensor, p: Pool2dParams, inputShape: Shape): Promise<Tensor> {
  const { yShape, dxShape } = backwardShapes(dy.shape, inputShape, p, 'avgPool2dBackward');
  const k = await e.kernel(AVG_BACKWARD, { defines: { COUNT_INCLUDE_PAD: p.countIncludePad }, overrides: { WG } });
  const dx = e.empty(dxShape, 'avgpool:dx');
  const count = dx.size;
  e.dispatch(k, { dy, dx }, { count, ...windowParams(inputShape, yShape, p) }, grid1d(count, WG));
  return dx;
}

/** globalavgpool_forward.wgsl's kernels: a workgroup reduction per map, or one invocation per map. */
export type GlobalAvgPoolKernel = 'reduce' | 'serial';

const WG_GAP_REDUCE = 256; // threads per map of the 'reduce' kernel on hardware adapters (a power of two)
const WG_GAP_SOFTWARE = 64;

/**
 * x: [N, C, H, W] → [N, C, 1, 1], the mean of each channel map. Kernel 'reduce': one workgroup
 * per map, a tree reduction in workgroup memory; 'serial': one invocation per map, no barriers.
 * Default: 'serial' on software adapters, where barriers are slow (ResNet-18's pool on
 * [32, 512, 7, 7] takes about 1 s with 'reduce' on SwiftShader), else 'reduce'.
 */
export async function globalAvgPoolForward(
  e: Recorder,
  x: Tensor,
  opts: { kernel?: GlobalAvgPoolKernel } = {},
): Promise<Tensor> {
  expectRank(x.shape, 4, 'globalAvgPoolForward input');
  const [N, C, H, W] = x.shape;
  const soft = e.adapter.isSoftware;
  const kernel = opts.kernel ?? (soft ? 'serial' : 'reduce');
  if (kernel !== 'reduce' && kernel !== 'serial') {
    throw new InvalidInputError(`globalAvgPoolForward: unknown kernel '${kernel as string}' (reduce or serial)`);
  }
  const serial = kernel === 'serial';
  const wg = serial || soft ? WG_GAP_SOFTWARE : WG_GAP_REDUCE;
  const k = await e.kernel(GAP_FORWARD, { defines: { SERIAL: serial }, overrides: { WG: wg } });
  const y = e.empty([N, C, 1, 1], 'globalavgpool');
  const planes = N * C;
  e.dispatch(k, { x, y }, { planes, hw: H * W }, serial ? grid1d(planes, wg) : grid1d(planes * wg, wg));
  return y;
}

/** dy: [T·N, C, 1, 1]; inputShape [N, C, H, W]. Returns dx: [T·N, C, H, W] = dy / (H·W). */
export async function globalAvgPoolBackward(e: Recorder, dy: Tensor, inputShape: Shape): Promise<Tensor> {
  expectRank(inputShape, 4, 'globalAvgPoolBackward input shape');
  const [N, C, H, W] = inputShape;
  targetsOf(dy.shape, [N, C, 1, 1], 'globalAvgPoolBackward');
  const k = await e.kernel(GAP_BACKWARD, { overrides: { WG } });
  const dx = e.empty([dy.shape[0], C, H, W], 'globalavgpool:dx');
  e.dispatch(k, { dy, dx }, { count: dx.size, hw: H * W }, grid1d(dx.size, WG));
  return dx;
}
