/**
 * The spatial and eigen methods at a layer whose activations take both signs (the fixtures'
 * `prerelu_layer`), against PyTorch (tools/make_fixtures.py, `prerelu:<method>`): the CPU
 * reference and the GPU. At the fixtures' default layers (after a ReLU, A ≥ 0) Grad-CAM
 * element-wise and LayerCAM coincide, ReLU(g·A) = ReLU(g)·A; before a ReLU too, since g = 0
 * wherever A < 0. The residual net's conv2 feeds an add, so there negative activations get a
 * gradient and the two differ, which this test checks first.
 */
import { describe, expect, it } from 'vitest';
import { explain, type LayerMaps } from '../../src/attribution/explain';
import { Model } from '../../src/model/model';
import { explainReference } from '../../src/reference/explain';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { FIXTURES, loadFixture, type FixtureMaps } from '../cases/fixtures';
import { expectAllclose, MAPS, maxAbs, NETWORK, type Tol } from '../util/compare';
import { getEngine } from '../util/gpu';

const METHODS = ['hirescam', 'gradcam-elementwise', 'layercam', 'eigencam', 'eigengradcam'] as const;
// As pytorch.test.ts: float64 against float64 on the same float32 weights, 9 digits.
const REF_TOL: Tol = { atol: 1e-8, rtol: 1e-6 };
const REF_MAP_TOL: Tol = { atol: 1e-6, rtol: 1e-6 };

describe.each(FIXTURES)('fixture %s at its layer with activations of both signs', (name) => {
  const fx = loadFixture(name);
  const want = (m: string) => fx.expected[`prerelu:${m}`] as FixtureMaps;

  it('the CPU reference and the GPU equal PyTorch', async () => {
    const A = fx.expected.activation.data;
    expect(Math.min(...A)).toBeGreaterThanOrEqual(0); // the default layer is after a ReLU
    if (name === 'residual') {
      const d = maxAbs(want('layercam').map.data.map((v, i) => v - want('gradcam-elementwise').map.data[i]));
      expect(d).toBeGreaterThan(1e-2);
    }
    const opts = { methods: METHODS, targets: fx.targets, layer: fx.prerelu_layer };
    const ref = explainReference(new RefModel(fx.graph), hostTensor(fx.input.shape, fx.input.data), opts);
    expect(Math.min(...ref.activations.data)).toBeLessThan(0);
    const e = await getEngine();
    const model = await Model.load(e, fx.graph);
    const input = e.upload(fx.input.data, fx.input.shape);
    const r = await explain(model, input, opts);
    for (const m of METHODS) {
      const w = want(m);
      expect(w, `golden values for ${m}`).toBeDefined();
      const got = ref.maps[m]!;
      expectAllclose(got.raw!.data, w.map.data, REF_TOL, `reference ${m} map`);
      expectAllclose(got.layer!.data, w.map_norm.data, REF_MAP_TOL, `reference ${m} normalised`);
      expectAllclose(got.input!.data, w.map_up.data, REF_MAP_TOL, `reference ${m} upsampled`);
      const maps = r.maps[m] as LayerMaps;
      // The eigen methods' projections: relative to the map's largest value (eigen.test.ts).
      const rawTol = m.startsWith('eigen') ? { atol: NETWORK.rtol * maxAbs(w.map.data), rtol: 0 } : NETWORK;
      expectAllclose(await maps.raw.read(), w.map.data, rawTol, `GPU ${m} map`);
      expectAllclose(await maps.layer.read(), w.map_norm.data, MAPS, `GPU ${m} normalised`);
      expectAllclose(await maps.input.read(), w.map_up.data, MAPS, `GPU ${m} upsampled`);
    }
    r.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });
});
