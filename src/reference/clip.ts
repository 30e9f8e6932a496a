/** Clip (ReLU6 when [lo, hi] = [0, 6]) on the CPU: forward and backward. */
import { hostTensor, type HostTensor } from './tensor';

export function clipForward(x: HostTensor, lo: number, hi: number): HostTensor {
  const y = hostTensor(x.shape);
  for (let i = 0; i < x.data.length; i++) y.data[i] = Math.min(Math.max(x.data[i], lo), hi);
  return y;
}

/**
 * dy: [T·N, ...] gradient of the output for T targets; x: [N, ...] the forward input.
 * The gradient passes where the clip was the identity: dx = dy · [lo < x < hi].
 */
export function clipBackward(dy: HostTensor, x: HostTensor, lo: number, hi: number): HostTensor {
  const dx = hostTensor(dy.shape);
  const xcount = x.data.length;
  for (let i = 0; i < dy.data.length; i++) {
    const v = x.data[i % xcount];
    dx.data[i] = v > lo && v < hi ? dy.data[i] : 0;
  }
  return dx;
}
