/**
 * Concurrent explain() calls on one engine: each records into its own recorder, so calls in
 * flight at the same time give exactly what the same calls give one after another, and leave
 * nothing behind.
 */
import { describe, expect, it } from 'vitest';
import { explain, type Explanation, type ExplainOptions } from '../../src/attribution/explain';
import { Model } from '../../src/model/model';
import type { Tensor } from '../../src/gpu/tensor';
import { NETS } from '../cases/nets';
import { getEngine } from '../util/gpu';
import { randn } from '../util/random';

const OPTS: ExplainOptions = { methods: ['gradcam', 'gradcam++', 'guided-gradcam'], targets: { topK: 2 } };

/** Every tensor of an explanation, read back, by a stable key. */
async function readAll(r: Explanation): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  out.set('scores', await r.scores.read());
  out.set('classes', await r.classes.read());
  for (const [m, maps] of Object.entries(r.maps)) {
    for (const [k, t] of Object.entries(maps as unknown as Record<string, Tensor>))
      out.set(`${m}.${k}`, await t.read());
  }
  return out;
}

function expectSame(got: Map<string, Float32Array>, want: Map<string, Float32Array>, what: string): void {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  // The same kernels on the same data in the same order: bit for bit.
  for (const [k, v] of want) expect(Array.from(got.get(k)!), `${what}: ${k}`).toEqual(Array.from(v));
}

describe('concurrent explains on one engine', () => {
  it('Promise.all of 5 explains on one model equals 5 sequential explains', async () => {
    const e = await getEngine();
    const before = e.liveTensors;
    const spec = NETS.residual();
    const model = await Model.load(e, spec);
    const [c, h, w] = spec.input.shape;
    const inputs = Array.from({ length: 5 }, (_, i) => e.upload(randn(c * h * w, 100 + i), [1, c, h, w]));
    const sequential: Map<string, Float32Array>[] = [];
    for (const x of inputs) {
      const r = await explain(model, x, OPTS);
      sequential.push(await readAll(r));
      r.destroy();
    }
    const results = await Promise.all(inputs.map((x) => explain(model, x, OPTS)));
    for (const [i, r] of results.entries()) {
      expectSame(await readAll(r), sequential[i], `call ${i}`);
      r.destroy();
    }
    for (const x of inputs) x.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(before);
  });

  it('interleaved explains of two models (A, B, A, B) equal their sequential runs', async () => {
    const e = await getEngine();
    const before = e.liveTensors;
    const specs = [NETS.plain(), NETS.branchy()];
    const models = await Promise.all(specs.map((s) => Model.load(e, s)));
    const inputs = specs.map((s, i) => {
      const [c, h, w] = s.input.shape;
      return e.upload(randn(c * h * w, 7 + i), [1, c, h, w]);
    });
    const order = [0, 1, 0, 1];
    const sequential: Map<string, Float32Array>[] = [];
    for (const m of order) {
      const r = await explain(models[m], inputs[m], OPTS);
      sequential.push(await readAll(r));
      r.destroy();
    }
    const results = await Promise.all(order.map((m) => explain(models[m], inputs[m], OPTS)));
    for (const [i, r] of results.entries()) {
      expectSame(await readAll(r), sequential[i], `call ${i} (model ${order[i]})`);
      r.destroy();
    }
    for (const x of inputs) x.destroy();
    for (const m of models) m.destroy();
    expect(e.liveTensors).toBe(before);
  });

  it('a failing call among concurrent ones rejects alone and leaves nothing behind', async () => {
    const e = await getEngine();
    const before = e.liveTensors;
    const spec = NETS.plain();
    const model = await Model.load(e, spec);
    const [c, h, w] = spec.input.shape;
    const x = e.upload(randn(c * h * w, 3), [1, c, h, w]);
    const settled = await Promise.allSettled([
      explain(model, x, OPTS),
      explain(model, x, { ...OPTS, layer: 'no-such-layer' }),
      explain(model, x, OPTS),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const [a, , b] = settled as PromiseFulfilledResult<Explanation>[];
    expectSame(await readAll(a.value), await readAll(b.value), 'the two good calls');
    a.value.destroy();
    b.value.destroy();
    x.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(before);
  });
});
