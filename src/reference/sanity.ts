/**
 * The cascading-randomisation sanity check on the CPU, as src/attribution/sanity.ts does it on
 * the GPU: the same randomised weights (src/model/randomize.ts), the maps from the reference
 * explain, Spearman's ρ of each with the original (src/methods/metrics.ts).
 */
import { spearman } from '../methods/rank';
import type { Method } from '../methods/registry';
import { randomizeTopLayers, weightedNodesFromTop } from '../model/randomize';
import type { GraphSpec } from '../model/spec';
import { explainReference } from './explain';
import { RefModel } from './model';
import type { HostTensor } from './tensor';

function mapRows(spec: GraphSpec, x: HostTensor, method: Method, targets: readonly number[], layer?: string) {
  const r = explainReference(new RefModel(spec), x, { methods: [method], targets, layer });
  const data = r.maps[method]!.input!.data;
  const rows = targets.length * x.shape[0];
  const size = data.length / rows;
  return Array.from({ length: rows }, (_, b) => data.subarray(b * size, (b + 1) * size));
}

export function cascadingRandomization(
  spec: GraphSpec,
  x: HostTensor,
  opts: { method: Method; targets: readonly number[]; layer?: string; seed?: number; depth?: number },
): { layers: string[]; spearman: number[][] } {
  const all = weightedNodesFromTop(spec);
  const depth = opts.depth ?? all.length;
  const base = mapRows(spec, x, opts.method, opts.targets, opts.layer);
  const out: number[][] = [];
  for (let k = 1; k <= depth; k++) {
    const rows = mapRows(randomizeTopLayers(spec, k, opts.seed ?? 0), x, opts.method, opts.targets, opts.layer);
    out.push(rows.map((row, b) => spearman(row, base[b])));
  }
  return { layers: all.slice(0, depth), spearman: out };
}
