/**
 * Localization metrics of an attribution map against ground-truth boxes, on the CPU (plain
 * loops over a map read back; no GPU code): evaluate()'s 'pointing-game' and 'energy-in-boxes',
 * and the evaluation's coverage. A map is H·W values, row-major, non-negative (normalised maps
 * are in [0, 1]); boxes are half-open pixel boxes.
 */

/** A half-open pixel box [x0, y0, x1, y1]: x0 ≤ x < x1, y0 ≤ y < y1. */
export type Box = [number, number, number, number];

function inBox(x: number, y: number, b: Box): boolean {
  return x >= b[0] && x < b[2] && y >= b[1] && y < b[3];
}

/** Pointing game: the map's maximum (first one in row-major order) falls inside one of `boxes`. */
export function pointingHit(map: ArrayLike<number>, W: number, boxes: readonly Box[]): boolean {
  let best = 0;
  for (let p = 1; p < map.length; p++) if (map[p] > map[best]) best = p;
  const x = best % W;
  const y = Math.floor(best / W);
  return boxes.some((b) => inBox(x, y, b));
}

/**
 * Energy-based pointing game: the share of the map's mass that lies inside the union of
 * `boxes`, Σ_inside L / Σ L. A map with no mass (all zeros) scores 0.
 */
export function energyInBoxes(map: ArrayLike<number>, W: number, boxes: readonly Box[]): number {
  let inside = 0;
  let total = 0;
  for (let p = 0; p < map.length; p++) {
    const v = Math.max(0, map[p]);
    total += v;
    if (boxes.some((b) => inBox(p % W, Math.floor(p / W), b))) inside += v;
  }
  return total > 0 ? inside / total : 0;
}

/**
 * Multi-instance coverage: for each box, whether the map's maximum inside it reaches `share` of
 * the map's global peak. Returns one boolean per box.
 */
export function coveredInstances(map: ArrayLike<number>, W: number, boxes: readonly Box[], share: number): boolean[] {
  let peak = 0;
  for (let p = 0; p < map.length; p++) peak = Math.max(peak, map[p]);
  return boxes.map((b) => {
    let m = -Infinity;
    for (let y = b[1]; y < b[3]; y++) for (let x = b[0]; x < b[2]; x++) m = Math.max(m, map[y * W + x]);
    return peak > 0 && m >= share * peak;
  });
}

/** A guided (gradient) map [C, H, W] as a saliency map [H, W]: the largest |value| over channels. */
export function gradientSaliency(g: ArrayLike<number>, C: number, HW: number, offset = 0): Float32Array {
  const out = new Float32Array(HW);
  for (let c = 0; c < C; c++) {
    for (let p = 0; p < HW; p++) out[p] = Math.max(out[p], Math.abs(g[offset + c * HW + p]));
  }
  return out;
}
