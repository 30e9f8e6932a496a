/**
 * Softmax over the last axis of [N, K], numerically stable (row max subtracted), and its
 * backward for T targets. Shaders: softmax_forward.wgsl, softmax_backward.wgsl; one workgroup
 * per row with a tree reduction in workgroup memory.
 */
import type { Recorder } from '../gpu/recorder';
import { grid1d } from '../gpu/engine';
import { defineKernel } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import forwardCode from '../../shaders/softmax_forward.wgsl?raw';
import backwardCode from '../../shaders/softmax_backward.wgsl?raw';
import { expectRank, targetsOf } from './util';
import { SUM_MAX_REDUCE } from './includes';

const FORWARD = defineKernel({
  name: 'softmax_forward',
  code: forwardCode,
  params: { rows: 'u32', k: 'u32' },
  bindings: ['x', 'y'],
  includes: [SUM_MAX_REDUCE],
});
const BACKWARD = defineKernel({
  name: 'softmax_backward',
  code: backwardCode,
  params: { rows: 'u32', yrows: 'u32', k: 'u32' },
  bindings: ['dy', 'y', 'dx'],
  includes: [SUM_MAX_REDUCE],
});

/**
 * Workgroup size (the shaders' `override WG`, a power of two): the smallest power of two ≥ K
 * in [32, 256], so short rows do not leave most of a 256-wide group idle in the reductions.
 */
function wgFor(k: number): number {
  return Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(k))));
}

/** x: [N, K] logits. Returns y: [N, K], each row a probability distribution. */
export async function softmaxForward(e: Recorder, x: Tensor): Promise<Tensor> {
  expectRank(x.shape, 2, 'softmaxForward');
  const [n, k] = x.shape;
  const WG = wgFor(k);
  const kern = await e.kernel(FORWARD, { overrides: { WG } });
  const y = e.empty(x.shape, 'softmax');
  e.dispatch(kern, { x, y }, { rows: n, k }, grid1d(n, 1));
  return y;
}

/** dy: [T·N, K] gradient of the output; y: [N, K] the saved forward output. dx = y ⊙ (dy − Σ dy⊙y). */
export async function softmaxBackward(e: Recorder, dy: Tensor, y: Tensor): Promise<Tensor> {
  expectRank(y.shape, 2, 'softmaxBackward');
  targetsOf(dy.shape, y.shape, 'softmaxBackward');
  const [rows, k] = dy.shape;
  const WG = wgFor(k);
  const kern = await e.kernel(BACKWARD, { overrides: { WG } });
  const dx = e.empty(dy.shape, 'softmax:dx');
  e.dispatch(kern, { dy, y, dx }, { rows, yrows: y.shape[0], k }, grid1d(rows, 1));
  return dx;
}
