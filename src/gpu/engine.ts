/**
 * Engine: owns one GPUDevice's resources — buffer pool, kernel cache, the command encoder being
 * recorded — and nothing is global. Work is recorded into one command encoder (one compute pass
 * per timing stage) and submitted by flush(), so a whole forward/backward/attribution run is one
 * submission with no readback in between. Tensors made inside engine.scope() are destroyed when
 * the scope ends unless they are returned from it.
 */
import { acquireDevice, engineAdapter, type AdapterDescription, type AdapterKind, type DeviceRequest } from './device';
import { GPUExecutionError, InvalidInputError, ResourceLimitError } from '../core/errors';
import { KernelCache, type Kernel, type KernelSpec, type Uniforms } from './kernel';
import { BufferPool } from './pool';
import { Tensor, type Storage, type TensorOwner } from './tensor';
import { checkShape, shapeStr, sizeOf, type Shape } from '../core/shape';

export interface EngineOptions extends DeviceRequest {
  /** Use this device instead of acquiring one. The engine never destroys a device it was given. */
  device?: GPUDevice;
  /** Description of the adapter behind `device` (optional; used for kernel variant choice). */
  adapter?: AdapterDescription | GPUAdapter;
  /**
   * Tune kernels for a software adapter (SwiftShader) or a GPU, instead of deciding from the
   * adapter (see adapterKind in ./device). Also applies to a caller's `device`.
   */
  adapterKind?: AdapterKind;
}

export interface EngineStats {
  dispatches: number;
  submits: number;
  uploads: number;
  readbacks: number;
}

export type Binding = Tensor | GPUBuffer;

/** Workgroup counts for `total` invocations in 1-D groups of `wg`, split over y above the 65535 limit. */
export function grid1d(total: number, wg: number, maxPerDim = 65535): [number, number, number] {
  const groups = Math.max(1, Math.ceil(total / wg));
  if (groups <= maxPerDim) return [groups, 1, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y, 1];
}

interface UniformChunk {
  buffer: GPUBuffer;
  data: ArrayBuffer;
  used: number;
}

const UNIFORM_CHUNK = 64 * 1024;

export class Engine implements TensorOwner {
  readonly pool: BufferPool;
  readonly kernels: KernelCache;
  readonly stats: EngineStats = { dispatches: 0, submits: 0, uploads: 0, readbacks: 0 };
  /** Set when the device is lost; the engine is unusable after that. */
  lost: GPUDeviceLostInfo | null = null;

  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #uniformChunks: UniformChunk[] = [];
  #afterSubmit: (() => void)[] = [];
  #scopes: Set<Tensor>[] = [];
  #live = new Set<Tensor>();
  #destroyed = false;
  readonly #ownsDevice: boolean;
  readonly #timing: Timing | null;

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterDescription,
    ownsDevice: boolean,
  ) {
    this.#ownsDevice = ownsDevice;
    this.pool = new BufferPool(device);
    this.kernels = new KernelCache(device);
    this.#timing = device.features.has('timestamp-query') ? new Timing(device) : null;
    device.lost.then((info) => {
      this.lost = info;
    });
  }

  static async create(opts: EngineOptions = {}): Promise<Engine> {
    if (opts.device) return new Engine(opts.device, engineAdapter(opts.adapter, opts.adapterKind), false);
    const { device, adapter } = await acquireDevice(opts);
    return new Engine(device, engineAdapter(adapter, opts.adapterKind), true);
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  get hasTimestamps(): boolean {
    return this.#timing !== null;
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
    const buffer = this.pool.acquire(size * 4, label);
    const pool = this.pool;
    const storage: Storage = {
      buffer,
      size,
      refs: 0,
      release: () => pool.release(buffer),
    };
    return new Tensor(this, storage, shape, label);
  }

  zeros(shape: Shape, label = 'zeros'): Tensor {
    const t = this.empty(shape, label);
    this.#endPass();
    this.#enc().clearBuffer(t.buffer, 0, t.size * 4);
    return t;
  }

  /** Upload float data. Ordered correctly with respect to work already recorded. */
  upload(data: ArrayLike<number>, shape: Shape, label = 'input'): Tensor {
    checkShape(shape, `tensor '${label}'`);
    if (data.length !== sizeOf(shape)) {
      throw new InvalidInputError(
        `tensor '${label}': ${data.length} values given for shape ${shapeStr(shape)} (${sizeOf(shape)} elements)`,
      );
    }
    const t = this.empty(shape, label);
    const src = data instanceof Float32Array ? data : Float32Array.from(data);
    this.stats.uploads++;
    if (!this.#encoder) {
      this.device.queue.writeBuffer(t.buffer, 0, src.buffer, src.byteOffset, src.byteLength);
    } else {
      // Work that may still use this pooled buffer is recorded but not submitted: a queue write
      // would land before it. Copy through a staging buffer inside the encoder instead.
      const staging = this.device.createBuffer({
        size: Math.max(4, src.byteLength),
        usage: GPUBufferUsage.COPY_SRC,
        mappedAtCreation: true,
        label: `${label}:upload`,
      });
      new Float32Array(staging.getMappedRange()).set(src);
      staging.unmap();
      this.#endPass();
      this.#enc().copyBufferToBuffer(staging, 0, t.buffer, 0, src.byteLength);
      this.#afterSubmit.push(() => staging.destroy());
    }
    return t;
  }

  /**
   * Upload raw bytes (e.g. RGBA8 pixels) as a tensor of 32-bit words, shape [ceil(bytes/4)];
   * the shader reads them as array<u32>. Padded with zeros to a multiple of 4 bytes.
   */
  uploadBytes(bytes: Uint8Array, label = 'bytes'): Tensor {
    const words = Math.max(1, Math.ceil(bytes.byteLength / 4));
    const padded = new Uint8Array(words * 4);
    padded.set(bytes);
    // A Float32Array view carries the words bit for bit (same-type typed-array copies are bytewise).
    return this.upload(new Float32Array(padded.buffer), [words], label);
  }

  /** Copy `src` into a new tensor (or into `dst`). */
  copy(src: Tensor, dst?: Tensor): Tensor {
    const out = dst ?? this.empty(src.shape, `${src.label}:copy`);
    if (out.size !== src.size) throw new InvalidInputError(`copy: '${src.label}' and '${out.label}' differ in size`);
    this.#endPass();
    this.#enc().copyBufferToBuffer(src.buffer, 0, out.buffer, 0, src.size * 4);
    return out;
  }

  /** A new tensor of `shape` holding src's elements from `offset` on (a copy, recorded in order). */
  slice(src: Tensor, offset: number, shape: Shape, label = `${src.label}:slice`): Tensor {
    const out = this.empty(shape, label);
    if (offset < 0 || offset + out.size > src.size) {
      out.destroy();
      throw new InvalidInputError(
        `slice of '${src.label}': elements [${offset}, ${offset + sizeOf(shape)}) out of range`,
      );
    }
    this.#endPass();
    this.#enc().copyBufferToBuffer(src.buffer, offset * 4, out.buffer, 0, out.size * 4);
    return out;
  }

  track(t: Tensor): void {
    this.#live.add(t);
    this.#scopes.at(-1)?.add(t);
  }

  /** Take tensors out of every open scope: the caller (e.g. a Model holding weights) owns them now. */
  keep(...ts: Tensor[]): void {
    for (const set of this.#scopes) for (const t of ts) set.delete(t);
  }

  /** Number of live (not destroyed) tensors; for leak checks. */
  get liveTensors(): number {
    for (const t of this.#live) if (t.destroyed) this.#live.delete(t);
    return this.#live.size;
  }

  /**
   * Run `fn`; destroy every tensor created inside it that is not part of its result (a Tensor,
   * or Tensors inside arrays / plain objects / Maps of the result). Also on throw.
   */
  async scope<R>(fn: () => Promise<R> | R): Promise<R> {
    const made = new Set<Tensor>();
    this.#scopes.push(made);
    let result: R;
    try {
      result = await fn();
    } catch (e) {
      this.#scopes.pop();
      for (const t of made) t.destroy();
      throw e;
    }
    this.#scopes.pop();
    const keep = new Set<Tensor>();
    collectTensors(result, keep, 0);
    for (const t of made) {
      if (keep.has(t)) this.#scopes.at(-1)?.add(t);
      else t.destroy();
    }
    return result;
  }

  // ---------------------------------------------------------------- recording

  kernel(spec: KernelSpec): Promise<Kernel> {
    this.#checkAlive();
    return this.kernels.get(spec);
  }

  /**
   * Record one dispatch. Binding 0 is the uniform struct when `uniforms` is given; the bindings
   * follow in order (1, 2, …), else they start at 0.
   */
  dispatch(kernel: Kernel, bindings: readonly Binding[], uniforms: Uniforms | null, groups: readonly number[]): void {
    this.#checkAlive();
    const entries: GPUBindGroupEntry[] = [];
    let b = 0;
    if (uniforms) {
      const { buffer, offset } = this.#uniform(uniforms);
      entries.push({ binding: b++, resource: { buffer, offset, size: uniforms.byteLength } });
    }
    for (const x of bindings) entries.push({ binding: b++, resource: { buffer: x instanceof Tensor ? x.buffer : x } });
    const bindGroup = this.device.createBindGroup({
      label: kernel.label,
      layout: kernel.pipeline.getBindGroupLayout(0),
      entries,
    });
    const pass = this.#computePass();
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groups[0], groups[1] ?? 1, groups[2] ?? 1);
    this.stats.dispatches++;
  }

  /**
   * Start a named timing stage: later dispatches go into a new compute pass whose duration is
   * measured with timestamp queries when the device has them.
   */
  stage(name: string): void {
    this.#endPass();
    this.#stageName = name;
  }
  #stageName = 'default';

  /**
   * Record commands that are not dispatches (e.g. copyBufferToTexture into a canvas) into the
   * current encoder, ordered after everything recorded so far. `fn` must only record.
   */
  encode(fn: (encoder: GPUCommandEncoder) => void): void {
    this.#checkAlive();
    this.#endPass();
    fn(this.#enc());
  }

  /** Run `fn` when the engine is destroyed: frees per-engine caches kept outside it (colormap LUTs). */
  onDestroy(fn: () => void): void {
    this.#onDestroy.push(fn);
  }
  #onDestroy: (() => void)[] = [];

  /** Submit everything recorded. Rejects with GPUExecutionError on a validation/OOM error. */
  async flush(): Promise<void> {
    if (!this.#encoder) return;
    this.#endPass();
    const encoder = this.#encoder;
    this.#encoder = null;
    this.#timing?.resolve(encoder);
    for (const c of this.#uniformChunks) this.device.queue.writeBuffer(c.buffer, 0, c.data, 0, c.used);
    const chunks = this.#uniformChunks;
    this.#uniformChunks = [];
    const after = this.#afterSubmit;
    this.#afterSubmit = [];
    this.device.queue.submit([encoder.finish()]);
    this.stats.submits++;
    for (const c of chunks) c.buffer.destroy();
    for (const f of after) f();
    const oom = await this.device.popErrorScope();
    const val = await this.device.popErrorScope();
    this.#timing?.collect();
    const err = val ?? oom;
    if (err) throw new GPUExecutionError(`GPU error while running recorded work: ${err.message}`);
  }

  /** Submit and wait until the GPU has finished all work. */
  async sync(): Promise<void> {
    await this.flush();
    await this.device.queue.onSubmittedWorkDone();
  }

  /** Durations (ms) of the stages of the last flushed run, from GPU timestamps; null without them. */
  async stageTimings(): Promise<Record<string, number> | null> {
    return this.#timing ? this.#timing.last() : null;
  }

  async read(t: Tensor): Promise<Float32Array> {
    const bytes = t.size * 4;
    const buffer = t.buffer;
    this.#endPass();
    const staging = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
      label: `${t.label}:readback`,
    });
    try {
      this.#enc().copyBufferToBuffer(buffer, 0, staging, 0, bytes);
      await this.flush();
      await staging.mapAsync(GPUMapMode.READ);
      this.stats.readbacks++;
      return new Float32Array(staging.getMappedRange().slice(0));
    } finally {
      staging.destroy();
    }
  }

  /** Destroy pooled buffers not in use. */
  trim(): void {
    this.pool.trim();
  }

  /** Free everything this engine made; destroys the device only if the engine acquired it. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const f of this.#onDestroy.splice(0)) f();
    for (const t of this.#live) t.destroy();
    this.#live.clear();
    this.pool.trim();
    for (const c of this.#uniformChunks) c.buffer.destroy();
    this.#timing?.destroy();
    if (this.#ownsDevice) this.device.destroy();
  }

  // ---------------------------------------------------------------- internals

  #checkAlive(): void {
    if (this.#destroyed) throw new InvalidInputError('engine was destroyed');
    if (this.lost) throw new GPUExecutionError(`GPU device was lost: ${this.lost.message}`);
  }

  #enc(): GPUCommandEncoder {
    if (!this.#encoder) {
      this.device.pushErrorScope('validation');
      this.device.pushErrorScope('out-of-memory');
      this.#encoder = this.device.createCommandEncoder({ label: 'webgpu-cam' });
    }
    return this.#encoder;
  }

  #computePass(): GPUComputePassEncoder {
    if (!this.#pass) {
      const enc = this.#enc();
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

  #uniform(u: Uniforms): { buffer: GPUBuffer; offset: number } {
    const align = this.limits.minUniformBufferOffsetAlignment;
    let chunk = this.#uniformChunks.at(-1);
    const need = u.byteLength;
    let offset = chunk ? Math.ceil(chunk.used / align) * align : 0;
    if (!chunk || offset + need > UNIFORM_CHUNK) {
      this.#enc();
      chunk = {
        buffer: this.device.createBuffer({
          size: UNIFORM_CHUNK,
          usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
          label: 'uniforms',
        }),
        data: new ArrayBuffer(UNIFORM_CHUNK),
        used: 0,
      };
      this.#uniformChunks.push(chunk);
      offset = 0;
    }
    u.writeTo(chunk.data, offset);
    chunk.used = offset + need;
    return { buffer: chunk.buffer, offset };
  }
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

/**
 * GPU timestamps, one begin/end pair per compute pass (stage). Passes of the same stage name in
 * one run add up. Results of a run are read asynchronously after its submission.
 */
class Timing {
  static readonly MAX_PASSES = 64;
  readonly #querySet: GPUQuerySet;
  readonly #resolve: GPUBuffer;
  #names: string[] = [];
  #pending: Promise<Record<string, number>> | null = null;

  constructor(private readonly device: GPUDevice) {
    this.#querySet = device.createQuerySet({
      type: 'timestamp',
      count: Timing.MAX_PASSES * 2,
      label: 'stage-timestamps',
    });
    this.#resolve = device.createBuffer({
      size: Timing.MAX_PASSES * 2 * 8,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      label: 'stage-timestamps:resolve',
    });
  }

  next(name: string): GPUComputePassTimestampWrites | undefined {
    const i = this.#names.length;
    if (i >= Timing.MAX_PASSES) return undefined;
    this.#names.push(name);
    return { querySet: this.#querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  #staging: GPUBuffer | null = null;

  resolve(encoder: GPUCommandEncoder): void {
    const n = this.#names.length;
    if (n === 0) return;
    encoder.resolveQuerySet(this.#querySet, 0, 2 * n, this.#resolve, 0);
    this.#staging = this.device.createBuffer({
      size: 2 * n * 8,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
      label: 'stage-timestamps:readback',
    });
    encoder.copyBufferToBuffer(this.#resolve, 0, this.#staging, 0, 2 * n * 8);
  }

  collect(): void {
    const staging = this.#staging;
    const names = this.#names;
    this.#staging = null;
    this.#names = [];
    if (!staging) return;
    this.#pending = (async () => {
      try {
        await staging.mapAsync(GPUMapMode.READ);
        const ts = new BigUint64Array(staging.getMappedRange());
        const out: Record<string, number> = {};
        names.forEach((name, i) => {
          const dt = Number(ts[2 * i + 1] - ts[2 * i]) / 1e6;
          out[name] = (out[name] ?? 0) + (dt > 0 ? dt : 0);
        });
        return out;
      } finally {
        staging.destroy();
      }
    })();
  }

  last(): Promise<Record<string, number>> | null {
    return this.#pending;
  }

  destroy(): void {
    this.#querySet.destroy();
    this.#resolve.destroy();
  }
}
