/**
 * explain(): one forward pass, one batched backward pass for all T targets (and one guided
 * backward for the guided methods), then the fused attribution kernels of every requested
 * method family — recorded into one command buffer of the call's own recorder, with no readback
 * in between. Rows b = t·N + i (target t, image i).
 *
 * The methods are the registry's (src/methods/registry.ts); per family, one set of dispatches
 * serves every requested method of that family:
 *   channel         one channel_weights dispatch (generated from the requested methods' sums)
 *                   and one cam_weights dispatch per linear-head method (CAM), Smooth
 *                   Grad-CAM++'s weights from a batched forward and backward over noisy copies
 *                   (smooth_gradcampp.ts), then one cam_combine for every (method, row) map and
 *                   one upsample;
 *   spatial         one spatial_combine dispatch (generated from their terms) and one upsample;
 *   input-gradient  the (guided) input gradient from one more batched backward pass, times a
 *                   channel method's upsampled map where the method says so (Guided Grad-CAM),
 *                   or times the input, or its magnitude (input_gradients.ts); the sampled
 *                   methods (SmoothGrad, Integrated Gradients) from one batched forward and
 *                   backward over their perturbed copies (input_gradients.ts; timed in the
 *                   'backward' stage).
 *   eigen           per method: the centred matrix, its Gram matrix, power iteration, the
 *                   projection (eigenMaps), then one upsample for all of them. Eigen-CAM reads
 *                   no gradient: asked alone (or with CAM), no backward pass runs.
 *   perturbation    channel weights from batched extra forward passes (perturbation.ts), in
 *                   slots of the channel family's weight tensor after its own, so the same
 *                   cam_combine and upsample dispatches make their maps. These submit more than
 *                   once: the forward and backward passes, one submission per batch, then the
 *                   maps; a failure or an abort still leaves nothing behind (Recorder.run).
 *
 * augSmooth: the channel, spatial and eigen maps once more from one batched forward and backward
 * over six augmented copies of the input, flipped back and averaged (augment.ts).
 *
 * Concurrency: each call records into its own recorder, so calls on one engine may overlap
 * (see Recorder). The results are the caller's; inside an open engine.scope() they belong to it.
 *
 * Several layers: a list in the `layer` option goes to explainLayers (multilayer.ts): the same
 * forward, one backward to every listed layer, the channel and spatial families' maps per
 * layer, and their fusion.
 */
import type { Recorder } from '../gpu/recorder';
import { InvalidInputError, MethodNotApplicableError, ShapeMismatchError } from '../core/errors';
import { checkAborted, DEFAULT_PERTURBATION_BATCH, perturbationBatchSize, perturbationWeights } from './perturbation';
import { type Tensor } from '../gpu/tensor';
import { shapeStr } from '../core/shape';
import {
  channelMethod,
  inputGradientMethod,
  isChannel,
  isEigen,
  isInputGradient,
  isMethod,
  isPerturbation,
  isSpatial,
  methodOf,
  METHODS,
  needsLayerGradient,
  perturbationMethod,
  type ChannelMethodName,
  type EigenMethodName,
  type InputGradientMethodName,
  type Method,
  type PerturbationMethodName,
  type SpatialMethodName,
} from '../methods/registry';
import type { Graph } from '../model/graph';
import { Model } from '../model/model';
import {
  checkScore,
  checkTargetMethods,
  camSeedWeights,
  checkTargets,
  logitSeeds,
  scoreSeeds,
  targetClasses,
  type Score,
  type Targets,
} from './targets';
import type { InputSamples } from '../methods/types';
import { checkSamplingOptions, resolveNoise, resolveSamples, type SamplingOptions } from '../methods/sampling';
import { reduceInputGradients, sampledInputGradients, timesBaseline } from './input_gradients';
import { augmentedMaps, familySlices } from './augment';
import { smoothGradcamppWeights } from './smooth_gradcampp';
import { softmaxForward } from '../ops/softmax';
import { unaryForward } from '../ops/elementwise';
import {
  camWeights,
  channelWeights,
  checkEigenLayer,
  combineMaps,
  EIGEN_MAX_SIDE,
  eigenMaps,
  eigenSmoothMaps,
  guidedGradcam,
  spatialMaps,
  upsampleBilinear,
} from './kernels';
import { explainLayers } from './multilayer';
import type { Fusion } from '../methods/fusion';

export { METHODS, type Method } from '../methods/registry';

export { SCORES, type Score, type Targets } from './targets';

export interface ExplainOptions extends SamplingOptions {
  /** Default ['gradcam']. Any subset of METHODS. */
  methods?: readonly Method[];
  /**
   * Class indices (the same for every image), the top k classes of each image, { seed: v } a
   * seed vector over the classes (or one per image, [N][K]), or { above: threshold } every class
   * of each image whose sigmoid (softmax probability with score 'probability') is above the
   * threshold (one readback; padding rows of class −1). Default { topK: 1 }. See targets.ts.
   */
  targets?: Targets;
  /** The explained score: 'logit' (default), 'probability' (softmax) or 'sigmoid' (multi-label models). */
  score?: Score;
  /**
   * The layer: a 4-D tensor of the graph, by tensor name or by the name of the module that
   * produced it ('layer4', 'features.28'; Graph.layer()). Default: Graph.defaultLayer(), the last
   * spatial activation before the spatial collapse, trailing pools skipped.
   *
   * A list of layers (distinct, at least one): one forward pass keeping all of them, one
   * backward pass yielding the gradient at each, every method's maps per layer
   * (Explanation.layers, in this order) and its maps fused over the layers at the input
   * resolution (Explanation.fused, by the `fuse` rule). Only the channel methods with gradient
   * weights and the spatial methods (src/methods/fusion.ts, isFusable); the top-level
   * activations, gradients and maps are then those of the first listed layer.
   */
  layer?: string | readonly string[];
  /**
   * With a list of layers: how each method's maps are fused. 'mean' (default): the mean of the
   * layers' upsampled, normalised maps, normalised (pytorch-grad-cam's aggregation); 'layercam':
   * LayerCAM's rule, every layer's map but the deepest's scaled by tanh(2·M / max M), the
   * element-wise maximum of the upsampled maps, normalised. docs/METHODS.md, "Several layers at once".
   */
  fuse?: Fusion;
  /**
   * Every channel method's map as the first principal component of its weighted activations
   * w_k·A^k (centred over the positions, the sign making the largest |value| positive, as the
   * eigen methods do) instead of their sum Σ_k w_k·A^k; pytorch-grad-cam's `eigen_smooth`.
   * Default false. Guided Grad-CAM then multiplies by the smoothed Grad-CAM map.
   */
  eigenSmooth?: boolean;
  /**
   * The channel, spatial and eigen methods' maps (and channel weights) as the mean over six
   * augmented copies of the input — horizontal flip off/on × brightness factor 0.9, 1, 1.1 —
   * each copy's maps flipped back; pytorch-grad-cam's `aug_smooth`. The copies run as one
   * batched forward and backward pass and explain the classes chosen on the unaugmented input.
   * Default false. Refused (InvalidInputError) with the perturbation methods and Smooth
   * Grad-CAM++; Guided Grad-CAM then multiplies by the smoothed Grad-CAM map; the other
   * input-gradient methods, scores, activations and gradients are unchanged.
   */
  augSmooth?: boolean;
  /**
   * Perturbation methods (Score-CAM, Ablation-CAM): the most (image, channel) jobs per extra
   * forward pass. Default 32; lowered to what the device's binding limits allow for this model,
   * and halved while a batch still does not fit. Explanation.batchSize tells the one used.
   */
  batchSize?: number;
  /** Perturbation methods: called after each batch has run with the jobs done and their total (N·K per method). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Cancels the call: checked before anything is recorded and after each perturbation batch.
   * An aborted call rejects with AbortedError and leaves nothing behind.
   */
  signal?: AbortSignal;
}

/**
 * Maps of one method at the layer and upsampled to the input. With N = 1 image the leading
 * dims are [T]; with N > 1 they are [T, N].
 */
export interface LayerMaps {
  /** The map at the layer's resolution (after the ReLU, except for CAM): [T, (N,) h, w]. */
  raw: Tensor;
  /** raw, min–max normalised to [0, 1]: [T, (N,) h, w]. */
  layer: Tensor;
  /** layer, bilinearly upsampled to the input: [T, (N,) H, W]. */
  input: Tensor;
}

/** Maps of one channel-weight method: raw is Σ_k w_k A^k. */
export interface ChannelMaps extends LayerMaps {
  /** Channel weights [T, (N,) K]. */
  weights: Tensor;
}

/** One layer of an explanation at a list of layers (Explanation.layers). */
export interface LayerExplanation {
  /** The layer's tensor name (a module name given in the options resolved). */
  readonly name: string;
  /** The layer's activations A [N, K, h, w]. */
  readonly activations: Tensor;
  /** dy^c/dA for every row [T·N, K, h, w]. */
  readonly gradients: Tensor;
  /** Every method's maps at this layer, as a single-layer explanation gives them. */
  readonly maps: ExplanationMaps;
}

/** Per method, its maps fused over the layers: input [T, (N,) H, W], in [0, 1]. */
export type FusedMaps = { [M in Method]?: { input: Tensor } };

/** An input-gradient method (Guided Backprop, Guided Grad-CAM): [T, (N,) C, H, W] at the input resolution. */
export interface GuidedMaps {
  input: Tensor;
}

export type ExplanationMaps = { [M in ChannelMethodName]?: ChannelMaps } & {
  [M in SpatialMethodName]?: LayerMaps;
} & { [M in InputGradientMethodName]?: GuidedMaps } & {
  /** Eigen-CAM's maps are the same for every target (they read no gradient). */
  [M in EigenMethodName]?: LayerMaps;
} & { [M in PerturbationMethodName]?: ChannelMaps };

export interface ExplanationData {
  /** Class scores y (pre-softmax logits) [N, K]. */
  scores: Tensor;
  /** Softmax of the scores [N, K]. */
  probabilities: Tensor;
  /** Class ids per row, float32 [T·N] (row t·N + i); −1 for padding and seed-vector rows (targets.ts); see readClasses(). */
  classes: Tensor;
  /** The layer's activations A [N, K, h, w]. */
  activations: Tensor;
  /** ∂score/∂A for every row [T·N, K, h, w] (the logit y^c by default; present when a gradient method ran). */
  gradients: Tensor | null;
  maps: ExplanationMaps;
  /** With a list of layers: each layer's activations, gradients and maps, in the order given. */
  layers?: readonly LayerExplanation[] | null;
  /** With a list of layers: every method's fused map, by the `fuse` rule. */
  fused?: FusedMaps | null;
  /** With a list of layers: the rule the maps were fused by. */
  fuse?: Fusion | null;
}

export class Explanation implements ExplanationData {
  readonly scores!: Tensor;
  readonly probabilities!: Tensor;
  readonly classes!: Tensor;
  readonly activations!: Tensor;
  readonly gradients!: Tensor | null;
  readonly maps!: ExplanationMaps;
  readonly layers: readonly LayerExplanation[] | null = null;
  readonly fused: FusedMaps | null = null;
  readonly fuse: Fusion | null = null;

  constructor(
    data: ExplanationData,
    /** The layer's tensor name (a module name given in the options resolved); with a list, the first. */
    readonly layer: string,
    readonly n: number,
    readonly t: number,
    readonly methods: readonly Method[],
    private readonly recorder: Recorder,
    /** The batch size the perturbation methods' forwards used (null when none ran). */
    readonly batchSize: number | null = null,
    /** Stage timings of the run's earlier submissions (the perturbation methods submit several times). */
    private readonly earlierTimings: readonly Promise<Record<string, number> | null>[] = [],
  ) {
    Object.assign(this, data);
  }

  /** GPU time per stage (forward, backward, attribution) of this run, in ms; null without timestamps. */
  async stageTimings(): Promise<Record<string, number> | null> {
    const runs = await Promise.all([...this.earlierTimings, this.recorder.stageTimings()]);
    let out: Record<string, number> | null = null;
    for (const r of runs) {
      if (!r) continue;
      out ??= {};
      for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
    }
    return out;
  }

  /** The explained class ids, per image: [N][T]; −1 marks a padding row ({ above }) or a seed-vector row. */
  async readClasses(): Promise<number[][]> {
    const c = await this.classes.read();
    return Array.from({ length: this.n }, (_, i) => Array.from({ length: this.t }, (_, t) => c[t * this.n + i]));
  }

  /** Every tensor this explanation holds. */
  tensors(): Tensor[] {
    const out = [this.scores, this.probabilities, this.classes, this.activations];
    if (this.gradients) out.push(this.gradients);
    for (const m of Object.values(this.maps)) out.push(...(Object.values(m as object) as Tensor[]));
    // A multi-layer explanation's top-level tensors are its first layer's: each listed once.
    for (const l of this.layers ?? []) {
      out.push(l.activations, l.gradients);
      for (const m of Object.values(l.maps)) out.push(...(Object.values(m as object) as Tensor[]));
    }
    for (const m of Object.values(this.fused ?? {})) out.push(m.input);
    return [...new Set(out)];
  }

  destroy(): void {
    for (const t of this.tensors()) t.destroy();
  }
}

/**
 * The registered methods that apply to `layer` (a tensor or module name, default the default
 * layer) of this graph: every one, but those that read a GAP → linear head (CAM) only where the
 * layer has one, and the eigen methods only where min(K, h·w) ≤ EIGEN_MAX_SIDE.
 */
export function applicableMethods(graph: Graph, layer?: string): Method[] {
  const name = layer === undefined ? graph.defaultLayer() : graph.layer(layer);
  const head = !('reason' in graph.camHead(name));
  // The eigen methods: min(K, h·w) within the power iteration's limit (checkEigenLayer).
  const [, K, h, w] = graph.shape(name, 1);
  const eigen = Math.min(K, h * w) <= EIGEN_MAX_SIDE;
  return METHODS.filter((m) => {
    const d = methodOf(m);
    if (d.family === 'eigen') return eigen;
    if (d.family === 'perturbation' && d.perturb === 'ablate-channel') return separates(graph, name);
    return head || !(d.family === 'channel' && d.source === 'linear-head');
  });
}

/**
 * Whether the graph's output depends on its input only through `layer`, so that a forward from
 * the layer onward (Model.forwardFrom) needs nothing else: Ablation-CAM's condition.
 */
function separates(graph: Graph, layer: string): boolean {
  const seen = new Set<string>([layer]);
  const stack = [graph.output];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    const node = graph.producer.get(t);
    if (!node) return false; // the graph input, reached around the layer
    stack.push(...node.inputs);
  }
  return true;
}

/** A layer explain() can use (see explainableLayers). */
export interface LayerInfo {
  /** The tensor's name in the graph: the `layer` option of explain(). */
  name: string;
  /** The modules whose output it is, deepest first (torch.onnx exports; empty otherwise): also `layer` options. */
  modules: string[];
  /** Channels and spatial size of one image, [K, h, w]. */
  shape: [number, number, number];
  /** Why CAM cannot apply at this layer, or null when it can. */
  camReason: string | null;
  /** The registered methods that apply here (applicableMethods). */
  methods: Method[];
}

/**
 * The layers attribution can use, in graph order (Graph.layers(): the [N, C, H, W] tensors with
 * h·w > 1 that the class scores depend on, the input excepted), with what applies at each.
 * graph.defaultLayer() is one of them.
 */
export function explainableLayers(graph: Graph): LayerInfo[] {
  return graph.layers().map((l) => {
    const head = graph.camHead(l.tensor);
    return {
      name: l.tensor,
      modules: l.modules,
      shape: l.shape,
      camReason: 'reason' in head ? head.reason : null,
      methods: applicableMethods(graph, l.tensor),
    };
  });
}

/** The requested methods, checked, without repeats. */
export function checkMethods(requested: unknown): Method[] {
  if (!Array.isArray(requested)) {
    throw new InvalidInputError(
      `methods must be an array of method names (${METHODS.join(', ')}), got ${describe(requested)}`,
    );
  }
  if (requested.length === 0) throw new InvalidInputError(`no methods given; choose from ${METHODS.join(', ')}`);
  for (const m of requested) {
    if (!isMethod(m)) throw new InvalidInputError(`unknown method '${String(m)}'; choose from ${METHODS.join(', ')}`);
  }
  return [...new Set(requested as Method[])];
}

/** A value as an error message shows it. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `'${v}'` : typeof v;
}

/** The options, checked: undefined or a plain object with known keys. */
function checkOptions(opts: unknown): ExplainOptions {
  if (opts === undefined) return {};
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
    throw new InvalidInputError(`explain: options must be an object or undefined, got ${describe(opts)}`);
  }
  const known = [
    'methods',
    'targets',
    'score',
    'layer',
    'fuse',
    'smoothgrad',
    'integratedGradients',
    'smoothgradcampp',
    'eigenSmooth',
    'augSmooth',
    'batchSize',
    'onProgress',
    'signal',
  ];
  for (const k of Object.keys(opts)) {
    if (!known.includes(k))
      throw new InvalidInputError(`explain: unknown option '${k}'; the options are ${known.join(', ')}`);
  }
  const o = opts as ExplainOptions;
  checkSamplingOptions(o);
  const b: unknown = o.batchSize;
  if (b !== undefined && (typeof b !== 'number' || !Number.isInteger(b) || b < 1)) {
    throw new InvalidInputError(`explain: batchSize must be a positive integer, got ${describe(b)} ${String(b)}`);
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw new InvalidInputError(`explain: onProgress must be a function, got ${describe(o.onProgress)}`);
  }
  const sig: unknown = o.signal;
  if (
    sig !== undefined &&
    (typeof sig !== 'object' || sig === null || typeof (sig as { aborted?: unknown }).aborted !== 'boolean')
  ) {
    throw new InvalidInputError(`explain: signal must be an AbortSignal, got ${describe(sig)}`);
  }
  return o;
}

/**
 * Every argument is checked before anything is allocated: a typed error (InvalidInputError or a
 * subclass) for a destroyed model, an input that is not a live tensor of the model's engine or
 * not of the model's shape, bad options; DeviceLostError once the device is lost.
 */
export async function explain(model: Model, input: Tensor, opts?: ExplainOptions): Promise<Explanation> {
  if (!(model instanceof Model))
    throw new InvalidInputError(`explain: the first argument must be a Model, got ${describe(model)}`);
  const o = checkOptions(opts);
  const g = model.graph;
  const n = model.checkInput(input);
  const methods = checkMethods(o.methods === undefined ? ['gradcam'] : o.methods);
  const scoresName = g.scores;
  const numClasses = g.shape(scoresName)[1];
  if (Array.isArray(o.layer)) {
    const plan = checkTargets(o.targets === undefined ? { topK: 1 } : o.targets, numClasses, n);
    if (plan.kind !== 'classes' && plan.kind !== 'topK') {
      throw new InvalidInputError('explain: seed-vector and { above } targets are not available with a list of layers');
    }
    if (checkScore(o.score) !== 'logit') {
      throw new InvalidInputError(`explain: score '${String(o.score)}' is not available with a list of layers`);
    }
    const targets = plan.kind === 'classes' ? plan.classes : { topK: plan.t };
    return explainLayers(model, input, o, { n, methods, targets, t: plan.t });
  }
  if (o.fuse !== undefined) {
    throw new InvalidInputError(`explain: fuse applies to a list of layers; layer is ${describe(o.layer)}`);
  }
  if (o.layer !== undefined && typeof o.layer !== 'string') {
    throw new InvalidInputError(`explain: layer must be a tensor or module name, got ${describe(o.layer)}`);
  }
  const layer = o.layer === undefined ? g.defaultLayer() : g.layer(o.layer);
  const layerShape = g.shape(layer, n);
  if (layerShape.length !== 4) {
    const which = layer === o.layer ? `'${layer}'` : `'${o.layer}' (tensor '${layer}')`;
    throw new ShapeMismatchError(
      `layer ${which} is ${shapeStr(layerShape)}; attribution needs a 4-D [N, K, h, w] tensor`,
    );
  }
  g.backwardNodes(layer, scoresName); // throws GraphError when the scores do not depend on the layer
  if (o.eigenSmooth !== undefined && typeof o.eigenSmooth !== 'boolean') {
    throw new InvalidInputError(`explain: eigenSmooth must be true or false, got ${describe(o.eigenSmooth)}`);
  }
  const eigenSmooth = o.eigenSmooth === true;
  if (o.augSmooth !== undefined && typeof o.augSmooth !== 'boolean') {
    throw new InvalidInputError(`explain: augSmooth must be true or false, got ${describe(o.augSmooth)}`);
  }
  const augSmooth = o.augSmooth === true;
  const plan = checkTargets(o.targets === undefined ? { topK: 1 } : o.targets, numClasses, n);
  const score = checkScore(o.score);
  checkTargetMethods(plan, score, methods);
  // T; for { above } known only after the forward pass (set in the run below).
  let t = plan.t ?? 0;
  const perturb = methods.filter(isPerturbation);
  // Not with augSmooth: the perturbation methods (one forward pass per channel, six times over)
  // and Smooth Grad-CAM++ (noisy copies of every augmented copy).
  const unsmoothed = methods.filter(
    (m) => isPerturbation(m) || (isChannel(m) && channelMethod(m).source === 'noisy-gradients'),
  );
  if (augSmooth && unsmoothed.length) {
    throw new InvalidInputError(
      `explain: augSmooth does not apply to ${unsmoothed.join(', ')}; ask for them in a call without augSmooth`,
    );
  }
  for (const m of perturb) {
    if (perturbationMethod(m).perturb === 'ablate-channel' && !separates(g, layer)) {
      throw new MethodNotApplicableError(
        `${perturbationMethod(m).label} cannot apply to layer '${layer}' of this model: the scores depend on the input ` +
          `through other paths than this layer, so a forward pass from the layer onward cannot run on its own. ` +
          `Choose a layer every path passes through, or use 'scorecam'.`,
      );
    }
  }
  const batchSize = perturb.length
    ? perturbationBatchSize(g, model.engine.limits, o.batchSize ?? DEFAULT_PERTURBATION_BATCH)
    : null;
  checkAborted(o.signal, 'explain');

  // The plan, by family. A channel method that an input-gradient method multiplies by is
  // computed even when not asked for (its maps are then not returned).
  const inputMethods = methods.filter(isInputGradient);
  const spatial = methods.filter(isSpatial);
  const eigen = methods.filter(isEigen);
  const wanted = new Set<Method>(methods);
  const channelSet = new Set<ChannelMethodName>(methods.filter(isChannel));
  for (const m of inputMethods) {
    const times = inputGradientMethod(m).times;
    if (times !== undefined && times !== 'input') {
      if (!isMethod(times) || !isChannel(times)) throw new Error(`unreachable: '${m}' multiplies by '${times}'`);
      channelSet.add(times);
    }
  }
  // Slots: the gradient methods first (one channel_weights dispatch), then the linear-head
  // ones, then Smooth Grad-CAM++, then the perturbation methods.
  const gradientChannel = [...channelSet].filter((m) => channelMethod(m).source === 'gradients');
  const headChannel = [...channelSet].filter((m) => channelMethod(m).source === 'linear-head');
  const noisyChannel = [...channelSet].filter((m) => channelMethod(m).source === 'noisy-gradients');
  const slots: (ChannelMethodName | PerturbationMethodName)[] = [
    ...gradientChannel,
    ...headChannel,
    ...noisyChannel,
    ...perturb,
  ];
  const slotRelu = (m: ChannelMethodName | PerturbationMethodName) =>
    isPerturbation(m) ? perturbationMethod(m).relu : channelMethod(m).relu;
  const heads = new Map<ChannelMethodName, string>();
  for (const m of headChannel) {
    const head = g.camHead(layer);
    if ('reason' in head) {
      throw new MethodNotApplicableError(
        `${channelMethod(m).label} cannot apply to layer '${layer}' of this model: ${head.reason}. It needs the scores to be a linear ` +
          `function of the layer's global average pool (y^c = Σ_k w^c_k·GAP(A^k) + b_c). Use 'gradcam', which ` +
          `needs no such head and equals CAM up to scale where CAM applies.`,
      );
    }
    heads.set(m, `${head.linear.name}.weight`);
  }
  const needGrad = [...gradientChannel, ...spatial, ...eigen].some(needsLayerGradient);
  // Input-gradient methods at the input itself share the main forward; the sampled ones run
  // their copies, one group per (resolved) sampling.
  const atInput = inputMethods.filter((m) => !inputGradientMethod(m).samples);
  const sampled = new Map<string, { samples: InputSamples; methods: InputGradientMethodName[] }>();
  for (const m of inputMethods) {
    const d = inputGradientMethod(m);
    if (!d.samples) continue;
    const samples = resolveSamples(d.samples, o);
    const key = JSON.stringify(samples);
    if (!sampled.has(key)) sampled.set(key, { samples, methods: [] });
    sampled.get(key)!.methods.push(m);
  }
  const guidedKinds = [...new Set(atInput.map((m) => inputGradientMethod(m).guided))];
  const [, , H, W] = input.shape;
  const C = input.shape[1];
  let rows = t * n;
  if (eigen.length || (eigenSmooth && slots.length)) checkEigenLayer(layerShape[1], layerShape[2], layerShape[3]);
  const lead = (rest: number[]) => (n === 1 ? [t, ...rest] : [t, n, ...rest]);

  // Its own recorder: concurrent explains on one engine do not share an encoder, scope or stage.
  // run(): one submission; if recording or the submission fails, nothing of it stays behind.
  const e: Recorder = model.engine.recorder('explain');
  let usedBatch: number | null = null;
  const earlierTimings: Promise<Record<string, number> | null>[] = [];
  const data = await e.run(async (): Promise<ExplanationData> => {
    e.stage('forward');
    const backwardTo = [...(needGrad ? [layer] : []), ...(guidedKinds.length ? [g.input] : [])];
    const acts = await model.forward(input, {
      keep: [layer, scoresName],
      backwardTo,
      backwardFrom: scoresName,
      recorder: e,
    });
    const scores = acts.get(scoresName);
    const probabilities = scoresName === g.output ? await softmaxForward(e, scores) : acts.output;
    const chosen = await targetClasses(e, plan, scores, score);
    const classes = chosen.classes;
    [t, rows] = [chosen.t, chosen.t * n];
    const A = acts.get(layer);

    e.stage('backward');
    // The logit seeds (the sampled methods map them at each copy), then ∂score/∂y at x.
    const v = needGrad || guidedKinds.length || sampled.size ? await logitSeeds(e, plan, classes, numClasses) : null;
    const seeds = needGrad || guidedKinds.length ? await scoreSeeds(e, v!, scores, probabilities, score) : null;
    const G = needGrad ? await model.backward(acts, seeds!, { to: layer, from: scoresName, recorder: e }) : null;
    const inputGrads = new Map<boolean, Tensor>();
    for (const guided of guidedKinds) {
      const grad = await model.backward(acts, seeds!, { to: g.input, from: scoresName, guided, recorder: e });
      inputGrads.set(guided, grad);
    }
    const sampledMaps = new Map<string, Tensor>();
    for (const { samples, methods: ms } of sampled.values()) {
      const group = ms.map((name) => ({ name, d: inputGradientMethod(name) }));
      for (const [m, out] of await sampledInputGradients(e, model, input, v!, samples, group, t, Infinity, score)) {
        sampledMaps.set(m, out);
      }
    }

    const maps: ExplanationMaps = {};
    const [, K, h, w] = layerShape;
    const weights = slots.length ? e.empty([slots.length, rows, K], 'channel-weights') : null;
    if (perturb.length) {
      e.stage('perturbation');
      usedBatch = await perturbationWeights(
        e,
        perturb.map((m) => ({ method: m, slot: slots.indexOf(m) })),
        {
          model,
          input,
          layer,
          A,
          // Ablation-CAM's unablated y^c, as the explained score.
          scores: score === 'logit' ? scores : score === 'probability' ? probabilities : await sigmoidOf(e, scores),
          score,
          classes,
          seeds: plan.kind === 'seed' ? (v ?? (await logitSeeds(e, plan, classes, numClasses))) : null,
          t,
          weights: weights!,
          batchSize: batchSize!,
          onProgress: o.onProgress,
          signal: o.signal,
          timings: earlierTimings,
        },
      );
    }

    e.stage('attribution');
    let upsampled: Tensor | null = null;
    if (weights) {
      if (gradientChannel.length) await channelWeights(e, A, G!, weights, gradientChannel);
      for (const m of headChannel) {
        const W = model.weight(heads.get(m)!);
        if (plan.kind === 'seed') await camSeedWeights(e, plan, W, weights, slots.indexOf(m));
        else await camWeights(e, W, classes, weights, slots.indexOf(m));
      }
      for (const m of noisyChannel) {
        // Smooth Grad-CAM++: its noisy copies' forward and backward (smooth_gradcampp.ts).
        e.stage('backward');
        const noise = resolveNoise(channelMethod(m).noise!, o);
        await smoothGradcamppWeights(e, model, input, layer, A, classes, t, noise, weights, slots.indexOf(m));
        e.stage('attribution');
      }
      const reluMask = slots.reduce((mask, m, s) => (slotRelu(m) ? mask | (1 << s) : mask), 0);
      const { raw, norm } = eigenSmooth
        ? await eigenSmoothMaps(e, A, weights, slots.map(slotRelu))
        : await combineMaps(e, A, weights, reluMask);
      upsampled = await upsampleBilinear(e, norm, H, W);
      slots.forEach((m, s) => {
        if (!wanted.has(m)) return;
        maps[m] = {
          weights: e.slice(weights, s * rows * K, lead([K]), `${m}:weights`),
          raw: e.slice(raw, s * rows * h * w, lead([h, w]), `${m}:raw`),
          layer: e.slice(norm, s * rows * h * w, lead([h, w]), `${m}:layer`),
          input: e.slice(upsampled!, s * rows * H * W, lead([H, W]), `${m}:input`),
        };
      });
    }
    if (spatial.length) {
      const { raw, norm } = await spatialMaps(e, A, G!, spatial);
      const up = await upsampleBilinear(e, norm, H, W);
      spatial.forEach((m, s) => {
        maps[m] = {
          raw: e.slice(raw, s * rows * h * w, lead([h, w]), `${m}:raw`),
          layer: e.slice(norm, s * rows * h * w, lead([h, w]), `${m}:layer`),
          input: e.slice(up, s * rows * H * W, lead([H, W]), `${m}:input`),
        };
      });
    }
    if (eigen.length) {
      const { raw, norm, info } = await eigenMaps(e, A, G, eigen, rows);
      for (const t of info) t.destroy();
      const up = await upsampleBilinear(e, norm, H, W);
      eigen.forEach((m, s) => {
        maps[m] = {
          raw: e.slice(raw, s * rows * h * w, lead([h, w]), `${m}:raw`),
          layer: e.slice(norm, s * rows * h * w, lead([h, w]), `${m}:layer`),
          input: e.slice(up, s * rows * H * W, lead([H, W]), `${m}:input`),
        };
      });
    }
    if (augSmooth) {
      // The layer methods' maps again, as the mean over the augmented copies (augment.ts).
      const plan = { model, input, layer, classes, t, heads, spatial, eigen, eigenSmooth };
      const aug = await augmentedMaps(e, { ...plan, channel: slots as ChannelMethodName[] });
      const families = [
        [slots, aug.channel],
        [spatial, aug.spatial],
        [eigen, aug.eigen],
      ] as const;
      for (const [names, f] of families) {
        if (!f) continue;
        for (const [m, v] of familySlices(e, f, names, wanted, lead)) {
          for (const old of Object.values(maps[m as Method] as object) as Tensor[]) old.destroy();
          (maps as Record<string, unknown>)[m] = v;
        }
      }
      if (aug.channel) upsampled = aug.channel.up;
    }
    for (const m of inputMethods) {
      const d = inputGradientMethod(m);
      const done = sampledMaps.get(m);
      if (done) {
        maps[m] = { input: done.reshape(lead([C, H, W]), m) };
        done.destroy();
        continue;
      }
      const grad = inputGrads.get(d.guided)!;
      if (d.times === 'input' || d.magnitude) {
        // Gradient × Input, Saliency: one pass of the reduce kernel over the one "copy", x itself.
        const out = e.empty(grad.shape, m);
        const times = timesBaseline(d, null);
        const abs = d.magnitude === 'abs';
        await reduceInputGradients(e, grad, input, out, { s: 1, scale: 1, times, abs, first: true, last: true });
        maps[m] = { input: out.reshape(lead([C, H, W]), m) };
        out.destroy();
        continue;
      }
      const times = d.times as ChannelMethodName | undefined;
      // Through guided_gradcam in both cases, so that the map is finite whatever the gradient holds.
      const out = await guidedGradcam(e, times ? upsampled! : null, times ? slots.indexOf(times) : 0, grad, m);
      maps[m] = { input: out.reshape(lead([C, H, W]), m) };
    }
    return { scores, probabilities, classes, activations: A, gradients: G, maps };
  });
  const ex = new Explanation(data, layer, n, t, methods, e, usedBatch, earlierTimings);
  // The results are the caller's: inside an open engine.scope(), they belong to it.
  model.engine.adopt(...ex.tensors());
  return ex;
}

/** σ(scores) elementwise: the explained score 'sigmoid' of every class. */
function sigmoidOf(e: Recorder, scores: Tensor): Promise<Tensor> {
  return unaryForward(e, 'sigmoid', scores);
}
