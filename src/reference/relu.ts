/** ReLU on the CPU: forward, backward, and guided backprop's backward. */
import { hostTensor, type HostTensor } from './tensor';

export function reluForward(x: HostTensor): HostTensor {
  const y = hostTensor(x.shape);
  for (let i = 0; i < x.data.length; i++) y.data[i] = Math.max(x.data[i], 0);
  return y;
}

/**
 * dy: [T·N, ...] gradient of the output for T targets; x: [N, ...] the forward input.
 * Ordinary ReLU passes the gradient where the input was positive: dx = dy · [x > 0].
 * Guided backprop also blocks negative gradients: dx = dy · [x > 0] · [dy > 0].
 */
export function reluBackward(dy: HostTensor, x: HostTensor, opts: { guided?: boolean } = {}): HostTensor {
  const dx = hostTensor(dy.shape);
  const xcount = x.data.length;
  for (let i = 0; i < dy.data.length; i++) {
    const g = dy.data[i];
    let pass = x.data[i % xcount] > 0;
    if (opts.guided) pass = pass && g > 0;
    dx.data[i] = pass ? g : 0;
  }
  return dx;
}
