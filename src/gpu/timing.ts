/**
 * GPU stage timings from timestamp queries: one begin/end pair per compute pass. A Timing is
 * taken from the engine's TimingPool by a recorder for one submission, and goes back to the
 * pool once that submission's timestamps have been read, so concurrent recorders never share
 * a query set. Reading never rejects: a failed readback (e.g. the device was destroyed) yields
 * null, and the Timing is destroyed instead of reused.
 */

/** Durations in ms by stage name; passes of one stage in one run add up. */
export type StageTimings = Record<string, number>;

const MAX_PASSES = 64;
const BYTES = MAX_PASSES * 2 * 8;

export class Timing {
  readonly #querySet: GPUQuerySet;
  readonly #resolve: GPUBuffer;
  readonly #readback: GPUBuffer;
  #names: string[] = [];

  constructor(
    device: GPUDevice,
    private readonly pool: TimingPool,
  ) {
    this.#querySet = device.createQuerySet({ type: 'timestamp', count: MAX_PASSES * 2, label: 'stage-timestamps' });
    this.#resolve = device.createBuffer({
      size: BYTES,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      label: 'stage-timestamps:resolve',
    });
    this.#readback = device.createBuffer({
      size: BYTES,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
      label: 'stage-timestamps:readback',
    });
  }

  /** Timestamp writes for the next compute pass, named `stage`; none past MAX_PASSES passes. */
  next(stage: string): GPUComputePassTimestampWrites | undefined {
    const i = this.#names.length;
    if (i >= MAX_PASSES) return undefined;
    this.#names.push(stage);
    return { querySet: this.#querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Record the resolve and the copy to the readback buffer at the end of the run's encoder. */
  resolve(encoder: GPUCommandEncoder): void {
    const n = this.#names.length;
    if (n === 0) return;
    encoder.resolveQuerySet(this.#querySet, 0, 2 * n, this.#resolve, 0);
    encoder.copyBufferToBuffer(this.#resolve, 0, this.#readback, 0, 2 * n * 8);
  }

  /**
   * After the submission that resolve() was recorded into: the stage durations, then back to
   * the pool. Never rejects (null when the readback fails). Negative differences (clock
   * resets) count as 0.
   */
  async collect(): Promise<StageTimings | null> {
    const names = this.#names;
    this.#names = [];
    if (names.length === 0) {
      this.pool.release(this);
      return {};
    }
    const bytes = names.length * 2 * 8;
    let ts: BigUint64Array;
    try {
      await this.#readback.mapAsync(GPUMapMode.READ, 0, bytes);
      ts = new BigUint64Array(this.#readback.getMappedRange(0, bytes).slice(0));
      this.#readback.unmap();
    } catch {
      this.pool.drop(this);
      return null;
    }
    this.pool.release(this);
    const out: StageTimings = {};
    names.forEach((name, i) => {
      const dt = Number(ts[2 * i + 1] - ts[2 * i]) / 1e6;
      out[name] = (out[name] ?? 0) + (dt > 0 ? dt : 0);
    });
    return out;
  }

  /** Forget the passes recorded so far (their encoder was dropped, not submitted). */
  reset(): void {
    this.#names = [];
  }

  destroy(): void {
    this.#querySet.destroy();
    this.#resolve.destroy();
    this.#readback.destroy();
  }
}

/** The engine's Timings: free ones for reuse, and every one made, for destroy(). */
export class TimingPool {
  readonly #free: Timing[] = [];
  readonly #all = new Set<Timing>();
  #destroyed = false;

  constructor(private readonly device: GPUDevice) {}

  /** A free Timing, or a new one made inside `guard` (GPU error capture). */
  acquire(guard: <T>(fn: () => T) => T): Timing {
    let t = this.#free.pop();
    if (!t) {
      t = guard(() => new Timing(this.device, this));
      this.#all.add(t);
    }
    return t;
  }

  release(t: Timing): void {
    if (this.#destroyed) return;
    t.reset();
    this.#free.push(t);
  }

  /** A Timing whose readback failed: destroyed, not reused. */
  drop(t: Timing): void {
    this.#all.delete(t);
    t.destroy();
  }

  destroy(): void {
    this.#destroyed = true;
    for (const t of this.#all) t.destroy();
    this.#all.clear();
    this.#free.length = 0;
  }
}
