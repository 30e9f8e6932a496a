/**
 * The perturbation family (Score-CAM, Ablation-CAM) on the GPU: against the CPU reference
 * (which runs one channel at a time, unbatched), batched at several sizes, the batch size from
 * the device's limits, progress, cancellation with an AbortSignal (nothing left behind), the
 * submissions it makes, and the typed errors of bad options.
 */
import { describe, expect, it } from 'vitest';
import { explain } from '../../src/attribution/explain';
import { perturbationBatchSize } from '../../src/attribution/perturbation';
import { AbortedError, InvalidInputError, MethodNotApplicableError, ResourceLimitError } from '../../src/core/errors';
import { Graph } from '../../src/model/graph';
import { Model } from '../../src/model/model';
import type { GraphSpec } from '../../src/model/spec';
import { explainReference } from '../../src/reference/explain';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { NETS } from '../cases/nets';
import { ABLATION, expectAllclose, MAPS, NETWORK } from '../util/compare';
import { getEngine } from '../util/gpu';
import { randn } from '../util/random';

const BOTH = ['scorecam', 'ablationcam'] as const;

async function setup(spec: GraphSpec, n: number, seed = 7) {
  const e = await getEngine();
  const [c, h, w] = spec.input.shape;
  const xs = randn(n * c * h * w, seed);
  const model = await Model.load(e, spec);
  const input = e.upload(xs, [n, c, h, w]);
  await e.flush();
  const done = () => {
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  };
  return { e, model, input, x: hostTensor([n, c, h, w], xs), done };
}

describe('Score-CAM and Ablation-CAM on the GPU equal the CPU reference', () => {
  it.each([
    ['plain', 1, { topK: 2 }, undefined, undefined],
    ['residual', 2, { topK: 3 }, undefined, 3],
    ['branchy', 1, [5, 0], 'relu2', 4],
  ] as const)('%s net, N = %i, targets %j, layer %s, batchSize %s', async (name, n, targets, layer, batchSize) => {
    const spec = NETS[name]();
    const { model, input, x, done } = await setup(spec, n);
    const opts = { methods: [...BOTH], targets: targets as number[] | { topK: number }, layer };
    const r = await explain(model, input, { ...opts, batchSize });
    const ref = explainReference(new RefModel(spec), x, opts);
    expect(await r.readClasses()).toEqual(ref.classes);
    for (const m of BOTH) {
      const got = r.maps[m]!;
      const want = ref.maps[m]!;
      const tol = m === 'ablationcam' ? ABLATION : NETWORK;
      expectAllclose(await got.weights.read(), want.weights!.data, tol, `${m} weights`);
      expectAllclose(await got.raw.read(), want.raw!.data, tol, `${m} raw map`);
      expectAllclose(await got.layer.read(), want.layer!.data, MAPS, `${m} normalised map`);
      expectAllclose(await got.input.read(), want.input!.data, MAPS, `${m} upsampled map`);
    }
    const K = r.activations.shape[1];
    expect(r.batchSize).toBe(Math.min(batchSize ?? 32, n * K));
    r.destroy();
    done();
  });
});

describe('batching', () => {
  it('batch sizes 1, 5 (not dividing N·K) and the default give the same weights', async () => {
    const { model, input, done } = await setup(NETS.residual(), 2);
    const weights: Float32Array[][] = [];
    for (const batchSize of [1, 5, undefined]) {
      const r = await explain(model, input, { methods: [...BOTH], targets: { topK: 2 }, batchSize });
      weights.push([await r.maps.scorecam!.weights.read(), await r.maps.ablationcam!.weights.read()]);
      r.destroy();
    }
    for (const w of weights.slice(1)) {
      expectAllclose(w[0], weights[0][0], NETWORK, 'scorecam weights');
      expectAllclose(w[1], weights[0][1], ABLATION, 'ablationcam weights');
    }
    done();
  });

  it("the batch size shrinks to the device's binding limit, and refuses a model not one image of which fits", () => {
    const g = new Graph(NETS.plain());
    // The largest tensor of one plain-net forward: conv1/relu1, 6 × 11 × 9 floats.
    const largest = 6 * 11 * 9 * 4;
    const limits = (bytes: number) => ({ maxStorageBufferBindingSize: bytes, maxBufferSize: 1 << 30 });
    expect(perturbationBatchSize(g, limits(1 << 30))).toBe(32);
    expect(perturbationBatchSize(g, limits(1 << 30), 7)).toBe(7);
    expect(perturbationBatchSize(g, limits(largest * 5 + 3))).toBe(5);
    expect(perturbationBatchSize(g, limits(largest))).toBe(1);
    expect(() => perturbationBatchSize(g, limits(largest - 4))).toThrow(ResourceLimitError);
  });
});

describe('progress, submissions, cancellation', () => {
  it('reports the jobs done after every batch; one submission per batch, plus the passes and the maps', async () => {
    const { e, model, input, done } = await setup(NETS.plain(), 2);
    const calls: [number, number][] = [];
    const before = { ...e.stats };
    const r = await explain(model, input, {
      methods: [...BOTH],
      targets: { topK: 2 },
      batchSize: 8,
      onProgress: (d, t) => calls.push([d, t]),
    });
    const K = r.activations.shape[1]; // 10 channels, N = 2: 20 jobs per method, batches of 8, 8, 4
    const total = 2 * 2 * K;
    expect(calls.map((c) => c[1])).toEqual(Array(6).fill(total));
    expect(calls.map((c) => c[0])).toEqual([8, 16, 20, 28, 36, 40]);
    expect(e.stats.submits - before.submits).toBe(1 + 6 + 1);
    expect(e.stats.readbacks - before.readbacks).toBe(0);
    // The stage timings cover every submission, not only the last.
    const stages = await r.stageTimings();
    if (e.hasTimestamps) expect(Object.keys(stages!).sort()).toEqual(['attribution', 'forward', 'perturbation']);
    else expect(stages).toBeNull();
    r.destroy();
    done();
  });

  it('an abort after the first batch rejects with AbortedError, leaves nothing, and the engine stays usable', async () => {
    const { e, model, input, done } = await setup(NETS.residual(), 1);
    const live = e.liveTensors;
    const ac = new AbortController();
    let calls = 0;
    const run = explain(model, input, {
      methods: ['gradcam', ...BOTH],
      batchSize: 2,
      signal: ac.signal,
      onProgress: () => {
        calls++;
        ac.abort();
      },
    });
    await expect(run).rejects.toThrow(AbortedError);
    expect(calls).toBe(1);
    expect(e.liveTensors).toBe(live);
    // Aborted before the call: rejected before anything is submitted.
    const submits = e.stats.submits;
    await expect(explain(model, input, { methods: ['scorecam'], signal: ac.signal })).rejects.toThrow(AbortedError);
    expect(e.stats.submits).toBe(submits);
    expect(e.liveTensors).toBe(live);
    const ok = await explain(model, input, { methods: ['scorecam'], signal: new AbortController().signal });
    expect(ok.maps.scorecam!.input.shape).toEqual([1, 10, 10]);
    ok.destroy();
    done();
  });
});

describe('typed errors', () => {
  it('bad batchSize, onProgress and signal values; Ablation-CAM at a layer the skip path goes around', async () => {
    const { e, model, input, done } = await setup(NETS.residual(), 1);
    const live = e.liveTensors;
    for (const bad of [0, 2.5, -1, '4', null]) {
      await expect(explain(model, input, { methods: ['scorecam'], batchSize: bad as number })).rejects.toThrow(
        InvalidInputError,
      );
    }
    await expect(
      explain(model, input, { methods: ['scorecam'], onProgress: 3 as unknown as () => void }),
    ).rejects.toThrow(/onProgress must be a function/);
    await expect(explain(model, input, { methods: ['scorecam'], signal: {} as AbortSignal })).rejects.toThrow(
      /signal must be an AbortSignal/,
    );
    // block_relu is inside the residual block: relu1 reaches the sum around it.
    const run = () => explain(model, input, { methods: ['ablationcam'], layer: 'block_relu' });
    await expect(run()).rejects.toThrow(MethodNotApplicableError);
    await expect(run()).rejects.toThrow(/Ablation-CAM cannot apply to layer 'block_relu'/);
    expect(e.liveTensors).toBe(live);
    // Score-CAM needs no such layer.
    const ok = await explain(model, input, { methods: ['scorecam'], layer: 'block_relu' });
    expect(ok.maps.scorecam!.weights.shape).toEqual([1, 6]);
    ok.destroy();
    done();
  });
});
