/**
 * Linear (fully connected) layer, PyTorch layout y = x·Wᵀ + b. Shaders: linear_forward.wgsl,
 * linear_backward.wgsl. Sizes: N batch, K input features, M output features, T targets;
 * x [N, …, K], W [M, K], b [M], y [N, …, M]: the kernels see rows of K (or M) values, whatever
 * the dims before the last. The backward returns only the input gradient dx = dy·W.
 */
import type { Recorder } from '../gpu/recorder';
import { grid1d } from '../gpu/engine';
import { ShapeMismatchError } from '../core/errors';
import { defineKernel } from '../gpu/kernel';
import { type Tensor } from '../gpu/tensor';
import { shapeStr } from '../core/shape';
import forwardCode from '../../shaders/linear_forward.wgsl?raw';
import backwardCode from '../../shaders/linear_backward.wgsl?raw';
import { linearOutputShape } from '../defs/linear';
import { expectRank } from './util';

const WG = 256; // matches `override WG` in both shaders

const FORWARD = defineKernel({
  name: 'linear_forward',
  code: forwardCode,
  params: { count: 'u32', m: 'u32', k: 'u32' },
  bindings: ['x', 'w', 'y', 'b'],
});
const BACKWARD = defineKernel({
  name: 'linear_backward',
  code: backwardCode,
  params: { count: 'u32', m: 'u32', k: 'u32' },
  bindings: ['dy', 'w', 'dx'],
});

/** x: [N, …, K], w: [M, K], b: [M] or null → y: [N, …, M]. */
export async function linearForward(e: Recorder, x: Tensor, w: Tensor, b: Tensor | null): Promise<Tensor> {
  const yShape = linearOutputShape(x.shape, w.shape, b ? b.shape : null);
  const [M, K] = w.shape;
  const k = await e.kernel(FORWARD, { defines: { BIAS: !!b }, overrides: { WG } });
  const y = e.empty(yShape, 'linear');
  e.dispatch(k, { x, w, y, b }, { count: y.size, m: M, k: K }, grid1d(y.size, WG));
  return y;
}

/** dy: [T·N, …, M] for T targets; w: [M, K] → dx: [T·N, …, K] = dy·W. */
export async function linearBackward(e: Recorder, dy: Tensor, w: Tensor): Promise<Tensor> {
  expectRank(w.shape, 2, 'linear weight');
  const [M, K] = w.shape;
  if (dy.rank < 2 || dy.shape[dy.rank - 1] !== M) {
    throw new ShapeMismatchError(
      `linearBackward: gradient ${shapeStr(dy.shape)} does not match weight ${shapeStr(w.shape)}: expected [T·N, …, ${M}]`,
    );
  }
  const k = await e.kernel(BACKWARD, { overrides: { WG } });
  const dx = e.empty([...dy.shape.slice(0, -1), K], 'linear:dx');
  e.dispatch(k, { dy, w, dx }, { count: dx.size, m: M, k: K }, grid1d(dx.size, WG));
  return dx;
}
