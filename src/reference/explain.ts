/**
 * explain() on the CPU: the same steps as src/attribution/explain.ts, each written out with
 * the reference ops and the methods' reference formulas (src/reference/attribution.ts, from the
 * descriptors of src/methods/registry.ts). Rows b = t·N + i.
 */
import {
  channelMethod,
  inputGradientMethod,
  isChannel,
  isEigen,
  isInputGradient,
  isPerturbation,
  isSpatial,
  perturbationMethod,
  type ChannelMethodName,
  type Method,
} from '../methods/registry';
import {
  camWeights,
  channelWeights,
  eigenMap,
  eigenSmoothMap,
  guidedGradcam,
  normalizeMinMax,
  spatialMap,
  upsampleBilinear,
  weightedSum,
} from './attribution';
import { resolveNoise, resolveSamples, type SamplingOptions } from '../methods/sampling';
import { smoothGradcamppWeights } from './smooth_gradcampp';
import { reduceInputGradients, sampledInputGradient } from './input_gradients';
import type { RefModel } from './model';
import { ablationCamWeights, scoreCamWeights } from './perturbation';
import { softmaxForward } from './softmax';
import { hostTensor, type HostTensor } from './tensor';
import { AUGMENTATIONS } from '../methods/augment';
import { augmentImage, flipLast, meanOf } from './augment';
import { aboveClasses, NO_CLASS, oneHot, padClasses, scoreSeeds, type Score, type TargetSpec } from './targets';

export interface RefMaps {
  /** Channel methods only. */
  weights?: HostTensor;
  raw: HostTensor;
  layer: HostTensor;
  input: HostTensor;
}

export type RefChannelMaps = Required<RefMaps>;

export interface RefExplanation {
  scores: HostTensor;
  probabilities: HostTensor;
  /** [N][T] */
  classes: number[][];
  activations: HostTensor;
  gradients: HostTensor;
  maps: Partial<Record<Method, Partial<RefMaps>>>;
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
  opts: {
    methods: readonly Method[];
    targets?: TargetSpec;
    /** The explained score (src/reference/targets.ts). Default 'logit'. */
    score?: Score;
    layer?: string;
    eigenSmooth?: boolean;
    augSmooth?: boolean;
  } & SamplingOptions,
): RefExplanation {
  const g = model.graph;
  const n = x.shape[0];
  const [, , H, W] = x.shape;
  const layer = opts.layer ?? g.defaultLayer();
  const values = model.forward(x);
  const scores = values.get(g.scores)!;
  const K = scores.shape[1];
  const probabilities = softmaxForward(scores);

  // 1. Targets: class c of row b = t·N + i (NO_CLASS for padding rows and seed-vector rows).
  const targets = opts.targets ?? { topK: 1 };
  const score = opts.score ?? 'logit';
  const row = (i: number) => scores.data.subarray(i * K, (i + 1) * K);
  let classes: number[][] = [];
  // The seed vector of each image (the { seed } targets), else null.
  let seedOf: ((i: number) => readonly number[]) | null = null;
  if (Array.isArray(targets)) {
    for (let i = 0; i < n; i++) classes.push([...(targets as readonly number[])]);
  } else if ('topK' in targets) {
    for (let i = 0; i < n; i++) classes.push(topk(row(i), targets.topK));
  } else if ('above' in targets) {
    classes = padClasses(Array.from({ length: n }, (_, i) => aboveClasses(row(i), targets.above, score)));
  } else {
    const v = (targets as Extract<TargetSpec, { seed: unknown }>).seed;
    seedOf = Array.isArray(v[0]) ? (i) => (v as readonly (readonly number[])[])[i] : () => v as readonly number[];
    for (let i = 0; i < n; i++) classes.push([NO_CLASS]);
  }
  const T = classes[0].length;
  const rowClass = (b: number) => classes[b % n][Math.floor(b / n)];
  // The row's vector in score space: its seed vector, or one-hot at its class.
  const rowVector = (b: number) => (seedOf ? seedOf(b % n) : oneHot(rowClass(b), K));
  const padding = (b: number) => !seedOf && rowClass(b) === NO_CLASS;
  if (score !== 'logit') {
    // The perturbation methods take every score and every target; CAM (of a class, or of a
    // seed vector v with the weights v·W) the logit only.
    const refused = opts.methods.filter((m) => isChannel(m) && channelMethod(m).source === 'linear-head');
    if (refused.length) throw new Error(`${refused.join(', ')}: not with score '${score}'`);
  }

  // 2. Seeds: ∂score/∂y of each row; one backward pass for all rows.
  const seeds = scoreSeeds(scores, T, rowVector, score);
  const A = values.get(layer)!;
  const G = model.backward(values, seeds, layer, { from: g.scores });

  // 3. Per method: the map at the layer, normalised, upsampled.
  const finish = (raw: HostTensor) => {
    const norm = normalizeMinMax(raw);
    // Renormalised after resizing (the samples fall between the layer's cells): peak 1, as
    // pytorch-grad-cam and torch-cam give.
    return { raw, layer: norm, input: normalizeMinMax(upsampleBilinear(norm, H, W)) };
  };
  const channel = (m: ChannelMethodName): RefChannelMaps => {
    const d = channelMethod(m);
    let weights: HostTensor;
    if (d.source === 'linear-head') {
      const head = g.camHead(layer);
      if ('reason' in head) throw new Error(head.reason);
      const Wfc = model.weights.get(`${head.linear.name}.weight`)!;
      if (seedOf) {
        // A seed vector v: the head is linear, so the weights are Σ_c v_c·W[c, :].
        const [classes, Kc] = Wfc.shape;
        weights = hostTensor([T * n, Kc]);
        for (let b = 0; b < T * n; b++) {
          const v = rowVector(b);
          for (let c = 0; c < classes; c++)
            for (let k = 0; k < Kc; k++) weights.data[b * Kc + k] += v[c] * Wfc.data[c * Kc + k];
        }
      } else {
        weights = camWeights(
          Wfc,
          Array.from({ length: T * n }, (_, b) => Math.max(0, rowClass(b))),
        );
      }
      zeroPadding(weights, padding);
    } else if (d.source === 'noisy-gradients') {
      weights = smoothGradcamppWeights(model, x, layer, A, rowClass, T, resolveNoise(d.noise!, opts));
    } else {
      weights = channelWeights(m, A, G);
    }
    const raw = opts.eigenSmooth ? eigenSmoothMap(A, weights, d.relu) : weightedSum(A, weights, d.relu);
    return { weights, ...finish(raw) };
  };
  const maps: RefExplanation['maps'] = {};
  for (const m of opts.methods) {
    if (isChannel(m)) maps[m] = channel(m);
    else if (isSpatial(m)) maps[m] = finish(spatialMap(m, A, G));
    else if (isEigen(m)) maps[m] = finish(eigenMap(m, A, G));
    else if (isPerturbation(m)) {
      const d = perturbationMethod(m);
      const rows = Array.from({ length: T * n }, (_, b) => rowVector(b));
      const weights =
        d.perturb === 'mask-input'
          ? scoreCamWeights(model, x, A, rows, score)
          : ablationCamWeights(model, x, layer, A, scores, rows, score);
      zeroPadding(weights, padding);
      const raw = opts.eigenSmooth ? eigenSmoothMap(A, weights, d.relu) : weightedSum(A, weights, d.relu);
      maps[m] = { weights, ...finish(raw) };
    }
  }
  // augSmooth: every layer method's maps (and Guided Grad-CAM's channel method) again, as the
  // mean over the augmented copies, each copy explained on its own and its maps flipped back.
  const smoothed = opts.augSmooth ? augSmoothMaps(model, x, classes, opts) : null;
  if (smoothed) for (const m of opts.methods) if (!isInputGradient(m)) maps[m] = smoothed[m];
  const guided = new Map<boolean, HostTensor>();
  for (const m of opts.methods.filter(isInputGradient)) {
    const d = inputGradientMethod(m);
    if (d.samples) {
      // SmoothGrad, Integrated Gradients: the gradients at the method's perturbed copies.
      const samples = resolveSamples(d.samples, opts);
      maps[m] = {
        input: sampledInputGradient(model, d, x, samples, (b) => (seedOf ? rowVector(b) : rowClass(b)), T, score),
      };
      continue;
    }
    if (!guided.has(d.guided))
      guided.set(d.guided, model.backward(values, seeds, g.input, { from: g.scores, guided: d.guided }));
    const grad = guided.get(d.guided)!;
    if (d.times === 'input' || d.magnitude) maps[m] = { input: reduceInputGradients(d, grad, x, null) };
    else if (!d.times) maps[m] = { input: grad };
    else {
      const times = d.times as ChannelMethodName;
      maps[m] = { input: guidedGradcam(smoothed?.[times]?.input ?? channel(times).input, grad) };
    }
  }
  return { scores, probabilities, classes, activations: A, gradients: G, maps };
}

/**
 * The augSmooth maps of the layer methods of `opts` (and of the channel methods that an
 * input-gradient method multiplies by): for every augmentation and image i, explainReference of
 * the copy alone with image i's classes as targets; each copy's maps flipped back along the
 * width (weights are not flipped) and averaged over the copies. Rows b = t·N + i, as explain's.
 */
function augSmoothMaps(
  model: RefModel,
  x: HostTensor,
  classes: number[][],
  opts: Parameters<typeof explainReference>[2],
): Partial<Record<Method, Partial<RefMaps>>> {
  const [n, C, H, W] = x.shape;
  const T = classes[0].length;
  const wanted = new Set<Method>(opts.methods.filter((m) => !isInputGradient(m)));
  for (const m of opts.methods.filter(isInputGradient)) {
    const times = inputGradientMethod(m).times;
    if (times && times !== 'input') wanted.add(times as Method);
  }
  const methods = [...wanted];
  // runs[a][i]: the explanation of copy a of image i.
  const runs = AUGMENTATIONS.map((aug) =>
    Array.from({ length: n }, (_, i) => {
      const xi = hostTensor([1, C, H, W], x.data.subarray(i * C * H * W, (i + 1) * C * H * W));
      const { methods: _all, targets: _t, augSmooth: _a, ...rest } = opts;
      return explainReference(model, augmentImage(xi, aug), { ...rest, methods, targets: classes[i] });
    }),
  );
  const out: Partial<Record<Method, Partial<RefMaps>>> = {};
  for (const m of methods) {
    const res: Partial<RefMaps> = {};
    for (const key of ['weights', 'raw', 'layer', 'input'] as const) {
      const first = runs[0][0].maps[m]![key];
      if (!first) continue;
      const per = first.data.length / T; // one row's values
      // The flipped-back copies, each [T·N, …] with row t·N + i from image i's run.
      const copies = AUGMENTATIONS.map((aug, a) => {
        const full = hostTensor([T * n, per]);
        for (let i = 0; i < n; i++) {
          const back = flipLast(runs[a][i].maps[m]![key]!, aug.flip && key !== 'weights');
          for (let t = 0; t < T; t++) full.data.set(back.data.subarray(t * per, (t + 1) * per), (t * n + i) * per);
        }
        return full;
      });
      const mean = meanOf(copies);
      res[key] = { shape: [T * n, ...first.shape.slice(1)], data: mean.data };
    }
    out[m] = res;
  }
  return out;
}

/** Zero the channel weights [T·N, K] of the padding rows (class −1): their maps are then zero. */
function zeroPadding(weights: HostTensor, padding: (b: number) => boolean): void {
  const k = weights.shape[weights.shape.length - 1];
  for (let b = 0; b < weights.data.length / k; b++) if (padding(b)) weights.data.fill(0, b * k, (b + 1) * k);
}
