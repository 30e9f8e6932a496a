/**
 * The sampled methods (SmoothGrad, Guided SmoothGrad, Integrated Gradients, Smooth Grad-CAM++)
 * end to end on one network, top 5, each on its own with its default copies S per image: one
 * batched forward and one batched backward over the S copies for all 5 targets. Reported: the
 * time, the time per copy (÷ S) and the peak GPU memory.
 */
import type { Engine } from '../src/gpu/engine';
import { explain } from '../src/attribution/explain';
import { isPerturbation, isMultiPass, methodOf, type Method } from '../src/methods/registry';
import { sampleCount } from '../src/methods/sampling';
import type { Model } from '../src/model/model';
import type { Tensor } from '../src/gpu/tensor';
import { measure, type Measured } from './measure';

/** The copies per image of a sampled method (null for the others). */
export function copiesOf(m: Method): number | null {
  const d = methodOf(m);
  if (d.family === 'input-gradient' && d.samples) return sampleCount(d.samples);
  if (d.family === 'channel' && d.noise) return d.noise.n;
  return null;
}

/** The methods this file times: the multi-pass ones that are not perturbation methods. */
export function isSampled(m: Method): boolean {
  return isMultiPass(m) && !isPerturbation(m);
}

export interface SampledResult {
  method: Method;
  /** Perturbed copies per image (SmoothGrad's samples, Integrated Gradients' steps). */
  copies: number;
  topK: number;
  ours: Measured;
  /** ours (median) ÷ copies. */
  msPerCopy: number;
  /** Peak bytes the engine's pool held during one explain (weights and input included). */
  peakBytes: number;
}

export async function sampledRuns(
  e: Engine,
  model: Model,
  x: Tensor,
  methods: readonly Method[],
  o: { warmup: number; reps: number; topK: number; tick: () => void; log: (s: string) => void },
): Promise<SampledResult[]> {
  const out: SampledResult[] = [];
  for (const method of methods) {
    const d = methodOf(method);
    const copies = copiesOf(method);
    if (copies === null) throw new Error(`${method} is not a sampled method`);
    o.log(`${model.graph.spec.name ?? 'model'}: ${d.label}, top ${o.topK} (${copies} copies)`);
    let peak = 0;
    const ours = await measure(
      e,
      async () => {
        e.pool.resetPeak();
        const r = await explain(model, x, { methods: [method], targets: { topK: o.topK } });
        await r.maps[method]!.input.read();
        peak = e.pool.peakLiveBytes;
        return r;
      },
      { warmup: o.warmup, reps: o.reps, tick: o.tick },
    );
    out.push({ method, copies, topK: o.topK, ours, msPerCopy: ours.wallMs / copies, peakBytes: peak });
    o.log(
      `${model.graph.spec.name ?? 'model'}: ${d.label}: ${ours.wallMs.toFixed(1)} ms (${(ours.wallMs / copies).toFixed(2)} ms per copy), peak ${(peak / 2 ** 20).toFixed(1)} MiB`,
    );
  }
  return out;
}
