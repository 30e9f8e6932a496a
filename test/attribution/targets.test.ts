/**
 * Targets other than the logit (src/attribution/targets.ts): the softmax probability and the
 * sigmoid as explained scores, seed vectors over the classes, every class above a threshold.
 * The CPU reference against PyTorch autograd of the scores themselves (tools/make_fixtures.py,
 * 'score_targets'), the GPU engine against the CPU reference, and the refused combinations.
 */
import { describe, expect, it } from 'vitest';
import { explain } from '../../src/attribution/explain';
import { evaluate } from '../../src/metrics/evaluate';
import { InvalidInputError, MethodNotApplicableError } from '../../src/core/errors';
import { Model } from '../../src/model/model';
import { explainReference } from '../../src/reference/explain';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { FIXTURES, loadFixture, type FixtureMaps, type FixtureTensor } from '../cases/fixtures';
import { NETS } from '../cases/nets';
import type { Method } from '../../src/methods/registry';
import type { GraphSpec } from '../../src/model/spec';
import type { Score, Targets } from '../../src/attribution/targets';
import type { SamplingOptions } from '../../src/methods/sampling';
import { ABLATION, expectAllclose, MAPS, NETWORK, type Tol } from '../util/compare';
import { getEngine } from '../util/gpu';
import { randn } from '../util/random';

// As in pytorch.test.ts: both float64 on the same float32 weights, fixtures with 9 digits.
const REF_TOL: Tol = { atol: 1e-8, rtol: 1e-6 };
const REF_MAP_TOL: Tol = { atol: 1e-6, rtol: 1e-6 };
// The perturbation maps Σ_k w_k·A^k against goldens written with 9 digits: Ablation-CAM's
// (p − p_k)/p reaches 4.4 here (residual, an unlikely class), and the difference of two close
// probabilities loses digits, so the map's error is a few 1e-8.
const REF_PERTURBATION_MAP_TOL: Tol = { atol: 1e-7, rtol: 1e-6 };

interface Scored {
  score: FixtureTensor;
  smoothgrad: FixtureTensor;
  integrated_gradients: FixtureTensor;
  gradients: FixtureTensor;
  input_gradients: FixtureTensor;
  gradcam: FixtureMaps;
  /** seed only, for GAP → linear heads: CAM with weights v·W. */
  cam?: FixtureMaps;
  /** probability and sigmoid only: the perturbation methods on that score. */
  scorecam?: FixtureMaps;
  ablationcam?: FixtureMaps;
}
interface ScoreTargets {
  seed_vector: number[];
  probability: Scored;
  sigmoid: Scored;
  seed: Scored;
  seed_probability: Scored;
  above: Record<'sigmoid' | 'probability', { threshold: number; classes: number[] }>;
}

/** The explain options of each golden entry. */
function cases(fx: ReturnType<typeof loadFixture>, st: ScoreTargets) {
  return [
    { name: 'probability', want: st.probability, opts: { targets: fx.targets, score: 'probability' as const } },
    { name: 'sigmoid', want: st.sigmoid, opts: { targets: fx.targets, score: 'sigmoid' as const } },
    { name: 'seed', want: st.seed, opts: { targets: { seed: st.seed_vector } } },
    {
      name: 'seed_probability',
      want: st.seed_probability,
      opts: { targets: { seed: st.seed_vector }, score: 'probability' as const },
    },
  ];
}

describe.each(FIXTURES)('fixture %s', (name) => {
  const fx = loadFixture(name);
  const st = (fx as unknown as { score_targets: ScoreTargets }).score_targets;
  const x = hostTensor(fx.input.shape, fx.input.data);
  const methods = ['gradcam', 'saliency', 'smoothgrad', 'integrated-gradients'] as const;

  it.each(cases(fx, st))('the CPU reference equals PyTorch autograd: $name', ({ want, opts }) => {
    const ref = explainReference(new RefModel(fx.graph), x, { methods, layer: fx.layer, ...fx.sampling, ...opts });
    expectAllclose(ref.gradients.data, want.gradients.data, REF_TOL, 'gradients');
    const cam = ref.maps.gradcam!;
    expectAllclose(cam.weights!.data, want.gradcam.weights!.data, REF_TOL, 'gradcam weights');
    expectAllclose(cam.raw!.data, want.gradcam.map.data, REF_TOL, 'gradcam map');
    expectAllclose(cam.input!.data, want.gradcam.map_up.data, REF_MAP_TOL, 'gradcam upsampled map');
    const saliency = want.input_gradients.data.map(Math.abs);
    expectAllclose(ref.maps.saliency!.input!.data, saliency, REF_TOL, 'saliency');
    if (want.cam) {
      const refCam = explainReference(new RefModel(fx.graph), x, { methods: ['cam'], layer: fx.layer, ...opts });
      expectAllclose(refCam.maps.cam!.weights!.data, want.cam.weights!.data, REF_TOL, 'cam weights');
      expectAllclose(refCam.maps.cam!.raw!.data, want.cam.map.data, REF_TOL, 'cam map');
      expectAllclose(refCam.maps.cam!.input!.data, want.cam.map_up.data, REF_MAP_TOL, 'cam upsampled map');
    }
    for (const m of ['scorecam', 'ablationcam'] as const) {
      const w = want[m];
      if (!w) continue;
      const refP = explainReference(new RefModel(fx.graph), x, { methods: [m], layer: fx.layer, ...opts });
      expectAllclose(refP.maps[m]!.weights!.data, w.weights!.data, REF_TOL, `${m} weights`);
      expectAllclose(refP.maps[m]!.raw!.data, w.map.data, REF_PERTURBATION_MAP_TOL, `${m} map`);
    }
    // Each perturbed copy seeded with the score's gradient at that copy's own logits.
    expectAllclose(ref.maps.smoothgrad!.input!.data, want.smoothgrad.data, REF_TOL, 'smoothgrad');
    const ig = want.integrated_gradients.data;
    expectAllclose(ref.maps['integrated-gradients']!.input!.data, ig, REF_TOL, 'integrated gradients');
  });

  it.each(['sigmoid', 'probability'] as const)('the CPU reference picks the classes above a threshold: %s', (s) => {
    const { threshold, classes } = st.above[s];
    const ref = explainReference(new RefModel(fx.graph), x, {
      methods: ['gradcam'],
      layer: fx.layer,
      targets: { above: threshold },
      score: s === 'probability' ? 'probability' : 'logit',
    });
    expect(ref.classes).toEqual([classes]);
  });

  it('the GPU engine equals PyTorch autograd for every score and seed vectors', async () => {
    const e = await getEngine();
    const model = await Model.load(e, fx.graph);
    const input = e.upload(fx.input.data, fx.input.shape);
    for (const { name: what, want, opts } of cases(fx, st)) {
      const r = await explain(model, input, { methods: [...methods], layer: fx.layer, ...fx.sampling, ...opts });
      expectAllclose(await r.gradients!.read(), want.gradients.data, NETWORK, `${what} gradients`);
      const cam = r.maps.gradcam!;
      expectAllclose(await cam.weights.read(), want.gradcam.weights!.data, NETWORK, `${what} gradcam weights`);
      expectAllclose(await cam.raw.read(), want.gradcam.map.data, NETWORK, `${what} gradcam map`);
      expectAllclose(await cam.input.read(), want.gradcam.map_up.data, MAPS, `${what} gradcam upsampled`);
      const saliency = want.input_gradients.data.map(Math.abs);
      expectAllclose(await r.maps.saliency!.input.read(), saliency, NETWORK, `${what} saliency`);
      expectAllclose(await r.maps.smoothgrad!.input.read(), want.smoothgrad.data, NETWORK, `${what} smoothgrad`);
      const ig = want.integrated_gradients.data;
      expectAllclose(await r.maps['integrated-gradients']!.input.read(), ig, NETWORK, `${what} integrated gradients`);
      if (want.cam) {
        const c = await explain(model, input, { methods: ['cam'], layer: fx.layer, ...opts });
        expectAllclose(await c.maps.cam!.weights.read(), want.cam.weights!.data, NETWORK, `${what} cam weights`);
        expectAllclose(await c.maps.cam!.raw.read(), want.cam.map.data, NETWORK, `${what} cam map`);
        expectAllclose(await c.maps.cam!.input.read(), want.cam.map_up.data, MAPS, `${what} cam upsampled`);
        c.destroy();
      }
      for (const m of ['scorecam', 'ablationcam'] as const) {
        const w = want[m];
        if (!w) continue;
        const q = await explain(model, input, { methods: [m], layer: fx.layer, ...opts });
        const tol = m === 'ablationcam' ? ABLATION : NETWORK;
        expectAllclose(await q.maps[m]!.weights.read(), w.weights!.data, tol, `${what} ${m} weights`);
        expectAllclose(await q.maps[m]!.raw.read(), w.map.data, tol, `${what} ${m} map`);
        expectAllclose(await q.maps[m]!.input.read(), w.map_up.data, MAPS, `${what} ${m} upsampled`);
        q.destroy();
      }
      if ('seed' in opts.targets) expect(await r.readClasses()).toEqual([[-1]]);
      else expect(await r.readClasses()).toEqual([fx.targets]);
      r.destroy();
    }
    for (const s of ['sigmoid', 'probability'] as const) {
      const { threshold, classes } = st.above[s];
      const score = s === 'probability' ? 'probability' : 'sigmoid';
      const r = await explain(model, input, {
        methods: ['gradcam'],
        layer: fx.layer,
        targets: { above: threshold },
        score,
      });
      expect(await r.readClasses()).toEqual([classes]);
      expect(r.t).toBe(classes.length);
      r.destroy();
    }
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });
});

/** explain() on the GPU against the CPU reference with the same options; returns the classes. */
async function compareWithReference(
  spec: GraphSpec,
  n: number,
  opts: { methods: Method[]; targets: Targets; score?: Score; layer?: string } & SamplingOptions,
): Promise<number[][]> {
  const e = await getEngine();
  const [c, h, w] = spec.input.shape;
  const xs = randn(n * c * h * w, 7);
  const model = await Model.load(e, spec);
  const input = e.upload(xs, [n, c, h, w]);
  const r = await explain(model, input, opts);
  const ref = explainReference(new RefModel(spec), hostTensor([n, c, h, w], xs), opts);
  const classes = await r.readClasses();
  expect(classes).toEqual(ref.classes);
  for (const m of opts.methods) {
    const want = ref.maps[m]!;
    const got = r.maps[m] as unknown as Record<string, { read(): Promise<Float32Array> }>;
    const tol = m === 'ablationcam' ? ABLATION : NETWORK;
    for (const key of ['weights', 'raw', 'layer', 'input'] as const) {
      if (!want[key]) continue;
      const t = key === 'layer' || (key === 'input' && 'layer' in want) ? MAPS : tol;
      expectAllclose(await got[key].read(), want[key].data, t, `${m} ${key}`);
    }
  }
  r.destroy();
  input.destroy();
  model.destroy();
  expect(e.liveTensors).toBe(0);
  return classes;
}

describe('targets and scores on the GPU equal the CPU reference', () => {
  const all: Method[] = ['cam', 'gradcam', 'counterfactual', 'gradcam++', 'hirescam', 'guided-gradcam', 'saliency'];
  const gradient: Method[] = all.filter((m) => m !== 'cam');

  it.each(['probability', 'sigmoid'] as const)('score %s, top 2 of N = 2 images', async (score) => {
    await compareWithReference(NETS.plain(), 2, { methods: gradient, targets: { topK: 2 }, score });
  });

  it.each(['probability', 'sigmoid'] as const)('score %s: Score-CAM and Ablation-CAM, N = 2', async (score) => {
    await compareWithReference(NETS.plain(), 2, {
      methods: ['scorecam', 'ablationcam', 'gradcam'],
      targets: [0, 3],
      score,
    });
  });

  it.each(['probability', 'sigmoid'] as const)(
    'score %s: SmoothGrad and Integrated Gradients, N = 2',
    async (score) => {
      const methods: Method[] = ['smoothgrad', 'guided-smoothgrad', 'integrated-gradients'];
      await compareWithReference(NETS.residual(), 2, {
        methods,
        targets: { topK: 2 },
        score,
        smoothgrad: { samples: 3 },
      });
    },
  );

  it('a seed vector per image, N = 2, with SmoothGrad, Score-CAM and Ablation-CAM, on the residual net', async () => {
    const seed = [
      [1, -0.5, 0, 2],
      [0, 1, -1, 0.5],
    ];
    const classes = await compareWithReference(NETS.residual(), 2, {
      methods: ['gradcam', 'layercam', 'smoothgrad', 'scorecam', 'ablationcam'],
      targets: { seed },
    });
    expect(classes).toEqual([[-1], [-1]]);
  });

  it('a seed vector per image with CAM (weights v·W) and Grad-CAM, N = 2', async () => {
    const seed = [
      [1, 0, -2, 0.5, 0],
      [0, 1, 1, 0, -1],
    ];
    await compareWithReference(NETS.plain(), 2, { methods: ['cam', 'gradcam', 'guided-gradcam'], targets: { seed } });
  });

  it('a shared seed vector with score probability', async () => {
    await compareWithReference(NETS.plain(), 2, {
      methods: gradient,
      targets: { seed: [0.5, -1, 0, 2, 1] },
      score: 'probability',
    });
  });

  it('{ above }: images with fewer classes get rows of class -1 whose maps are zero', async () => {
    const spec = NETS.plain();
    const [c, h, w] = spec.input.shape;
    // A threshold between image 0's second and third sigmoid, from the reference's logits.
    const ref = explainReference(new RefModel(spec), hostTensor([2, c, h, w], randn(2 * c * h * w, 7)), {
      methods: ['gradcam'],
    });
    const sig = Array.from(ref.scores.data.subarray(0, 5), (y) => 1 / (1 + Math.exp(-y))).sort((a, b) => b - a);
    const above = (sig[1] + sig[2]) / 2;
    const classes = await compareWithReference(spec, 2, {
      methods: [...all, 'scorecam', 'ablationcam'],
      targets: { above },
    });
    expect(classes[0]).toHaveLength(classes[1].length);
    expect(classes[0].filter((k) => k >= 0)).toHaveLength(2);
    // The images differ in how many classes pass: padding is exercised.
    expect(classes.flat().filter((k) => k === -1).length).toBeGreaterThan(0);
  });

  it('{ above } with no class above the threshold: T = 1, every row class -1 and zero maps', async () => {
    const e = await getEngine();
    const spec = NETS.plain();
    const [c, h, w] = spec.input.shape;
    const model = await Model.load(e, spec);
    const input = e.upload(randn(c * h * w, 7), [1, c, h, w]);
    const r = await explain(model, input, {
      methods: ['gradcam', 'cam', 'guided-backprop'],
      targets: { above: 0.999999 },
    });
    expect(await r.readClasses()).toEqual([[-1]]);
    for (const t of [r.maps.gradcam!.input, r.maps.cam!.input, r.maps.cam!.weights, r.maps['guided-backprop']!.input]) {
      expect(Array.from(await t.read()).every((v) => v === 0)).toBe(true);
    }
    r.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });
});

describe('bad targets and scores are refused with typed errors', () => {
  const bad: [string, object, RegExp][] = [
    ['an unknown score', { score: 'softmax' }, /unknown score 'softmax'/],
    ['a seed vector of the wrong length', { targets: { seed: [1, 2] } }, /one number per class \(5\), got 2/],
    ['a NaN in the seed vector', { targets: { seed: [1, 0, NaN, 0, 0] } }, /targets.seed\[2\] is number NaN/],
    ['per-image seeds for the wrong N', { targets: { seed: [[1, 0, 0, 0, 0]] } }, /1 vectors for 2 images/],
    ['a threshold of 1', { targets: { above: 1 } }, /above must be a threshold in \(0, 1\)/],
    ['a threshold of 0', { targets: { above: 0 } }, /above must be a threshold/],
    ['a NaN threshold', { targets: { above: NaN } }, /above must be a threshold/],
    ['two kinds at once', { targets: { topK: 1, above: 0.5 } }, /targets must be .* with keys topK, above/],
  ];
  const refused: [string, object, RegExp][] = [
    [
      'CAM of the probability',
      { methods: ['cam'], score: 'probability' },
      /CAM cannot explain the score 'probability'/,
    ],
    [
      'Smooth Grad-CAM++ of the sigmoid',
      { methods: ['smoothgradcam++'], score: 'sigmoid' },
      /Smooth Grad-CAM\+\+ cannot explain the score 'sigmoid'/,
    ],
    ['Smooth Grad-CAM++ above a threshold', { methods: ['smoothgradcam++'], targets: { above: 0.5 } }, /class logit/],
    [
      'a list of layers with the probability',
      { layer: ['relu1', 'relu2'], score: 'probability' },
      /score 'probability' is not available with a list of layers/,
    ],
  ];

  it.each([...bad, ...refused])('%s', async (_what, opts, message) => {
    const e = await getEngine();
    const spec = NETS.plain();
    const [c, h, w] = spec.input.shape;
    const model = await Model.load(e, spec);
    const input = e.upload(randn(2 * c * h * w, 7), [2, c, h, w]);
    const run = () => explain(model, input, opts);
    const type =
      refused.some((r) => r[1] === opts) && !('layer' in opts) ? MethodNotApplicableError : InvalidInputError;
    await expect(run()).rejects.toThrow(type);
    await expect(run()).rejects.toThrow(message);
    // Nothing was allocated, and the engine is still usable.
    const ok = await explain(model, input, { methods: ['gradcam'], score: 'sigmoid', targets: { topK: 1 } });
    expect(ok.maps.gradcam!.input.shape).toEqual([1, 2, h, w]);
    ok.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });
});

it('evaluate() refuses seed-vector and { above } targets (a metric scores one class per row)', async () => {
  const e = await getEngine();
  const spec = NETS.plain();
  const [c, h, w] = spec.input.shape;
  const model = await Model.load(e, spec);
  const input = e.upload(randn(c * h * w, 7), [1, c, h, w]);
  for (const targets of [{ above: 0.5 }, { seed: [1, 0, 0, 0, 0] }]) {
    const run = evaluate(model, input, { metric: 'deletion', map: 'gradcam', targets, steps: 2 });
    await expect(run).rejects.toThrow(/evaluate: targets must be class indices or \{ topK \}/);
  }
  input.destroy();
  model.destroy();
  expect(e.liveTensors).toBe(0);
});
