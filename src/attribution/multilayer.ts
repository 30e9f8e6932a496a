/**
 * explain() at a list of layers (the `layer` option given as an array): one forward pass that
 * keeps every listed layer, ONE batched backward pass for all T targets that yields the
 * gradient at every listed layer (Model.backward with a list in `to`: it runs down to the
 * shallowest, each node once), then per layer the per-family kernels of a single-layer explain
 * (channel_weights, cam_combine, spatial_combine, the eigen kernels, upsample_bilinear), then
 * per family one multilayer_fuse dispatch per layer that fuses every (method, row) map of the
 * family into one map at the input resolution — all recorded into one command buffer of the call's own
 * recorder, with no readback in between. Rows b = t·N + i.
 *
 * Methods: the channel methods with gradient weights, the spatial and the eigen methods
 * (isFusable, src/methods/fusion.ts); any other is refused with MethodNotApplicableError. The
 * fusion rules are in src/methods/fusion.ts and docs/METHODS.md ("Several layers at once"); the
 * CPU reference is src/reference/multilayer.ts.
 */
import type { Recorder } from '../gpu/recorder';
import { grid1d } from '../gpu/engine';
import { defineKernel } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import { InvalidInputError, MethodNotApplicableError, ShapeMismatchError } from '../core/errors';
import { shapeStr } from '../core/shape';
import { FUSIONS, isFusable, isFusion, LAYERCAM_GAMMA, type Fusion } from '../methods/fusion';
import {
  channelMethod,
  isChannel,
  isEigen,
  isSpatial,
  methodOf,
  type ChannelMethodName,
  type EigenMethodName,
  type Method,
  type SpatialMethodName,
} from '../methods/registry';
import type { Graph } from '../model/graph';
import type { Model } from '../model/model';
import { seedFromClasses } from '../ops/seed';
import { softmaxForward } from '../ops/softmax';
import { FINITE, MINMAX_REDUCE } from '../ops/includes';
import { checkAborted } from './perturbation';
import {
  describe,
  Explanation,
  type ExplainOptions,
  type ExplanationMaps,
  type FusedMaps,
  type LayerExplanation,
} from './explain';
import {
  channelWeights,
  checkEigenLayer,
  combineMaps,
  eigenMaps,
  spatialMaps,
  topkClasses,
  upsampleBilinear,
} from './kernels';
import fuseCode from '../../shaders/multilayer_fuse.wgsl?raw';

const WG_FUSE = 256; // `override WG` of multilayer_fuse: one workgroup per map

const FUSE = defineKernel({
  name: 'multilayer_fuse',
  code: fuseCode,
  params: {
    rows: 'u32',
    h: 'u32',
    w: 'u32',
    H: 'u32',
    W: 'u32',
    scale_y: 'f32',
    scale_x: 'f32',
    gamma: 'f32',
    post: 'f32',
    first: 'u32',
    last: 'u32',
  },
  bindings: ['src', 'acc'],
  includes: [FINITE, MINMAX_REDUCE],
});

/**
 * One layer's step of the fusion (multilayer_fuse.wgsl): `src` [R, h, w] (maps of this layer,
 * R = maps × rows), scaled by `scale`, resized to acc's H×W and added to (or, with `max`,
 * maxed into) acc [R, H, W]; `first` overwrites acc, `last` multiplies by `post` and
 * min–max normalises every map of acc.
 */
export async function fuseStep(
  e: Recorder,
  src: Tensor,
  acc: Tensor,
  opts: { scale: 'none' | 'tanh' | 'unit'; max: boolean; first: boolean; last: boolean; post: number },
): Promise<void> {
  const [R, H, W] = acc.shape;
  const h = src.shape[src.rank - 2];
  const w = src.shape[src.rank - 1];
  if (src.size !== R * h * w) {
    throw new InvalidInputError(`fuseStep: ${shapeStr(src.shape)} maps do not match the ${R} rows of '${acc.label}'`);
  }
  const defines = {
    TANH: opts.scale === 'tanh',
    UNIT: opts.scale === 'unit',
    SCALED: opts.scale !== 'none',
    MAX: opts.max,
  };
  const kern = await e.kernel(FUSE, { defines, overrides: { WG: WG_FUSE } });
  const u = {
    rows: R,
    h,
    w,
    H,
    W,
    scale_y: h / H,
    scale_x: w / W,
    gamma: LAYERCAM_GAMMA,
    post: opts.post,
    first: opts.first ? 1 : 0,
    last: opts.last ? 1 : 0,
  };
  e.dispatch(kern, { src, acc }, u, grid1d(R, 1));
}

/** The layers, resolved to tensor names and checked; typed errors for a bad list. */
function checkLayers(g: Graph, list: readonly unknown[], n: number): string[] {
  if (list.length === 0) throw new InvalidInputError('explain: layer is an empty list; give at least one layer');
  const names: string[] = [];
  const given = new Map<string, string>();
  for (const l of list) {
    if (typeof l !== 'string') {
      throw new InvalidInputError(
        `explain: every layer of the list must be a tensor or module name, got ${describe(l)}`,
      );
    }
    const name = g.layer(l); // GraphError naming the closest names when there is none
    const twice = given.get(name);
    if (twice !== undefined) {
      const same = twice === l ? `'${l}' is listed twice` : `'${twice}' and '${l}' are the same tensor '${name}'`;
      throw new InvalidInputError(`explain: the layers must be distinct; ${same}`);
    }
    given.set(name, l);
    const shape = g.shape(name, n);
    if (shape.length !== 4) {
      throw new ShapeMismatchError(
        `layer '${l}' is ${shapeStr(shape)}; attribution needs a 4-D [N, K, h, w] tensor at every listed layer`,
      );
    }
    g.backwardNodes(name, g.scores); // GraphError when the scores do not depend on the layer
    names.push(name);
  }
  return names;
}

/** The index among `layers` of the deepest one: the last in the graph's (forward) order. */
function deepestLayer(g: Graph, layers: readonly string[]): number {
  const position = (t: string) => g.nodes.findIndex((node) => node.output === t);
  let best = 0;
  layers.forEach((t, l) => {
    if (position(t) > position(layers[best])) best = l;
  });
  return best;
}

/**
 * explain() with `o.layer` a list (explain() checked the model, the input, the methods and the
 * targets: `t` targets for `n` images). Typed errors, before anything is recorded:
 * InvalidInputError for an empty list, a name that is not a string, the same tensor twice,
 * an unknown `fuse`, eigenSmooth; GraphError for a name the graph lacks (or a layer the scores
 * do not depend on); ShapeMismatchError for a layer that is not 4-D; MethodNotApplicableError
 * for a method that cannot be fused (CAM, Smooth Grad-CAM++, the perturbation and
 * input-gradient methods); for the eigen methods, every layer within the power iteration's size
 * (checkEigenLayer's ResourceLimitError).
 */
export async function explainLayers(
  model: Model,
  input: Tensor,
  o: ExplainOptions,
  c: { n: number; methods: readonly Method[]; targets: readonly number[] | { topK: number }; t: number },
): Promise<Explanation> {
  const g = model.graph;
  const { n, methods, targets, t } = c;
  const layers = checkLayers(g, o.layer as readonly unknown[], n);
  const fuse: Fusion = o.fuse ?? 'mean';
  if (!isFusion(fuse)) {
    throw new InvalidInputError(`explain: fuse must be one of ${FUSIONS.join(', ')}, got ${describe(fuse)}`);
  }
  for (const m of methods) {
    if (!isFusable(m)) {
      throw new MethodNotApplicableError(
        `${methodOf(m).label} cannot be computed at a list of layers: only the channel methods with gradient ` +
          `weights, the spatial and the eigen methods are fused over layers (CAM needs the GAP → linear head ` +
          `after its one layer; Smooth Grad-CAM++, the perturbation and input-gradient methods are not fused). ` +
          `Explain one layer at a time.`,
      );
    }
  }
  if (o.eigenSmooth) throw new InvalidInputError('explain: eigenSmooth is not available with a list of layers');
  if (o.augSmooth) throw new InvalidInputError('explain: augSmooth is not available with a list of layers');
  checkAborted(o.signal, 'explain');
  const channel = methods.filter(isChannel) as ChannelMethodName[];
  const spatial = methods.filter(isSpatial) as SpatialMethodName[];
  const eigen = methods.filter(isEigen) as EigenMethodName[];
  if (eigen.length) {
    for (const name of layers) {
      const [, K, h, w] = g.shape(name, n);
      checkEigenLayer(K, h, w);
    }
  }
  const scoresName = g.scores;
  const numClasses = g.shape(scoresName)[1];
  const [, , H, W] = input.shape;
  const rows = t * n;
  const lead = (rest: number[]) => (n === 1 ? [t, ...rest] : [t, n, ...rest]);
  const deepest = deepestLayer(g, layers);

  const e: Recorder = model.engine.recorder('explain');
  const data = await e.run(async () => {
    e.stage('forward');
    const acts = await model.forward(input, {
      keep: [...layers, scoresName],
      backwardTo: layers,
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

    e.stage('backward');
    const seeds = await seedFromClasses(e, classes, numClasses);
    const grads = await model.backward(acts, seeds, { to: layers, from: scoresName, recorder: e });

    e.stage('attribution');
    // Per layer and family: the family's maps (raw at the layer, upsampled), kept for the fusion.
    const families = [
      { kind: 'channel', methods: channel as readonly Method[], raw: [] as Tensor[], up: [] as Tensor[] },
      { kind: 'spatial', methods: spatial as readonly Method[], raw: [] as Tensor[], up: [] as Tensor[] },
      { kind: 'eigen', methods: eigen as readonly Method[], raw: [] as Tensor[], up: [] as Tensor[] },
    ].filter((f) => f.methods.length);
    const perLayer: LayerExplanation[] = [];
    for (const [l, name] of layers.entries()) {
      const A = acts.get(name);
      const G = grads[l];
      const [, K, h, w] = A.shape;
      const maps: ExplanationMaps = {};
      for (const f of families) {
        let raw: Tensor;
        let norm: Tensor;
        let weights: Tensor | null = null;
        if (f.kind === 'channel') {
          weights = e.empty([channel.length, rows, K], `${name}:channel-weights`);
          await channelWeights(e, A, G, weights, channel);
          const reluMask = channel.reduce((mask, m, s) => (channelMethod(m).relu ? mask | (1 << s) : mask), 0);
          ({ raw, norm } = await combineMaps(e, A, weights, reluMask));
        } else if (f.kind === 'spatial') {
          ({ raw, norm } = await spatialMaps(e, A, G, spatial));
        } else {
          const r = await eigenMaps(e, A, G, eigen, rows);
          for (const x of r.info) x.destroy();
          ({ raw, norm } = r);
        }
        const up = await upsampleBilinear(e, norm, H, W);
        f.raw.push(raw);
        f.up.push(up);
        f.methods.forEach((m, s) => {
          const at = (x: Tensor, size: number, rest: number[], what: string) =>
            e.slice(x, s * rows * size, lead(rest), `${name}:${m}:${what}`);
          const layerMaps = {
            raw: at(raw, h * w, [h, w], 'raw'),
            layer: at(norm, h * w, [h, w], 'layer'),
            input: at(up, H * W, [H, W], 'input'),
          };
          (maps as Record<string, unknown>)[m] = weights
            ? { weights: at(weights, K, [K], 'weights'), ...layerMaps }
            : layerMaps;
        });
      }
      perLayer.push({ name, activations: A, gradients: G, maps });
    }

    // Per family, one fuse dispatch per layer into one accumulator of all its (method, row) maps.
    const fused: FusedMaps = {};
    for (const f of families) {
      const S = f.methods.length;
      const acc = e.empty([S * rows, H, W], 'fused');
      for (let l = 0; l < layers.length; l++) {
        const src = fuse === 'mean' ? f.up[l] : f.raw[l];
        await fuseStep(e, src, acc, {
          scale: fuse === 'mean' ? 'none' : l === deepest ? 'unit' : 'tanh',
          max: fuse === 'layercam',
          first: l === 0,
          last: l === layers.length - 1,
          post: fuse === 'mean' ? 1 / layers.length : 1,
        });
      }
      f.methods.forEach((m, s) => {
        fused[m] = { input: e.slice(acc, s * rows * H * W, lead([H, W]), `fused:${m}`) };
      });
    }
    const first = perLayer[0];
    return {
      scores,
      probabilities,
      classes,
      activations: first.activations,
      gradients: first.gradients,
      maps: first.maps,
      layers: perLayer,
      fused,
      fuse,
    };
  });
  const ex = new Explanation(data, layers[0], n, t, methods, e);
  // The results are the caller's: inside an open engine.scope(), they belong to it.
  model.engine.adopt(...ex.tensors());
  return ex;
}
