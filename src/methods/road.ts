/**
 * ROAD's definitions (Rong et al. 2022, "A Consistent and Efficient Evaluation Strategy for
 * Attribution Methods"), shared by evaluate() on the GPU (src/metrics/, shaders/road_impute.wgsl)
 * and the CPU reference (src/reference/metrics.ts). Pure: no GPU. docs/METRICS.md, "ROAD".
 *
 *   order      MoRF (o = 0) removes the k = ⌊p·H·W/100⌋ pixels of lowest rank in the map's order
 *              (most relevant first, ties by pixel index), LeRF (o = 1) the k of highest rank;
 *   imputation every removed pixel is the weighted mean of its in-image neighbours (ROAD_NEIGHBOURS,
 *              renormalised by their sum S where the border cuts some off), removed ones included:
 *              per channel the removed values v solve S_p·v_p − Σ_{q removed} w_pq·v_q = Σ_{q kept} w_pq·x_q;
 *   noise      σ·z added to each imputed value only (kept pixels are copied), z from the
 *              SmoothGrad generator (src/methods/sampling.ts): key = noiseKey(seed, s, r) with
 *              s = o·P + j (percentile j of P, order o) and r the map row, z = noiseAt(key, c·H·W + pixel).
 */
import { noiseKey } from './sampling';

/** The neighbours of noisy linear imputation: [dy, dx, weight], direct 1/6, diagonal 1/12. */
export const ROAD_NEIGHBOURS: readonly (readonly [number, number, number])[] = [
  [-1, 0, 1 / 6],
  [1, 0, 1 / 6],
  [0, -1, 1 / 6],
  [0, 1, 1 / 6],
  [-1, -1, 1 / 12],
  [-1, 1, 1 / 12],
  [1, -1, 1 / 12],
  [1, 1, 1 / 12],
];

/** The default percentages of pixels removed (pytorch-grad-cam's ROADCombined default). */
export const ROAD_PERCENTILES: readonly number[] = [10, 20, 30, 40, 50, 60, 70, 80, 90];

/** The default σ of the noise on the imputed values (ROAD's NoisyLinearImputer). */
export const ROAD_SIGMA = 0.01;

export type RoadOrder = 'morf' | 'lerf';
/** The orders, by their index o. */
export const ROAD_ORDERS: readonly RoadOrder[] = ['morf', 'lerf'];

/** The ROAD metrics of evaluate(): MoRF, LeRF, and the two combined. */
export type RoadMetric = 'road-morf' | 'road-lerf' | 'road';

/** The orders a ROAD metric removes in, by their index o into ROAD_ORDERS (MoRF before LeRF). */
export function roadOrders(metric: RoadMetric): number[] {
  return metric === 'road-morf' ? [0] : metric === 'road-lerf' ? [1] : [0, 1];
}

/** The pixels removed at `percent` % of `hw`: ⌊percent·hw/100⌋ (percent in [0, 100), so < hw). */
export function roadCount(percent: number, hw: number): number {
  return Math.floor((percent * hw) / 100);
}

/** Is the pixel of rank `rank` (of hw) removed when k pixels go in this order? */
export function roadRemoved(rank: number, k: number, hw: number, order: RoadOrder): boolean {
  return order === 'morf' ? rank < k : rank >= hw - k;
}

/** The noise key of map row r at percentile j of P in order o (see the file comment). */
export function roadNoiseKey(seed: number, o: number, j: number, P: number, r: number): number {
  return noiseKey(seed, o * P + j, r);
}
