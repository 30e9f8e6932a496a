/** CPU reference (float64) of reducemean / reducesum and their backward. */
import { keptShape, reducedCount, type ReduceParams } from '../defs/reduce';
import { hostTensor, type HostTensor } from './tensor';

/** Index in the kept shape (reduced axes set to 1) of element `flat` of shape `dims`. */
function keptIndex(flat: number, dims: readonly number[], axes: readonly number[]): number {
  let [i, stride] = [0, 1];
  for (let d = dims.length - 1; d >= 0; d--) {
    const c = flat % dims[d];
    flat = Math.floor(flat / dims[d]);
    if (!axes.includes(d)) {
      i += c * stride;
      stride *= dims[d];
    }
  }
  return i;
}

/** y = Σ (or mean) of x over p.axes; `outShape`: the op's output shape (keepdims or not). */
export function reduceForward(x: HostTensor, p: ReduceParams, mean: boolean, outShape: readonly number[]): HostTensor {
  keptShape(x.shape, p);
  const y = hostTensor(outShape);
  const scale = mean ? 1 / reducedCount(x.shape, p) : 1;
  for (let i = 0; i < x.data.length; i++) y.data[keptIndex(i, x.shape, p.axes)] += x.data[i];
  for (let i = 0; i < y.data.length; i++) y.data[i] *= scale;
  return y;
}

/** dx[…] = dy at the element it was reduced into, times 1/R for the mean. */
export function reduceBackward(dy: HostTensor, p: ReduceParams, input: readonly number[], mean: boolean): HostTensor {
  const dx = hostTensor([dy.shape[0], ...input.slice(1)]);
  const scale = mean ? 1 / reducedCount(input, p) : 1;
  for (let i = 0; i < dx.data.length; i++) dx.data[i] = scale * dy.data[keptIndex(i, dx.shape, p.axes)];
  return dx;
}
