/**
 * The pointing game and energy in boxes behind evaluate(): per row, the values of the CPU
 * functions (src/metrics/localization.ts, tested on hand-made maps in test/eval/metrics.test.ts)
 * on maps read back, and typed errors for bad boxes.
 */
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/core/errors';
import { evaluate } from '../../src/metrics/evaluate';
import { energyInBoxes, pointingHit, type Box } from '../../src/metrics/localization';
import { Model } from '../../src/model/model';
import { loadFixture } from '../cases/fixtures';
import { getEngine } from '../util/gpu';

const spec = loadFixture('gap_head').graph;
const [C, H, W] = spec.input.shape;

describe('localization metrics', () => {
  it('pointing game and energy per row, from explain()’s maps and from a tensor', async () => {
    const e = await getEngine();
    const model = await Model.load(e, spec);
    const before = e.liveTensors;
    // Two rows (T = 2, N = 1): row 0 peaks at (x 3, y 2), row 1 at (x 15, y 10).
    const map = new Float32Array(2 * H * W);
    map[2 * W + 3] = 1;
    map[2 * W + 4] = 0.5;
    map[H * W + 10 * W + 15] = 1;
    map[H * W + 0] = 1; // an equal value earlier in row-major order wins the pointing game's tie
    const boxes: Box[][] = [[[2, 1, 5, 3]], [[12, 8, 18, 12]]];
    await e.scope(async () => {
      const x = e.upload(new Float32Array(C * H * W).fill(0.5), [1, C, H, W]);
      const m = e.upload(map, [2, H, W]);
      const pg = await evaluate(model, x, { metric: 'pointing-game', map: m, targets: [0, 1], boxes });
      expect(pg.rows.map((r) => r.value)).toEqual([1, 0]);
      expect(pg.value).toBe(50);
      const en = await evaluate(model, x, { metric: 'energy-in-boxes', map: m, targets: [0, 1], boxes });
      expect(en.rows[0].value).toBe(1);
      expect(en.rows[1].value).toBe(0.5);
      expect(en.value).toBe(75);
      // By method name: the same values as the CPU functions on the maps explain() gives.
      const byName = await evaluate(model, x, { metric: 'energy-in-boxes', map: 'gradcam', targets: [0, 1], boxes });
      const { explain } = await import('../../src/attribution/explain');
      const ex = await explain(model, x, { methods: ['gradcam'], targets: [0, 1] });
      const data = await ex.maps.gradcam!.input.read();
      byName.rows.forEach((r, k) =>
        expect(r.value).toBe(energyInBoxes(data.subarray(k * H * W, (k + 1) * H * W), W, boxes[k])),
      );
      const pgName = await evaluate(model, x, { metric: 'pointing-game', map: 'gradcam', targets: [0, 1], boxes });
      pgName.rows.forEach((r, k) =>
        expect(r.value).toBe(pointingHit(data.subarray(k * H * W, (k + 1) * H * W), W, boxes[k]) ? 1 : 0),
      );
      for (const bad of [undefined, [[[1, 2, 3]]], [[[4, 0, 1, 2]]], [[[0, 0, 1, NaN]]], [[[0, 0, 1, 1]]]]) {
        await expect(
          evaluate(model, x, { metric: 'pointing-game', map: m, targets: [0, 1], boxes: bad as never }),
          JSON.stringify(bad),
        ).rejects.toBeInstanceOf(InvalidInputError);
      }
    });
    expect(e.liveTensors).toBe(before);
    model.destroy();
  });
});
