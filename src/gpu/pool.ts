/**
 * Buffer pool: storage buffers recycled by size class so a forward/backward pass does not
 * allocate and free dozens of GPUBuffers each run. Size classes are powers of two up to 4 KiB,
 * then quarter steps between powers of two (2^k · {1, 1.25, 1.5, 1.75}) up to 4 MiB, and
 * multiples of 1 MiB above that: waste stays under 25% (under 2× below 4 KiB, under 1 MiB above
 * 4 MiB), which matters for peak memory (docs/BENCHMARKS.md).
 * Reuse inside one command buffer is safe: the queue runs dispatches in the order recorded.
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

export class BufferPool {
  readonly #free = new Map<number, GPUBuffer[]>();
  /** Bytes currently handed out (live tensors). */
  liveBytes = 0;
  /** Bytes held by the pool (live + free). */
  heldBytes = 0;
  /** Highest liveBytes seen since the last resetPeak(). */
  peakLiveBytes = 0;

  constructor(private readonly device: GPUDevice) {}

  acquire(bytes: number, label: string): GPUBuffer {
    const cls = sizeClass(bytes);
    const list = this.#free.get(cls);
    let buf = list?.pop();
    if (!buf) {
      buf = this.device.createBuffer({ size: cls, usage: STORAGE_USAGE, label });
      this.heldBytes += cls;
    }
    this.liveBytes += cls;
    this.peakLiveBytes = Math.max(this.peakLiveBytes, this.liveBytes);
    return buf;
  }

  release(buf: GPUBuffer): void {
    const cls = buf.size;
    this.liveBytes -= cls;
    let list = this.#free.get(cls);
    if (!list) this.#free.set(cls, (list = []));
    list.push(buf);
  }

  resetPeak(): void {
    this.peakLiveBytes = this.liveBytes;
  }

  /** Destroy every free buffer (live ones stay with their tensors). */
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
