/**
 * CPU reference (float64) of transpose, slice and pad, forward and backward, written from their
 * definitions with explicit coordinates. Backward functions take dy [T·N, ...] and return dx
 * [T·N, ...input dims].
 */
import { sliceWindow, type PadParams, type SliceParams } from '../defs/layout';
import { hostTensor, numel, type HostTensor } from './tensor';

/** Coordinates of element `flat` of a row-major tensor of shape `dims`. */
function coords(flat: number, dims: readonly number[]): number[] {
  const c = new Array<number>(dims.length);
  for (let d = dims.length - 1; d >= 0; d--) {
    c[d] = flat % dims[d];
    flat = Math.floor(flat / dims[d]);
  }
  return c;
}

/** Row-major index of coordinates `c` in shape `dims`. */
function index(c: readonly number[], dims: readonly number[]): number {
  let i = 0;
  for (let d = 0; d < dims.length; d++) i = i * dims[d] + c[d];
  return i;
}

/** y[c] = x[c'] with c'[perm[d]] = c[d]. */
export function transposeForward(x: HostTensor, perm: readonly number[]): HostTensor {
  const out = perm.map((p) => x.shape[p]);
  const y = hostTensor(out);
  for (let i = 0; i < y.data.length; i++) {
    const c = coords(i, out);
    const src = new Array<number>(perm.length);
    perm.forEach((p, d) => (src[p] = c[d]));
    y.data[i] = x.data[index(src, x.shape)];
  }
  return y;
}

/** dx[c'] = dy[c]: every element goes back to where it came from. */
export function transposeBackward(dy: HostTensor, perm: readonly number[]): HostTensor {
  const dx = hostTensor(perm.map((_, d) => dy.shape[perm.indexOf(d)]));
  for (let i = 0; i < dy.data.length; i++) {
    const c = coords(i, dy.shape);
    const src = new Array<number>(perm.length);
    perm.forEach((p, d) => (src[p] = c[d]));
    dx.data[index(src, dx.shape)] = dy.data[i];
  }
  return dx;
}

/** y[n, c…] = x[n, begin + c·step …]. */
export function sliceForward(x: HostTensor, p: SliceParams): HostTensor {
  const w = sliceWindow(x.shape, p);
  const y = hostTensor([x.shape[0], ...w.size]);
  for (let i = 0; i < y.data.length; i++) {
    const [n, ...c] = coords(i, y.shape);
    y.data[i] = x.data[index([n, ...c.map((v, d) => w.begin[d] + v * w.step[d])], x.shape)];
  }
  return y;
}

/** dx: zeros, with dy added at the positions the slice read. */
export function sliceBackward(dy: HostTensor, p: SliceParams, input: readonly number[]): HostTensor {
  const w = sliceWindow(input, p);
  const dx = hostTensor([dy.shape[0], ...input.slice(1)]);
  for (let i = 0; i < dy.data.length; i++) {
    const [n, ...c] = coords(i, dy.shape);
    dx.data[index([n, ...c.map((v, d) => w.begin[d] + v * w.step[d])], dx.shape)] += dy.data[i];
  }
  return dx;
}

/** y: x surrounded by p.value, p.pads[d] before and p.pads[r + d] after dim d + 1. */
export function padForward(x: HostTensor, p: PadParams): HostTensor {
  const r = x.shape.length - 1;
  const y = hostTensor([x.shape[0], ...x.shape.slice(1).map((d, i) => d + p.pads[i] + p.pads[r + i])]);
  y.data.fill(p.value);
  for (let i = 0; i < x.data.length; i++) {
    const [n, ...c] = coords(i, x.shape);
    y.data[index([n, ...c.map((v, d) => v + p.pads[d])], y.shape)] = x.data[i];
  }
  return y;
}

/** dx: the part of dy over the input's elements. */
export function padBackward(dy: HostTensor, p: PadParams, input: readonly number[]): HostTensor {
  const dx = hostTensor([dy.shape[0], ...input.slice(1)]);
  for (let i = 0; i < numel(dx.shape); i++) {
    const [n, ...c] = coords(i, dx.shape);
    dx.data[i] = dy.data[index([n, ...c.map((v, d) => v + p.pads[d])], dy.shape)];
  }
  return dx;
}
