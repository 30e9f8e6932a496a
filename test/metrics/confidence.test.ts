/**
 * Average Drop, Increase in Confidence and Win %: the CPU reference against PyTorch
 * (tools/make_metric_fixtures.py), the GPU against both, in chunks smaller than the batch.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/core/errors';
import { evaluate, winPercent, type Evaluation } from '../../src/metrics/evaluate';
import { maskedBatch } from '../../src/metrics/kernels';
import { Model } from '../../src/model/model';
import * as ref from '../../src/reference/metrics';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { loadFixture, type FixtureTensor } from '../cases/fixtures';
import { expectAllclose, F32, NETWORK, type Tol } from '../util/compare';
import { getEngine } from '../util/gpu';

interface MetricFixture {
  input: FixtureTensor;
  targets: number[];
  maps: FixtureTensor;
  expected: { score: number[]; masked: number[]; drop: number[]; increase: boolean[] };
}
const mfx = JSON.parse(readFileSync(new URL('../fixtures/metrics.json', import.meta.url), 'utf8')) as MetricFixture;
const spec = loadFixture('gap_head').graph;
const x = hostTensor(mfx.input.shape, mfx.input.data);
const maps = hostTensor(mfx.maps.shape, mfx.maps.data);
const REF_TOL: Tol = { atol: 1e-8, rtol: 1e-6 };
// The drop is 100·(Y − O)/Y: NETWORK's error of the probabilities, times 100/Y.
const dropTol = (Y: number): Tol => ({ atol: (100 * 2 * NETWORK.atol) / Y, rtol: 2 * NETWORK.rtol });

describe('Average Drop and Increase in Confidence', () => {
  it('the CPU reference equals PyTorch', () => {
    const rows = ref.confidenceReference(new RefModel(spec), x, maps, mfx.targets);
    const ex = mfx.expected;
    expectAllclose(
      rows.map((r) => r.score),
      ex.score,
      REF_TOL,
      'Y',
    );
    expectAllclose(
      rows.map((r) => r.masked),
      ex.masked,
      REF_TOL,
      'O',
    );
    expectAllclose(
      rows.map((r) => r.drop),
      ex.drop,
      { atol: 1e-6, rtol: 1e-6 },
      'drop',
    );
    expect(rows.map((r) => r.increase)).toEqual(ex.increase);
    // The fixture has rows of both kinds (a check that cannot pass by accident).
    expect(new Set(ex.increase).size).toBe(2);
  });

  it('the masked batch on the GPU is x ⊙ map (one float32 product)', async () => {
    const e = await getEngine();
    const before = e.liveTensors;
    await e.scope(async () => {
      const out = await maskedBatch(e, e.upload(x.data, x.shape), e.upload(maps.data, maps.shape));
      expectAllclose(await out.read(), Float32Array.from(ref.maskedBatch(x, maps).data), F32, 'x ⊙ map');
    });
    expect(e.liveTensors).toBe(before);
  });

  it.each([1, 3, 64])('the GPU equals the reference and PyTorch, batch %i', async (batch) => {
    const e = await getEngine();
    const model = await Model.load(e, spec);
    const before = e.liveTensors;
    const want = ref.confidenceReference(new RefModel(spec), x, maps, mfx.targets);
    const run = async (metric: 'average-drop' | 'increase-in-confidence') => {
      const xin = e.upload(x.data, x.shape);
      const m = e.upload(maps.data, maps.shape);
      try {
        return await evaluate(model, xin, { metric, map: m, targets: mfx.targets, batch });
      } finally {
        xin.destroy();
        m.destroy();
      }
    };
    const drop = await run('average-drop');
    const inc = await run('increase-in-confidence');
    expect(e.liveTensors).toBe(before);
    const R = want.length;
    expect(drop.images).toBe(x.shape[0] + R);
    expect(drop.forwards).toBe(Math.ceil((x.shape[0] + R) / batch));
    drop.rows.forEach((r, k) => {
      expect([r.image, r.target]).toEqual([want[k].image, want[k].target]);
      expectAllclose([r.score!, r.masked!], [want[k].score, want[k].masked], NETWORK, `row ${k} Y, O`);
      expectAllclose(
        [r.score!, r.masked!],
        [mfx.expected.score[k], mfx.expected.masked[k]],
        NETWORK,
        `row ${k} vs PyTorch`,
      );
      expectAllclose([r.value], [want[k].drop], dropTol(want[k].score), `row ${k} drop`);
      expect(inc.rows[k].value).toBe(want[k].increase ? 1 : 0);
    });
    const meanDrop = want.reduce((s, r) => s + r.drop, 0) / R;
    expectAllclose([drop.value], [meanDrop], dropTol(Math.min(...want.map((r) => r.score))), 'Average Drop');
    expect(inc.value).toBeCloseTo((100 * want.filter((r) => r.increase).length) / R, 10);
    model.destroy();
  });

  it('Win %: the share of rows where A drops less than B', () => {
    const ev = (drops: number[]): Evaluation => ({
      metric: 'average-drop',
      value: 0,
      images: 0,
      forwards: 0,
      rows: drops.map((value, k) => ({ image: k, target: 0, value })),
    });
    expect(winPercent(ev([1, 5, 3, 0]), ev([2, 4, 3, 1]))).toBe(50); // wins at 0 and 3; a tie at 2
    expect(winPercent(ev([2, 4, 3, 1]), ev([1, 5, 3, 0]))).toBe(25);
    expect(() => winPercent(ev([1]), ev([1, 2]))).toThrow(InvalidInputError);
    expect(() => winPercent({ ...ev([1]), metric: 'deletion' }, ev([1]))).toThrow(InvalidInputError);
  });
});
