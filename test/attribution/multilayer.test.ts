/**
 * explain() at a list of layers: one forward, ONE backward yielding the gradient at every
 * listed layer, per-layer maps, and their fusion ('mean', 'layercam'). The CPU reference and
 * the GPU engine against PyTorch golden values (tools/make_fixtures.py → test/fixtures/
 * multilayer.json: torch.autograd.grad with respect to every listed layer, fusion written from
 * docs/METHODS.md), the GPU against the CPU reference, the single backward counted, typed
 * errors for bad lists.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { explain, type ChannelMaps, type Explanation, type LayerMaps } from '../../src/attribution/explain';
import { fuseStep } from '../../src/attribution/multilayer';
import { GraphError, InvalidInputError, MethodNotApplicableError, ShapeMismatchError } from '../../src/core/errors';
import type { Fusion } from '../../src/methods/fusion';
import { Model } from '../../src/model/model';
import { explainLayersReference, fuseLayerMaps } from '../../src/reference/multilayer';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { loadFixture, type FixtureTensor } from '../cases/fixtures';
import { expectAllclose, MAPS, maxAbs, NETWORK, type Tol } from '../util/compare';
import { getEngine } from '../util/gpu';
import { uploadBits } from '../util/reliability';
import { randn } from '../util/random';

interface MultiLayerGolden {
  layers: string[];
  deepest: string;
  targets: number[];
  gradients: FixtureTensor[];
  per_layer: Record<(typeof METHODS)[number], { map: FixtureTensor; map_norm: FixtureTensor; map_up: FixtureTensor }[]>;
  fused: Record<string, FixtureTensor>;
}
const GOLDEN = JSON.parse(readFileSync(new URL('../fixtures/multilayer.json', import.meta.url), 'utf8')) as {
  version: string;
  nets: Record<string, MultiLayerGolden>;
};
const NETS = Object.keys(GOLDEN.nets);
const METHODS = ['gradcam', 'layercam', 'eigencam', 'eigengradcam'] as const;
const FUSES: Fusion[] = ['mean', 'layercam'];

// The CPU reference against PyTorch: both float64 on the same float32 weights, the fixtures
// written with 9 significant digits (as in pytorch.test.ts).
const REF_TOL: Tol = { atol: 1e-8, rtol: 1e-6 };
const REF_MAP_TOL: Tol = { atol: 1e-6, rtol: 1e-6 };

describe('golden values', () => {
  it('were written by tools/make_fixtures.py with PyTorch, for two nets', () => {
    expect(GOLDEN.version).toMatch(/make_fixtures\.py .*torch/);
    expect(NETS).toEqual(['deep_head', 'residual']);
  });
});

describe.each(NETS)('%s at several layers', (net) => {
  const fx = loadFixture(net);
  const gold = GOLDEN.nets[net];
  const x = hostTensor(fx.input.shape, fx.input.data);

  it('the CPU reference equals PyTorch autograd: gradients, per-layer maps, both fusions', () => {
    const model = new RefModel(fx.graph);
    for (const fuse of FUSES) {
      const ref = explainLayersReference(model, x, {
        methods: METHODS,
        layers: gold.layers,
        targets: fx.targets,
        fuse,
      });
      expect(ref.layers.map((l) => l.name)).toEqual(gold.layers);
      gold.layers.forEach((name, l) => {
        expectAllclose(ref.layers[l].gradients.data, gold.gradients[l].data, REF_TOL, `${name} gradients`);
        for (const m of METHODS) {
          const want = gold.per_layer[m][l];
          const got = ref.layers[l].maps[m]!;
          expectAllclose(got.raw.data, want.map.data, REF_TOL, `${name} ${m} map`);
          expectAllclose(got.layer.data, want.map_norm.data, REF_MAP_TOL, `${name} ${m} normalised map`);
          expectAllclose(got.input.data, want.map_up.data, REF_MAP_TOL, `${name} ${m} upsampled map`);
        }
      });
      for (const m of METHODS) {
        const want = gold.fused[`${m}:${fuse}`];
        expect(ref.fused[m]!.shape).toEqual(want.shape);
        expectAllclose(ref.fused[m]!.data, want.data, REF_MAP_TOL, `${m} fused by ${fuse}`);
      }
    }
  });

  it('RefModel.backward to a list equals one backward per layer', () => {
    const model = new RefModel(fx.graph);
    const g = model.graph;
    const values = model.forward(x);
    const K = values.get(g.scores)!.shape[1];
    const seeds = hostTensor([2, K]);
    seeds.data[fx.targets[0]] = 1;
    seeds.data[K + fx.targets[1]] = 1;
    const all = model.backward(values, seeds, gold.layers, { from: g.scores });
    gold.layers.forEach((name, l) => {
      const one = model.backward(values, seeds, name, { from: g.scores });
      expectAllclose(all[l].data, one.data, { atol: 0, rtol: 0 }, name);
    });
  });

  for (const fuse of FUSES) {
    it(`the GPU engine equals PyTorch and the CPU reference (fuse '${fuse}')`, async () => {
      const e = await getEngine();
      const model = await Model.load(e, fx.graph);
      const input = e.upload(fx.input.data, fx.input.shape);
      const r = await explain(model, input, { methods: METHODS, layer: gold.layers, targets: fx.targets, fuse });
      const ref = explainLayersReference(new RefModel(fx.graph), x, {
        methods: METHODS,
        layers: gold.layers,
        targets: fx.targets,
        fuse,
      });
      expect(r.fuse).toBe(fuse);
      expect(r.layer).toBe(gold.layers[0]);
      expect(r.layers!.map((l) => l.name)).toEqual(gold.layers);
      // The top-level fields are the first layer's.
      expect(r.activations).toBe(r.layers![0].activations);
      expect(r.gradients).toBe(r.layers![0].gradients);
      expect(r.maps).toBe(r.layers![0].maps);
      for (const [l, L] of r.layers!.entries()) {
        expectAllclose(await L.gradients.read(), gold.gradients[l].data, NETWORK, `${L.name} gradients`);
        for (const m of METHODS) {
          const want = gold.per_layer[m][l];
          const got = L.maps[m] as LayerMaps & Partial<ChannelMaps>;
          expect(got.input.shape).toEqual(want.map_up.shape);
          expect(!!got.weights).toBe(m === 'gradcam');
          if (got.weights) {
            expectAllclose(
              await got.weights.read(),
              ref.layers[l].maps[m]!.weights!.data,
              NETWORK,
              `${L.name} weights`,
            );
          }
          // The eigen maps: a float32 power iteration, NETWORK relative to the map's largest
          // value (as in eigen.test.ts and spatial.test.ts).
          const rawTol = m.startsWith('eigen') ? { atol: NETWORK.rtol * maxAbs(want.map.data), rtol: 0 } : NETWORK;
          expectAllclose(await got.raw.read(), want.map.data, rawTol, `${L.name} ${m} map`);
          expectAllclose(await got.layer.read(), want.map_norm.data, MAPS, `${L.name} ${m} normalised map`);
          expectAllclose(await got.input.read(), want.map_up.data, MAPS, `${L.name} ${m} upsampled map`);
        }
      }
      for (const m of METHODS) {
        const got = r.fused![m]!.input;
        const want = gold.fused[`${m}:${fuse}`];
        expect(got.shape).toEqual(want.shape);
        const data = await got.read();
        expectAllclose(data, want.data, MAPS, `${m} fused by ${fuse}`);
        expectAllclose(data, ref.fused[m]!.data, MAPS, `${m} fused by ${fuse}, against the reference`);
        // Normalised: every fused map spans [0, 1].
        const z = H(want) * W(want);
        for (let t = 0; t < data.length / z; t++) {
          const row = data.subarray(t * z, (t + 1) * z);
          expect([Math.min(...row), Math.max(...row)]).toEqual([0, 1]);
        }
      }
      r.destroy();
      input.destroy();
      model.destroy();
      expect(e.liveTensors).toBe(0);
    });
  }

  it('the fused maps do not depend on the order of the list', async () => {
    const e = await getEngine();
    const model = await Model.load(e, fx.graph);
    const input = e.upload(fx.input.data, fx.input.shape);
    const reversed = [...gold.layers].reverse();
    for (const fuse of FUSES) {
      const a = await explain(model, input, { methods: ['layercam'], layer: gold.layers, targets: fx.targets, fuse });
      const b = await explain(model, input, { methods: ['layercam'], layer: reversed, targets: fx.targets, fuse });
      expect(b.layer).toBe(reversed[0]);
      expectAllclose(await b.fused!.layercam!.input.read(), await a.fused!.layercam!.input.read(), MAPS, fuse);
      a.destroy();
      b.destroy();
    }
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });
});

const H = (t: FixtureTensor) => t.shape[t.shape.length - 2];
const W = (t: FixtureTensor) => t.shape[t.shape.length - 1];

describe('one forward, one backward, one submission', () => {
  const fx = loadFixture('deep_head');
  const layers = ['relu1', 'relu2', 'relu3'];

  it('Model.backward to a list equals one backward per layer (residual: a fan-out and a skip)', async () => {
    const res = loadFixture('residual');
    const e = await getEngine();
    const model = await Model.load(e, res.graph);
    const input = e.upload(res.input.data, res.input.shape);
    const g = model.graph;
    const list = ['relu2', 'pool0', 'relu1', 'relu0'];
    const acts = await model.forward(input, { keep: [g.scores], backwardTo: list, backwardFrom: g.scores });
    const K = g.shape(g.scores)[1];
    const s = new Float32Array(2 * K);
    s[res.targets[0]] = 1;
    s[K + res.targets[2]] = 1;
    const seeds = e.upload(s, [2, K]);
    const all = await model.backward(acts, seeds, { to: list, from: g.scores });
    expect(all.map((t) => t.shape)).toEqual(list.map((l) => [2, ...g.shape(l).slice(1)]));
    for (const [l, name] of list.entries()) {
      const one = await model.backward(acts, seeds, { to: name, from: g.scores });
      expectAllclose(await all[l].read(), await one.read(), { atol: 0, rtol: 0 }, name);
      one.destroy();
    }
    await expect(model.backward(acts, seeds, { to: [], from: g.scores })).rejects.toThrow(InvalidInputError);
    await expect(model.backward(acts, seeds, { to: ['relu1', 'relu1'], from: g.scores })).rejects.toThrow(
      /names a tensor twice/,
    );
    await expect(model.backward(acts, seeds, { to: ['relu1', 'conv1'], from: g.scores })).rejects.toThrow(
      /was not planned/,
    );
    for (const t of all) t.destroy();
    seeds.destroy();
    acts.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });

  it('explain at three layers: one backward call to all of them, one submission, no readback', async () => {
    const e = await getEngine();
    const model = await Model.load(e, fx.graph);
    const input = e.upload(fx.input.data, fx.input.shape);
    await e.flush();
    const count = async (opts: Parameters<typeof explain>[2]) => {
      const before = { ...e.stats };
      const spy = vi.spyOn(model, 'backward');
      const r = await explain(model, input, opts);
      const calls = spy.mock.calls.map((c) => c[2].to);
      spy.mockRestore();
      const d = {
        submits: e.stats.submits - before.submits,
        readbacks: e.stats.readbacks - before.readbacks,
        dispatches: e.stats.dispatches - before.dispatches,
      };
      return { r, calls, d };
    };
    const methods = ['gradcam'] as const;
    const multi = await count({ methods, layer: layers, targets: { topK: 3 }, fuse: 'layercam' });
    expect(multi.calls).toEqual([layers]);
    expect(multi.d.submits).toBe(1);
    expect(multi.d.readbacks).toBe(0);
    // The same forward and backward as a single-layer explain at the shallowest layer (the other
    // two lie on its path to the scores); per further layer the channel family's three
    // dispatches (channel_weights, cam_combine, upsample_bilinear); one fuse dispatch per layer.
    const single = await count({ methods, layer: 'relu1', targets: { topK: 3 } });
    expect(single.calls).toEqual(['relu1']);
    expect(multi.d.dispatches - single.d.dispatches).toBe(2 * 3 + layers.length);
    multi.r.destroy();
    single.r.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });

  it('N = 2 images, top 2, both families: the GPU equals the CPU reference', async () => {
    const e = await getEngine();
    const model = await Model.load(e, fx.graph);
    const [, c, h, w] = fx.input.shape;
    const data = randn(2 * c * h * w, 77);
    const input = e.upload(data, [2, c, h, w]);
    const methods = ['gradcam++', 'xgradcam', 'hirescam', 'gradcam-elementwise'] as const;
    for (const fuse of FUSES) {
      const r: Explanation = await explain(model, input, {
        methods,
        layer: ['relu3', 'relu1'],
        targets: { topK: 2 },
        fuse,
      });
      const ref = explainLayersReference(new RefModel(fx.graph), hostTensor([2, c, h, w], data), {
        methods,
        layers: ['relu3', 'relu1'],
        targets: { topK: 2 },
        fuse,
      });
      expect(await r.readClasses()).toEqual(ref.classes);
      for (const m of methods) {
        const got = r.fused![m]!.input;
        expect(got.shape).toEqual([2, 2, h, w]);
        expectAllclose(await got.read(), ref.fused[m]!.data, MAPS, `${m} fused by ${fuse}`);
        for (const [l, L] of r.layers!.entries()) {
          const maps = L.maps[m] as LayerMaps;
          expectAllclose(await maps.raw.read(), ref.layers[l].maps[m]!.raw.data, NETWORK, `${L.name} ${m} map`);
          expectAllclose(await maps.input.read(), ref.layers[l].maps[m]!.input.data, MAPS, `${L.name} ${m} input`);
        }
      }
      r.destroy();
    }
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });
});

describe('fuseLayerMaps (CPU reference) on hand-made maps', () => {
  it("'layercam' scales shallow maps by tanh(2·M / max M), keeps the deepest as M / max M, takes the max", () => {
    // Two layers of one 1×2 map each, already at the input size (the resize is the identity).
    const shallow = { raw: hostTensor([1, 1, 2], [1, 4]), input: hostTensor([1, 1, 2]) };
    const deep = { raw: hostTensor([1, 1, 2], [3, 1]), input: hostTensor([1, 1, 2]) };
    const f = fuseLayerMaps('layercam', [shallow, deep], 1);
    // shallow: tanh(2·[0.25, 1]) = [0.4621, 0.9640]; deep: [1, 1/3]; max: [1, 0.9640].
    const m = [1, Math.tanh(2)];
    const lo = Math.min(...m);
    expectAllclose(f.data, [(m[0] - lo) / (1 - lo), 0], { atol: 1e-15, rtol: 0 }, 'fused');
    const mean = fuseLayerMaps(
      'mean',
      [
        { raw: shallow.raw, input: hostTensor([1, 1, 2], [0, 1]) },
        { raw: deep.raw, input: hostTensor([1, 1, 2], [1, 0.5]) },
      ],
      1,
    );
    // mean [0.5, 0.75] → normalised [0, 1].
    expectAllclose(mean.data, [0, 1], { atol: 0, rtol: 0 }, 'mean');
  });
});

describe('multilayer_fuse on NaN, ±Infinity and values near the float32 maximum', () => {
  it('every rule gives finite maps in [0, 1]', async () => {
    const e = await getEngine();
    const bad = [NaN, Infinity, -Infinity, 3e38, 3e38, 1, 0, -3e38];
    const src = uploadBits(e, bad, [2, 2, 2], 'bad'); // past upload's finiteness check
    for (const scale of ['none', 'tanh', 'unit'] as const) {
      for (const max of [false, true]) {
        const acc = e.empty([2, 3, 5], 'acc');
        for (let l = 0; l < 3; l++)
          await fuseStep(e, src, acc, { scale, max, first: l === 0, last: l === 2, post: 1 / 3 });
        const out = await acc.read();
        expect(
          out.every((v) => v >= 0 && v <= 1),
          `${scale} ${max ? 'max' : 'sum'}: ${out.join(', ')}`,
        ).toBe(true);
        acc.destroy();
      }
    }
    src.destroy();
    expect(e.liveTensors).toBe(0);
  });
});

describe('typed errors for bad layer lists, the engine usable after', () => {
  const fx = loadFixture('gap_head');
  const cases: [string, Record<string, unknown>, new (...a: never[]) => Error, RegExp][] = [
    ['an empty list', { layer: [] }, InvalidInputError, /empty list/],
    ['an unknown layer', { layer: ['relu2', 'relu9'] }, GraphError, /'relu9' is not in the graph/],
    ['a layer twice', { layer: ['relu2', 'relu1', 'relu2'] }, InvalidInputError, /'relu2' is listed twice/],
    ['a name that is not a string', { layer: ['relu2', 3] }, InvalidInputError, /tensor or module name, got number/],
    ['a layer that is not 4-D', { layer: ['relu2', 'flatten'] }, ShapeMismatchError, /'flatten' is \[1, 12\]/],
    [
      'an unknown fuse',
      { layer: ['relu1', 'relu2'], fuse: 'max' },
      InvalidInputError,
      /fuse must be one of mean, layercam/,
    ],
    ['fuse without a list', { layer: 'relu2', fuse: 'mean' }, InvalidInputError, /fuse applies to a list of layers/],
    [
      'CAM',
      { layer: ['relu1', 'relu2'], methods: ['gradcam', 'cam'] },
      MethodNotApplicableError,
      /CAM cannot be computed at a list/,
    ],
    [
      'Smooth Grad-CAM++',
      { layer: ['relu1', 'relu2'], methods: ['smoothgradcam++'] },
      MethodNotApplicableError,
      /Smooth Grad-CAM\+\+ cannot/,
    ],
    ['Score-CAM', { layer: ['relu1', 'relu2'], methods: ['scorecam'] }, MethodNotApplicableError, /Score-CAM cannot/],
    [
      'Guided Backprop',
      { layer: ['relu1'], methods: ['guided-backprop'] },
      MethodNotApplicableError,
      /Guided Backprop/,
    ],
    [
      'eigenSmooth',
      { layer: ['relu1', 'relu2'], eigenSmooth: true },
      InvalidInputError,
      /eigenSmooth is not available/,
    ],
    ['augSmooth', { layer: ['relu1', 'relu2'], augSmooth: true }, InvalidInputError, /augSmooth is not available/],
  ];
  it.each(cases)('%s', async (_what, opts, type, message) => {
    const e = await getEngine();
    const model = await Model.load(e, fx.graph);
    const input = e.upload(fx.input.data, fx.input.shape);
    const live = e.liveTensors;
    const run = () => explain(model, input, opts as Parameters<typeof explain>[2]);
    await expect(run()).rejects.toThrow(type);
    await expect(run()).rejects.toThrow(message);
    expect(e.liveTensors).toBe(live);
    // Still usable: one layer in a list of one.
    const ok = await explain(model, input, { layer: ['relu1'] });
    expect(ok.layers!.length).toBe(1);
    expect(ok.fused!.gradcam!.input.shape).toEqual([1, ...fx.input.shape.slice(2)]);
    ok.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });
});
