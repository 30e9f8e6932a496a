/**
 * Rank statistics for comparing maps: average ranks and Spearman's rank correlation (the
 * model-randomisation sanity check, src/metrics/sanity.ts and src/reference/sanity.ts). Pure.
 */
import { InvalidInputError } from '../core/errors';

/** Ranks 1 … n of `values`, ties given the mean of the ranks they span (as for Spearman's ρ). */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const out = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]] === values[order[i]]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[order[k]] = r;
    i = j + 1;
  }
  return out;
}

/**
 * Spearman's rank correlation ρ of two maps of equal size: the Pearson correlation of their
 * average ranks (ties averaged). 0 where either map is constant (its ranks have no variance, ρ is
 * undefined), so that a map the randomisation flattened counts as uncorrelated.
 */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new InvalidInputError(`spearman: ${a.length} and ${b.length} values`);
  const ra = averageRanks(a);
  const rb = averageRanks(b);
  const n = a.length;
  const mean = (n + 1) / 2;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (ra[i] - mean) * (rb[i] - mean);
    saa += (ra[i] - mean) ** 2;
    sbb += (rb[i] - mean) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}
