/**
 * The metrics' benchmark: a deletion curve of `steps` steps (steps + 1 images, s = 0 … steps)
 * through evaluate() as one batched forward, against the same curve with batch 1 (steps + 1
 * forward passes of one image each, each with its own readback of the probabilities). Wall
 * time, medians (bench/measure.ts).
 */
import type { Engine } from '../src/gpu/engine';
import { evaluate } from '../src/metrics/evaluate';
import { Model } from '../src/model/model';
import type { GraphSpec } from '../src/model/spec';
import { inputFor } from './nets';
import { measure, type Measured } from './measure';

export interface MetricsRow {
  model: string;
  input: number[];
  steps: number;
  images: number;
  batched: Measured;
  batchedForwards: number;
  single: Measured;
  singleForwards: number;
  /** single ÷ batched wall time. */
  speedup: number;
}

export async function metricsBench(
  e: Engine,
  spec: GraphSpec,
  cfg: { warmup: number; reps: number; steps: number },
  tick: () => void,
): Promise<MetricsRow> {
  const model = await Model.load(e, spec);
  const [C, H, W] = spec.input.shape;
  const x = e.upload(inputFor(spec), [1, C, H, W], 'image');
  // A fixed map with few ties: the order (and so the work) does not depend on the values.
  const map = e.upload(
    Float32Array.from({ length: H * W }, (_, p) => ((p * 7919) % 1009) / 1009),
    [1, H, W],
    'map',
  );
  try {
    const run = (batch: number) => {
      let forwards = 0;
      const m = measure(
        e,
        async () => {
          const r = await evaluate(model, x, { metric: 'deletion', map, targets: [0], steps: cfg.steps, batch });
          forwards = r.forwards;
        },
        { warmup: cfg.warmup, reps: cfg.reps, tick },
      );
      return m.then((measured) => ({ measured, forwards }));
    };
    const b = await run(cfg.steps + 1);
    const s = await run(1);
    return {
      model: spec.name ?? 'model',
      input: [1, C, H, W],
      steps: cfg.steps,
      images: cfg.steps + 1,
      batched: b.measured,
      batchedForwards: b.forwards,
      single: s.measured,
      singleForwards: s.forwards,
      speedup: s.measured.wallMs / b.measured.wallMs,
    };
  } finally {
    x.destroy();
    map.destroy();
    model.destroy();
  }
}
