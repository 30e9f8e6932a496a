/**
 * explain() with a list of layers, on the CPU: the same steps as src/attribution/multilayer.ts.
 * One forward pass, one backward pass that yields the gradient at every listed layer, per layer
 * each method's maps as for a single layer (src/reference/explain.ts), then per method the
 * fused map at the input resolution by the rule of src/methods/fusion.ts. Rows b = t·N + i.
 */
import { LAYERCAM_GAMMA, isFusable, type Fusion } from '../methods/fusion';
import { channelMethod, isChannel, isEigen, isSpatial, type Method } from '../methods/registry';
import type { Graph } from '../model/graph';
import { channelWeights, eigenMap, normalizeMinMax, spatialMap, upsampleBilinear, weightedSum } from './attribution';
import { topk, type RefMaps } from './explain';
import type { RefModel } from './model';
import { softmaxForward } from './softmax';
import { hostTensor, type HostTensor } from './tensor';

export interface RefLayerExplanation {
  /** The layer's tensor name. */
  name: string;
  activations: HostTensor;
  gradients: HostTensor;
  maps: Partial<Record<Method, RefMaps>>;
}

export interface RefMultiLayerExplanation {
  scores: HostTensor;
  probabilities: HostTensor;
  /** [N][T] */
  classes: number[][];
  /** In the order given. */
  layers: RefLayerExplanation[];
  /** Per method, the fused map [B, H, W]. */
  fused: Partial<Record<Method, HostTensor>>;
}

/** The index among `layers` of the deepest one: the last in the graph's (forward) order. */
export function deepestLayer(graph: Graph, layers: readonly string[]): number {
  const position = (t: string) => graph.nodes.findIndex((n) => n.output === t);
  let best = 0;
  layers.forEach((t, l) => {
    if (position(t) > position(layers[best])) best = l;
  });
  return best;
}

/**
 * One method's fused map [B, H, W] from its maps at each layer (`raw` [B, h_l, w_l] and `input`
 * [B, H, W]), `deepest` the index of the deepest layer:
 *   mean      normalise((1/L) Σ_l input_l)
 *   layercam  normalise(max_l up(S_l)), S_l = tanh(γ·raw_l / max raw_l) for a shallower layer,
 *             raw_l / max raw_l for the deepest (0 where max raw_l ≤ 0), up the half-pixel
 *             bilinear resize to H×W.
 * max and normalise are per row b (per map).
 */
export function fuseLayerMaps(
  fuse: Fusion,
  maps: readonly { raw: HostTensor; input: HostTensor }[],
  deepest: number,
): HostTensor {
  const [B, H, W] = maps[0].input.shape;
  const HW = H * W;
  const out = hostTensor([B, H, W]);
  maps.forEach((m, l) => {
    let v: HostTensor;
    if (fuse === 'mean') {
      v = m.input;
    } else {
      const [, h, w] = m.raw.shape;
      const s = hostTensor(m.raw.shape);
      for (let b = 0; b < B; b++) {
        const row = m.raw.data.subarray(b * h * w, (b + 1) * h * w);
        const mx = Math.max(...row);
        for (let j = 0; j < h * w; j++) {
          const x = mx > 0 ? row[j] / mx : 0;
          s.data[b * h * w + j] = l === deepest ? x : Math.tanh(LAYERCAM_GAMMA * x);
        }
      }
      v = upsampleBilinear(s, H, W);
    }
    for (let p = 0; p < B * HW; p++) {
      if (l === 0) out.data[p] = v.data[p];
      else out.data[p] = fuse === 'mean' ? out.data[p] + v.data[p] : Math.max(out.data[p], v.data[p]);
    }
  });
  if (fuse === 'mean') for (let p = 0; p < B * HW; p++) out.data[p] /= maps.length;
  return normalizeMinMax(out);
}

export function explainLayersReference(
  model: RefModel,
  x: HostTensor,
  opts: {
    methods: readonly Method[];
    layers: readonly string[];
    fuse?: Fusion;
    targets?: readonly number[] | { topK: number };
  },
): RefMultiLayerExplanation {
  const g = model.graph;
  const n = x.shape[0];
  const [, , H, W] = x.shape;
  const layers = opts.layers.map((l) => g.layer(l));
  for (const m of opts.methods) if (!isFusable(m)) throw new Error(`${m} cannot be fused over layers`);
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

  // 2. Seeds, then ONE backward pass for all rows that yields the gradient at every layer.
  const seeds = hostTensor([T * n, K]);
  for (let b = 0; b < T * n; b++) seeds.data[b * K + rowClass(b)] = 1;
  const grads = model.backward(values, seeds, layers, { from: g.scores });

  // 3. Per layer and method: the map at the layer, normalised, upsampled (as for one layer).
  const perLayer: RefLayerExplanation[] = layers.map((name, l) => {
    const A = values.get(name)!;
    const G = grads[l];
    const maps: RefLayerExplanation['maps'] = {};
    for (const m of opts.methods) {
      const weights = isChannel(m) ? channelWeights(m, A, G) : undefined;
      const raw = isChannel(m)
        ? weightedSum(A, weights!, channelMethod(m).relu)
        : isSpatial(m)
          ? spatialMap(m, A, G)
          : isEigen(m)
            ? eigenMap(m, A, G)
            : null;
      if (!raw) throw new Error(`unreachable: ${m}`);
      const norm = normalizeMinMax(raw);
      maps[m] = {
        ...(weights ? { weights } : {}),
        raw,
        layer: norm,
        input: normalizeMinMax(upsampleBilinear(norm, H, W)),
      };
    }
    return { name, activations: A, gradients: G, maps };
  });

  // 4. Per method: the fused map.
  const deepest = deepestLayer(g, layers);
  const fused: RefMultiLayerExplanation['fused'] = {};
  for (const m of opts.methods) {
    fused[m] = fuseLayerMaps(
      opts.fuse ?? 'mean',
      perLayer.map((L) => L.maps[m]!),
      deepest,
    );
  }
  return { scores, probabilities, classes, layers: perLayer, fused };
}
