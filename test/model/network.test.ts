import { describe, expect, it } from 'vitest';
import { Model } from '../../src/model/model';
import { GraphError, ResourceLimitError, ShapeMismatchError } from '../../src/core/errors';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { NETS, plainNet, residualNet } from '../cases/nets';
import { gpuNetwork, refNetwork, type NetworkCase } from '../cases/network';
import { CENTRAL_DIFF, expectAllclose, NETWORK } from '../util/compare';
import { CONV_CONFIGS, useConvConfig } from '../util/conv-configs';
import { conv2dConfig } from '../../src/ops/conv2d';
import { getEngine } from '../util/gpu';
import { numericGrad } from '../util/gradcheck';
import { randn } from '../util/random';

const cases: [keyof typeof NETS, NetworkCase][] = [
  ['plain', { n: 1, t: 1, layer: 'relu2' }],
  ['plain', { n: 2, t: 3, layer: 'relu2' }],
  ['plain', { n: 1, t: 2, layer: 'pool1' }],
  ['residual', { n: 2, t: 2, layer: 'relu2' }],
  ['residual', { n: 1, t: 3, layer: 'relu1' }],
  ['branchy', { n: 2, t: 2, layer: 'relu3' }],
  ['branchy', { n: 1, t: 1, layer: 'cat' }],
];

// Every conv kernel configuration an engine can choose (software, hardware, untiled).
describe.each(CONV_CONFIGS)(
  'whole networks with conv kernels for $name: GPU executor equals the CPU reference',
  (cfg) => {
    useConvConfig(cfg.config);

    it.each(cases)('%s %j', async (name, c) => {
      const e = await getEngine();
      expect(conv2dConfig(e)).toMatchObject(cfg.config);
      const spec = NETS[name]();
      const gpu = await gpuNetwork(e, spec, c);
      const ref = refNetwork(spec, c);
      expectAllclose(gpu.output, ref.output, NETWORK, 'output');
      expectAllclose(gpu.layerActivation, ref.layerActivation, NETWORK, `activation ${c.layer}`);
      expectAllclose(gpu.gradLayer, ref.gradLayer, NETWORK, `gradient at ${c.layer}`);
      expectAllclose(gpu.gradInput, ref.gradInput, NETWORK, 'gradient at the input');
      expectAllclose(gpu.gradInputGuided, ref.gradInputGuided, NETWORK, 'guided gradient at the input');
      expect(e.liveTensors).toBe(0);
    });
  },
);

describe('the reference executor', () => {
  it.each(['plain', 'residual', 'branchy'] as const)('%s: backward to the input equals central differences', (name) => {
    const spec = NETS[name]();
    const model = new RefModel(spec);
    const [c, h, w] = spec.input.shape;
    const x = hostTensor([1, c, h, w], randn(c * h * w, 21));
    const k = model.graph.shape(model.graph.output)[1];
    const dy = hostTensor([1, k], randn(k, 22));
    const f = (xx: typeof x) => model.forward(xx).get(model.graph.output)!;
    const analytic = model.backward(model.forward(x), dy, spec.input.name);
    expectAllclose(analytic.data, numericGrad(f, x, dy, 1e-5).data, CENTRAL_DIFF, 'dinput');
  });
});

describe('memory', () => {
  it('forward keeps only what backward needs, and frees it on destroy', async () => {
    const e = await getEngine();
    const model = await Model.load(e, plainNet());
    const weights = e.liveTensors;
    const x = e.upload(randn(3 * 11 * 9, 1), [1, 3, 11, 9]);
    // Backward to relu2 reads relu2 (its own ReLU mask) only; the kept set is {relu2, logits}.
    const acts = await model.forward(x, { keep: ['relu2'], backwardTo: ['relu2'] });
    expect(e.liveTensors - weights).toBe(3); // x, relu2, logits
    expect(acts.has('conv1')).toBe(false);
    acts.destroy();
    // Backward to the input also needs relu1 and pool1's input (relu1) plus relu2.
    const acts2 = await model.forward(x, { backwardTo: ['image'] });
    expect(e.liveTensors - weights).toBe(4); // x, relu1, relu2, logits
    acts2.destroy();
    x.destroy();
    expect(e.liveTensors).toBe(weights);
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });
});

describe('bad input gets a typed error and leaves the engine usable', () => {
  it('a weight whose shape does not match its op', async () => {
    const e = await getEngine();
    const spec = plainNet();
    const conv2 = spec.nodes.find((n) => n.name === 'conv2')!;
    conv2.weights!.weight = { shape: [10, 5, 3, 3], data: new Float32Array(450) };
    await expect(Model.load(e, spec)).rejects.toThrow(ShapeMismatchError);
    await expect(Model.load(e, spec)).rejects.toThrow(/conv2/);
    expect(e.liveTensors).toBe(0);
  });

  it('an input of the wrong rank or size', async () => {
    const e = await getEngine();
    const model = await Model.load(e, plainNet());
    const bad = e.upload(new Float32Array(3 * 11 * 9), [3, 11, 9]);
    await expect(model.forward(bad)).rejects.toThrow(ShapeMismatchError);
    await expect(model.forward(bad)).rejects.toThrow(/\[N, 3, 11, 9\]/);
    bad.destroy();
    model.destroy();
  });

  it('a backward target that is not in the graph', async () => {
    const e = await getEngine();
    const model = await Model.load(e, plainNet());
    const x = e.upload(randn(297, 3), [1, 3, 11, 9]);
    await expect(model.forward(x, { backwardTo: ['conv9'] })).rejects.toThrow(GraphError);
    await expect(model.forward(x, { backwardTo: ['conv9'] })).rejects.toThrow(/'conv9' is not in the graph/);
    const acts = await model.forward(x, { backwardTo: ['relu2'] });
    const seeds = e.upload([1, 0, 0, 0, 0], [1, 5]);
    await expect(model.backward(acts, seeds, { to: 'nope' })).rejects.toThrow(GraphError);
    await expect(model.backward(acts, seeds, { to: 'relu1' })).rejects.toThrow(/was not planned/);
    const g = await model.backward(acts, seeds, { to: 'relu2' });
    expect(g.shape).toEqual([1, 10, 5, 4]);
    for (const t of [g, seeds, x]) t.destroy();
    acts.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });

  it('a tensor larger than maxStorageBufferBindingSize', async () => {
    const e = await getEngine();
    const max = e.limits.maxStorageBufferBindingSize;
    const side = Math.ceil(Math.sqrt(max / 4 / 64)) + 1;
    expect(() => e.empty([1, 64, side, side], 'huge')).toThrow(ResourceLimitError);
    expect(() => e.empty([1, 64, side, side], 'huge')).toThrow(/huge.*maxStorageBufferBindingSize/);
    // Still usable: a model built from a spec whose activations fit runs.
    const model = await Model.load(e, plainNet());
    const x = e.upload(randn(297, 4), [1, 3, 11, 9]);
    const acts = await model.forward(x);
    expect((await acts.output.read()).length).toBe(5);
    acts.destroy();
    x.destroy();
    model.destroy();
  });
});

describe('forwardFrom: the forward pass from given tensors', () => {
  it("from a layer's activations gives the full forward's output, bit for bit; edited copies batch", async () => {
    const e = await getEngine();
    const model = await Model.load(e, residualNet());
    const x = e.upload(randn(300, 21), [1, 3, 10, 10]);
    const full = await model.forward(x, { keep: ['relu2'] });
    const A = full.get('relu2');
    const from = await model.forwardFrom({ relu2: A });
    expect(Array.from(await from.output.read())).toEqual(Array.from(await full.output.read()));
    from.destroy();
    // Three copies of the layer, channel k zeroed in copy k (what Ablation-CAM runs): one batch.
    const a = await A.read();
    const [K, Z] = [6, 5 * 5];
    const copies = new Float32Array(3 * a.length);
    for (let k = 0; k < 3; k++) {
      copies.set(a, k * a.length);
      copies.fill(0, k * a.length + k * Z, k * a.length + (k + 1) * Z);
    }
    expect(A.shape).toEqual([1, K, 5, 5]);
    const batch = e.upload(copies, [3, K, 5, 5]);
    const out = await model.forwardFrom({ relu2: batch });
    expect(out.n).toBe(3);
    const scores = await out.output.read();
    for (let k = 0; k < 3; k++) {
      const one = e.upload(copies.subarray(k * a.length, (k + 1) * a.length), [1, K, 5, 5]);
      const single = await model.forwardFrom({ relu2: one });
      expect(Array.from(scores.subarray(k * 4, (k + 1) * 4))).toEqual(Array.from(await single.output.read()));
      single.destroy();
      one.destroy();
    }
    out.destroy();
    batch.destroy();
    full.destroy();
    // The caller's tensors are never destroyed by the run.
    expect(x.destroyed).toBe(false);
    x.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });

  it('a tensor that does not determine the output, or of the wrong shape, is a typed error', async () => {
    const e = await getEngine();
    const model = await Model.load(e, residualNet());
    // block_b's output alone does not give the add: its skip input relu1 is needed too.
    const b = e.upload(new Float32Array(6 * 25), [1, 6, 5, 5]);
    await expect(model.forwardFrom({ block_b: b })).rejects.toThrow(GraphError);
    await expect(model.forwardFrom({ block_b: b })).rejects.toThrow(
      /graph input 'image' \(through .*'relu1' ← 'stem'\)/,
    );
    const both = await model.forwardFrom({ block_b: b, relu1: b });
    expect(both.output.shape).toEqual([1, 4]);
    both.destroy();
    const small = e.upload(new Float32Array(6), [1, 6, 1, 1]);
    await expect(model.forwardFrom({ relu2: small })).rejects.toThrow(ShapeMismatchError);
    await expect(model.forwardFrom({ nope: b })).rejects.toThrow(/'nope' is not in the graph/);
    small.destroy();
    b.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });
});
