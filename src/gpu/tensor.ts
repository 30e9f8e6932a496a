/**
 * Tensor: a GPUBuffer of float32 plus a shape (NCHW for images). Several tensors may view one
 * storage (reshape/flatten are free); the storage goes back to the engine's pool when the last
 * view is destroyed. Every tensor is owned by the scope it was made in, or by the caller. Its
 * `owner` is the recorder that made it: views join that recorder's current scope, and read()
 * goes through it.
 */
import { InvalidInputError } from '../core/errors';
import { checkShape, shapeStr, sizeOf, type Shape } from '../core/shape';
import type { Engine } from './engine';

/** Backing store shared by views; released to its owner when the last view goes. */
export interface Storage {
  readonly buffer: GPUBuffer;
  /** Number of float32 elements the buffer is allowed to hold for this storage. */
  readonly size: number;
  refs: number;
  release(): void;
}

/** What a tensor needs from the recorder that made it; implemented by Recorder (and so by Engine). */
export interface TensorOwner {
  /** The engine whose pool holds the tensor's buffer. */
  readonly engine: Engine;
  read(t: Tensor): Promise<Float32Array>;
  track(t: Tensor): void;
  /** `t` was destroyed: no longer live. */
  untrack(t: Tensor): void;
}

export class Tensor {
  readonly size: number;
  #destroyed = false;

  constructor(
    readonly owner: TensorOwner,
    readonly storage: Storage,
    readonly shape: Shape,
    readonly label = 'tensor',
  ) {
    this.size = sizeOf(shape);
    storage.refs++;
    owner.track(this);
  }

  get buffer(): GPUBuffer {
    if (this.#destroyed) throw new InvalidInputError(`tensor '${this.label}' was used after destroy()`);
    return this.storage.buffer;
  }

  /** The engine this tensor lives on; it can only be used with that engine's recorders. */
  get engine(): Engine {
    return this.owner.engine;
  }

  get rank(): number {
    return this.shape.length;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** A view of the same data with another shape of the same size (no copy). */
  reshape(shape: Shape, label = this.label): Tensor {
    checkShape(shape, `reshape of '${this.label}'`);
    if (sizeOf(shape) !== this.size) {
      throw new InvalidInputError(
        `cannot reshape '${this.label}' ${shapeStr(this.shape)} (${this.size} elements) to ${shapeStr(shape)}`,
      );
    }
    return new Tensor(this.owner, this.storage, shape, label);
  }

  /** Copy the data back to the CPU. Runs all pending GPU work first. */
  read(): Promise<Float32Array> {
    return this.owner.read(this);
  }

  /** Release this view; the buffer returns to the pool when no other view holds it. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.owner.untrack(this);
    if (--this.storage.refs === 0) this.storage.release();
  }
}
