/**
 * Whole-network runs on the GPU executor and on the CPU reference executor, returning plain
 * arrays so that a Node test or a browser page can produce them and a test can compare them.
 */
import type { Engine } from '../../src/gpu/engine';
import { Model } from '../../src/model/model';
import type { GraphSpec } from '../../src/model/spec';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { randn } from '../util/random';

export interface NetworkCase {
  /** Forward batch N. */
  n: number;
  /** Number of seed gradients per image (targets) T. */
  t: number;
  /** Tensor to take the gradient at (besides the input). */
  layer: string;
}

export interface NetworkResult {
  output: number[];
  layerActivation: number[];
  gradLayer: number[];
  gradInput: number[];
  gradInputGuided: number[];
}

export function caseInputs(spec: GraphSpec, c: NetworkCase): { x: Float32Array; seeds: Float32Array; k: number } {
  const ref = new RefModel(spec);
  const k = ref.graph.shape(ref.graph.output)[1];
  const [ch, h, w] = spec.input.shape;
  return { x: randn(c.n * ch * h * w, 7), seeds: randn(c.t * c.n * k, 8), k };
}

export async function gpuNetwork(e: Engine, spec: GraphSpec, c: NetworkCase): Promise<NetworkResult> {
  const { x, seeds, k } = caseInputs(spec, c);
  const model = await Model.load(e, spec);
  try {
    return await e.scope(async () => {
      const input = e.upload(x, [c.n, ...spec.input.shape], 'image');
      const acts = await model.forward(input, { keep: [c.layer], backwardTo: [c.layer, spec.input.name] });
      const s = e.upload(seeds, [c.t * c.n, k], 'seeds');
      const gLayer = await model.backward(acts, s, { to: c.layer });
      const gInput = await model.backward(acts, s, { to: spec.input.name });
      const gGuided = await model.backward(acts, s, { to: spec.input.name, guided: true });
      const result = {
        output: [...(await acts.output.read())],
        layerActivation: [...(await acts.get(c.layer).read())],
        gradLayer: [...(await gLayer.read())],
        gradInput: [...(await gInput.read())],
        gradInputGuided: [...(await gGuided.read())],
      };
      acts.destroy();
      return result;
    });
  } finally {
    model.destroy();
  }
}

export function refNetwork(spec: GraphSpec, c: NetworkCase): NetworkResult {
  const { x, seeds, k } = caseInputs(spec, c);
  const model = new RefModel(spec);
  const values = model.forward(hostTensor([c.n, ...spec.input.shape], x));
  const s = hostTensor([c.t * c.n, k], seeds);
  return {
    output: [...values.get(model.graph.output)!.data],
    layerActivation: [...values.get(c.layer)!.data],
    gradLayer: [...model.backward(values, s, c.layer).data],
    gradInput: [...model.backward(values, s, spec.input.name).data],
    gradInputGuided: [...model.backward(values, s, spec.input.name, { guided: true }).data],
  };
}
