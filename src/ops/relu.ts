/** ReLU forward, backward, and the guided-backprop backward. Shaders: relu_forward.wgsl, relu_backward.wgsl. */
import type { Recorder } from '../gpu/engine';
import { grid1d } from '../gpu/engine';
import { Uniforms } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import forwardCode from '../../shaders/relu_forward.wgsl?raw';
import backwardCode from '../../shaders/relu_backward.wgsl?raw';
import { targetsOf } from './util';

const WG = 256; // matches `override WG` in both shaders

export async function reluForward(e: Recorder, x: Tensor): Promise<Tensor> {
  const k = await e.kernel({ name: 'relu_forward', code: forwardCode, overrides: { WG } });
  const y = e.empty(x.shape, 'relu');
  e.dispatch(k, [x, y], new Uniforms().u32(x.size), grid1d(x.size, WG));
  return y;
}

export interface ReluBackwardOptions {
  /** Guided backprop: also zero negative incoming gradients. */
  guided?: boolean;
}

/** dy: [T·N, ...] gradients of the output; x: [N, ...] the forward input. Returns dx like dy. */
export async function reluBackward(
  e: Recorder,
  dy: Tensor,
  x: Tensor,
  opts: ReluBackwardOptions = {},
): Promise<Tensor> {
  targetsOf(dy.shape, x.shape, 'reluBackward');
  const vec4 = x.size % 4 === 0;
  const k = await e.kernel({
    name: 'relu_backward',
    code: backwardCode,
    defines: { GUIDED: !!opts.guided, VEC4: vec4 },
    overrides: { WG },
  });
  const dx = e.empty(dy.shape, 'relu:dx');
  const q = vec4 ? 4 : 1;
  e.dispatch(k, [dy, x, dx], new Uniforms().u32(dy.size / q, x.size / q), grid1d(dy.size / q, WG));
  return dx;
}
