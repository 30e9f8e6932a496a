/** ReLU forward, backward, and the guided-backprop backward. Shaders: relu_forward.wgsl, relu_backward.wgsl. */
import type { Engine } from '../gpu/engine';
import { grid1d } from '../gpu/engine';
import { defineKernel } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import forwardCode from '../../shaders/relu_forward.wgsl?raw';
import backwardCode from '../../shaders/relu_backward.wgsl?raw';
import { targetsOf } from './util';

const WG = 256; // matches `override WG` in both shaders

const FORWARD = defineKernel({
  name: 'relu_forward',
  code: forwardCode,
  params: { count: 'u32' },
  bindings: ['x', 'y'],
});
const BACKWARD = defineKernel({
  name: 'relu_backward',
  code: backwardCode,
  params: { count: 'u32', xcount: 'u32' },
  bindings: ['dy', 'x', 'dx'],
});

export async function reluForward(e: Engine, x: Tensor): Promise<Tensor> {
  const k = await e.kernel(FORWARD, { overrides: { WG } });
  const y = e.empty(x.shape, 'relu');
  e.dispatch(k, { x, y }, { count: x.size }, grid1d(x.size, WG));
  return y;
}

export interface ReluBackwardOptions {
  /** Guided backprop: also zero negative incoming gradients. */
  guided?: boolean;
}

/** dy: [T·N, ...] gradients of the output; x: [N, ...] the forward input. Returns dx like dy. */
export async function reluBackward(e: Engine, dy: Tensor, x: Tensor, opts: ReluBackwardOptions = {}): Promise<Tensor> {
  targetsOf(dy.shape, x.shape, 'reluBackward');
  const vec4 = x.size % 4 === 0;
  const k = await e.kernel(BACKWARD, { defines: { GUIDED: !!opts.guided, VEC4: vec4 }, overrides: { WG } });
  const dx = e.empty(dy.shape, 'relu:dx');
  const q = vec4 ? 4 : 1;
  e.dispatch(k, { dy, x, dx }, { count: dy.size / q, xcount: x.size / q }, grid1d(dy.size / q, WG));
  return dx;
}
