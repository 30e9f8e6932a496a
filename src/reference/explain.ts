/**
 * explain() on the CPU: the same steps as src/attribution/explain.ts, each written out with
 * the reference ops and the formulas of src/reference/attribution.ts. Rows b = t·N + i.
 */
import type { Method } from '../attribution/explain';
import {
  camWeights,
  gradcamppWeights,
  gradcamWeights,
  guidedGradcam,
  normalizeMinMax,
  upsampleBilinear,
  weightedSum,
} from './attribution';
import type { RefModel } from './model';
import { softmaxForward } from './softmax';
import { hostTensor, type HostTensor } from './tensor';

export interface RefChannelMaps {
  weights: HostTensor;
  raw: HostTensor;
  layer: HostTensor;
  input: HostTensor;
}

export interface RefExplanation {
  scores: HostTensor;
  probabilities: HostTensor;
  /** [N][T] */
  classes: number[][];
  activations: HostTensor;
  gradients: HostTensor;
  maps: Partial<Record<Method, Partial<RefChannelMaps>>>;
}

/** The top k classes of one row of scores: higher score first, lower index first on ties. */
export function topk(scores: ArrayLike<number>, k: number): number[] {
  const idx = Array.from(scores, (_, i) => i);
  idx.sort((a, b) => scores[b] - scores[a] || a - b);
  return idx.slice(0, k);
}

export function explainReference(
  model: RefModel,
  x: HostTensor,
  opts: { methods: readonly Method[]; targets?: readonly number[] | { topK: number }; layer?: string },
): RefExplanation {
  const g = model.graph;
  const n = x.shape[0];
  const [, , H, W] = x.shape;
  const layer = opts.layer ?? g.defaultLayer();
  const values = model.forward(x);
  const scores = values.get(g.scores)!;
  const K = scores.shape[1];
  const probabilities = softmaxForward(scores);

  // 1. Targets: class c of row b = t·N + i.
  const targets = opts.targets ?? { topK: 1 };
  const classes: number[][] = [];
  for (let i = 0; i < n; i++) {
    classes.push(
      Array.isArray(targets)
        ? [...targets]
        : topk(scores.data.subarray(i * K, (i + 1) * K), (targets as { topK: number }).topK),
    );
  }
  const T = classes[0].length;
  const rowClass = (b: number) => classes[b % n][Math.floor(b / n)];

  // 2. Seeds: one-hot at each row's class; one backward pass for all rows.
  const seeds = hostTensor([T * n, K]);
  for (let b = 0; b < T * n; b++) seeds.data[b * K + rowClass(b)] = 1;
  const A = values.get(layer)!;
  const G = model.backward(values, seeds, layer, { from: g.scores });

  // 3. Channel weights and maps.
  const maps: RefExplanation['maps'] = {};
  const finish = (weights: HostTensor, relu: boolean): RefChannelMaps => {
    const raw = weightedSum(A, weights, relu);
    const norm = normalizeMinMax(raw);
    return { weights, raw, layer: norm, input: upsampleBilinear(norm, H, W) };
  };
  const want = (m: Method) => opts.methods.includes(m);
  if (want('cam')) {
    const head = g.camHead(layer);
    if ('reason' in head) throw new Error(head.reason);
    const Wfc = model.weights.get(`${head.linear.name}.weight`)!;
    const rows = Array.from({ length: T * n }, (_, b) => rowClass(b));
    maps.cam = finish(camWeights(Wfc, rows), false);
  }
  const gradcam = finish(gradcamWeights(G), true);
  if (want('gradcam')) maps.gradcam = gradcam;
  if (want('counterfactual')) maps.counterfactual = finish(gradcamWeights(G, -1), true);
  if (want('gradcam++')) maps['gradcam++'] = finish(gradcamppWeights(A, G), true);
  if (want('guided-backprop') || want('guided-gradcam')) {
    const guided = model.backward(values, seeds, g.input, { from: g.scores, guided: true });
    if (want('guided-backprop')) maps['guided-backprop'] = { input: guided };
    if (want('guided-gradcam')) maps['guided-gradcam'] = { input: guidedGradcam(gradcam.input, guided) };
  }
  return { scores, probabilities, classes, activations: A, gradients: G, maps };
}
