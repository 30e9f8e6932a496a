/**
 * A whole explanation is recorded into one command buffer and submitted once, with no readback
 * inside (docs/ARCHITECTURE.md, docs/BENCHMARKS.md): every method, T targets, networks with
 * residual and branching paths. Counted with Engine.stats. The perturbation methods (Score-CAM,
 * Ablation-CAM) are the exception: they need their extra forward passes' batches submitted.
 */
import { describe, expect, it } from 'vitest';
import { applicableMethods, explain } from '../../src/attribution/explain';
import { isPerturbation } from '../../src/methods/registry';
import { Model } from '../../src/model/model';
import { NETS } from '../cases/nets';
import { getEngine } from '../util/gpu';
import { randn } from '../util/random';

describe('explain submits once and reads nothing back', () => {
  it.each(Object.entries(NETS))('%s: every method it allows, top 3', async (_name, build) => {
    const e = await getEngine();
    const spec = build();
    const model = await Model.load(e, spec);
    try {
      const g = model.graph;
      const layer = g.defaultLayer();
      // The perturbation methods submit once per batch (test/attribution/perturbation.test.ts).
      const methods = applicableMethods(g, layer).filter((m) => !isPerturbation(m));
      const [c, h, w] = spec.input.shape;
      const x = e.upload(randn(c * h * w, 5), [1, c, h, w]);
      await e.flush(); // the uploads and weight packing above are not part of the explanation
      const before = { ...e.stats };
      const r = await explain(model, x, { methods, targets: { topK: 3 } });
      expect(e.stats.submits - before.submits).toBe(1);
      expect(e.stats.readbacks - before.readbacks).toBe(0);
      expect(e.stats.dispatches - before.dispatches).toBeGreaterThan(methods.length);
      r.destroy();
      x.destroy();
    } finally {
      model.destroy();
    }
    expect(e.liveTensors).toBe(0);
  });
});
