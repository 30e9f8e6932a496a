import { describe, expect, it } from 'vitest';
import { faithfulnessClaim, faithfulnessTable, type FaithResult, type FaithTally } from '../../eval/faithfulness';

// Hand-made tallies: Grad-CAM++ drops 10 and 20 % on two pairs, Grad-CAM 30 and 10 %; ROAD on 4 pairs.
const tally = (
  drops: number[],
  increases: number,
  deletion: number,
  insertion: number,
  road = { morf: 0, lerf: 0, road: 0 },
): FaithTally => ({
  rows: drops.length,
  drop: drops.reduce((a, b) => a + b, 0),
  drops,
  increases,
  curveRows: 2,
  deletion,
  insertion,
  roadRows: 4,
  ...road,
});
const result = (pp: FaithTally, gc: FaithTally): FaithResult => ({
  model: 'net',
  layer: 'l',
  confidenceScenes: 2,
  curveScenes: 1,
  steps: 10,
  roadScenes: 1,
  methods: { gradcam: gc, 'gradcam++': pp },
  msPerScene: 1,
});

describe('eval faithfulness report', () => {
  it('states the Grad-CAM++ claim whichever way it falls, with Win % both ways', () => {
    const agree = faithfulnessClaim(result(tally([10, 20], 1, 0.2, 1.2), tally([30, 10], 0, 0.4, 1)));
    expect(agree).toContain('a lower Average Drop than Grad-CAM (15.00 % vs 20.00 %)');
    expect(agree).toContain('a higher Increase in Confidence than Grad-CAM (50.0 % vs 0.0 %)');
    expect(agree).toContain('Grad-CAM++ wins (drops less) on 50.0 % of the pairs, Grad-CAM on 50.0 %');
    expect(agree).toContain('our data agree in direction');
    const disagree = faithfulnessClaim(result(tally([30, 10], 0, 0.4, 1), tally([10, 5], 0, 0.2, 1.2)));
    expect(disagree).toContain('a higher Average Drop than Grad-CAM (20.00 % vs 7.50 %)');
    expect(disagree).toContain('the same Increase in Confidence as Grad-CAM');
    expect(disagree).toContain('Grad-CAM++ wins (drops less) on 0.0 % of the pairs, Grad-CAM on 100.0 %');
    expect(disagree).toContain('do not agree');
  });

  it('tabulates the means per method', () => {
    const road = { morf: 1, lerf: 3, road: 1 };
    const t = faithfulnessTable(result(tally([10, 20], 1, 0.2, 1.2, road), tally([30, 10], 0, 0.4, 1)));
    expect(t).toContain('| gradcam | 0.200 | 0.500 | 20.00 % | 0.0 % | 0.000 | 0.000 | 0.000 |');
    expect(t).toContain('| gradcam++ | 0.100 | 0.600 | 15.00 % | 50.0 % | 0.250 | 0.750 | 0.250 |');
  });
});
