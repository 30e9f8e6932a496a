/**
 * explain's augSmooth option on the CPU: the augmented copies of an image and the undoing of a
 * copy's flip (src/methods/augment.ts has the table). explainReference (./explain.ts) runs
 * every copy through the whole reference explain and averages the flipped-back results here.
 */
import type { Augmentation } from '../methods/augment';
import { hostTensor, type HostTensor } from './tensor';

/** Mirror the last dim of t (x → L − 1 − x) when `flip`; a copy otherwise. */
export function flipLast(t: HostTensor, flip: boolean): HostTensor {
  const L = t.shape[t.shape.length - 1];
  const out = hostTensor(t.shape);
  for (let j = 0; j < t.data.length; j++) {
    const x = j % L;
    out.data[j] = t.data[flip ? j - x + (L - 1 - x) : j];
  }
  return out;
}

/** The augmented copy of images x [N, C, H, W]: flipped left–right if asked, then times the factor. */
export function augmentImage(x: HostTensor, aug: Augmentation): HostTensor {
  const out = flipLast(x, aug.flip);
  for (let j = 0; j < out.data.length; j++) out.data[j] *= aug.factor;
  return out;
}

/** The mean of tensors of one shape, element by element, summed in the order given. */
export function meanOf(ts: readonly HostTensor[]): HostTensor {
  const out = hostTensor(ts[0].shape);
  for (const t of ts) for (let j = 0; j < t.data.length; j++) out.data[j] += t.data[j];
  for (let j = 0; j < out.data.length; j++) out.data[j] /= ts.length;
  return out;
}
