/**
 * Deferred weights: weights whose values are not in memory while the model is converted, and are
 * read (from the model file) only when Model.load uploads them. loadOnnx of a file path in Node
 * makes them for its large initializers (src/model/onnx_stream.ts), so that the converted graph
 * holds no large weight on the host, and Model.load reads each one through the same scratch
 * buffers, uploads it, and reuses the buffers for the next: the host holds at most one large
 * weight (two for a transposed one) at any time, whatever the model's size.
 *
 * A deferred weight is a WeightSpec whose `data` throws DeferredValuesError; its `deferred`
 * reads the values into scratch buffers handed out by slot (slot 0: the values as read). The
 * converter's weight transformations go through mapWeight, which applies them now to values in
 * memory and at the read to deferred ones, with the same arithmetic: a deferred weight's values
 * equal those the eager conversion computes, bit for bit. A rule that reads a deferred tensor's
 * values itself (e.g. a Reshape of it) meets DeferredValuesError, and loadOnnx then converts the
 * file again with every tensor in memory.
 */
import { sizeOf } from '../core/shape';
import type { WeightSpec } from './op';

/** The values of a deferred weight or tensor were asked for before they are read. */
export class DeferredValuesError extends Error {
  override name = 'DeferredValuesError';
}

/** Scratch buffers by slot: slot k's buffer as `length` floats, the same memory at every call. */
export type Scratch = (slot: number, length: number) => Float32Array;

export interface Deferred {
  /** The floats each scratch slot must hold for this weight's read, whole (index = slot). */
  readonly slots: readonly number[];
  /** The slot the values end in. */
  readonly slot: number;
  /**
   * The rows (dim 0) the values can be read by, a few at a time, into slot 0 (the values and
   * transformations are row by row: the file's layout, scaled rows); 0 when read only whole.
   */
  readonly rows: number;
  /**
   * Read the values (rows [first, first + count) of them: all by default) into scratch buffers;
   * the result is valid until the next read.
   */
  read(scratch: Scratch, first?: number, count?: number): Promise<Float32Array>;
}

/** A weight read at Model.load (see the file comment). */
export class DeferredWeight implements WeightSpec {
  constructor(
    readonly shape: number[],
    readonly deferred: Deferred,
    /** What the values are (for the error of a read too early): the tensor's name. */
    readonly what: string,
  ) {}

  /** Not in memory: throws DeferredValuesError. */
  get data(): ArrayLike<number> {
    throw new DeferredValuesError(`'${this.what}': its values are read from the file when the model is loaded`);
  }
}

export function isDeferred(w: WeightSpec): w is DeferredWeight {
  return w instanceof DeferredWeight;
}

/**
 * `w` transformed into a weight of `shape`: `f(src, out, first)` writes the new values into
 * `out`. Values in memory are transformed now, into a new array; a deferred weight when it is
 * read. With `inPlace`, f works row by row (rows of dim 0, out === src allowed, the shape kept):
 * a deferred weight is then transformed in its scratch slot, a few rows at a time where it is
 * read so, `src` and `out` then holding rows [first, …). Else into the next slot, whole.
 */
export function mapWeight(
  w: WeightSpec,
  shape: number[],
  f: (src: ArrayLike<number>, out: Float32Array, first: number) => void,
  inPlace: boolean,
): WeightSpec {
  const n = sizeOf(shape);
  if (!(w instanceof DeferredWeight)) {
    const out = new Float32Array(n);
    f(w.data, out, 0);
    return { shape, data: out };
  }
  const d = w.deferred;
  const same = inPlace && n === sizeOf(w.shape) && shape[0] === w.shape[0];
  const slot = same ? d.slot : d.slot + 1;
  const slots = [...d.slots];
  slots[slot] = Math.max(slots[slot] ?? 0, n);
  return new DeferredWeight(
    shape,
    {
      slots,
      slot,
      rows: same ? d.rows : 0,
      async read(scratch, first = 0, count) {
        if (same) {
          const values = await d.read(scratch, first, count);
          f(values, values, first);
          return values;
        }
        const src = await d.read(scratch);
        const out = scratch(slot, n);
        f(src, out, 0);
        return out;
      },
    },
    w.what,
  );
}
