/**
 * explain(): one forward pass, one batched backward pass for all T targets (and one guided
 * backward for the guided methods), then the fused attribution shaders — recorded into one
 * command buffer, with no readback in between. Rows b = t·N + i (target t, image i).
 */
import type { Recorder } from '../gpu/recorder';
import { InvalidInputError, MethodNotApplicableError, ShapeMismatchError } from '../core/errors';
import { type Tensor } from '../gpu/tensor';
import { shapeStr } from '../core/shape';
import type { Model } from '../model/model';
import { seedFromClasses } from '../ops/seed';
import { softmaxForward } from '../ops/softmax';
import { NONE, camWeights, channelWeights, combineMaps, guidedGradcam, topkClasses, upsampleBilinear } from './kernels';

export type Method = 'cam' | 'gradcam' | 'gradcam++' | 'counterfactual' | 'guided-backprop' | 'guided-gradcam';

export const METHODS: readonly Method[] = [
  'cam',
  'gradcam',
  'gradcam++',
  'counterfactual',
  'guided-backprop',
  'guided-gradcam',
];

/** Methods whose map is a weighted sum of the layer's channels, in their slot order. */
const CHANNEL_METHODS = ['cam', 'gradcam', 'counterfactual', 'gradcam++'] as const;
type ChannelMethod = (typeof CHANNEL_METHODS)[number];

export type Targets = readonly number[] | { topK: number };

export interface ExplainOptions {
  /** Default ['gradcam']. Any subset of METHODS. */
  methods?: readonly Method[];
  /** Class indices (the same for every image), or the top k classes of each image. Default { topK: 1 }. */
  targets?: Targets;
  /** A 4-D tensor of the graph by name. Default: the last spatial layer before the spatial collapse. */
  layer?: string;
}

/**
 * Maps of one channel-weight method. With N = 1 image the leading dims are [T]; with N > 1
 * they are [T, N].
 */
export interface ChannelMaps {
  /** Channel weights [T, (N,) K]. */
  weights: Tensor;
  /** Σ_k w_k A^k (after the ReLU, except for CAM), at the layer's resolution: [T, (N,) h, w]. */
  raw: Tensor;
  /** raw, min–max normalised to [0, 1]: [T, (N,) h, w]. */
  layer: Tensor;
  /** layer, bilinearly upsampled to the input: [T, (N,) H, W]. */
  input: Tensor;
}

/** Guided Backprop / Guided Grad-CAM: [T, (N,) C, H, W] at the input resolution. */
export interface GuidedMaps {
  input: Tensor;
}

export interface ExplanationData {
  /** Class scores y (pre-softmax logits) [N, K]. */
  scores: Tensor;
  /** Softmax of the scores [N, K]. */
  probabilities: Tensor;
  /** Class ids per row, float32 [T·N] (row t·N + i); see readClasses(). */
  classes: Tensor;
  /** The layer's activations A [N, K, h, w]. */
  activations: Tensor;
  /** dy^c/dA for every row [T·N, K, h, w] (present when a gradient method ran). */
  gradients: Tensor | null;
  maps: Partial<Record<ChannelMethod, ChannelMaps>> & Partial<Record<'guided-backprop' | 'guided-gradcam', GuidedMaps>>;
}

export class Explanation implements ExplanationData {
  readonly scores!: Tensor;
  readonly probabilities!: Tensor;
  readonly classes!: Tensor;
  readonly activations!: Tensor;
  readonly gradients!: Tensor | null;
  readonly maps!: ExplanationData['maps'];

  constructor(
    data: ExplanationData,
    readonly layer: string,
    readonly n: number,
    readonly t: number,
    readonly methods: readonly Method[],
    private readonly recorder: Recorder,
  ) {
    Object.assign(this, data);
  }

  /** GPU time per stage (forward, backward, attribution) of this run, in ms; null without timestamps. */
  stageTimings(): Promise<Record<string, number> | null> {
    return this.recorder.stageTimings();
  }

  /** The explained class ids, per image: [N][T]. */
  async readClasses(): Promise<number[][]> {
    const c = await this.classes.read();
    return Array.from({ length: this.n }, (_, i) => Array.from({ length: this.t }, (_, t) => c[t * this.n + i]));
  }

  /** Every tensor this explanation holds. */
  tensors(): Tensor[] {
    const out = [this.scores, this.probabilities, this.classes, this.activations];
    if (this.gradients) out.push(this.gradients);
    for (const m of Object.values(this.maps)) out.push(...(Object.values(m as object) as Tensor[]));
    return out;
  }

  destroy(): void {
    for (const t of this.tensors()) t.destroy();
  }
}

function checkMethods(methods: readonly Method[]): void {
  if (methods.length === 0) throw new InvalidInputError(`no methods given; choose from ${METHODS.join(', ')}`);
  for (const m of methods) {
    if (!METHODS.includes(m)) throw new InvalidInputError(`unknown method '${m}'; choose from ${METHODS.join(', ')}`);
  }
}

export async function explain(model: Model, input: Tensor, opts: ExplainOptions = {}): Promise<Explanation> {
  // Its own recorder: concurrent explains on one engine do not share an encoder, scope or stage.
  const e: Recorder = model.engine.recorder('explain');
  const g = model.graph;
  const methods = [...new Set(opts.methods ?? (['gradcam'] as Method[]))];
  checkMethods(methods);
  const n = model.checkInput(input);
  const scoresName = g.scores;
  const numClasses = g.shape(scoresName)[1];
  const layer = opts.layer ?? g.defaultLayer();
  if (!g.has(layer)) throw g.notFound(layer);
  const layerShape = g.shape(layer, n);
  if (layerShape.length !== 4) {
    throw new ShapeMismatchError(
      `layer '${layer}' is ${shapeStr(layerShape)}; attribution needs a 4-D [N, K, h, w] tensor`,
    );
  }
  g.backwardNodes(layer, scoresName); // throws GraphError when the scores do not depend on the layer

  const want = (m: Method) => methods.includes(m);
  let camLinear: string | null = null;
  if (want('cam')) {
    const head = g.camHead(layer);
    if ('reason' in head) {
      throw new MethodNotApplicableError(
        `CAM cannot apply to layer '${layer}' of this model: ${head.reason}. CAM needs the scores to be a linear ` +
          `function of the layer's global average pool (y^c = Σ_k w^c_k·GAP(A^k) + b_c). Use 'gradcam', which ` +
          `needs no such head and equals CAM up to scale where CAM applies.`,
      );
    }
    camLinear = `${head.linear.name}.weight`;
  }

  // Targets: explicit class ids for every image, or each image's top k.
  const targets = opts.targets ?? { topK: 1 };
  let t: number;
  if (Array.isArray(targets)) {
    t = targets.length;
    if (t === 0) throw new InvalidInputError('targets is an empty list');
    for (const c of targets) {
      if (!Number.isInteger(c) || c < 0 || c >= numClasses) {
        throw new InvalidInputError(`target class ${c} is not a class index of this model (0 … ${numClasses - 1})`);
      }
    }
  } else {
    t = (targets as { topK: number }).topK;
    if (!Number.isInteger(t) || t < 1 || t > numClasses) {
      throw new InvalidInputError(`topK must be an integer in [1, ${numClasses}], got ${t}`);
    }
  }

  const gradcamNeeded = want('gradcam') || want('guided-gradcam');
  const slotOrder = CHANNEL_METHODS.filter((m) => (m === 'gradcam' ? gradcamNeeded : want(m)));
  const slot = (m: ChannelMethod) => (slotOrder.includes(m) ? slotOrder.indexOf(m) : NONE);
  const needGrad = slotOrder.some((m) => m !== 'cam');
  const needGuided = want('guided-backprop') || want('guided-gradcam');
  const [, , H, W] = input.shape;
  const rows = t * n;
  const lead = (rest: number[]) => (n === 1 ? [t, ...rest] : [t, n, ...rest]);

  let data: ExplanationData;
  try {
    data = await e.scope(async (): Promise<ExplanationData> => {
      e.stage('forward');
      const backwardTo = [...(needGrad ? [layer] : []), ...(needGuided ? [g.input] : [])];
      const acts = await model.forward(input, {
        keep: [layer, scoresName],
        backwardTo,
        backwardFrom: scoresName,
        recorder: e,
      });
      const scores = acts.get(scoresName);
      const probabilities = scoresName === g.output ? await softmaxForward(e, scores) : acts.output;
      const classes = Array.isArray(targets)
        ? e.upload(
            Array.from({ length: rows }, (_, b) => targets[Math.floor(b / n)]),
            [rows],
            'classes',
          )
        : await topkClasses(e, scores, t);
      const A = acts.get(layer);

      e.stage('backward');
      const seeds = needGrad || needGuided ? await seedFromClasses(e, classes, numClasses) : null;
      const G = needGrad ? await model.backward(acts, seeds!, { to: layer, from: scoresName, recorder: e }) : null;
      const guided = needGuided
        ? await model.backward(acts, seeds!, { to: g.input, from: scoresName, guided: true, recorder: e })
        : null;

      e.stage('attribution');
      const maps: ExplanationData['maps'] = {};
      let upsampled: Tensor | null = null;
      if (slotOrder.length) {
        const [, K, h, w] = layerShape;
        const weights = e.empty([slotOrder.length, rows, K], 'channel-weights');
        if (needGrad) {
          await channelWeights(e, A, G!, weights, {
            gradcam: slot('gradcam'),
            counterfactual: slot('counterfactual'),
            gradcampp: slot('gradcam++'),
          });
        }
        if (camLinear) await camWeights(e, model.weight(camLinear), classes, weights, slot('cam'));
        const reluMask = slotOrder.reduce((mask, m, s) => (m === 'cam' ? mask : mask | (1 << s)), 0);
        const { raw, norm } = await combineMaps(e, A, weights, reluMask);
        upsampled = await upsampleBilinear(e, norm, H, W);
        for (const m of slotOrder) {
          if (m === 'gradcam' && !want('gradcam')) continue;
          const s = slot(m);
          maps[m] = {
            weights: e.slice(weights, s * rows * K, lead([K]), `${m}:weights`),
            raw: e.slice(raw, s * rows * h * w, lead([h, w]), `${m}:raw`),
            layer: e.slice(norm, s * rows * h * w, lead([h, w]), `${m}:layer`),
            input: e.slice(upsampled, s * rows * H * W, lead([H, W]), `${m}:input`),
          };
        }
      }
      const C = input.shape[1];
      if (want('guided-gradcam')) {
        const gg = await guidedGradcam(e, upsampled!, slot('gradcam'), guided!);
        maps['guided-gradcam'] = { input: gg.reshape(lead([C, H, W]), 'guided-gradcam') };
      }
      if (want('guided-backprop'))
        maps['guided-backprop'] = { input: guided!.reshape(lead([C, H, W]), 'guided-backprop') };
      return {
        scores,
        probabilities,
        classes,
        activations: A,
        gradients: G,
        maps,
      };
    });
  } catch (err) {
    e.discard();
    throw err;
  }
  const ex = new Explanation(data, layer, n, t, methods, e);
  try {
    await e.flush();
  } catch (err) {
    // The run failed on the GPU: nothing of it is handed out, so nothing may stay behind.
    ex.destroy();
    throw err;
  }
  // The results are the caller's: inside an open engine.scope(), they belong to it.
  model.engine.adopt(...ex.tensors());
  return ex;
}
