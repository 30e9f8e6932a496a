/**
 * Concatenation along one axis (default 1, channels) on the CPU. Every input has the same dims
 * except along `axis`. View each tensor as [outer, C, inner] where outer is the product of the
 * dims before the axis and inner the product of those after it: concat lays the inputs' C
 * blocks side by side inside each outer row.
 */
import { hostTensor, numel, type HostTensor } from './tensor';

function split(shape: readonly number[], axis: number): { outer: number; c: number; inner: number } {
  return { outer: numel(shape.slice(0, axis)), c: shape[axis], inner: numel(shape.slice(axis + 1)) };
}

export function concatForward(xs: HostTensor[], axis = 1): HostTensor {
  const shape = [...xs[0].shape];
  shape[axis] = xs.reduce((s, x) => s + x.shape[axis], 0);
  const y = hostTensor(shape);
  const { outer, c: ctot, inner } = split(shape, axis);
  let coff = 0; // channel offset of the current input inside y
  for (const x of xs) {
    const c = x.shape[axis];
    for (let o = 0; o < outer; o++) {
      for (let r = 0; r < c * inner; r++) {
        y.data[(o * ctot + coff) * inner + r] = x.data[o * c * inner + r];
      }
    }
    coff += c;
  }
  return y;
}

/**
 * dy: [T·N, ΣC, ...] gradient of the output for T targets; inputShapes: the forward inputs'
 * shapes (leading dim N). The gradient of each input is its slice of dy: [T·N, Ci, ...].
 */
export function concatBackward(dy: HostTensor, inputShapes: readonly (readonly number[])[], axis = 1): HostTensor[] {
  const { outer, c: ctot, inner } = split(dy.shape, axis);
  const dxs: HostTensor[] = [];
  let coff = 0;
  for (const s of inputShapes) {
    const c = s[axis];
    const shape = [...dy.shape];
    shape[axis] = c;
    const dx = hostTensor(shape);
    for (let o = 0; o < outer; o++) {
      for (let r = 0; r < c * inner; r++) {
        dx.data[o * c * inner + r] = dy.data[(o * ctot + coff) * inner + r];
      }
    }
    dxs.push(dx);
    coff += c;
  }
  return dxs;
}
