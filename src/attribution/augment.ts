/**
 * explain's augSmooth option (pytorch-grad-cam's aug_smooth): the maps of the layer methods
 * (channel, spatial and eigen families) averaged over augmented copies of the input — every
 * combination of a horizontal flip and a brightness factor 0.9, 1, 1.1 (src/methods/augment.ts)
 * — each copy's maps flipped back first. Shaders: augment_input.wgsl (the copies),
 * augment_mean.wgsl (flip back and average).
 *
 * Batching: the A copies of the N images form one batch of A·N images (copy-major, image
 * a·N + i), which runs through Model.forward once, and the T targets one backward pass over
 * T·A·N rows (row (t·A + a)·N + i, seeded with the class of row t·N + i: every copy explains
 * the class chosen on the unaugmented input). The same kernels as explain's then make every
 * copy's weights, raw, normalised and upsampled maps, and one augment_mean dispatch per tensor
 * reduces them to the shapes without the option: [M, T·N, …]. The batch is not split: where
 * it does not fit one storage binding, e.empty throws ResourceLimitError.
 */
import type { Recorder } from '../gpu/recorder';
import { grid1d } from '../gpu/engine';
import { defineKernel } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import { binaryForward } from '../ops/elementwise';
import { seedFromClasses } from '../ops/seed';
import { AUGMENTATIONS } from '../methods/augment';
import {
  channelMethod,
  needsLayerGradient,
  type ChannelMethodName,
  type EigenMethodName,
  type SpatialMethodName,
} from '../methods/registry';
import type { Model } from '../model/model';
import {
  camWeights,
  channelWeights,
  combineMaps,
  eigenMaps,
  eigenSmoothMaps,
  spatialMaps,
  upsampleBilinear,
} from './kernels';
import augmentInputCode from '../../shaders/augment_input.wgsl?raw';
import augmentMeanCode from '../../shaders/augment_mean.wgsl?raw';

const WG_ELEMENTWISE = 256; // `override WG` of augment_input and augment_mean

const AUGMENT_INPUT = defineKernel({
  name: 'augment_input',
  code: augmentInputCode,
  params: { count: 'u32', w: 'u32', flip: 'u32', offset: 'u32', factor: 'f32' },
  bindings: ['x', 'out'],
});

const AUGMENT_MEAN = defineKernel({
  name: 'augment_mean',
  code: augmentMeanCode,
  params: { count: 'u32', copies: 'u32', q: 'u32', l: 'u32', flips: 'u32', scale: 'f32' },
  bindings: ['src', 'out'],
});

/** The A augmented copies of x [N, C, H, W] as one batch [A·N, C, H, W] (augment_input.wgsl). */
export async function augmentInput(e: Recorder, x: Tensor): Promise<Tensor> {
  const [n, c, h, w] = x.shape;
  const per = n * c * h * w;
  const out = e.empty([AUGMENTATIONS.length * n, c, h, w], 'augsmooth:copies');
  const kern = await e.kernel(AUGMENT_INPUT, { overrides: { WG: WG_ELEMENTWISE } });
  AUGMENTATIONS.forEach((aug, a) => {
    const u = { count: per, w, flip: aug.flip ? 1 : 0, offset: a * per, factor: aug.factor };
    e.dispatch(kern, { x, out }, u, grid1d(per, WG_ELEMENTWISE));
  });
  return out;
}

/**
 * src [U, A, N, …inner] (the copies' results, rows (u·A + a)·N + i) → [U, N, …inner], the mean
 * over the copies with each flipped copy mirrored back along the last dim when `spatial`
 * (augment_mean.wgsl).
 */
export async function augmentMean(e: Recorder, src: Tensor, u: number, n: number, spatial: boolean): Promise<Tensor> {
  const copies = AUGMENTATIONS.length;
  const inner = src.size / (u * copies * n);
  const q = n * inner;
  const shape = [...src.shape];
  shape[1] = shape[1] / copies; // [M, T·A·N, …] → [M, T·N, …]
  const out = e.empty(shape, `${src.label}:augmented-mean`);
  const flips = AUGMENTATIONS.reduce((mask, aug, a) => (aug.flip ? mask | (1 << a) : mask), 0);
  const kern = await e.kernel(AUGMENT_MEAN, { overrides: { WG: WG_ELEMENTWISE } });
  const l = spatial ? src.shape[src.rank - 1] : 1;
  e.dispatch(
    kern,
    { src, out },
    { count: u * q, copies, q, l, flips, scale: 1 / copies },
    grid1d(u * q, WG_ELEMENTWISE),
  );
  return out;
}

export interface AugmentPlan {
  model: Model;
  input: Tensor;
  layer: string;
  /** Class ids [T·N] of the unaugmented rows t·N + i. */
  classes: Tensor;
  t: number;
  /** The channel slots (gradient methods first, then linear-head ones) and their linear weights. */
  channel: readonly ChannelMethodName[];
  heads: ReadonlyMap<ChannelMethodName, string>;
  spatial: readonly SpatialMethodName[];
  eigen: readonly EigenMethodName[];
  eigenSmooth: boolean;
}

/** One family's maps in explain's layout, [M, T·N, …]. */
export interface FamilyMaps {
  weights?: Tensor;
  raw: Tensor;
  norm: Tensor;
  up: Tensor;
}

/**
 * The augSmooth maps of every layer method of the plan: one batched forward and backward over
 * the A·N copies, the families' kernels on their T·A·N rows, then the mean over the copies.
 */
export async function augmentedMaps(
  e: Recorder,
  p: AugmentPlan,
): Promise<{ channel: FamilyMaps | null; spatial: FamilyMaps | null; eigen: FamilyMaps | null }> {
  const g = p.model.graph;
  const [n, , H, W] = p.input.shape;
  const copies = AUGMENTATIONS.length;
  const t = p.t;
  const rows = t * copies * n;
  const gradient = p.channel.filter((m) => channelMethod(m).source === 'gradients');
  const needGrad = [...gradient, ...p.spatial, ...p.eigen].some(needsLayerGradient);

  const x = await augmentInput(e, p.input);
  const acts = await p.model.forward(x, {
    keep: [p.layer],
    backwardTo: needGrad ? [p.layer] : [],
    backwardFrom: g.scores,
    recorder: e,
  });
  const A = acts.get(p.layer);
  // Row (t·A + a)·N + i explains the class of row t·N + i.
  const ones = e.upload(new Float32Array(copies).fill(1), [1, copies, 1], 'augsmooth:ones');
  const byRow = p.classes.reshape([t, 1, n]);
  const tiled = await binaryForward(e, 'mul', byRow, ones);
  const classes = tiled.reshape([rows]);
  const numClasses = g.shape(g.scores, 1)[1];
  const seeds = needGrad ? await seedFromClasses(e, classes, numClasses) : null;
  const G = needGrad ? await p.model.backward(acts, seeds!, { to: p.layer, from: g.scores, recorder: e }) : null;

  const mean = async (src: Tensor, spatial: boolean) => augmentMean(e, src, src.shape[0] * t, n, spatial);
  const family = async (raw: Tensor, norm: Tensor, weights?: Tensor): Promise<FamilyMaps> => {
    const up = await upsampleBilinear(e, norm, H, W);
    const out: FamilyMaps = { raw: await mean(raw, true), norm: await mean(norm, true), up: await mean(up, true) };
    if (weights) out.weights = await mean(weights, false);
    for (const tensor of [raw, norm, up, weights]) tensor?.destroy();
    return out;
  };

  let channel: FamilyMaps | null = null;
  if (p.channel.length) {
    const K = A.shape[1];
    const weights = e.empty([p.channel.length, rows, K], 'augsmooth:channel-weights');
    if (gradient.length) await channelWeights(e, A, G!, weights, gradient);
    for (const [slot, m] of p.channel.entries()) {
      if (channelMethod(m).source === 'linear-head') {
        await camWeights(e, p.model.weight(p.heads.get(m)!), classes, weights, slot);
      }
    }
    const relu = p.channel.map((m) => channelMethod(m).relu);
    const reluMask = relu.reduce((mask, r, s) => (r ? mask | (1 << s) : mask), 0);
    const { raw, norm } = p.eigenSmooth
      ? await eigenSmoothMaps(e, A, weights, relu)
      : await combineMaps(e, A, weights, reluMask);
    channel = await family(raw, norm, weights);
  }
  let spatial: FamilyMaps | null = null;
  if (p.spatial.length) {
    const { raw, norm } = await spatialMaps(e, A, G!, p.spatial);
    spatial = await family(raw, norm);
  }
  let eigen: FamilyMaps | null = null;
  if (p.eigen.length) {
    const { raw, norm, info } = await eigenMaps(e, A, G, p.eigen, rows);
    for (const i of info) i.destroy();
    eigen = await family(raw, norm);
  }
  for (const tensor of [x, ones, byRow, tiled, classes, seeds, G]) tensor?.destroy();
  acts.destroy();
  return { channel, spatial, eigen };
}

/** One method's maps as explain returns them. */
export interface MethodMaps {
  weights?: Tensor;
  raw: Tensor;
  layer: Tensor;
  input: Tensor;
}

/**
 * The maps of the methods `names` (slot s = names[s]) of one family's augSmooth result, for
 * the methods in `wanted`, each with the leading dims `lead` ([T] or [T, N]) of explain.
 */
export function familySlices(
  e: Recorder,
  f: FamilyMaps,
  names: readonly string[],
  wanted: ReadonlySet<string>,
  lead: (rest: number[]) => number[],
): Map<string, MethodMaps> {
  const [, rows, h, w] = f.raw.shape;
  const [H, W] = f.up.shape.slice(2);
  const out = new Map<string, MethodMaps>();
  names.forEach((m, s) => {
    if (!wanted.has(m)) return;
    const maps: MethodMaps = {
      raw: e.slice(f.raw, s * rows * h * w, lead([h, w]), `${m}:raw`),
      layer: e.slice(f.norm, s * rows * h * w, lead([h, w]), `${m}:layer`),
      input: e.slice(f.up, s * rows * H * W, lead([H, W]), `${m}:input`),
    };
    if (f.weights) {
      const K = f.weights.shape[2];
      maps.weights = e.slice(f.weights, s * rows * K, lead([K]), `${m}:weights`);
    }
    out.set(m, maps);
  });
  return out;
}
