/**
 * Shapes: plain arrays of dimension sizes, row-major (NCHW for images). Pure helpers shared by
 * every layer (no GPU).
 */
import { InvalidInputError } from './errors';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function checkShape(shape: Shape, what: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 1) {
      throw new InvalidInputError(`${what}: every dimension must be a positive integer, got ${shapeStr(shape)}`);
    }
  }
}

/** Row-major strides of `shape`, with 0 where `shape` is broadcast (dim 1) against `out`. */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const strides = new Array<number>(out.length).fill(0);
  let s = 1;
  for (let d = out.length - 1; d >= 0; d--) {
    strides[d] = shape[d] === 1 && out[d] !== 1 ? 0 : s;
    s *= shape[d];
  }
  return strides;
}
