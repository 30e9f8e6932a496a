/** Gradient accumulation on the CPU: where a tensor fans out to several nodes, their gradients add up. */
import type { HostTensor } from './tensor';

/** acc += g in place (same shapes). */
export function accumulate(acc: HostTensor, g: HostTensor): void {
  if (acc.shape.length !== g.shape.length || acc.shape.some((d, i) => d !== g.shape[i])) {
    throw new Error(`accumulate: shapes [${acc.shape}] and [${g.shape}] differ`);
  }
  for (let i = 0; i < acc.data.length; i++) acc.data[i] += g.data[i];
}
