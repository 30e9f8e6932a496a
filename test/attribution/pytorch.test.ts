/**
 * The CPU reference and the GPU engine against golden values from PyTorch autograd
 * (tools/make_fixtures.py: an independent implementation of every method).
 */
import { describe, expect, it } from 'vitest';
import { explain, type ChannelMaps, type LayerMaps } from '../../src/attribution/explain';
import { isInputGradient, METHODS } from '../../src/methods/registry';
import { MethodNotApplicableError } from '../../src/core/errors';
import { Model } from '../../src/model/model';
import { explainReference, type RefMaps } from '../../src/reference/explain';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { FIXTURES, fixtureKey, loadFixture, type FixtureMaps, type FixtureTensor } from '../cases/fixtures';
import { ABLATION, expectAllclose, MAPS, NETWORK, type Tol } from '../util/compare';
import { getEngine } from '../util/gpu';

// Every registered method has golden values (a method added without them fails here).
const MAP_METHODS = METHODS.filter((m) => !isInputGradient(m));
// The input-gradient methods, golden values under their names with '-' written '_'.
const INPUT_METHODS = METHODS.filter(isInputGradient);
const inputKey = (m: string) => m.replace(/-/g, '_');

// Not named tolerances: the CPU reference against PyTorch, both float64 on the same float32
// weights, the fixtures written with 9 significant digits; they agree to within ~4e-8, far
// below any float32 tolerance and above F64's few roundings. Normalised maps divide by
// (max − min), so their error scales with 1/range.
const REF_TOL: Tol = { atol: 1e-8, rtol: 1e-6 };
const REF_MAP_TOL: Tol = { atol: 1e-6, rtol: 1e-6 };
const REF_GUIDED_GRADCAM_TOL: Tol = { atol: 1e-8, rtol: 1e-5 };

describe.each(FIXTURES)('fixture %s', (name) => {
  const fx = loadFixture(name);
  // CAM only where the fixture's head is GAP → linear.
  const mapMethods = MAP_METHODS.filter((m) => m !== 'cam' || fx.expected.cam);
  const methods = [...mapMethods, ...INPUT_METHODS];
  const x = hostTensor(fx.input.shape, fx.input.data);
  const opts = { methods, targets: fx.targets, layer: fx.layer, ...fx.sampling };

  it('was written by tools/make_fixtures.py with PyTorch', () => {
    expect(fx.version).toMatch(/make_fixtures\.py .*torch/);
  });

  it('the CPU reference equals PyTorch autograd', () => {
    const ref = explainReference(new RefModel(fx.graph), x, opts);
    const ex = fx.expected;
    expectAllclose(ref.scores.data, ex.logits.data, REF_TOL, 'logits');
    expectAllclose(ref.activations.data, ex.activation.data, REF_TOL, 'activation');
    expectAllclose(ref.gradients.data, ex.gradients.data, REF_TOL, 'gradients');
    for (const m of mapMethods) {
      const want = ex[fixtureKey(m)] as FixtureMaps;
      expect(want, `golden values for ${m}`).toBeDefined();
      const got = ref.maps[m] as RefMaps;
      expect(!!got.weights).toBe(!!want.weights);
      if (want.weights) expectAllclose(got.weights!.data, want.weights.data, REF_TOL, `${m} weights`);
      expectAllclose(got.raw.data, want.map.data, REF_TOL, `${m} map`);
      expectAllclose(got.layer.data, want.map_norm.data, REF_MAP_TOL, `${m} normalised map`);
      expectAllclose(got.input.data, want.map_up.data, REF_MAP_TOL, `${m} upsampled map`);
    }
    expectAllclose(
      ref.maps['guided-backprop']!.input!.data,
      (ex.guided_backprop as FixtureTensor).data,
      REF_TOL,
      'guided backprop',
    );
    expectAllclose(
      ref.maps['guided-gradcam']!.input!.data,
      (ex.guided_gradcam as FixtureTensor).data,
      REF_GUIDED_GRADCAM_TOL,
      'guided grad-cam',
    );
    for (const m of INPUT_METHODS) {
      const want = ex[inputKey(m)] as FixtureTensor | undefined;
      expect(want, `golden values for ${m}`).toBeDefined();
      if (m === 'guided-gradcam') continue; // above, with its own tolerance
      expectAllclose(ref.maps[m]!.input!.data, want!.data, REF_TOL, m);
    }
  });

  it('the GPU engine equals PyTorch autograd', async () => {
    const e = await getEngine();
    const model = await Model.load(e, fx.graph);
    const input = e.upload(fx.input.data, fx.input.shape);
    const r = await explain(model, input, opts);
    const ex = fx.expected;
    expect(await r.readClasses()).toEqual([fx.targets]);
    expectAllclose(await r.scores.read(), (ex.logits as FixtureTensor).data, NETWORK, 'logits');
    expectAllclose(await r.gradients!.read(), (ex.gradients as FixtureTensor).data, NETWORK, 'gradients');
    for (const m of mapMethods) {
      const want = ex[fixtureKey(m)] as FixtureMaps;
      const got = r.maps[m] as LayerMaps & Partial<ChannelMaps>;
      expect(got.input.shape).toEqual(want.map_up.shape);
      const tol = m === 'ablationcam' ? ABLATION : NETWORK;
      if (want.weights) expectAllclose(await got.weights!.read(), want.weights.data, tol, `${m} weights`);
      expectAllclose(await got.raw.read(), want.map.data, tol, `${m} map`);
      expectAllclose(await got.layer.read(), want.map_norm.data, MAPS, `${m} normalised map`);
      const up = await got.input.read();
      expectAllclose(up, want.map_up.data, MAPS, `${m} upsampled map`);
      // Renormalised after resizing: every map that is not constant spans [0, 1] exactly.
      const z = want.map_up.shape.slice(-2).reduce((a, b) => a * b, 1);
      for (let r = 0; r < up.length / z; r++) {
        const row = up.subarray(r * z, (r + 1) * z);
        const [lo, hi] = [Math.min(...row), Math.max(...row)];
        expect([lo, hi], `${m} map ${r} range`).toEqual(hi === 0 ? [0, 0] : [0, 1]);
      }
    }
    const gb = (ex.guided_backprop as FixtureTensor).data;
    const ggc = (ex.guided_gradcam as FixtureTensor).data;
    expectAllclose(await r.maps['guided-backprop']!.input.read(), gb, NETWORK, 'guided backprop');
    expectAllclose(await r.maps['guided-gradcam']!.input.read(), ggc, NETWORK, 'guided grad-cam');
    for (const m of INPUT_METHODS) {
      const want = ex[inputKey(m)] as FixtureTensor;
      expect(r.maps[m]!.input.shape).toEqual(want.shape);
      expectAllclose(await r.maps[m]!.input.read(), want.data, NETWORK, m);
    }
    r.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });

  if (!fx.expected.cam) {
    it('CAM is refused with a typed error that says why and suggests Grad-CAM', async () => {
      const e = await getEngine();
      const model = await Model.load(e, fx.graph);
      const input = e.upload(fx.input.data, fx.input.shape);
      const run = () => explain(model, input, { methods: ['cam', 'gradcam'], layer: fx.layer });
      await expect(run()).rejects.toThrow(MethodNotApplicableError);
      await expect(run()).rejects.toThrow(/CAM cannot apply.*gradcam/s);
      // The engine is still usable.
      const ok = await explain(model, input, { methods: ['gradcam'], layer: fx.layer });
      expect(ok.maps.gradcam!.input.shape).toEqual([1, ...fx.input.shape.slice(2)]);
      ok.destroy();
      input.destroy();
      model.destroy();
      expect(e.liveTensors).toBe(0);
    });
  }
});
