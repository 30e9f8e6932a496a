/**
 * ROAD (Rong et al. 2022): the CPU reference's imputation against its own equations and against
 * PyTorch's dense solve (tools/make_metric_fixtures.py), the GPU's conjugate-gradient imputation
 * (road_impute.wgsl) against the reference, evaluate()'s MoRF, LeRF and combined rows against
 * both, in chunks; typed errors for bad options and no leaked tensors.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/core/errors';
import { evaluate, type Evaluation } from '../../src/metrics/evaluate';
import { mapOrder, roadBatch, roadMaxIterations, ROAD_TOL } from '../../src/metrics/kernels';
import { ROAD_NEIGHBOURS, roadCount, roadNoiseKey, roadOrders, roadRemoved } from '../../src/methods/road';
import { noiseAt } from '../../src/methods/sampling';
import { Model } from '../../src/model/model';
import * as ref from '../../src/reference/metrics';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { loadFixture, type FixtureTensor } from '../cases/fixtures';
import { expectAllclose, NETWORK, type Tol } from '../util/compare';
import { getEngine } from '../util/gpu';

interface RoadFixture {
  version: string;
  input: FixtureTensor;
  targets: number[];
  maps: FixtureTensor;
  notes: { road: { percentiles: number[]; sigma: number; seed: number } };
  road_images: FixtureTensor;
  expected: {
    road_morf: { curve: number[] }[];
    road_lerf: { curve: number[] }[];
    road: { curve: number[]; value: number }[];
  };
}
const mfx = JSON.parse(readFileSync(new URL('../fixtures/metrics.json', import.meta.url), 'utf8')) as RoadFixture;
const spec = loadFixture('gap_head').graph;
const x = hostTensor(mfx.input.shape, mfx.input.data);
const maps = hostTensor(mfx.maps.shape, mfx.maps.data);
const { percentiles, sigma, seed } = mfx.notes.road;
const [N, C, H, W] = x.shape;
const HW = H * W;
const R = mfx.targets.length * N;
const opts = { percentiles, sigma, seed };
// The reference (CG to ‖r‖ ≤ 1e-12‖b‖) against PyTorch's dense solve: both float64 on the same
// float32 values, written with 9 digits.
const REF_TOL: Tol = { atol: 1e-8, rtol: 1e-6 };
// The GPU's imputed values: conjugate gradients in float32 to ‖r‖ ≤ 1e-6‖b‖ on inputs with
// |x| ≤ 4. Measured on SwiftShader: 6.5e-6 at most (about 4.6e-6 at ‖r‖ ≤ 1e-8‖b‖: the float32
// floor of the solve). 2e-5 leaves room for another device's rounding, still 2500× below σ.
const IMPUTED: Tol = { atol: 2e-5, rtol: 0 };

const metrics = [
  { metric: 'road-morf', key: 'road_morf' },
  { metric: 'road-lerf', key: 'road_lerf' },
  { metric: 'road', key: 'road' },
] as const;

describe('ROAD', () => {
  it('the golden values were written by tools/make_metric_fixtures.py with PyTorch', () => {
    expect(mfx.version).toMatch(/make_metric_fixtures\.py .*torch/);
    expect(mfx.expected.road_morf).toHaveLength(R);
    // A percentile that is not a whole share of the pixels: k = ⌊p·HW/100⌋ rounds down.
    expect(percentiles.some((p) => !Number.isInteger((p * HW) / 100))).toBe(true);
  });

  it('the reference imputation solves its equations, copies the kept pixels and adds noise only to the removed ones', () => {
    const ranks = ref.mapRanks(maps);
    for (const order of ['morf', 'lerf'] as const) {
      for (const pct of [10, 50, 90]) {
        const k = roadCount(pct, HW);
        const removed = new Uint8Array(HW);
        for (let p = 0; p < HW; p++) removed[p] = roadRemoved(ranks[p], k, HW, order) ? 1 : 0;
        expect(removed.reduce((a, b) => a + b, 0)).toBe(k);
        const img = x.data.subarray(0, C * HW);
        const imp = ref.linearImputation(img, C, H, W, removed);
        for (const r of imp.residual) expect(r).toBeLessThanOrEqual(1e-12);
        // S_p·v_p − Σ_q w_pq·v_q = 0 at every removed pixel (q over its in-image neighbours, v = x where kept).
        let worst = 0;
        for (let c = 0; c < C; c++) {
          const v = imp.values.subarray(c * HW, (c + 1) * HW);
          for (let p = 0; p < HW; p++) {
            if (!removed[p]) {
              expect(v[p]).toBe(img[c * HW + p]);
              continue;
            }
            const y = Math.floor(p / W);
            const xx = p % W;
            let S = 0;
            let s = 0;
            for (const [dy, dx, w] of ROAD_NEIGHBOURS) {
              if (y + dy < 0 || y + dy >= H || xx + dx < 0 || xx + dx >= W) continue;
              S += w;
              s += w * v[(y + dy) * W + xx + dx];
            }
            worst = Math.max(worst, Math.abs(S * v[p] - s));
          }
        }
        expect(worst, `${order} ${pct} %`).toBeLessThan(1e-10);
      }
    }
    // With noise: the kept pixels unchanged, the removed ones moved by exactly σ·z.
    const rows = 1;
    const a = ref.roadBatch(x, ranks, rows, [0, 1], [50], 0, seed).batch.data;
    const b = ref.roadBatch(x, ranks, rows, [0, 1], [50], sigma, seed).batch.data;
    const k = roadCount(50, HW);
    for (const o of [0, 1]) {
      const key = roadNoiseKey(seed, o, 0, 1, 0);
      for (let c = 0; c < C; c++) {
        for (let p = 0; p < HW; p++) {
          const e = (o * C + c) * HW + p;
          const want = roadRemoved(ranks[p], k, HW, o === 0 ? 'morf' : 'lerf') ? sigma * noiseAt(key, c * HW + p) : 0;
          expect(b[e] - a[e]).toBeCloseTo(want, 14);
        }
      }
    }
  });

  it('the CPU reference equals PyTorch: imputed images and curves', () => {
    // Row 0's images, MoRF then LeRF.
    const { batch } = ref.roadBatch(x, ref.mapRanks(maps), 1, [0, 1], percentiles, sigma, seed);
    expectAllclose(batch.data, mfx.road_images.data, REF_TOL, 'row 0 images');
    const model = new RefModel(spec);
    for (const m of metrics) {
      const rows = ref.roadReference(model, x, maps, mfx.targets, { metric: m.metric, ...opts });
      rows.forEach((r, k) => expectAllclose(r.curve, mfx.expected[m.key][k].curve, REF_TOL, `${m.key} row ${k}`));
      if (m.metric === 'road') {
        rows.forEach((r, k) => expect(r.value).toBeCloseTo(mfx.expected.road[k].value, 8));
        rows.forEach((r, k) => expectAllclose(r.morf!, mfx.expected.road_morf[k].curve, REF_TOL, `morf ${k}`));
      }
    }
  });

  it('the GPU imputation equals the reference (conjugate gradients in float32)', async () => {
    const e = await getEngine();
    const before = e.liveTensors;
    const orders = [0, 1];
    const per = orders.length * percentiles.length;
    const total = R * per;
    const want = ref.roadBatch(x, ref.mapRanks(maps), R, orders, percentiles, sigma, seed);
    await e.scope(async () => {
      const xin = e.upload(x.data, x.shape);
      const { ranks, order } = await mapOrder(e, e.upload(maps.data, maps.shape), HW);
      const counts = e.upload(
        percentiles.map((p) => roadCount(p, HW)),
        [percentiles.length],
      );
      const stats = e.zeros([total * C, 2]);
      const solve = {
        o0: 0,
        orders: 2,
        counts,
        stats,
        maxIterations: roadMaxIterations(H, W),
        tol: ROAD_TOL,
        sigma,
        seed,
      };
      // Two chunks: images 0 … 4 and 5 … total − 1.
      const a = await roadBatch(e, xin, ranks, order, solve, 0, 5);
      const b = await roadBatch(e, xin, ranks, order, solve, 5, total - 5);
      const got = new Float32Array(total * C * HW);
      got.set(await a.read());
      got.set(await b.read(), 5 * C * HW);
      const st = await stats.read();
      const its = Array.from({ length: total * C }, (_, s) => st[2 * s]);
      const res = Array.from({ length: total * C }, (_, s) => st[2 * s + 1]);
      // Every solve stopped by the tolerance, none by the cap.
      expect(Math.max(...res)).toBeLessThanOrEqual(ROAD_TOL);
      expect(Math.max(...its)).toBeLessThan(roadMaxIterations(H, W));
      expectAllclose(got, want.batch.data, IMPUTED, 'imputed images');
      // The kept pixels (where the reference copied x) are copied exactly.
      let kept = 0;
      for (let q = 0; q < total; q++) {
        const i = Math.floor(q / per) % N;
        for (let k = 0; k < C * HW; k++) {
          const v = x.data[i * C * HW + k];
          if (want.batch.data[q * C * HW + k] !== v) continue;
          kept++;
          if (got[q * C * HW + k] !== Math.fround(v)) throw new Error(`image ${q}, element ${k}: kept pixel changed`);
        }
      }
      // Each image keeps HW − k of its pixels in all channels (k at the percentile).
      const keptWant = R * 2 * percentiles.reduce((s, p) => s + C * (HW - roadCount(p, HW)), 0);
      expect(kept).toBe(keptWant);
    });
    expect(e.liveTensors).toBe(before);
  });

  it.each(metrics)('$metric on the GPU equals the reference and PyTorch, in chunks of 5', async (m) => {
    const e = await getEngine();
    const model = await Model.load(e, spec);
    const before = e.liveTensors;
    const want = ref.roadReference(new RefModel(spec), x, maps, mfx.targets, { metric: m.metric, ...opts });
    const progress: number[] = [];
    let res: Evaluation;
    {
      const xin = e.upload(x.data, x.shape);
      const map = e.upload(maps.data, maps.shape);
      res = await evaluate(model, xin, {
        metric: m.metric,
        map,
        targets: mfx.targets,
        ...opts,
        batch: 5,
        onProgress: (d) => progress.push(d),
      });
      xin.destroy();
      map.destroy();
    }
    expect(e.liveTensors).toBe(before);
    const images = R * roadOrders(m.metric).length * percentiles.length;
    expect(res.images).toBe(images);
    expect(res.forwards).toBe(Math.ceil(images / 5));
    expect(progress.at(-1)).toBe(images);
    expect(res.imputation!.residual).toBeLessThanOrEqual(ROAD_TOL);
    // The images' error (IMPUTED) through the network: the probabilities' error measured on
    // SwiftShader was 7.2e-8 at most; NETWORK's bound, the network's own float32 error, holds it.
    const tol = NETWORK;
    res.rows.forEach((r, k) => {
      expect([r.image, r.target]).toEqual([want[k].image, want[k].target]);
      expectAllclose(r.curve!, want[k].curve, tol, `${m.key} row ${k} vs reference`);
      expectAllclose(r.curve!, mfx.expected[m.key][k].curve, tol, `${m.key} row ${k} vs PyTorch`);
      expectAllclose([r.value], [want[k].value], tol, `${m.key} row ${k} value`);
      if (m.metric === 'road') {
        expectAllclose(r.morf!, mfx.expected.road_morf[k].curve, tol, `row ${k} MoRF`);
        expectAllclose(r.lerf!, mfx.expected.road_lerf[k].curve, tol, `row ${k} LeRF`);
      }
    });
    expectAllclose([res.value], [want.reduce((s, r) => s + r.value, 0) / R], tol, 'mean');
    model.destroy();
  });

  it('bad options are typed errors that leave the engine usable and hold nothing', async () => {
    const e = await getEngine();
    const model = await Model.load(e, spec);
    const before = e.liveTensors;
    const xin = e.upload(x.data, x.shape);
    const map = e.upload(maps.data, maps.shape);
    const t = mfx.targets;
    const bad: [string, unknown][] = [
      ['no percentiles', { percentiles: [] }],
      ['percentile 100', { percentiles: [10, 100] }],
      ['negative percentile', { percentiles: [-1] }],
      ['NaN percentile', { percentiles: [NaN] }],
      ['percentiles not a list', { percentiles: 50 }],
      ['sigma < 0', { sigma: -0.1 }],
      ['sigma infinite', { sigma: Infinity }],
      ['seed 1.5', { seed: 1.5 }],
      ['seed < 0', { seed: -1 }],
      ['seed 2^32', { seed: 2 ** 32 }],
      ['unknown option', { noise: 0.1 }],
    ];
    for (const [what, o] of bad) {
      await expect(
        evaluate(model, xin, { metric: 'road', map, targets: t, ...(o as object) }),
        what,
      ).rejects.toBeInstanceOf(InvalidInputError);
    }
    const ac = new AbortController();
    ac.abort();
    await expect(evaluate(model, xin, { metric: 'road', map, targets: t, signal: ac.signal })).rejects.toThrow();
    expect(e.liveTensors).toBe(before + 2);
    // Still usable, and equal to the reference (no noise; at 0 % nothing is removed).
    const few = { percentiles: [0, 50], sigma: 0 };
    const ok = await evaluate(model, xin, { metric: 'road-lerf', map, targets: t, ...few });
    const want = ref.roadReference(new RefModel(spec), x, maps, t, { metric: 'road-lerf', ...few });
    ok.rows.forEach((r, k) => expectAllclose(r.curve!, want[k].curve, NETWORK, `row ${k}`));
    const Y = ref.confidenceReference(new RefModel(spec), x, maps, t).map((r) => r.score);
    ok.rows.forEach((r, k) => expectAllclose([r.curve![0]], [Y[k]], NETWORK, `row ${k} at 0 %: the input's score`));
    xin.destroy();
    map.destroy();
    expect(e.liveTensors).toBe(before);
    model.destroy();
  });
});
