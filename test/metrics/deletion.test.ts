/**
 * Deletion and insertion: the pixel ranks (bitonic sort on the GPU) and the blurred baseline
 * against the CPU reference, the reference against PyTorch (tools/make_metric_fixtures.py), the
 * GPU curves against both, chunked forwards, method names, typed errors and leaks.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { explain, type LayerMaps } from '../../src/attribution/explain';
import { InvalidInputError, MethodNotApplicableError } from '../../src/core/errors';
import { evaluate, type Evaluation } from '../../src/metrics/evaluate';
import { gaussianBlur, mapRanks } from '../../src/metrics/kernels';
import { Model } from '../../src/model/model';
import * as ref from '../../src/reference/metrics';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { loadFixture, type FixtureTensor } from '../cases/fixtures';
import { EXACT, expectAllclose, F32, NETWORK, type Tol } from '../util/compare';
import { getEngine } from '../util/gpu';

interface MetricFixture {
  version: string;
  input: FixtureTensor;
  targets: number[];
  maps: FixtureTensor;
  blurred: FixtureTensor;
  notes: { steps: number };
  expected: Record<'deletion_zero' | 'insertion_blur' | 'deletion_blur', { curve: number[]; auc: number }[]>;
}
const mfx = JSON.parse(readFileSync(new URL('../fixtures/metrics.json', import.meta.url), 'utf8')) as MetricFixture;
const spec = loadFixture('gap_head').graph;
const x = hostTensor(mfx.input.shape, mfx.input.data);
const maps = hostTensor(mfx.maps.shape, mfx.maps.data);
const steps = mfx.notes.steps;
const [N, , H, W] = x.shape;
const HW = H * W;
// The reference against PyTorch: both float64 on the same float32 values, written with 9 digits.
const REF_TOL: Tol = { atol: 1e-8, rtol: 1e-6 };
// A 121-tap blur in float32 of values of size ~1: the sum's rounding, a few ulps of the inputs' scale.
const BLUR_TOL: Tol = { atol: 2e-6, rtol: 0 };

const cases = [
  { key: 'deletion_zero', metric: 'deletion', baseline: 'zero' },
  { key: 'insertion_blur', metric: 'insertion', baseline: 'blur' },
  { key: 'deletion_blur', metric: 'deletion', baseline: 'blur' },
] as const;

describe('deletion and insertion', () => {
  it('the golden values were written by tools/make_metric_fixtures.py with PyTorch', () => {
    expect(mfx.version).toMatch(/make_metric_fixtures\.py .*torch/);
    // The maps have ties (a grid of 1/8), so the tie rule matters.
    expect(new Set(mfx.maps.data).size).toBeLessThan(10);
  });

  it('the CPU reference equals PyTorch', () => {
    expectAllclose(ref.gaussianBlur(x).data, mfx.blurred.data, REF_TOL, 'blur');
    const model = new RefModel(spec);
    for (const c of cases) {
      const rows = ref.curveReference(model, x, maps, mfx.targets, { metric: c.metric, steps, baseline: c.baseline });
      rows.forEach((r, k) => {
        expectAllclose(r.curve, mfx.expected[c.key][k].curve, REF_TOL, `${c.key} row ${k}`);
        expect(r.value).toBeCloseTo(mfx.expected[c.key][k].auc, 7);
      });
    }
  });

  it('the GPU ranks equal the reference exactly (ties by pixel index), and the blur', async () => {
    const e = await getEngine();
    const before = e.liveTensors;
    await e.scope(async () => {
      const m = e.upload(maps.data, maps.shape);
      const ranks = await mapRanks(e, m, HW);
      const got = new Uint32Array((await ranks.read()).buffer);
      expectAllclose(got, ref.mapRanks(maps), EXACT, 'ranks');
      // A power-of-two row (no padding) and a single pixel row.
      for (const [h, w] of [
        [4, 8],
        [1, 1],
      ]) {
        const v = Float32Array.from({ length: 3 * h * w }, (_, i) => ((i * 7) % 5) / 4);
        const r2 = await mapRanks(e, e.upload(v, [3, h, w]), h * w);
        const want = ref.mapRanks(hostTensor([3, h, w], v));
        expectAllclose(new Uint32Array((await r2.read()).buffer), want, EXACT, `ranks ${h}×${w}`);
      }
      const b = await gaussianBlur(e, e.upload(x.data, x.shape));
      expectAllclose(await b.read(), ref.gaussianBlur(x).data, BLUR_TOL, 'blur');
    });
    expect(e.liveTensors).toBe(before);
  });

  it.each(cases)('$key on the GPU equals the reference and PyTorch, in chunks of 4', async (c) => {
    const e = await getEngine();
    const model = await Model.load(e, spec);
    const before = e.liveTensors;
    const wantRows = ref.curveReference(new RefModel(spec), x, maps, mfx.targets, {
      metric: c.metric,
      steps,
      baseline: c.baseline,
    });
    const progress: number[] = [];
    let res: Evaluation;
    {
      const xin = e.upload(x.data, x.shape);
      const m = e.upload(maps.data, maps.shape);
      res = await evaluate(model, xin, {
        metric: c.metric,
        map: m,
        targets: mfx.targets,
        steps,
        baseline: c.baseline,
        batch: 4,
        onProgress: (d) => progress.push(d),
      });
      xin.destroy();
      m.destroy();
    }
    expect(e.liveTensors).toBe(before);
    const rows = mfx.targets.length * N * (steps + 1);
    expect(res.images).toBe(rows);
    expect(res.forwards).toBe(Math.ceil(rows / 4));
    expect(progress.at(-1)).toBe(rows);
    expect(res.rows.map((r) => [r.image, r.target])).toEqual(wantRows.map((r) => [r.image, r.target]));
    res.rows.forEach((r, k) => {
      expectAllclose(r.curve!, wantRows[k].curve, NETWORK, `${c.key} row ${k} vs reference`);
      expectAllclose(r.curve!, mfx.expected[c.key][k].curve, NETWORK, `${c.key} row ${k} vs PyTorch`);
      expectAllclose([r.value], [mfx.expected[c.key][k].auc], NETWORK, `${c.key} row ${k} AUC`);
    });
    expectAllclose([res.value], [wantRows.reduce((s, r) => s + r.value, 0) / wantRows.length], NETWORK, 'mean AUC');
    model.destroy();
  });

  it('a method name evaluates the maps explain() gives it', async () => {
    const e = await getEngine();
    const model = await Model.load(e, spec);
    const before = e.liveTensors;
    await e.scope(async () => {
      const xin = e.upload(x.data, x.shape);
      const byName = await evaluate(model, xin, { metric: 'deletion', map: 'gradcam', targets: mfx.targets, steps });
      const ex = await explain(model, xin, { methods: ['gradcam'], targets: mfx.targets });
      const map = (ex.maps.gradcam as LayerMaps).input;
      const byTensor = await evaluate(model, xin, { metric: 'deletion', map, targets: mfx.targets, steps });
      expect(byName.rows.length).toBe(mfx.targets.length * N);
      byName.rows.forEach((r, k) => expectAllclose(r.curve!, byTensor.rows[k].curve!, F32, `row ${k}`));
      // And against the reference on the map read back.
      const want = ref.curveReference(new RefModel(spec), x, hostTensor(map.shape, await map.read()), mfx.targets, {
        metric: 'deletion',
        steps,
        baseline: 'zero',
      });
      byName.rows.forEach((r, k) => expectAllclose(r.curve!, want[k].curve, NETWORK, `row ${k} vs reference`));
    });
    expect(e.liveTensors).toBe(before);
    model.destroy();
  });

  it('bad options are typed errors that leave the engine usable and hold nothing', async () => {
    const e = await getEngine();
    const model = await Model.load(e, spec);
    const before = e.liveTensors;
    const xin = e.upload(x.data, x.shape);
    const m = e.upload(maps.data, maps.shape);
    const badMap = e.upload(new Float32Array(2 * HW + 2), [2, HW + 1]);
    const t = mfx.targets;
    const bad: [string, unknown, typeof InvalidInputError][] = [
      ['unknown metric', { metric: 'nope', map: m, targets: t }, InvalidInputError],
      ['steps 0', { metric: 'deletion', map: m, targets: t, steps: 0 }, InvalidInputError],
      ['steps 1.5', { metric: 'deletion', map: m, targets: t, steps: 1.5 }, InvalidInputError],
      ['steps > pixels', { metric: 'deletion', map: m, targets: t, steps: HW + 1 }, InvalidInputError],
      ['baseline', { metric: 'deletion', map: m, targets: t, baseline: 'noise' }, InvalidInputError],
      ['batch 0', { metric: 'deletion', map: m, targets: t, batch: 0 }, InvalidInputError],
      ['no targets', { metric: 'deletion', map: m }, InvalidInputError],
      ['wrong target count', { metric: 'deletion', map: m, targets: [1] }, InvalidInputError],
      ['target out of range', { metric: 'deletion', map: m, targets: [0, 99] }, InvalidInputError],
      ['unknown option', { metric: 'deletion', map: m, targets: t, step: 3 }, InvalidInputError],
      ['unknown method', { metric: 'deletion', map: 'nope' }, InvalidInputError],
      ['gradient method', { metric: 'deletion', map: 'guided-backprop' }, MethodNotApplicableError],
      ['map shape', { metric: 'deletion', map: badMap, targets: t }, InvalidInputError],
    ];
    for (const [what, opts, type] of bad) {
      await expect(evaluate(model, xin, opts as never), what).rejects.toBeInstanceOf(type);
    }
    const ac = new AbortController();
    ac.abort();
    await expect(evaluate(model, xin, { metric: 'deletion', map: m, targets: t, signal: ac.signal })).rejects.toThrow();
    // Still usable, and equal to the reference.
    const ok = await evaluate(model, xin, { metric: 'deletion', map: m, targets: t, steps: 2 });
    const want = ref.curveReference(new RefModel(spec), x, maps, t, { metric: 'deletion', steps: 2, baseline: 'zero' });
    ok.rows.forEach((r, k) => expectAllclose(r.curve!, want[k].curve, NETWORK, `row ${k}`));
    xin.destroy();
    m.destroy();
    badMap.destroy();
    expect(e.liveTensors).toBe(before);
    model.destroy();
  });
});
