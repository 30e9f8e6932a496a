/**
 * Buffer pool: storage buffers recycled by size class so a forward/backward pass does not
 * allocate and free dozens of GPUBuffers each run. Size classes are powers of two up to 4 KiB,
 * then quarter steps between powers of two (2^k · {1, 1.25, 1.5, 1.75}) up to 4 MiB, and
 * multiples of 1 MiB above that: waste stays under 25% (under 2× below 4 KiB, under 1 MiB above
 * 4 MiB), which matters for peak memory (docs/BENCHMARKS.md).
 *
 * Reuse and recorders. Each recorder is a PoolUser; the pool knows which pooled buffers each
 * user's recorded-but-unsubmitted commands bind or copy (use()). When a buffer is released (its
 * last tensor view destroyed) it goes to
 *   - the shared free list, if no user's unsubmitted work uses it;
 *   - that user's private free list, if exactly one user's does: only that user may take it
 *     again before it submits (safe: one command buffer runs in the order recorded, and the
 *     forward pass relies on this to keep peak memory low);
 *   - a waiting list, if several users' do: it is free once all of them have submitted.
 * settle(user) (after the user's submission, or when it drops its work) returns its private
 * list and its share of waiting buffers to the shared list. So a buffer is never handed to a
 * user whose submission could run before work of another user that still reads it.
 */

const MiB = 1 << 20;

export function sizeClass(bytes: number): number {
  const b = Math.max(256, bytes);
  if (b <= 4096) return 2 ** Math.ceil(Math.log2(b));
  const step = Math.min(2 ** Math.floor(Math.log2(b)) / 4, MiB);
  return Math.ceil(b / step) * step;
}

export const STORAGE_USAGE = GPUBufferUsageFlags();

function GPUBufferUsageFlags(): number {
  // GPUBufferUsage is a global only after the Node binding is loaded; use the spec values.
  const STORAGE = 0x80;
  const COPY_SRC = 0x04;
  const COPY_DST = 0x08;
  return STORAGE | COPY_SRC | COPY_DST;
}

/** One client of the pool (a recorder). `guard` wraps buffer creation (GPU error capture). */
export interface PoolUser {
  readonly label: string;
  guard<T>(fn: () => T): T;
}

/** A user's share of the pool while it has unsubmitted work. */
interface OpenUse {
  /** Pooled buffers its unsubmitted commands bind or copy. */
  readonly uses: Set<GPUBuffer>;
  /** Released buffers only its unsubmitted work uses, by size class: reusable by it alone. */
  readonly free: Map<number, GPUBuffer[]>;
  /** Released buffers that also wait for this user's submission. */
  readonly waits: GPUBuffer[];
}

export class BufferPool {
  readonly #free = new Map<number, GPUBuffer[]>();
  readonly #open = new Map<PoolUser, OpenUse>();
  /** Released buffers used by several users' unsubmitted work → how many of them have not settled. */
  readonly #waiting = new Map<GPUBuffer, number>();
  readonly #created = new WeakSet<GPUBuffer>();
  /** Bytes currently handed out (live tensors). */
  liveBytes = 0;
  /** Bytes held by the pool (live + free, including buffers held back for unsubmitted work). */
  heldBytes = 0;
  /** Highest liveBytes seen since the last resetPeak(). */
  peakLiveBytes = 0;

  constructor(private readonly device: GPUDevice) {}

  /** A buffer of at least `bytes` for `user`: from its private list, else the shared one, else new. */
  acquire(bytes: number, label: string, user: PoolUser): GPUBuffer {
    const cls = sizeClass(bytes);
    let buf = this.#open.get(user)?.free.get(cls)?.pop() ?? this.#free.get(cls)?.pop();
    if (!buf) {
      buf = user.guard(() => this.device.createBuffer({ size: cls, usage: STORAGE_USAGE, label }));
      this.#created.add(buf);
      this.heldBytes += cls;
    }
    this.liveBytes += cls;
    this.peakLiveBytes = Math.max(this.peakLiveBytes, this.liveBytes);
    return buf;
  }

  /** Note that `user`'s unsubmitted commands bind or copy `buf` (ignored for buffers not from this pool). */
  use(user: PoolUser, buf: GPUBuffer): void {
    if (!this.#created.has(buf)) return;
    let o = this.#open.get(user);
    if (!o) this.#open.set(user, (o = { uses: new Set(), free: new Map(), waits: [] }));
    o.uses.add(buf);
  }

  /** The pooled buffers `user`'s unsubmitted commands use (empty when it has none). */
  usesOf(user: PoolUser): ReadonlySet<GPUBuffer> {
    return this.#open.get(user)?.uses ?? EMPTY;
  }

  /** Whether any user's unsubmitted work uses `buf` (then a queue write to it would land too early). */
  referenced(buf: GPUBuffer): boolean {
    for (const o of this.#open.values()) if (o.uses.has(buf)) return true;
    return false;
  }

  release(buf: GPUBuffer): void {
    const cls = buf.size;
    this.liveBytes -= cls;
    const users: OpenUse[] = [];
    for (const o of this.#open.values()) if (o.uses.has(buf)) users.push(o);
    if (users.length === 0) {
      push(this.#free, cls, buf);
    } else if (users.length === 1) {
      push(users[0].free, cls, buf);
    } else {
      this.#waiting.set(buf, users.length);
      for (const o of users) o.waits.push(buf);
    }
  }

  /** `user`'s unsubmitted work was submitted (or dropped): what it held back is free for everyone. */
  settle(user: PoolUser): void {
    const o = this.#open.get(user);
    if (!o) return;
    this.#open.delete(user);
    for (const [cls, list] of o.free) for (const b of list) push(this.#free, cls, b);
    for (const b of o.waits) {
      const left = this.#waiting.get(b)! - 1;
      if (left > 0) {
        this.#waiting.set(b, left);
      } else {
        this.#waiting.delete(b);
        push(this.#free, b.size, b);
      }
    }
  }

  resetPeak(): void {
    this.peakLiveBytes = this.liveBytes;
  }

  /** Destroy every free buffer of the shared list (live ones stay with their tensors, held-back ones with their users). */
  trim(): void {
    for (const list of this.#free.values()) {
      for (const b of list) {
        this.heldBytes -= b.size;
        b.destroy();
      }
    }
    this.#free.clear();
  }
}

const EMPTY: ReadonlySet<GPUBuffer> = new Set();

function push(lists: Map<number, GPUBuffer[]>, cls: number, buf: GPUBuffer): void {
  let list = lists.get(cls);
  if (!list) lists.set(cls, (list = []));
  list.push(buf);
}
