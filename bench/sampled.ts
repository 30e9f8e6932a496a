/**
 * The sampled input-gradient methods (SmoothGrad, Guided SmoothGrad, Integrated Gradients) end
 * to end on one network, top 5, each on its own with its default copies S per image: one
 * batched forward and one batched backward over the S copies for all 5 targets. Reported: the
 * time, the time per copy (÷ S) and the peak GPU memory.
 */
import type { Engine } from '../src/gpu/engine';
import { explain } from '../src/attribution/explain';
import { inputGradientMethod, type InputGradientMethodName } from '../src/methods/registry';
import { sampleCount } from '../src/methods/sampling';
import type { Model } from '../src/model/model';
import type { Tensor } from '../src/gpu/tensor';
import { measure, type Measured } from './measure';

export interface SampledResult {
  method: InputGradientMethodName;
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
  methods: readonly InputGradientMethodName[],
  o: { warmup: number; reps: number; topK: number; tick: () => void; log: (s: string) => void },
): Promise<SampledResult[]> {
  const out: SampledResult[] = [];
  for (const method of methods) {
    const d = inputGradientMethod(method);
    const copies = sampleCount(d.samples!);
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
  }
  return out;
}
