/** Elementwise add (residual connections) and gradient accumulation on the CPU. */
import { hostTensor, type HostTensor } from './tensor';

function sameShape(a: HostTensor, b: HostTensor, what: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${what}: shapes [${a.shape}] and [${b.shape}] differ`);
  }
}

/** y = a + b, same shapes. */
export function addForward(a: HostTensor, b: HostTensor): HostTensor {
  sameShape(a, b, 'addForward');
  const y = hostTensor(a.shape);
  for (let i = 0; i < y.data.length; i++) y.data[i] = a.data[i] + b.data[i];
  return y;
}

/** acc += g in place: where a tensor fans out to several consumers, its gradients add up. */
export function accumulate(acc: HostTensor, g: HostTensor): void {
  sameShape(acc, g, 'accumulate');
  for (let i = 0; i < acc.data.length; i++) acc.data[i] += g.data[i];
}

/** ∂(a + b)/∂a = ∂(a + b)/∂b = identity: both inputs receive dy ([T·N, ...]) unchanged. */
export function addBackward(dy: HostTensor): [HostTensor, HostTensor] {
  return [hostTensor(dy.shape, dy.data), hostTensor(dy.shape, dy.data)];
}
