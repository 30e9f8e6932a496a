/**
 * A whole explanation is recorded into one command buffer and submitted once, with no readback
 * inside (docs/ARCHITECTURE.md, docs/BENCHMARKS.md): every method, T targets, networks with
 * residual and branching paths. Counted with Engine.stats. The perturbation methods (Score-CAM,
 * Ablation-CAM) are the exception: they need their extra forward passes' batches submitted;
 * and so are { above } targets, which read the logits back once to learn T.
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

describe('targets other than class ids (src/attribution/targets.ts)', () => {
  // Scores and seed vectors are seeds built on the GPU: still one submission, no readback.
  // { above } reads the logits back once to learn T: the forward pass is submitted first.
  it.each([
    {
      what: 'score probability',
      opts: { score: 'probability' as const, targets: { topK: 2 } },
      submits: 1,
      readbacks: 0,
    },
    { what: 'score sigmoid', opts: { score: 'sigmoid' as const, targets: [0, 2] }, submits: 1, readbacks: 0 },
    { what: 'a seed vector', opts: { targets: { seed: [1, 0, -1, 0.5, 2] } }, submits: 1, readbacks: 0 },
    { what: '{ above }', opts: { targets: { above: 0.3 } }, submits: 2, readbacks: 1 },
  ])('$what: $submits submission(s), $readbacks readback(s)', async ({ opts, submits, readbacks }) => {
    const e = await getEngine();
    const spec = NETS.plain();
    const model = await Model.load(e, spec);
    const [c, h, w] = spec.input.shape;
    const x = e.upload(randn(2 * c * h * w, 5), [2, c, h, w]);
    await e.flush();
    const before = { ...e.stats };
    const r = await explain(model, x, { methods: ['gradcam', 'guided-backprop'], ...opts });
    expect(e.stats.submits - before.submits).toBe(submits);
    expect(e.stats.readbacks - before.readbacks).toBe(readbacks);
    r.destroy();
    x.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });
});
