/**
 * Engine: owns one GPUDevice's shared resources — buffer pool, kernel cache, the set of live
 * tensors, the stage-timing query sets — and nothing is global. Work is recorded by Recorders
 * (recorder.ts): each holds one command encoder (one compute pass per timing stage), its own
 * scope stack and stage name, and submits by flush(), so a whole forward/backward/attribution
 * run is one submission with no readback in between. Tensors made inside recorder.scope() are
 * destroyed when the scope ends unless they are returned from it.
 *
 * The Engine is itself a Recorder (its default one): `engine.upload(…)`, `unaryForward(engine, 'relu', x)`,
 * `engine.scope(…)`, `engine.read(t)` record into it. engine.recorder() makes another.
 * Concurrency, as in recorder.ts: any number of recorders may record at once (each library call
 * that records uses its own); two async tasks must never record into the same recorder, the
 * default one included. Each recorder's work runs in its own order; across recorders in the
 * order of their flushes, a recorder's flush first submitting any other recorder's pending work
 * that made a tensor it uses. A buffer freed while a recorder's unsubmitted work still uses it
 * is reused by that recorder alone until it submits.
 *
 * Device loss: `lost` resolves (never rejects) with the reason when the device is lost; from then
 * on every call on the engine and its recorders throws or rejects DeviceLostError. The engine
 * does not recover; a new Engine.create() does.
 */
import { acquireDevice, engineAdapter, type AdapterDescription, type AdapterKind, type DeviceRequest } from './device';
import { DeviceLostError, InvalidInputError } from '../core/errors';
import { KernelCache } from './kernel';
import { BufferPool } from './pool';
import { Recorder, type EngineCore } from './recorder';
import { TimingPool } from './timing';

export { Recorder, type Binding } from './recorder';
export type { StageTimings } from './timing';

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

/** Why an engine's device was lost: the device's reason ('destroyed' or 'unknown') and message. */
export interface DeviceLoss {
  reason: GPUDeviceLostReason;
  message: string;
  /** The error every call on the engine rejects with from now on. */
  error: DeviceLostError;
}

export interface EngineStats {
  dispatches: number;
  submits: number;
  uploads: number;
  readbacks: number;
}

/** Workgroup counts for `total` invocations in 1-D groups of `wg`, split over y above the 65535 limit. */
export function grid1d(total: number, wg: number, maxPerDim = 65535): [number, number, number] {
  const groups = Math.max(1, Math.ceil(total / wg));
  if (groups <= maxPerDim) return [groups, 1, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y, 1];
}

export class Engine extends Recorder {
  readonly device: GPUDevice;
  readonly pool: BufferPool;
  readonly kernels: KernelCache;
  /** Counts over all recorders of this engine. */
  readonly stats: EngineStats;
  /**
   * Resolves when the device is lost (never rejects): the reason, and the DeviceLostError that
   * every call on this engine rejects with from then on. The engine cannot recover; make a new
   * one with Engine.create() and load the models again. Destroying an engine that acquired its
   * own device resolves it too, with reason 'destroyed' (see `destroyed`).
   */
  readonly lost: Promise<DeviceLoss>;
  readonly #core: EngineCore;
  readonly #ownsDevice: boolean;
  readonly #onDestroy: (() => void)[] = [];

  private constructor(device: GPUDevice, adapter: AdapterDescription, ownsDevice: boolean) {
    let core: EngineCore | null = null;
    const whenLost = device.lost.then((info) => {
      core!.lost = info;
      return info;
    });
    core = {
      engine: null as unknown as Engine, // set below, once `this` exists
      device,
      adapter,
      pool: new BufferPool(device),
      kernels: new KernelCache(device),
      stats: { dispatches: 0, submits: 0, uploads: 0, readbacks: 0 },
      live: new Set(),
      open: new Set(),
      timings: device.features.has('timestamp-query') ? new TimingPool(device) : null,
      lost: null,
      whenLost,
      destroyed: false,
    };
    super(core, 'engine');
    core.engine = this;
    this.#core = core;
    this.device = device;
    this.pool = core.pool;
    this.kernels = core.kernels;
    this.stats = core.stats;
    this.#ownsDevice = ownsDevice;
    this.lost = whenLost.then((info) => ({
      reason: info.reason,
      message: info.message,
      error: new DeviceLostError(info.reason, info.message),
    }));
  }

  static async create(opts: EngineOptions = {}): Promise<Engine> {
    if (opts.device) return new Engine(opts.device, engineAdapter(opts.adapter, opts.adapterKind), false);
    const { device, adapter } = await acquireDevice(opts);
    return new Engine(device, engineAdapter(adapter, opts.adapterKind), true);
  }

  /** A new recording context on this engine (see recorder.ts); `label` names it in GPU errors. */
  recorder(label = 'recorder'): Recorder {
    const core = this.#core;
    if (core.destroyed) throw new InvalidInputError('engine was destroyed');
    if (core.lost) throw new DeviceLostError(core.lost.reason, core.lost.message);
    return new Recorder(core, label);
  }

  /** True once the device is known to be lost (see `lost`). */
  get isLost(): boolean {
    return this.#core.lost !== null;
  }

  /** True once destroy() was called. */
  get destroyed(): boolean {
    return this.#core.destroyed;
  }

  get hasTimestamps(): boolean {
    return this.#core.timings !== null;
  }

  /** Number of live (not destroyed) tensors, made by any recorder of this engine; for leak checks. */
  get liveTensors(): number {
    return this.#core.live.size;
  }

  /** Run `fn` when the engine is destroyed: frees per-engine caches kept outside it (colormap LUTs). */
  onDestroy(fn: () => void): void {
    this.#onDestroy.push(fn);
  }

  /** Destroy pooled buffers not in use. */
  trim(): void {
    this.pool.trim();
  }

  /**
   * Free everything this engine made: every recorder's unsubmitted work is dropped, every live
   * tensor destroyed. Destroys the device only if the engine acquired it.
   */
  destroy(): void {
    const core = this.#core;
    if (core.destroyed) return;
    core.destroyed = true;
    for (const f of this.#onDestroy.splice(0)) f();
    for (const r of [...core.open]) r.discard();
    for (const t of [...core.live]) t.destroy();
    core.live.clear();
    this.pool.trim();
    core.timings?.destroy();
    if (this.#ownsDevice) this.device.destroy();
  }
}
