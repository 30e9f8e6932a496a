/**
 * The elementwise ops on the CPU, from the `ref` functions of the table in
 * src/defs/elementwise.ts (the same formulas as the WGSL expressions beside them). Same names and
 * argument order as the GPU dispatchers in src/ops/elementwise.ts; `attrs` are the node's
 * attributes (e.g. { min: 0, max: 6 } for clip), checked by the op's definition.
 *
 * Gradients are for T targets: dy is [T·N, ...], the saved forward tensors are [N, ...], so
 * gradient element i reads forward element i mod (forward size).
 */
import {
  broadcastShape,
  BINARY,
  PASS,
  UNARY,
  type BinaryOp,
  type BinaryType,
  type UnaryOp,
  type UnaryType,
} from '../defs/elementwise';
import type { Attrs } from '../defs/op';
import { broadcastStrides } from '../core/shape';
import { hostTensor, numel, type HostTensor } from './tensor';

/** y = f(x) element by element. */
export function unaryForward(op: UnaryType, x: HostTensor, attrs: Attrs = {}): HostTensor {
  const def: UnaryOp = UNARY[op];
  const p = def.params(attrs);
  const y = hostTensor(x.shape);
  for (let i = 0; i < y.data.length; i++) y.data[i] = def.forward.ref(x.data[i], p);
  return y;
}

/**
 * dx from dy [T·N, ...] and the saved x or y [N, ...] (the op's `backward.from`). With `guided`
 * and an op that guided backprop changes (ReLU), negative gradients are blocked too: dx = 0
 * where dy ≤ 0.
 */
export function unaryBackward(
  op: UnaryType,
  dy: HostTensor,
  saved: HostTensor,
  attrs: Attrs = {},
  opts: { guided?: boolean } = {},
): HostTensor {
  const def: UnaryOp = UNARY[op];
  const p = def.params(attrs);
  const guided = !!opts.guided && def.guided;
  const dx = hostTensor(dy.shape);
  const n = saved.data.length;
  for (let i = 0; i < dy.data.length; i++) {
    const g = dy.data[i];
    dx.data[i] = guided && !(g > 0) ? 0 : def.backward.ref(g, saved.data[i % n], p);
  }
  return dx;
}

/** Index of element `flat` of a row-major tensor of shape `dims` in a tensor with `strides`. */
function at(flat: number, dims: readonly number[], strides: readonly number[]): number {
  let i = 0;
  for (let d = dims.length - 1; d >= 0; d--) {
    i += (flat % dims[d]) * strides[d];
    flat = Math.floor(flat / dims[d]);
  }
  return i;
}

/** y = f(a, b) with broadcasting: each dim of a and b equals the output's, or is 1. */
export function binaryForward(op: BinaryType, a: HostTensor, b: HostTensor): HostTensor {
  const def: BinaryOp = BINARY[op];
  const out = broadcastShape(a.shape, b.shape);
  const y = hostTensor(out);
  const sa = broadcastStrides(a.shape, out);
  const sb = broadcastStrides(b.shape, out);
  for (let i = 0; i < y.data.length; i++) {
    y.data[i] = def.forward.ref(a.data[at(i, out, sa)], b.data[at(i, out, sb)]);
  }
  return y;
}

/**
 * The gradient of input `which` ('a' or 'b') for T targets: dy is [T·N, ...out], a and b the
 * forward inputs [N, ...] (null where the op does not save them; shapes gives their shapes).
 * Each gradient element sums the terms of every output element it was broadcast to. Returns
 * [T·N, ...that input's shape without its batch].
 */
export function binaryBackward(
  op: BinaryType,
  which: 'a' | 'b',
  dy: HostTensor,
  a: HostTensor | null,
  b: HostTensor | null,
  shapes: { a: readonly number[]; b: readonly number[] },
): HostTensor {
  const grad = (BINARY[op] as BinaryOp).backward[which];
  const fwd = broadcastShape(shapes.a, shapes.b);
  const rows = dy.shape[0];
  const out = [rows, ...fwd.slice(1)];
  const dx = hostTensor([rows, ...shapes[which].slice(1)]);
  const sx = broadcastStrides(dx.shape, out);
  const sa = broadcastStrides(shapes.a, fwd);
  const sb = broadcastStrides(shapes.b, fwd);
  const fwdSize = numel(fwd);
  for (let i = 0; i < dy.data.length; i++) {
    const g = dy.data[i];
    // Element i of dy, row r, belongs to forward image r mod N: forward element i mod fwdSize.
    const f = i % fwdSize;
    const v = grad === PASS ? g : grad.ref(g, a ? a.data[at(f, fwd, sa)] : NaN, b ? b.data[at(f, fwd, sb)] : NaN);
    dx.data[at(i, out, sx)] += v;
  }
  return dx;
}
