/**
 * The augSmooth option (src/attribution/augment.ts): the layer methods' maps averaged over six
 * augmented copies of the input (flip × brightness 0.9, 1, 1.1), flipped back. The CPU reference
 * and the GPU against PyTorch (tools/make_fixtures.py, augsmooth:<m>), the GPU against the
 * reference at N = 2, T = 2 with every family and Guided Grad-CAM, the kernels on their own,
 * typed errors, no leaks.
 */
import { describe, expect, it } from 'vitest';
import { applicableMethods, explain } from '../../src/attribution/explain';
import { augmentInput, augmentMean } from '../../src/attribution/augment';
import { InvalidInputError } from '../../src/core/errors';
import { AUGMENTATIONS } from '../../src/methods/augment';
import { channelMethod, isChannel, isPerturbation, type Method } from '../../src/methods/registry';
import { Model } from '../../src/model/model';
import { augmentImage, flipLast } from '../../src/reference/augment';
import { explainReference } from '../../src/reference/explain';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { FIXTURES, fixtureKey, loadFixture, type FixtureMaps } from '../cases/fixtures';
import { NETS } from '../cases/nets';
import { expectAllclose, F32, MAPS, maxAbs, NETWORK } from '../util/compare';
import { getEngine } from '../util/gpu';
import { randn } from '../util/random';

// The CPU reference against PyTorch: float64 both, the fixtures with 9 digits (pytorch.test.ts's
// REF_TOL and REF_MAP_TOL).
const REF_TOL = { atol: 1e-8, rtol: 1e-6 };
const REF_MAP_TOL = { atol: 1e-6, rtol: 1e-6 };

describe('augSmooth', () => {
  it('has the six copies of pytorch-grad-cam: flip off/on × factor 0.9, 1, 1.1', () => {
    expect(AUGMENTATIONS.map((a) => [a.flip, a.factor])).toEqual([
      [false, 0.9],
      [false, 1],
      [false, 1.1],
      [true, 0.9],
      [true, 1],
      [true, 1.1],
    ]);
  });

  it('the copy and mean kernels equal the CPU reference', async () => {
    const e = await getEngine();
    const [n, c, h, w] = [2, 3, 4, 5];
    const xs = randn(n * c * h * w, 3);
    const x = e.upload(xs, [n, c, h, w]);
    const copies = await augmentInput(e, x);
    expect(copies.shape).toEqual([6 * n, c, h, w]);
    const got = await copies.read();
    const per = n * c * h * w;
    AUGMENTATIONS.forEach((aug, a) => {
      const want = augmentImage(hostTensor([n, c, h, w], xs), aug);
      expectAllclose(got.subarray(a * per, (a + 1) * per), want.data, F32, `copy ${a}`);
    });
    // Maps [M = 2, T·A·N = 2·6·2, h, w] → [2, 2·2, h, w]: flip back, mean over the copies.
    const [M, T] = [2, 2];
    const maps = randn(M * T * 6 * n * h * w, 4);
    const src = e.upload(maps, [M, T * 6 * n, h, w]);
    const mean = await augmentMean(e, src, M * T, n, true);
    expect(mean.shape).toEqual([M, T * n, h, w]);
    const out = await mean.read();
    for (let u = 0; u < M * T; u++) {
      for (let i = 0; i < n; i++) {
        const acc = new Float64Array(h * w);
        AUGMENTATIONS.forEach((aug, a) => {
          const off = ((u * 6 + a) * n + i) * h * w;
          const back = flipLast(hostTensor([h, w], maps.subarray(off, off + h * w)), aug.flip);
          back.data.forEach((v, j) => (acc[j] += v / 6));
        });
        const off = (u * n + i) * h * w;
        expectAllclose(out.subarray(off, off + h * w), acc, F32, `mean ${u} ${i}`);
      }
    }
    for (const t of [x, copies, src, mean]) t.destroy();
    expect(e.liveTensors).toBe(0);
  });

  it.each(FIXTURES)('fixture %s: the CPU reference and the GPU equal PyTorch', async (name) => {
    const fx = loadFixture(name);
    const methods = (['gradcam', 'gradcam++', 'hirescam', 'eigencam', 'cam'] as const).filter(
      (m) => m !== 'cam' || fx.expected.cam,
    );
    const opts = { methods, targets: fx.targets, layer: fx.layer, augSmooth: true };
    const ref = explainReference(new RefModel(fx.graph), hostTensor(fx.input.shape, fx.input.data), opts);
    const e = await getEngine();
    const model = await Model.load(e, fx.graph);
    const input = e.upload(fx.input.data, fx.input.shape);
    const r = await explain(model, input, opts);
    for (const m of methods) {
      const want = fx.expected[`augsmooth:${fixtureKey(m)}`] as FixtureMaps;
      expect(want, `golden values for ${m}`).toBeDefined();
      const got = ref.maps[m]!;
      if (want.weights) expectAllclose(got.weights!.data, want.weights.data, REF_TOL, `reference ${m} weights`);
      expectAllclose(got.raw!.data, want.map.data, REF_TOL, `reference ${m} map`);
      expectAllclose(got.layer!.data, want.map_norm.data, REF_MAP_TOL, `reference ${m} normalised`);
      expectAllclose(got.input!.data, want.map_up.data, REF_MAP_TOL, `reference ${m} upsampled`);
      const maps = r.maps[m]!;
      // The shapes without the option.
      expect(maps.input.shape).toEqual(want.map_up.shape);
      expect(maps.layer.shape).toEqual(want.map_norm.shape);
      if (want.weights) {
        expectAllclose(
          await (maps as { weights: { read(): Promise<Float32Array> } }).weights.read(),
          want.weights.data,
          NETWORK,
          `GPU ${m} weights`,
        );
      }
      const raw = await maps.raw.read();
      expectAllclose(raw, want.map.data, { atol: NETWORK.rtol * maxAbs(want.map.data), rtol: 0 }, `GPU ${m} map`);
      expectAllclose(await maps.layer.read(), want.map_norm.data, MAPS, `GPU ${m} normalised`);
      expectAllclose(await maps.input.read(), want.map_up.data, MAPS, `GPU ${m} upsampled`);
    }
    // Scores and gradients are those of the unaugmented input.
    expectAllclose(await r.gradients!.read(), fx.expected.gradients.data, NETWORK, 'gradients');
    r.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });

  it('the GPU equals the CPU reference with every layer family, eigenSmooth and Guided Grad-CAM, N = 2, T = 2', async () => {
    const e = await getEngine();
    const spec = NETS.residual();
    const model = await Model.load(e, spec);
    const [c, h, w] = spec.input.shape;
    const xs = randn(2 * c * h * w, 61);
    const input = e.upload(xs, [2, c, h, w]);
    const methods: Method[] = ['gradcam', 'xgradcam', 'layercam', 'eigengradcam', 'guided-gradcam', 'saliency'];
    for (const eigenSmooth of [false, true]) {
      const opts = { methods, targets: { topK: 2 }, augSmooth: true, eigenSmooth };
      const r = await explain(model, input, opts);
      const ref = explainReference(new RefModel(spec), hostTensor([2, c, h, w], xs), opts);
      const plain = await explain(model, input, { ...opts, augSmooth: false });
      for (const m of methods) {
        const want = ref.maps[m]!;
        const got = r.maps[m]!;
        expect(got.input.shape).toEqual(plain.maps[m]!.input.shape);
        if (m === 'guided-gradcam' || m === 'saliency') {
          expectAllclose(await got.input.read(), want.input!.data, NETWORK, `${m} (eigenSmooth ${eigenSmooth})`);
          continue;
        }
        const lm = got as { raw: { read(): Promise<Float32Array> }; input: { read(): Promise<Float32Array> } };
        const raw = await lm.raw.read();
        const tol = { atol: NETWORK.rtol * maxAbs(want.raw!.data) + NETWORK.atol, rtol: 0 };
        expectAllclose(raw, want.raw!.data, tol, `${m} raw (eigenSmooth ${eigenSmooth})`);
        const up = await lm.input.read();
        expectAllclose(up, want.input!.data, MAPS, `${m} upsampled (eigenSmooth ${eigenSmooth})`);
        // Not the map without the option.
        const before = await plain.maps[m]!.input.read();
        expect(maxAbs(Array.from(up, (v, i) => v - before[i])), m).toBeGreaterThan(1e-3);
      }
      // Saliency is not a layer method: unchanged.
      expectAllclose(
        await r.maps.saliency!.input.read(),
        await plain.maps.saliency!.input.read(),
        { atol: 0, rtol: 0 },
        'saliency',
      );
      r.destroy();
      plain.destroy();
    }
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });

  it('submits once and reads nothing back, with every method it allows', async () => {
    const e = await getEngine();
    const spec = NETS.branchy();
    const model = await Model.load(e, spec);
    const g = model.graph;
    const methods = applicableMethods(g, g.defaultLayer()).filter(
      (m) => !isPerturbation(m) && !(isChannel(m) && channelMethod(m).source === 'noisy-gradients'),
    );
    const [c, h, w] = spec.input.shape;
    const x = e.upload(randn(c * h * w, 5), [1, c, h, w]);
    await e.flush();
    const before = { ...e.stats };
    const r = await explain(model, x, { methods, targets: { topK: 3 }, augSmooth: true });
    expect(e.stats.submits - before.submits).toBe(1);
    expect(e.stats.readbacks - before.readbacks).toBe(0);
    r.destroy();
    x.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });

  it('refuses a non-boolean and the perturbation methods with InvalidInputError, leaving the engine usable', async () => {
    const e = await getEngine();
    const spec = NETS.residual();
    const model = await Model.load(e, spec);
    const input = e.upload(
      randn(
        spec.input.shape.reduce((a, b) => a * b, 1),
        5,
      ),
      [1, ...spec.input.shape],
    );
    const live = e.liveTensors;
    await expect(explain(model, input, { augSmooth: 'yes' as never })).rejects.toThrow(InvalidInputError);
    await expect(explain(model, input, { augSmooth: 1 as never })).rejects.toThrow(/augSmooth must be true or false/);
    for (const m of ['scorecam', 'ablationcam'] as const) {
      await expect(explain(model, input, { methods: ['gradcam', m], augSmooth: true })).rejects.toThrow(
        new RegExp(`augSmooth does not apply to ${m}`),
      );
    }
    expect(e.liveTensors).toBe(live);
    const ok = await explain(model, input, { augSmooth: true });
    expect(ok.maps.gradcam!.input.shape).toEqual([1, ...spec.input.shape.slice(1)]);
    ok.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });
});
