/**
 * An explain() run on one of the test networks, with a seeded random input, returned as plain
 * arrays: the browser page produces it, and the Node test compares it with the CPU reference.
 */
import { explain, type Method } from '../../src/attribution/explain';
import type { Engine } from '../../src/gpu/engine';
import { Model } from '../../src/model/model';
import { explainReference } from '../../src/reference/explain';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { randn } from '../util/random';
import { NETS } from './nets';

export interface ExplainCase {
  net: keyof typeof NETS;
  n: number;
  methods: Method[];
  targets: number[] | { topK: number };
  layer?: string;
}

/** Per method, the map at the input resolution ([T, (N,) H, W], or [T, (N,) C, H, W] for guided maps). */
export interface ExplainArrays {
  classes: number[][];
  scores: number[];
  maps: Record<string, number[]>;
}

function inputOf(c: ExplainCase): { x: Float32Array; shape: number[] } {
  const spec = NETS[c.net]();
  const shape = [c.n, ...spec.input.shape];
  return {
    x: randn(
      shape.reduce((a, b) => a * b, 1),
      77,
    ),
    shape,
  };
}

export async function gpuExplain(e: Engine, c: ExplainCase): Promise<ExplainArrays> {
  const { x, shape } = inputOf(c);
  const model = await Model.load(e, NETS[c.net]());
  const input = e.upload(x, shape);
  try {
    const r = await explain(model, input, { methods: c.methods, targets: c.targets, layer: c.layer });
    const maps: Record<string, number[]> = {};
    for (const m of c.methods) maps[m] = [...(await r.maps[m]!.input.read())];
    const out = { classes: await r.readClasses(), scores: [...(await r.scores.read())], maps };
    r.destroy();
    return out;
  } finally {
    input.destroy();
    model.destroy();
  }
}

export function refExplain(c: ExplainCase): ExplainArrays {
  const { x, shape } = inputOf(c);
  const r = explainReference(new RefModel(NETS[c.net]()), hostTensor(shape, x), c);
  const maps: Record<string, number[]> = {};
  for (const m of c.methods) maps[m] = [...r.maps[m]!.input!.data];
  return { classes: r.classes, scores: [...r.scores.data], maps };
}
