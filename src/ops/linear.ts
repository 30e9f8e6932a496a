/**
 * Linear (fully connected) layer, PyTorch layout y = x·Wᵀ + b. Shaders: linear_forward.wgsl,
 * linear_backward.wgsl. Sizes: N batch, K input features, M output features, T targets;
 * x [N, …, K], W [M, K], b [M], y [N, …, M]: the kernels see rows of K (or M) values, whatever
 * the dims before the last. The backward returns only the input gradient dx = dy·W.
 * W may be stored as halves (src/ops/half.ts: a word tensor, `wShape` its logical [M, K]); the
 * kernels' F16 variant reads it, accumulating in float32.
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
import { isHalves } from './half';
import type { Shape } from '../core/shape';

/** W's logical shape: its own, or for halves the given one (which must hold as many values). */
function weightShape(w: Tensor, wShape: Shape | undefined, what: string): Shape {
  if (!isHalves(w)) return wShape ?? w.shape;
  if (!wShape || w.size !== Math.ceil((wShape[0] * wShape[1]) / 2)) {
    throw new ShapeMismatchError(
      `${what}: weight '${w.label}' holds halves (${w.size} words) and needs its [M, K] shape, got ${wShape ? shapeStr(wShape) : 'none'}`,
    );
  }
  return wShape;
}

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

/** x: [N, …, K], w: [M, K] (or halves of it, wShape [M, K]), b: [M] or null → y: [N, …, M]. */
export async function linearForward(
  e: Recorder,
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  wShape?: Shape,
): Promise<Tensor> {
  const ws = weightShape(w, wShape, 'linearForward');
  const yShape = linearOutputShape(x.shape, ws, b ? b.shape : null);
  const [M, K] = ws;
  // Every row of x and of w starts at a multiple of 4 floats: 4 columns per invocation, vec4 loads.
  const cols4 = K % 4 === 0;
  const k = await e.kernel(FORWARD, { defines: { BIAS: !!b, F16: isHalves(w), COLS4: cols4 }, overrides: { WG } });
  const y = e.empty(yShape, 'linear');
  const count = cols4 ? (y.size / M) * Math.ceil(M / 4) : y.size;
  e.dispatch(k, { x, w, y, b }, { count, m: M, k: K }, grid1d(count, WG));
  return y;
}

/** dy: [T·N, …, M] for T targets; w: [M, K] (or halves of it, wShape [M, K]) → dx: [T·N, …, K] = dy·W. */
export async function linearBackward(e: Recorder, dy: Tensor, w: Tensor, wShape?: Shape): Promise<Tensor> {
  const ws = weightShape(w, wShape, 'linearBackward');
  expectRank(ws, 2, 'linear weight');
  const [M, K] = ws;
  if (dy.rank < 2 || dy.shape[dy.rank - 1] !== M) {
    throw new ShapeMismatchError(
      `linearBackward: gradient ${shapeStr(dy.shape)} does not match weight ${shapeStr(ws)}: expected [T·N, …, ${M}]`,
    );
  }
  const k = await e.kernel(BACKWARD, { defines: { F16: isHalves(w) }, overrides: { WG } });
  const dx = e.empty([...dy.shape.slice(0, -1), K], 'linear:dx');
  e.dispatch(k, { dy, w, dx }, { count: dx.size, m: M, k: K }, grid1d(dx.size, WG));
  return dx;
}
