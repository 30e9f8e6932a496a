/**
 * Timing: warm-up runs first (pipeline compilation, pool growth), then `reps` timed runs; each
 * timed run is wall time from the start of recording until the queue reports the work done
 * (submit → onSubmittedWorkDone, plus the recording itself), and, where the device has
 * timestamp queries, the GPU time of the run's compute passes (the stage timings of the recorder
 * that ran it: the engine's own, or an explanation's). Medians.
 */
import type { Engine } from '../src/gpu/engine';

/** A run's result that carries its own timings (an Explanation): measured, then destroyed. */
export interface TimedRun {
  stageTimings(): Promise<Record<string, number> | null>;
  destroy(): void;
}

export interface Measured {
  /** Median wall time of the timed runs, ms. */
  wallMs: number;
  /** Median GPU time (sum of the run's timestamped passes), ms; null without timestamps. */
  gpuMs: number | null;
  /** Fastest timed run, ms (wall). */
  minMs: number;
  /** Fastest timed run's GPU time, ms; null without timestamps. */
  minGpuMs: number | null;
  reps: number;
  /** Every timed run's wall time, ms. */
  samples: number[];
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface MeasureOptions {
  warmup: number;
  reps: number;
  /** Called after every run (warm-up or timed), for progress. */
  tick?: () => void;
}

/**
 * Time `run`, which records work on `e` (or on its own recorder) and submits it (flush, or a read
 * that flushes). `run` may return a cleanup that is called after the timing of that run, or a
 * TimedRun whose stage timings are the run's GPU time (else the engine's are).
 */
export async function measure(
  e: Engine | null,
  run: () => Promise<(() => void) | TimedRun | void>,
  o: MeasureOptions,
): Promise<Measured> {
  const wall: number[] = [];
  const gpu: number[] = [];
  for (let i = 0; i < o.warmup + o.reps; i++) {
    const t0 = performance.now();
    const done = await run();
    if (e) await e.device.queue.onSubmittedWorkDone();
    const dt = performance.now() - t0;
    const timed = typeof done === 'object' ? done : null;
    const stages = timed ? await timed.stageTimings() : e ? await e.stageTimings() : null;
    if (typeof done === 'function') done();
    timed?.destroy();
    if (i >= o.warmup) {
      wall.push(dt);
      if (stages) gpu.push(Object.values(stages).reduce((a, b) => a + b, 0));
    }
    o.tick?.();
  }
  return {
    wallMs: median(wall),
    gpuMs: gpu.length ? median(gpu) : null,
    minMs: Math.min(...wall),
    minGpuMs: gpu.length ? Math.min(...gpu) : null,
    reps: o.reps,
    samples: wall,
  };
}
