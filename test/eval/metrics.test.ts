import { describe, expect, it } from 'vitest';
import type { Box } from '../../eval/dataset';
import { coveredInstances, energyInBoxes, gradientSaliency, pointingHit } from '../../eval/metrics';

// A 6×4 map (W = 6) with its peak at (x 4, y 1) and a weaker bump at (x 1, y 3).
const W = 6;
const map = [
  0,
  0,
  0,
  0,
  0,
  0, //
  0,
  0,
  0,
  0,
  1,
  0, //
  0,
  0,
  0,
  0,
  0.5,
  0, //
  0,
  0.3,
  0,
  0,
  0,
  0,
];

describe('localization metrics', () => {
  it('pointing game: the maximum must fall inside a box (half-open)', () => {
    expect(pointingHit(map, W, [[4, 1, 5, 2]])).toBe(true);
    expect(pointingHit(map, W, [[0, 0, 4, 4]])).toBe(false); // x1 = 4 excludes column 4
    expect(
      pointingHit(map, W, [
        [0, 0, 2, 2],
        [3, 0, 6, 2],
      ]),
    ).toBe(true);
  });

  it('energy: mass inside the union of boxes over total mass, overlaps counted once', () => {
    const total = 1 + 0.5 + 0.3;
    expect(energyInBoxes(map, W, [[4, 1, 5, 3]])).toBeCloseTo(1.5 / total, 12);
    expect(
      energyInBoxes(map, W, [
        [4, 1, 5, 3],
        [4, 0, 6, 3],
      ]),
    ).toBeCloseTo(1.5 / total, 12);
    expect(energyInBoxes(new Array(24).fill(0), W, [[0, 0, 6, 4]])).toBe(0);
  });

  it('coverage: an instance counts when its box reaches the share of the peak', () => {
    const boxes: Box[] = [
      [4, 1, 5, 2], // holds the peak
      [1, 3, 2, 4], // holds 0.3 = 30 % of the peak
      [0, 0, 2, 2], // holds 0
    ];
    expect(coveredInstances(map, W, boxes, 0.5)).toEqual([true, false, false]);
    expect(coveredInstances(map, W, boxes, 0.3)).toEqual([true, true, false]);
  });

  it('gradient saliency is the largest |value| over channels', () => {
    const g = [1, -3, 0.5, /* c1 */ -2, 1, 0];
    expect([...gradientSaliency(g, 2, 3)]).toEqual([2, 3, 0.5]);
  });
});
