/**
 * The methods on the GPU against the CPU reference on several networks, and the properties the
 * lecture derives: Grad-CAM = CAM on a GAP→linear head, counterfactual = Grad-CAM of negated
 * gradients, Guided Grad-CAM = upsampled Grad-CAM ⊙ guided backprop, class discrimination,
 * and T targets batched into one backward pass.
 */
import { describe, expect, it } from 'vitest';
import { explain, type ChannelMaps, type LayerMaps } from '../../src/attribution/explain';
import { isChannel, isInputGradient, isPerturbation, METHODS, type Method } from '../../src/methods/registry';
import { InvalidInputError } from '../../src/core/errors';
import { Model } from '../../src/model/model';
import type { GraphSpec } from '../../src/model/spec';
import { explainReference, type RefMaps } from '../../src/reference/explain';
import { normalizeMinMax, weightedSum } from '../../src/reference/attribution';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { NETS } from '../cases/nets';
import { loadFixture } from '../cases/fixtures';
import { quadrantOf, regionsNet, regionsScene, REGION_SIZE } from '../cases/regions';
import { ABLATION, EXACT, expectAllclose, F32, f32Reduction, MAPS, maxAbs, NETWORK } from '../util/compare';
import { getEngine } from '../util/gpu';
import { randn } from '../util/random';

// Every registered method but CAM (which needs a GAP → linear head at the layer).
const GRAD_METHODS: Method[] = METHODS.filter((m) => m !== 'cam');
// The methods with maps at the layer (channel and spatial families).
const LAYER_MAPS = METHODS.filter((m) => !isInputGradient(m));

function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

async function compareWithReference(
  spec: GraphSpec,
  n: number,
  opts: { methods: Method[]; targets: number[] | { topK: number }; layer?: string },
) {
  const e = await getEngine();
  const [c, h, w] = spec.input.shape;
  const xs = randn(n * c * h * w, 42);
  const model = await Model.load(e, spec);
  const input = e.upload(xs, [n, c, h, w]);
  const r = await explain(model, input, opts);
  const ref = explainReference(new RefModel(spec), hostTensor([n, c, h, w], xs), opts);
  expect(await r.readClasses()).toEqual(ref.classes);
  expectAllclose(await r.scores.read(), ref.scores.data, NETWORK, 'scores');
  expectAllclose(await r.probabilities.read(), ref.probabilities.data, NETWORK, 'probabilities');
  for (const m of opts.methods) {
    const want = ref.maps[m]!;
    if (!isInputGradient(m)) {
      const got = r.maps[m] as LayerMaps & Partial<ChannelMaps>;
      const refm = want as RefMaps;
      expect(got.layer.shape.slice(0, n === 1 ? 1 : 2)).toEqual(
        n === 1 ? [ref.classes[0].length] : [ref.classes[0].length, n],
      );
      expect(!!got.weights).toBe(isChannel(m) || isPerturbation(m));
      const tol = m === 'ablationcam' ? ABLATION : NETWORK;
      if (got.weights) expectAllclose(await got.weights.read(), refm.weights!.data, tol, `${m} weights`);
      expectAllclose(await got.raw.read(), refm.raw.data, tol, `${m} raw map`);
      expectAllclose(await got.layer.read(), refm.layer.data, MAPS, `${m} normalised map`);
      expectAllclose(await got.input.read(), refm.input.data, MAPS, `${m} upsampled map`);
    } else {
      const got = r.maps[m]!;
      expectAllclose(await got.input.read(), want.input!.data, NETWORK, m);
    }
  }
  r.destroy();
  input.destroy();
  model.destroy();
  expect(e.liveTensors).toBe(0);
}

describe('every method on the GPU equals the CPU reference', () => {
  it('plain net, default layer, T = 1 (top class), all methods', async () => {
    await compareWithReference(NETS.plain(), 1, { methods: ['cam', ...GRAD_METHODS], targets: { topK: 1 } });
  });
  it('plain net, T = 5 (top 5), N = 2', async () => {
    await compareWithReference(NETS.plain(), 2, { methods: ['cam', ...GRAD_METHODS], targets: { topK: 5 } });
  });
  it('plain net, non-default layer (after the first max-pool), explicit targets', async () => {
    await compareWithReference(NETS.plain(), 1, { methods: GRAD_METHODS, targets: [4, 0, 2], layer: 'pool1' });
  });
  it('residual net, T = 4, N = 2, default layer (relu2: the avg-pool after it is skipped, so no CAM)', async () => {
    await compareWithReference(NETS.residual(), 2, { methods: GRAD_METHODS, targets: { topK: 4 } });
  });
  it('residual net, CAM at the layer that feeds the global average pool', async () => {
    await compareWithReference(NETS.residual(), 1, { methods: ['cam', 'gradcam'], targets: { topK: 2 }, layer: 'avg' });
  });
  it('branchy net (softmax output: scores are its input), T = 5, layer after concat', async () => {
    await compareWithReference(NETS.branchy(), 1, { methods: GRAD_METHODS, targets: { topK: 5 }, layer: 'relu2' });
  });
});

describe("the lecture's derivation on a GAP→linear network", () => {
  it("Grad-CAM's channel weights are W[c, k] / Z and its normalised map equals normalised ReLU(CAM)", async () => {
    const fx = loadFixture('gap_head');
    const e = await getEngine();
    const model = await Model.load(e, fx.graph);
    const input = e.upload(fx.input.data, fx.input.shape);
    const r = await explain(model, input, { methods: ['cam', 'gradcam'], targets: fx.targets, layer: fx.layer });
    const [, , h, w] = fx.expected.activation.shape;
    const Z = h * w;
    const cam = await r.maps.cam!.weights.read();
    const alpha = await r.maps.gradcam!.weights.read();
    // α is the mean over Z positions of the same gradient W/Z: Z terms of one sign.
    expectAllclose(
      alpha,
      Array.from(cam, (v) => v / Z),
      f32Reduction(Z, maxAbs(alpha)),
      'α = W/Z',
    );
    // ReLU(CAM) normalised, computed from the GPU's CAM map, against the GPU's Grad-CAM map.
    const camRaw = await r.maps.cam!.raw.read();
    const reluCam = normalizeMinMax(
      hostTensor(
        [fx.targets.length, h, w],
        Array.from(camRaw, (v) => Math.max(v, 0)),
      ),
    );
    expectAllclose(
      await r.maps.gradcam!.layer.read(),
      reluCam.data,
      NETWORK, // two attribution kernels on the network's float32 tensors
      'Grad-CAM vs ReLU(CAM)',
    );
    r.destroy();
    input.destroy();
    model.destroy();
  });
});

describe('relations between the methods', () => {
  it('counterfactual equals Grad-CAM computed from negated gradients', async () => {
    const e = await getEngine();
    const spec = NETS.residual();
    const model = await Model.load(e, spec);
    const input = e.upload(randn(300, 5), [1, 3, 10, 10]);
    const r = await explain(model, input, { methods: ['gradcam', 'counterfactual'], targets: { topK: 3 } });
    const G = await r.gradients!.read();
    const A = await r.activations.read();
    const [, K, h, w] = r.activations.shape;
    // Grad-CAM's formula applied to −G, on the CPU.
    const alpha = new Float64Array(3 * K);
    for (let b = 0; b < 3; b++)
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let j = 0; j < h * w; j++) s += -G[(b * K + k) * h * w + j];
        alpha[b * K + k] = s / (h * w);
      }
    const want = weightedSum(hostTensor([1, K, h, w], A), hostTensor([3, K], alpha), true);
    expectAllclose(await r.maps.counterfactual!.raw.read(), want.data, NETWORK, 'counterfactual');
    expectAllclose(
      await r.maps.counterfactual!.weights.read(),
      Array.from(await r.maps.gradcam!.weights.read(), (v) => -v),
      EXACT,
      'weights = −α',
    );
    r.destroy();
    input.destroy();
    model.destroy();
  });

  it('Guided Grad-CAM equals the upsampled Grad-CAM times guided backprop', async () => {
    const e = await getEngine();
    const model = await Model.load(e, NETS.plain());
    const input = e.upload(randn(297, 6), [1, 3, 11, 9]);
    const r = await explain(model, input, {
      methods: ['gradcam', 'guided-backprop', 'guided-gradcam'],
      targets: { topK: 2 },
    });
    const up = await r.maps.gradcam!.input.read();
    const gb = await r.maps['guided-backprop']!.input.read();
    const want = Array.from(gb, (v, idx) => {
      const b = Math.floor(idx / (3 * 99));
      return v * up[b * 99 + (idx % 99)];
    });
    expectAllclose(await r.maps['guided-gradcam']!.input.read(), want, F32, 'guided grad-cam'); // one product
    r.destroy();
    input.destroy();
    model.destroy();
  });

  it('guided backprop never passes a negative gradient through a ReLU', async () => {
    const e = await getEngine();
    const model = await Model.load(e, NETS.plain());
    const input = e.upload(randn(297, 7), [1, 3, 11, 9]);
    // Gradients at the inputs of the ReLUs (conv outputs), guided and plain, for 5 random seeds.
    const acts = await model.forward(input, { backwardTo: ['conv1', 'conv2'] });
    const seeds = e.upload(randn(5 * 5, 8), [5, 5]);
    let negativePlain = 0;
    for (const to of ['conv1', 'conv2']) {
      const guidedT = await model.backward(acts, seeds, { to, guided: true });
      const plainT = await model.backward(acts, seeds, { to });
      const guided = await guidedT.read();
      const plain = await plainT.read();
      guidedT.destroy();
      plainT.destroy();
      expect(Math.min(...guided)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...guided)).toBeGreaterThan(0);
      negativePlain += plain.filter((v) => v < 0).length;
    }
    expect(negativePlain).toBeGreaterThan(0); // the ordinary backward does pass negative gradients
    acts.destroy();
    seeds.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });
});

describe('class discrimination', () => {
  it("each class's Grad-CAM peaks in its own region; the counterfactual of one class peaks in the other's", async () => {
    const e = await getEngine();
    const model = await Model.load(e, regionsNet());
    const input = e.upload(regionsScene(), [1, 3, REGION_SIZE, REGION_SIZE]);
    const r = await explain(model, input, {
      methods: ['gradcam', 'gradcam++', 'counterfactual', 'cam'],
      targets: [0, 1],
    });
    const S = REGION_SIZE * REGION_SIZE;
    for (const m of ['gradcam', 'gradcam++', 'cam'] as const) {
      const maps = await r.maps[m]!.input.read();
      expect(quadrantOf(argmax(maps.subarray(0, S))), `${m} red`).toBe('top-left');
      expect(quadrantOf(argmax(maps.subarray(S, 2 * S))), `${m} green`).toBe('bottom-right');
    }
    const cf = await r.maps.counterfactual!.input.read();
    expect(quadrantOf(argmax(cf.subarray(0, S))), 'counterfactual of red').toBe('bottom-right');
    expect(quadrantOf(argmax(cf.subarray(S, 2 * S))), 'counterfactual of green').toBe('top-left');
    r.destroy();
    input.destroy();
    model.destroy();
  });
});

describe('batched targets', () => {
  it('T = 5 in one call equals five single-target calls, with the dispatches of one backward pass', async () => {
    const e = await getEngine();
    const spec = NETS.plain();
    const model = await Model.load(e, spec);
    const input = e.upload(randn(297, 9), [1, 3, 11, 9]);
    const methods: Method[] = ['cam', ...GRAD_METHODS];
    const targets = [3, 1, 4, 0, 2];
    const d0 = e.stats.dispatches;
    const batched = await explain(model, input, { methods, targets });
    const batchedDispatches = e.stats.dispatches - d0;
    let singleDispatches = 0;
    for (let t = 0; t < 5; t++) {
      const d1 = e.stats.dispatches;
      const single = await explain(model, input, { methods, targets: [targets[t]] });
      singleDispatches = e.stats.dispatches - d1;
      for (const m of LAYER_MAPS) {
        const S = 11 * 9;
        const all = await batched.maps[m]!.input.read();
        expectAllclose(
          all.subarray(t * S, (t + 1) * S),
          await single.maps[m]!.input.read(),
          EXACT, // every target runs the same per-element arithmetic, batched or not
          `${m} target ${t}`,
        );
      }
      const gb = await batched.maps['guided-gradcam']!.input.read();
      expectAllclose(
        gb.subarray(t * 297, (t + 1) * 297),
        await single.maps['guided-gradcam']!.input.read(),
        EXACT,
        `guided-gradcam target ${t}`,
      );
      single.destroy();
    }
    // The same number of kernel launches for 5 targets as for 1: one forward, one batched
    // backward (plus one guided), one set of attribution kernels.
    expect(batchedDispatches).toBe(singleDispatches);
    batched.destroy();
    input.destroy();
    model.destroy();
  });

  it('bad targets and methods get typed errors naming them', async () => {
    const e = await getEngine();
    const model = await Model.load(e, NETS.plain());
    const input = e.upload(randn(297, 10), [1, 3, 11, 9]);
    await expect(explain(model, input, { targets: [7] })).rejects.toThrow(InvalidInputError);
    await expect(explain(model, input, { targets: [7] })).rejects.toThrow(/target class 7/);
    await expect(explain(model, input, { targets: { topK: 6 } })).rejects.toThrow(/topK/);
    await expect(explain(model, input, { methods: ['lime' as Method] })).rejects.toThrow(/unknown method 'lime'/);
    await expect(explain(model, input, { layer: 'nope' })).rejects.toThrow(/'nope' is not in the graph/);
    await expect(explain(model, input, { layer: 'flat' })).rejects.toThrow(/4-D/);
    const ok = await explain(model, input);
    expect(ok.maps.gradcam!.input.shape).toEqual([1, 11, 9]);
    ok.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });
});
