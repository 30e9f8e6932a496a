/**
 * Recorder: one recording context on an Engine. It owns what belongs to one call (an explain,
 * a forward/backward pass, an overlay): the command encoder and its current compute pass, the
 * uniform arena of the run, the scope stack, the current stage name, the stage timings of its
 * last flush, and the capture of GPU errors raised by its work. The Engine owns what recorders
 * share (device, buffer pool, kernel cache, live-tensor set) and is itself a Recorder (its
 * default one), so `unaryForward(engine, 'relu', x)` records into the engine's own context.
 *
 * Concurrency contract:
 *   - Any number of recorders of one engine may record at the same time, interleaved at every
 *     await; each library call that records uses its own recorder (engine.recorder()).
 *   - Two async tasks must not record into the SAME recorder (the Engine's default one
 *     included): their scopes and stages would interleave, and one task's flush would submit
 *     the other's half-recorded work. Only read() is safe to call concurrently on one recorder
 *     (it records and submits without an await in between).
 *   - Ordering: a recorder's commands run in the order it recorded them, as one submission per
 *     flush. Across recorders, submissions run in the order of their flushes, except that a
 *     recorder's flush first submits the recorded work of every other recorder that made a
 *     tensor (or copied/cleared into one) that this recorder's work uses: a tensor handed from
 *     one recorder to another is always ready when the consumer's work runs. Not tracked (the
 *     writer must flush before the reader does): a dispatch writing in place into a tensor its
 *     recorder made before its last submission (e.g. accumulate into an older tensor), and two
 *     recorders whose unsubmitted work each reads a tensor the other made.
 *   - Buffer reuse (see pool.ts): a buffer whose tensor is destroyed while this recorder's
 *     unsubmitted work still uses it is reused by this recorder alone until it submits, then by
 *     anyone; a buffer no unsubmitted work uses is free at once.
 *   - Every recorder that recorded ends with flush() (or sync(), or read()), or with discard()
 *     after a failure; until then the buffers it holds back stay out of the shared pool.
 *   - GPU errors (validation, out-of-memory) raised by a recorder's calls or by its submission
 *     are reported by its next flush() as GPUExecutionError naming the recorder; the engine and
 *     the other recorders stay usable.
 *   - A call that records work and hands out results ends with run(fn): fn's scope, then the
 *     flush; when either fails, everything fn made (its result included) is destroyed, so a
 *     failed call leaves nothing behind. After any failure the pool gives back its free buffers.
 *   - Device loss: once the engine's device is lost, every call rejects (or, if synchronous,
 *     throws) DeviceLostError, including reads and flushes that were in flight.
 *   - Tensors are used only with the recorders of the engine that made them (InvalidInputError
 *     otherwise, before anything is recorded).
 */
import type { AdapterDescription } from './device';
import type { Engine, EngineStats } from './engine';
import {
  DeviceLostError,
  GPUExecutionError,
  InvalidInputError,
  ResourceLimitError,
  ShaderError,
  WebGpuCamError,
} from '../core/errors';
import { checkFinite } from '../core/finite';
import {
  packParams,
  type Kernel,
  type KernelCache,
  type KernelDef,
  type ParamDecl,
  type ParamLayout,
  type ParamValues,
  type Variant,
} from './kernel';
import type { BufferPool, PoolUser } from './pool';
import { Tensor, type Storage, type TensorOwner } from './tensor';
import type { StageTimings, Timing, TimingPool } from './timing';
import { checkShape, shapeStr, sizeOf, type Shape } from '../core/shape';

export type Binding = Tensor | GPUBuffer;

/**
 * What the recorders of one engine share. Made by the Engine; internal to src/gpu (the public
 * face of these is the Engine).
 */
export interface EngineCore {
  /** The Engine these recorders belong to (set once it is constructed). */
  engine: Engine;
  readonly device: GPUDevice;
  readonly adapter: AdapterDescription;
  readonly pool: BufferPool;
  readonly kernels: KernelCache;
  readonly stats: EngineStats;
  /** Every tensor made and not destroyed (destroy() takes a tensor out). */
  readonly live: Set<Tensor>;
  /** Recorders that have an open encoder (recorded, unsubmitted work). */
  readonly open: Set<Recorder>;
  /** Null without 'timestamp-query'. */
  readonly timings: TimingPool | null;
  /** Set once the device's `lost` promise has resolved. */
  lost: GPUDeviceLostInfo | null;
  /** The device's `lost` promise (never rejects). */
  readonly whenLost: Promise<GPUDeviceLostInfo>;
  destroyed: boolean;
}

/**
 * How long a failed GPU promise (a mapAsync, a pipeline build) waits for the device's `lost`
 * promise before it is taken for an error of its own: a destroyed device rejects pending work
 * first in some implementations and reports the loss a moment later.
 */
const LOSS_GRACE_MS = 100;

interface UniformChunk {
  buffer: GPUBuffer;
  data: ArrayBuffer;
  used: number;
}

const UNIFORM_CHUNK = 64 * 1024;

type ErrorFilter = 'validation' | 'out-of-memory';
const BOTH: readonly ErrorFilter[] = ['out-of-memory', 'validation'];
const VALIDATION: readonly ErrorFilter[] = ['validation'];

export class Recorder implements TensorOwner {
  readonly #core: EngineCore;
  readonly #user: PoolUser;
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #uniformChunks: UniformChunk[] = [];
  #afterSubmit: (() => void)[] = [];
  /** Buffers this recorder acquired, copied or cleared into since its last submission. */
  #produced = new Set<GPUBuffer>();
  #scopes: Set<Tensor>[] = [];
  #stageName = 'default';
  /** The Timing of the run being recorded (taken at its first compute pass). */
  #timing: Timing | null = null;
  /** Timings of the submissions since the last flush() (a flush of another recorder may submit this one's work early). */
  #runTimings: Promise<StageTimings | null>[] = [];
  #lastTimings: Promise<StageTimings | null> | null = null;
  /** Outcomes of error scopes popped since the last flush: a message, or null for no error. */
  #errors = new Set<Promise<string | null>>();

  /** Use engine.recorder() to make one. */
  constructor(
    core: EngineCore,
    readonly label: string,
  ) {
    this.#core = core;
    this.#user = { label, guard: (fn) => this.#capture(BOTH, fn) };
  }

  /** The engine whose resources this recorder uses. */
  get engine(): Engine {
    return this.#core.engine;
  }

  get adapter(): AdapterDescription {
    return this.#core.adapter;
  }

  get limits(): GPUSupportedLimits {
    return this.#core.device.limits;
  }

  /** True while this recorder holds recorded, unsubmitted work. */
  get recording(): boolean {
    return this.#encoder !== null;
  }

  // ---------------------------------------------------------------- tensors

  /** Throws ResourceLimitError if `shape` cannot be bound as one storage buffer on this device. */
  checkFits(shape: Shape, label: string): void {
    const bytes = sizeOf(shape) * 4;
    const max = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
    if (bytes > max) {
      throw new ResourceLimitError(
        `tensor '${label}' ${shapeStr(shape)} needs ${bytes} bytes, more than this device's maxStorageBufferBindingSize (${max} bytes)`,
      );
    }
  }

  /** An uninitialised tensor (contents are whatever the pooled buffer held). */
  empty(shape: Shape, label = 'tensor'): Tensor {
    this.#checkAlive();
    checkShape(shape, `tensor '${label}'`);
    this.checkFits(shape, label);
    const size = sizeOf(shape);
    const pool = this.#core.pool;
    const buffer = pool.acquire(size * 4, label, this.#user);
    this.#produced.add(buffer);
    const storage: Storage = {
      buffer,
      size,
      refs: 0,
      release: () => {
        // Unless this recorder's unsubmitted work writes it (and another recorder's may read
        // it), it need not be submitted before anyone for this buffer's sake.
        if (!pool.usesOf(this.#user).has(buffer)) this.#produced.delete(buffer);
        pool.release(buffer);
      },
    };
    return new Tensor(this, storage, shape, label);
  }

  zeros(shape: Shape, label = 'zeros'): Tensor {
    const t = this.empty(shape, label);
    this.#endPass();
    this.#use(t.buffer);
    this.#enc().clearBuffer(t.buffer, 0, t.size * 4);
    return t;
  }

  /**
   * Upload float data. Ordered correctly with respect to work already recorded. Every value
   * must be finite: NonFiniteError (naming the tensor, the count and the first one) otherwise,
   * before anything is allocated.
   */
  upload(data: ArrayLike<number>, shape: Shape, label = 'input'): Tensor {
    this.#checkAlive();
    checkShape(shape, `tensor '${label}'`);
    if (data.length !== sizeOf(shape)) {
      throw new InvalidInputError(
        `tensor '${label}': ${data.length} values given for shape ${shapeStr(shape)} (${sizeOf(shape)} elements)`,
      );
    }
    checkFinite(data, shape, `tensor '${label}'`);
    return this.#write(data instanceof Float32Array ? data : Float32Array.from(data), shape, label);
  }

  /**
   * Upload raw bytes (e.g. RGBA8 pixels) as a tensor of 32-bit words, shape [ceil(bytes/4)];
   * the shader reads them as array<u32>. Padded with zeros to a multiple of 4 bytes (copied on
   * the host only then, or when the view does not start on a 4-byte boundary).
   */
  uploadBytes(bytes: Uint8Array, label = 'bytes'): Tensor {
    this.#checkAlive();
    const words = Math.max(1, Math.ceil(bytes.byteLength / 4));
    this.checkFits([words], label);
    let aligned = bytes;
    if (bytes.byteLength !== words * 4 || bytes.byteOffset % 4 !== 0) {
      aligned = new Uint8Array(words * 4);
      aligned.set(bytes);
    }
    // A Float32Array view carries the words bit for bit (same-type typed-array copies are bytewise).
    return this.#write(new Float32Array(aligned.buffer, aligned.byteOffset, words), [words], label);
  }

  /** The words of `src` into a new tensor of `shape`, ordered after the work recorded so far. */
  #write(src: Float32Array, shape: Shape, label: string): Tensor {
    const t = this.empty(shape, label);
    const device = this.#core.device;
    this.#core.stats.uploads++;
    if (!this.#core.pool.referenced(t.buffer)) {
      // No unsubmitted work of any recorder uses this buffer: a queue write lands after all
      // submitted work and before anything recorded later.
      this.#capture(VALIDATION, () =>
        device.queue.writeBuffer(t.buffer, 0, src.buffer, src.byteOffset, src.byteLength),
      );
    } else {
      // The buffer came back from this recorder's own unsubmitted work (pool.ts), which a queue
      // write would overtake. Copy through a staging buffer inside the encoder instead.
      const staging = this.#capture(BOTH, () =>
        device.createBuffer({
          size: Math.max(4, src.byteLength),
          usage: GPUBufferUsage.COPY_SRC,
          mappedAtCreation: true,
          label: `${label}:upload`,
        }),
      );
      new Float32Array(staging.getMappedRange()).set(src);
      staging.unmap();
      this.#endPass();
      this.#use(t.buffer);
      this.#enc().copyBufferToBuffer(staging, 0, t.buffer, 0, src.byteLength);
      this.#afterSubmit.push(() => staging.destroy());
    }
    return t;
  }

  /**
   * Copy `src` into a new tensor, or into `dst` from its element `offset` on (default 0), e.g.
   * one image into its place in a batch: copy(x, batch, i * C * H * W).
   */
  copy(src: Tensor, dst?: Tensor, offset = 0): Tensor {
    this.#own(src);
    if (dst) this.#own(dst);
    const out = dst ?? this.empty(src.shape, `${src.label}:copy`);
    if (!dst && offset !== 0) throw new InvalidInputError(`copy: an offset (${offset}) needs a destination tensor`);
    if (dst ? !Number.isInteger(offset) || offset < 0 || offset + src.size > out.size : out.size !== src.size) {
      throw new InvalidInputError(
        `copy: '${src.label}' (${src.size} elements) does not fit '${out.label}' (${out.size}) at element ${offset}`,
      );
    }
    this.#copyElements(src, 0, src.size, out, offset);
    return out;
  }

  /**
   * Copy elements [from, from + size) of `src` into `dst` from its element `to` on (recorded in
   * order), e.g. one image's activations into each slot of a batch. `src` and `dst` must be
   * different storage (a copy within one buffer is not allowed by WebGPU).
   */
  copyRange(src: Tensor, from: number, size: number, dst: Tensor, to: number): void {
    this.#own(src);
    this.#own(dst);
    const ok = (v: number) => Number.isInteger(v) && v >= 0;
    if (!ok(from) || !ok(size) || !ok(to) || from + size > src.size || to + size > dst.size) {
      throw new InvalidInputError(
        `copyRange: elements [${from}, ${from + size}) of '${src.label}' (${src.size}) into '${dst.label}' (${dst.size}) at element ${to} are out of range`,
      );
    }
    if (src.buffer === dst.buffer) {
      throw new InvalidInputError(`copyRange: '${src.label}' and '${dst.label}' share storage`);
    }
    if (size > 0) this.#copyElements(src, from, size, dst, to);
  }

  /** Record the copy of src's elements [from, from + size) to dst's from `to` on (checked by the caller). */
  #copyElements(src: Tensor, from: number, size: number, dst: Tensor, to: number): void {
    this.#endPass();
    this.#use(src.buffer);
    this.#use(dst.buffer);
    this.#produced.add(dst.buffer);
    this.#enc().copyBufferToBuffer(src.buffer, from * 4, dst.buffer, to * 4, size * 4);
  }

  /** A new tensor of `shape` holding src's elements from `offset` on (a copy, recorded in order). */
  slice(src: Tensor, offset: number, shape: Shape, label = `${src.label}:slice`): Tensor {
    this.#own(src);
    const out = this.empty(shape, label);
    if (offset < 0 || offset + out.size > src.size) {
      out.destroy();
      throw new InvalidInputError(
        `slice of '${src.label}': elements [${offset}, ${offset + sizeOf(shape)}) out of range`,
      );
    }
    this.#copyElements(src, offset, out.size, out, 0);
    return out;
  }

  /**
   * A view of `t` (same storage, no copy) made by this recorder: it belongs to this recorder's
   * open scope, whoever made `t` (a constant node's output is a view of a model weight, and the
   * scope that made the view frees it).
   */
  view(t: Tensor, shape: Shape = t.shape, label = t.label): Tensor {
    this.#own(t);
    if (sizeOf(shape) !== t.size) {
      throw new InvalidInputError(`view of '${t.label}': ${shapeStr(shape)} does not hold ${t.size} elements`);
    }
    return new Tensor(this, t.storage, shape, label);
  }

  /** Count `t` as live and put it in this recorder's innermost open scope (tensors made here, and their views). */
  track(t: Tensor): void {
    this.#core.live.add(t);
    this.#scopes.at(-1)?.add(t);
  }

  /** A destroyed tensor leaves the live set at once (so a long run that never asks holds none). */
  untrack(t: Tensor): void {
    this.#core.live.delete(t);
  }

  /**
   * Take tensors made by another recorder into this recorder's current scope, as if made here
   * (a no-op outside a scope): explain() hands its results to the engine's open scope this way,
   * so `engine.scope(() => explain(…))` frees them like anything else made inside it.
   */
  adopt(...ts: Tensor[]): void {
    const scope = this.#scopes.at(-1);
    if (scope) for (const t of ts) scope.add(t);
  }

  /**
   * Take tensors out of every open scope (of this recorder and of the recorder that made
   * them): the caller (e.g. a Model holding weights) owns them now.
   */
  keep(...ts: Tensor[]): void {
    for (const t of ts) {
      for (const set of this.#scopes) set.delete(t);
      if (t.owner instanceof Recorder && t.owner !== this) for (const set of t.owner.#scopes) set.delete(t);
    }
  }

  /**
   * Run `fn`; destroy every tensor this recorder made inside it that is not part of its result
   * (a Tensor, or Tensors inside arrays / plain objects / Maps of the result). Also on throw.
   */
  async scope<R>(fn: () => Promise<R> | R): Promise<R> {
    return (await this.#scope(fn)).result;
  }

  /**
   * Record `fn` in a scope and submit what it recorded: how a call that records work and hands
   * out results ends (explain(), Model.load). Resolves with fn's result once the submission's
   * GPU errors are known. When fn throws or the flush rejects (GPUExecutionError,
   * DeviceLostError), nothing of it stays: the recorded work is dropped, every tensor fn made —
   * its result included — is destroyed, the pool gives back its free buffers, and the error is
   * rethrown. Tensors in the result that fn did not make (its inputs) are left alone.
   */
  async run<R>(fn: () => Promise<R> | R): Promise<R> {
    let scoped: { result: R; kept: Tensor[] };
    try {
      scoped = await this.#scope(fn);
    } catch (e) {
      this.discard();
      throw e;
    }
    try {
      await this.flush();
    } catch (e) {
      for (const t of scoped.kept) t.destroy();
      this.#core.pool.trim();
      throw e;
    }
    return scoped.result;
  }

  /** scope(), also returning the tensors fn made that its result holds. */
  async #scope<R>(fn: () => Promise<R> | R): Promise<{ result: R; kept: Tensor[] }> {
    this.#checkAlive();
    const made = new Set<Tensor>();
    this.#scopes.push(made);
    let result: R;
    try {
      result = await fn();
    } catch (e) {
      this.#popScope(made);
      for (const t of made) t.destroy();
      this.#core.pool.trim();
      throw await this.#failure(e);
    }
    this.#popScope(made);
    const keep = new Set<Tensor>();
    collectTensors(result, keep, 0);
    const kept: Tensor[] = [];
    for (const t of made) {
      if (keep.has(t)) {
        this.#scopes.at(-1)?.add(t);
        kept.push(t);
      } else {
        t.destroy();
      }
    }
    return { result, kept };
  }

  // ---------------------------------------------------------------- recording

  /** The compiled variant of a kernel (cached per engine). */
  async kernel<P extends ParamDecl, B extends string>(
    def: KernelDef<P, B>,
    variant: Variant = {},
  ): Promise<Kernel<P, B>> {
    this.#checkAlive();
    try {
      return await this.#core.kernels.get(def, variant);
    } catch (e) {
      throw await this.#failure(e);
    }
  }

  /**
   * Record one dispatch. `bindings` names every binding of the kernel's definition (null for one
   * this variant does not declare, e.g. a bias under `#if BIAS`); `params` gives every field of
   * its Params struct.
   */
  dispatch<P extends ParamDecl, B extends string>(
    kernel: Kernel<P, B>,
    bindings: { readonly [K in B]: Binding | null },
    params: ParamValues<P>,
    groups: readonly number[],
  ): void {
    this.#checkAlive();
    this.#enc();
    const bindGroup = this.#bindGroup(kernel, bindings, params);
    const pass = this.#computePass();
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groups[0], groups[1] ?? 1, groups[2] ?? 1);
    this.#core.stats.dispatches++;
  }

  /**
   * Start a named timing stage: later dispatches go into a new compute pass whose duration is
   * measured with timestamp queries when the device has them.
   */
  stage(name: string): void {
    this.#endPass();
    this.#stageName = name;
  }

  /**
   * Record commands that are not dispatches (e.g. copyBufferToTexture into a canvas) into the
   * current encoder, ordered after everything recorded so far. `fn` must only record. `uses`:
   * the buffers (tensors) its commands read or write, so that the pool holds them back until
   * this recorder submits.
   */
  encode(fn: (encoder: GPUCommandEncoder) => void, uses: readonly Binding[] = []): void {
    this.#checkAlive();
    for (const b of uses) if (b instanceof Tensor) this.#own(b);
    this.#endPass();
    for (const b of uses) this.#use(b instanceof Tensor ? b.buffer : b);
    fn(this.#enc());
  }

  /**
   * Submit everything recorded (after the unsubmitted work of other recorders that made
   * tensors it uses). Rejects with GPUExecutionError on a validation/out-of-memory error raised
   * by this recorder's calls or submissions since the last flush; the recorder is empty and
   * usable again either way.
   */
  async flush(): Promise<void> {
    if (this.#core.destroyed) throw new InvalidInputError('engine was destroyed');
    const lostBefore = this.#lostError('a flush');
    if (lostBefore) {
      this.discard();
      throw lostBefore;
    }
    if (this.#encoder) this.#submit(new Set());
    if (this.#runTimings.length) {
      const runs = this.#runTimings;
      this.#runTimings = [];
      this.#lastTimings = Promise.all(runs).then(mergeTimings);
    }
    const pending = [...this.#errors];
    this.#errors.clear();
    const messages = (await Promise.all(pending)).filter((m): m is string => m !== null);
    // Work submitted to a lost device did not run, whatever its error scopes said.
    const lost = this.#lostError('a flush');
    if (lost) throw lost;
    if (messages.length) {
      this.#core.pool.trim();
      const more = messages.length > 1 ? ` (and ${messages.length - 1} more)` : '';
      throw new GPUExecutionError(`GPU ${messages[0]}, in work recorded by '${this.label}'${more}`);
    }
  }

  /** Submit and wait until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    await this.flush();
    try {
      await this.#core.device.queue.onSubmittedWorkDone();
    } catch (e) {
      throw await this.#failure(e, 'waiting for the GPU');
    }
    const lost = this.#lostError('waiting for the GPU');
    if (lost) throw lost;
  }

  /**
   * Durations (ms) of the stages of this recorder's last flushed run that had compute passes,
   * from GPU timestamps; null without them (or before any such run).
   */
  async stageTimings(): Promise<StageTimings | null> {
    return this.#core.timings ? this.#lastTimings : null;
  }

  /** Copy `t` (made by any recorder of this engine) back to the CPU, after all work recorded here. */
  async read(t: Tensor): Promise<Float32Array> {
    this.#checkAlive();
    this.#own(t);
    const bytes = t.size * 4;
    const buffer = t.buffer;
    const device = this.#core.device;
    const staging = this.#capture(BOTH, () =>
      device.createBuffer({
        size: bytes,
        usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
        label: `${t.label}:readback`,
      }),
    );
    try {
      this.#endPass();
      this.#use(buffer);
      this.#enc().copyBufferToBuffer(buffer, 0, staging, 0, bytes);
      await this.flush();
      try {
        await staging.mapAsync(GPUMapMode.READ);
      } catch (e) {
        throw await this.#failure(e, `the read of tensor '${t.label}'`);
      }
      this.#core.stats.readbacks++;
      return new Float32Array(staging.getMappedRange().slice(0));
    } finally {
      staging.destroy();
    }
  }

  /**
   * Drop recorded, unsubmitted work (after a failure part-way through recording): nothing of
   * it runs, and the buffers it held back return to the pool. Tensors stay as they are (their
   * contents undefined where the dropped work would have written them); errors not yet
   * reported are dropped too. The recorder is usable again.
   */
  discard(): void {
    this.#pass = null;
    this.#encoder = null;
    this.#core.open.delete(this);
    if (this.#timing) this.#core.timings?.release(this.#timing);
    this.#timing = null;
    this.#finishEpoch();
    this.#errors.clear();
    this.#core.pool.trim();
  }

  // ---------------------------------------------------------------- internals

  #checkAlive(): void {
    const core = this.#core;
    if (core.destroyed) throw new InvalidInputError('engine was destroyed');
    const lost = this.#lostError();
    if (lost) throw lost;
  }

  /** DeviceLostError when the device is known to be lost, else null. */
  #lostError(during?: string): DeviceLostError | null {
    const info = this.#core.lost;
    return info && !this.#core.destroyed ? new DeviceLostError(info.reason, info.message, during) : null;
  }

  /**
   * The error to report for `e`, a failure of GPU work: DeviceLostError when the device is lost
   * (waiting a moment for the loss to be reported, see LOSS_GRACE_MS), `e` itself when it is
   * one of ours, else GPUExecutionError naming what failed (`during`) and the cause.
   */
  async #failure(e: unknown, during?: string): Promise<unknown> {
    const core = this.#core;
    // Our own errors, but for a failed pipeline build (which a lost device causes), are what they say.
    if (e instanceof WebGpuCamError && !(e instanceof ShaderError)) return this.#lostError(during) ?? e;
    if (!core.lost && !core.destroyed) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, LOSS_GRACE_MS)));
      await Promise.race([core.whenLost, grace]);
      clearTimeout(timer);
    }
    if (core.destroyed) return new InvalidInputError(`engine was destroyed${during ? ` during ${during}` : ''}`);
    const lost = this.#lostError(during);
    if (lost) return lost;
    if (e instanceof WebGpuCamError || !during) return e;
    const err = e as { name?: string; message?: string };
    return new GPUExecutionError(
      `${during} failed in work recorded by '${this.label}': ${err?.name ?? 'Error'}${err?.message ? `: ${err.message}` : ''}`,
    );
  }

  /** Throws InvalidInputError unless `t` is a live tensor of this recorder's engine. */
  #own(t: Tensor): void {
    if (t.owner.engine !== this.#core.engine) {
      throw new InvalidInputError(
        `tensor '${t.label}' belongs to another engine; tensors can only be used with the engine that made them`,
      );
    }
    if (t.destroyed) throw new InvalidInputError(`tensor '${t.label}' was used after destroy()`);
  }

  #popScope(made: Set<Tensor>): void {
    // Scopes of one recorder nest (the contract forbids interleaving tasks on one recorder).
    if (this.#scopes.at(-1) === made) this.#scopes.pop();
    else this.#scopes.splice(this.#scopes.indexOf(made), 1);
  }

  #use(buffer: GPUBuffer): void {
    this.#core.pool.use(this.#user, buffer);
  }

  /**
   * Run `fn` (synchronous GPU calls) inside error scopes of `filters`, popped right after it:
   * error scopes are a device-wide stack, so none may stay open across an await. The scopes'
   * outcomes are reported by the next flush().
   */
  #capture<T>(filters: readonly ErrorFilter[], fn: () => T): T {
    const device = this.#core.device;
    for (const f of filters) device.pushErrorScope(f);
    try {
      return fn();
    } finally {
      for (let i = filters.length - 1; i >= 0; i--) this.#watch(device.popErrorScope(), filters[i]);
    }
  }

  #watch(popped: Promise<GPUError | null>, filter: ErrorFilter): void {
    const outcome = popped.then(
      (err) => (err ? `${filter} error: ${err.message}` : null),
      (e: unknown) => `${filter} error scope failed: ${(e as Error).message}`,
    );
    this.#errors.add(outcome);
    // Error-free outcomes are forgotten once known, so a recorder that never flushes holds no list.
    void outcome.then((m) => {
      if (m === null) this.#errors.delete(outcome);
    });
  }

  #note(message: string): void {
    this.#errors.add(Promise.resolve(message));
  }

  /** The bind group of one dispatch: the uniform Params and every binding, by name. */
  #bindGroup(
    kernel: Kernel,
    bindings: Readonly<Record<string, Binding | null>>,
    params: Readonly<Record<string, number | readonly number[]>>,
  ): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = [];
    if (kernel.layout) {
      const { buffer, offset } = this.#uniform(kernel.label, kernel.layout, params);
      entries.push({ binding: kernel.paramsSlot, resource: { buffer, offset, size: kernel.layout.size } });
    }
    for (const [name, slot] of kernel.slots) {
      const x = bindings[name];
      if (!x) throw new ShaderError(kernel.label, `binding '${name}' is declared by the shader but not given`);
      if (x instanceof Tensor) this.#own(x);
      const buffer = x instanceof Tensor ? x.buffer : x;
      this.#use(buffer);
      entries.push({ binding: slot, resource: { buffer } });
    }
    for (const [name, x] of Object.entries(bindings)) {
      if (x && !kernel.slots.has(name)) {
        throw new ShaderError(kernel.label, `binding '${name}' is given but this variant of the shader declares none`);
      }
    }
    return this.#capture(VALIDATION, () =>
      this.#core.device.createBindGroup({
        label: kernel.label,
        layout: kernel.pipeline.getBindGroupLayout(0),
        entries,
      }),
    );
  }

  #enc(): GPUCommandEncoder {
    if (!this.#encoder) {
      this.#encoder = this.#core.device.createCommandEncoder({ label: this.label });
      this.#core.open.add(this);
    }
    return this.#encoder;
  }

  #computePass(): GPUComputePassEncoder {
    if (!this.#pass) {
      const enc = this.#enc();
      const timings = this.#core.timings;
      if (timings && !this.#timing) this.#timing = timings.acquire((fn) => this.#capture(BOTH, fn));
      const timestampWrites = this.#timing?.next(this.#stageName);
      this.#pass = enc.beginComputePass({ label: this.#stageName, ...(timestampWrites ? { timestampWrites } : {}) });
    }
    return this.#pass;
  }

  #endPass(): void {
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
  }

  /**
   * Submit this recorder's encoder. First submits every other open recorder that produced a
   * buffer this one's work uses (`chain`: recorders being submitted, against cycles). Never
   * throws: failures become errors reported by this recorder's next flush().
   */
  #submit(chain: Set<Recorder>): void {
    const core = this.#core;
    chain.add(this);
    const uses = core.pool.usesOf(this.#user);
    for (const other of [...core.open]) {
      if (!chain.has(other) && other.#encoder && intersects(uses, other.#produced)) other.#submit(chain);
    }
    this.#endPass();
    const encoder = this.#encoder!;
    this.#encoder = null;
    core.open.delete(this);
    const timing = this.#timing;
    this.#timing = null;
    const chunks = this.#uniformChunks;
    let submitted = false;
    try {
      timing?.resolve(encoder);
      this.#capture(BOTH, () => {
        for (const c of chunks) core.device.queue.writeBuffer(c.buffer, 0, c.data, 0, c.used);
        core.device.queue.submit([encoder.finish()]);
      });
      submitted = true;
      core.stats.submits++;
    } catch (e) {
      this.#note(`submission failed: ${(e as Error).message}`);
    } finally {
      this.#finishEpoch();
      if (timing && submitted) this.#runTimings.push(timing.collect());
      else if (timing) core.timings?.release(timing);
    }
  }

  /** After a submission (or a discard): free the run's uniform chunks and staging buffers, settle the pool. */
  #finishEpoch(): void {
    for (const c of this.#uniformChunks) c.buffer.destroy();
    this.#uniformChunks = [];
    const after = this.#afterSubmit;
    this.#afterSubmit = [];
    for (const f of after) f();
    this.#core.pool.settle(this.#user);
    this.#produced.clear();
  }

  #uniform(
    label: string,
    layout: ParamLayout,
    values: Readonly<Record<string, number | readonly number[]>>,
  ): { buffer: GPUBuffer; offset: number } {
    const align = this.limits.minUniformBufferOffsetAlignment;
    let chunk = this.#uniformChunks.at(-1);
    const need = layout.size;
    let offset = chunk ? Math.ceil(chunk.used / align) * align : 0;
    if (!chunk || offset + need > UNIFORM_CHUNK) {
      const device = this.#core.device;
      chunk = {
        buffer: this.#capture(BOTH, () =>
          device.createBuffer({
            size: UNIFORM_CHUNK,
            usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
            label: `${this.label}:uniforms`,
          }),
        ),
        data: new ArrayBuffer(UNIFORM_CHUNK),
        used: 0,
      };
      this.#uniformChunks.push(chunk);
      offset = 0;
    }
    packParams(label, layout, values, chunk.data, offset);
    chunk.used = offset + need;
    return { buffer: chunk.buffer, offset };
  }
}

function intersects(a: ReadonlySet<GPUBuffer>, b: ReadonlySet<GPUBuffer>): boolean {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const x of small) if (large.has(x)) return true;
  return false;
}

/** Stage durations of several submissions of one flush, summed; null if none could be read. */
function mergeTimings(runs: (StageTimings | null)[]): StageTimings | null {
  let out: StageTimings | null = null;
  for (const r of runs) {
    if (!r) continue;
    out ??= {};
    for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
  }
  return out;
}

function collectTensors(x: unknown, out: Set<Tensor>, depth: number): void {
  if (depth > 8 || x === null || typeof x !== 'object') return;
  if (x instanceof Tensor) {
    out.add(x);
    return;
  }
  if (Array.isArray(x)) {
    for (const v of x) collectTensors(v, out, depth + 1);
  } else if (x instanceof Map) {
    for (const v of x.values()) collectTensors(v, out, depth + 1);
  } else if (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null) {
    for (const v of Object.values(x)) collectTensors(v, out, depth + 1);
  }
}
