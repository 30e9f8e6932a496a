/**
 * The model randomisation sanity check (Adebayo et al. 2018, cascading randomisation): the
 * weights are randomised layer by layer from the output down (src/model/randomize.ts), the
 * method explains the same input and targets with each randomised model, and Spearman's rank
 * correlation (src/methods/rank.ts) of each map with the original one says how much the map
 * still looks like it. A map that depends on what the model learned decorrelates as the layers
 * go; one that stays high is insensitive to the model. docs/METRICS.md, "Model-parameter randomisation".
 */
import { InvalidInputError } from '../core/errors';
import type { Engine } from '../gpu/engine';
import type { Tensor } from '../gpu/tensor';
import { spearman } from '../methods/rank';
import { isMethod, METHODS, type Method } from '../methods/registry';
import { Model } from '../model/model';
import { randomizeTopLayers, weightedNodesFromTop } from '../model/randomize';
import type { GraphSpec } from '../model/spec';
import { explain } from '../attribution/explain';

export interface SanityOptions {
  /** Default 'gradcam'. */
  method?: Method;
  /** The classes explained (the same for every image); default the top class of the single image. */
  targets?: readonly number[];
  /** The layer, as explain() takes it; default the graph's default layer. */
  layer?: string;
  /** Seed of the random weights; default 0. */
  seed?: number;
  /** How many weighted layers to randomise, from the output down; default all. */
  depth?: number;
}

export interface SanityResult {
  /** The weighted nodes randomised, from the output down: step k randomises the first k. */
  layers: string[];
  /** spearman[k][b]: ρ of map row b after randomising layers[0 … k] with the original map. */
  spearman: number[][];
  /** The classes explained. */
  targets: number[];
}

/** The method's maps as returned by explain() (maps.<method>.input), as one array per row. */
async function mapRows(model: Model, input: Tensor, method: Method, targets: readonly number[], layer?: string) {
  const r = await explain(model, input, { methods: [method], targets, layer });
  try {
    const data = await r.maps[method]!.input.read();
    const rows = targets.length * input.shape[0];
    const size = data.length / rows;
    return Array.from({ length: rows }, (_, b) => data.subarray(b * size, (b + 1) * size));
  } finally {
    r.destroy();
  }
}

export async function cascadingRandomization(
  engine: Engine,
  spec: GraphSpec,
  input: Tensor,
  opts: SanityOptions = {},
): Promise<SanityResult> {
  const method = opts.method ?? 'gradcam';
  if (!isMethod(method))
    throw new InvalidInputError(`unknown method '${String(method)}'; choose from ${METHODS.join(', ')}`);
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed)) throw new InvalidInputError(`seed must be an integer, got ${String(seed)}`);
  const all = weightedNodesFromTop(spec);
  const depth = opts.depth ?? all.length;
  if (!Number.isInteger(depth) || depth < 1 || depth > all.length) {
    throw new InvalidInputError(`depth must be an integer in [1, ${all.length}] (the weighted layers), got ${depth}`);
  }
  const original = await Model.load(engine, spec);
  let targets: number[];
  let base: Float32Array[];
  try {
    if (opts.targets === undefined) {
      if (input.shape[0] !== 1) throw new InvalidInputError('targets are needed for more than one image');
      const r = await explain(original, input, { methods: [method], layer: opts.layer });
      targets = (await r.readClasses())[0];
      r.destroy();
    } else {
      targets = [...opts.targets];
    }
    base = await mapRows(original, input, method, targets, opts.layer);
  } finally {
    original.destroy();
  }
  const out: number[][] = [];
  for (let k = 1; k <= depth; k++) {
    const model = await Model.load(engine, randomizeTopLayers(spec, k, seed));
    try {
      const rows = await mapRows(model, input, method, targets, opts.layer);
      out.push(rows.map((row, b) => spearman(row, base[b])));
    } finally {
      model.destroy();
    }
  }
  return { layers: all.slice(0, depth), spearman: out, targets };
}
