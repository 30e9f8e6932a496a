/**
 * Dispatchers for the fused attribution shaders. Rows b = t·N + i (target t, image i)
 * throughout, like the batched gradients. Shaders: topk.wgsl,
 * channel_weights.wgsl, cam_weights.wgsl, cam_combine.wgsl, upsample_bilinear.wgsl,
 * guided_gradcam.wgsl; for the eigen methods eigen_center.wgsl, eigen_gram.wgsl,
 * eigen_power.wgsl, eigen_project.wgsl.
 *
 * The reductions (channel weights, the min/max of cam_combine, spatial_combine and
 * eigen_project, eigen_power's sums and maxima, top-k) have subgroup variants (`#if SUBGROUPS`, `enable subgroups;`), used
 * where the device has the 'subgroups' feature (acquireDevice requests it when the adapter
 * offers it); reductionConfig / setReductionConfig choose per engine, each dispatcher's
 * `subgroups` (channelWeights: `kernel`) option per call.
 */
import type { Recorder } from '../gpu/recorder';
import { grid1d, type Engine } from '../gpu/engine';
import { InvalidInputError, MethodNotApplicableError } from '../core/errors';
import { sizeOf } from '../core/shape';
import { defineKernel, fillTemplate, generatedKernel } from '../gpu/kernel';
import {
  channelMethod,
  eigenMethod,
  spatialMethod,
  type ChannelMethodName,
  type EigenMethodName,
  type SpatialMethodName,
} from '../methods/registry';
import type { Tensor } from '../gpu/tensor';
import { isHalves } from '../ops/half';
import { FINITE, GRADCAMPP, MINMAX_REDUCE, SUM_MAX_REDUCE } from '../ops/includes';
import topkCode from '../../shaders/topk.wgsl?raw';
import channelWeightsCode from '../../shaders/channel_weights.wgsl?raw';
import camWeightsCode from '../../shaders/cam_weights.wgsl?raw';
import combineCode from '../../shaders/cam_combine.wgsl?raw';
import spatialCode from '../../shaders/spatial_combine.wgsl?raw';
import upsampleCode from '../../shaders/upsample_bilinear.wgsl?raw';
import guidedCode from '../../shaders/guided_gradcam.wgsl?raw';
import eigenCenterCode from '../../shaders/eigen_center.wgsl?raw';
import eigenGramCode from '../../shaders/eigen_gram.wgsl?raw';
import eigenPowerCode from '../../shaders/eigen_power.wgsl?raw';
import eigenProjectCode from '../../shaders/eigen_project.wgsl?raw';

const WG_ELEMENTWISE = 256; // `override WG` of the one-invocation-per-element shaders
const WG_REDUCE = 64; // `override WG` of channel_weights and cam_combine (a power of two)
const WG_UPSAMPLE = 32; // `override WG` of upsample_bilinear: one workgroup per map, an invocation per output row
export const NONE = 0xffffffff;

/** The channel-weight kernels (channelWeights' `kernel`). */
export type ChannelWeightsKernel = 'serial' | 'reduce' | 'subgroup';

/** Per-engine choice of the reduction kernels; see reductionConfig. */
export interface ReductionConfig {
  /**
   * Run the subgroup variants of cam_combine, spatial_combine, eigen_power, eigen_project and
   * topk (their sums, min/max and selection by subgroup operations). Needs the device's
   * 'subgroups' feature.
   */
  subgroups: boolean;
  /** The channel weights' kernel; 'subgroup' needs the 'subgroups' feature. */
  channelWeights: ChannelWeightsKernel;
  /** Why this choice. */
  reason: string;
}

const reductionConfigs = new WeakMap<Engine, ReductionConfig>();

/**
 * The engine's reduction kernels, chosen on first use: the subgroup variants when the device
 * has the 'subgroups' feature (acquireDevice requests it where the adapter offers it), else the
 * workgroup-memory ones; for the channel weights, on software adapters the serial kernel (one
 * invocation per row and channel, no barriers: 55–270× faster than either workgroup kernel on
 * SwiftShader, `npm run bench:reductions`), else 'subgroup' or 'reduce' likewise. Override with
 * setReductionConfig().
 */
export function reductionConfig(r: Recorder): ReductionConfig {
  const e = r.engine;
  let c = reductionConfigs.get(e);
  if (!c) {
    const has = e.device.features.has('subgroups');
    const soft = e.adapter.isSoftware;
    c = {
      subgroups: has,
      channelWeights: soft ? 'serial' : has ? 'subgroup' : 'reduce',
      reason:
        (has ? "the device has 'subgroups'" : "the device has no 'subgroups'") +
        (soft ? '; software adapter: serial channel weights' : ''),
    };
    reductionConfigs.set(e, c);
  }
  return c;
}

/**
 * Override the engine's reduction kernels (fields not given keep their value); a subgroup
 * choice on a device without the 'subgroups' feature is an InvalidInputError. Returns the new
 * config.
 */
export function setReductionConfig(r: Recorder, c: Partial<ReductionConfig>): ReductionConfig {
  const e = r.engine;
  const next: ReductionConfig = { ...reductionConfig(e), ...c, reason: c.reason ?? 'set by setReductionConfig' };
  if (typeof next.subgroups !== 'boolean') {
    throw new InvalidInputError(`setReductionConfig: subgroups must be true or false, got ${String(next.subgroups)}`);
  }
  if (!['serial', 'reduce', 'subgroup'].includes(next.channelWeights)) {
    throw new InvalidInputError(
      `setReductionConfig: channelWeights must be 'serial', 'reduce' or 'subgroup', got '${String(next.channelWeights)}'`,
    );
  }
  if (next.subgroups || next.channelWeights === 'subgroup') checkSubgroups(e, 'setReductionConfig');
  reductionConfigs.set(e, next);
  return next;
}

function checkSubgroups(e: Recorder, what: string): void {
  if (!e.engine.device.features.has('subgroups')) {
    throw new InvalidInputError(
      `${what}: the subgroup kernels need the device feature 'subgroups', which this device does not have ` +
        `(adapter: ${e.adapter.description || e.adapter.vendor || 'unknown'}; features: ${[...e.engine.device.features].sort().join(', ') || 'none'})`,
    );
  }
}

/** Whether a dispatch runs its subgroup variant: `forced` (a call's option) or the engine's config. */
function useSubgroups(e: Recorder, forced: boolean | undefined, what: string): boolean {
  if (forced === undefined) return reductionConfig(e).subgroups;
  if (forced) checkSubgroups(e, what);
  return forced;
}

const TOPK = defineKernel({
  name: 'topk',
  code: topkCode,
  params: { n: 'u32', k: 'u32', t: 'u32' },
  bindings: ['scores', 'classes'],
});
const CAM_WEIGHTS = defineKernel({
  name: 'cam_weights',
  code: camWeightsCode,
  params: { rows: 'u32', k: 'u32', slot: 'u32' },
  bindings: ['W', 'classes', 'weights'],
});
const COMBINE = defineKernel({
  name: 'cam_combine',
  code: combineCode,
  params: { maps: 'u32', rows: 'u32', n: 'u32', k: 'u32', z: 'u32', relu_mask: 'u32' },
  bindings: ['A', 'weights', 'raw', 'norm'],
  includes: [FINITE, MINMAX_REDUCE],
});
const UPSAMPLE = defineKernel({
  name: 'upsample_bilinear',
  code: upsampleCode,
  params: { rows: 'u32', h: 'u32', w: 'u32', H: 'u32', W: 'u32', scale_y: 'f32', scale_x: 'f32' },
  bindings: ['src', 'dst'],
  includes: [MINMAX_REDUCE],
});
const GUIDED_GRADCAM = defineKernel({
  name: 'guided_gradcam',
  code: guidedCode,
  params: { count: 'u32', c: 'u32', hw: 'u32', cam_offset: 'u32' },
  bindings: ['cam', 'guided', 'out'],
  includes: [FINITE],
});

/**
 * Class ids [T·N] (row t·N + i: image i's t-th best class) from scores [N, K]. `subgroups`:
 * the subgroup variant (a workgroup per image) or the loop (an invocation per image); default
 * from reductionConfig.
 */
export async function topkClasses(
  e: Recorder,
  scores: Tensor,
  t: number,
  opts: { subgroups?: boolean } = {},
): Promise<Tensor> {
  const [n, k] = scores.shape;
  if (!Number.isInteger(t) || t < 1 || t > k)
    throw new InvalidInputError(`topK must be an integer in [1, ${k}], got ${t}`);
  const sg = useSubgroups(e, opts.subgroups, 'topkClasses');
  const kern = await e.kernel(TOPK, { defines: { SUBGROUPS: sg }, overrides: { WG: WG_REDUCE } });
  const classes = e.empty([t * n], 'classes');
  e.dispatch(kern, { scores, classes }, { n, k, t }, sg ? grid1d(n, 1) : grid1d(n, WG_REDUCE));
  return classes;
}

/** channel_weights.wgsl with the sums and weights of `methods` (slot s = methods[s]) filled in. */
export function channelWeightsKernel(methods: readonly ChannelMethodName[]) {
  const key = methods.join(',');
  const def = generatedKernel(`channel_weights.${key}`, () => {
    // Sums are named across the registry (one name, one expression), so methods share them.
    const sums1 = new Map<string, string>();
    const sums2 = new Map<string, string>();
    const write: string[] = [];
    methods.forEach((m, slot) => {
      const d = channelMethod(m);
      if (d.source !== 'gradients' || !d.weight)
        throw new InvalidInputError(`channelWeights: '${m}' has no gradient weights`);
      for (const [name, t] of Object.entries(d.sums)) sums1.set(name, t.wgsl);
      for (const [name, t] of Object.entries(d.sums2 ?? {})) sums2.set(name, t.wgsl);
      write.push(`weights[(${slot}u * p.rows + b) * p.k + k] = finite(${d.weight.wgsl}); // ${m}`);
    });
    const adds = (sums: Map<string, string>, v: string) => [...sums.values()].map((w, q) => `${v}[${q}] += ${w};`);
    const lets = (sums: Map<string, string>, v: string) => [...sums.keys()].map((n, q) => `let sum_${n} = ${v}[${q}];`);
    const indent = (lines: string[], by: string) => lines.join(`\n${by}`);
    const parts: Record<string, string> = {
      nsum1: String(sums1.size),
      nsum2: String(sums2.size),
      nred: String(Math.max(sums1.size, sums2.size, 1)),
      add1: indent(adds(sums1, 's1'), '    '),
      let1: indent(lets(sums1, 's1'), '  '),
      add2: indent(adds(sums2, 's2'), '    '),
      let2: indent(lets(sums2, 's2'), '  '),
      write: indent(write, '    '),
    };
    return defineKernel({
      name: `channel_weights.${key}`,
      code: fillTemplate(channelWeightsCode, parts),
      params: { rows: 'u32', n: 'u32', k: 'u32', z: 'u32' },
      bindings: ['A', 'G', 'weights'],
      includes: [FINITE, GRADCAMPP],
    });
  });
  return { def, pass2: methods.some((m) => channelMethod(m).sums2 !== undefined) };
}

/**
 * The weights of the gradient channel methods `methods` for every (row, channel), into slots
 * 0 … methods.length − 1 of `weights` [M, B, K] (M ≥ methods.length), from one read of the
 * gradients (channel_weights.wgsl, generated from the methods' descriptors). Kernel 'reduce': a
 * workgroup per (row, channel) with a workgroup-memory tree reduction; 'subgroup': the same
 * workgroups reducing with subgroupAdd (needs the device's 'subgroups' feature); 'serial': one
 * invocation per (row, channel) looping over the map, no barriers. Default: reductionConfig's
 * (serial on software adapters, else subgroup where the device has 'subgroups', else reduce).
 */
export async function channelWeights(
  e: Recorder,
  A: Tensor,
  G: Tensor,
  weights: Tensor,
  methods: readonly ChannelMethodName[],
  opts: { kernel?: ChannelWeightsKernel } = {},
): Promise<void> {
  const [n, k, h, w] = A.shape;
  const rows = G.shape[0];
  const kernel = opts.kernel ?? reductionConfig(e).channelWeights;
  if (kernel !== 'reduce' && kernel !== 'serial' && kernel !== 'subgroup') {
    throw new InvalidInputError(`channelWeights: unknown kernel '${kernel as string}' (reduce, subgroup or serial)`);
  }
  if (methods.length === 0) throw new InvalidInputError('channelWeights: no methods');
  const serial = kernel === 'serial';
  if (kernel === 'subgroup') checkSubgroups(e, 'channelWeights');
  const sg = kernel === 'subgroup';
  const { def, pass2 } = channelWeightsKernel(methods);
  const kern = await e.kernel(def, {
    defines: { SERIAL: serial, SUBGROUPS: sg, PASS2: pass2 },
    overrides: { WG: WG_REDUCE },
  });
  const u = { rows, n, k, z: h * w };
  e.dispatch(kern, { A, G, weights }, u, serial ? grid1d(rows * k, WG_REDUCE) : grid1d(rows * k, 1));
}

/**
 * CAM weights: row classes[b] of the linear weight [C_out, K] (or its halves, Model.load's
 * weightStorage 'f16') into `slot` of `weights` [M, B, K].
 */
export async function camWeights(
  e: Recorder,
  linearWeight: Tensor,
  classes: Tensor,
  weights: Tensor,
  slot: number,
): Promise<void> {
  const rows = classes.size;
  const k = weights.shape[2];
  const kern = await e.kernel(CAM_WEIGHTS, {
    defines: { F16: isHalves(linearWeight) },
    overrides: { WG: WG_ELEMENTWISE },
  });
  e.dispatch(kern, { W: linearWeight, classes, weights }, { rows, k, slot }, grid1d(rows * k, WG_ELEMENTWISE));
}

/**
 * Weighted channel sums, ReLU (per slot, from `reluMask`), min–max normalisation: raw and norm
 * [M, B, h, w]. `subgroups`: the min/max by subgroup operations; default from reductionConfig.
 */
export async function combineMaps(
  e: Recorder,
  A: Tensor,
  weights: Tensor,
  reluMask: number,
  opts: { subgroups?: boolean } = {},
): Promise<{ raw: Tensor; norm: Tensor }> {
  const [n, k, h, w] = A.shape;
  const [m, rows] = weights.shape;
  const sg = useSubgroups(e, opts.subgroups, 'combineMaps');
  const kern = await e.kernel(COMBINE, { defines: { SUBGROUPS: sg }, overrides: { WG: WG_REDUCE } });
  const raw = e.empty([m, rows, h, w], 'maps:raw');
  const norm = e.empty([m, rows, h, w], 'maps:normalised');
  e.dispatch(
    kern,
    { A, weights, raw, norm },
    { maps: m * rows, rows, n, k, z: h * w, relu_mask: reluMask },
    grid1d(m * rows, 1),
  );
  return { raw, norm };
}

/** spatial_combine.wgsl with the terms of `methods` (slot m = methods[m]) filled in. */
function spatialKernel(methods: readonly SpatialMethodName[]) {
  const key = methods.join(',');
  return generatedKernel(`spatial_combine.${key}`, () => {
    const terms = methods.map((m, slot) => `if (m == ${slot}u) { return ${spatialMethod(m).term.wgsl}; } // ${m}`);
    return defineKernel({
      name: `spatial_combine.${key}`,
      code: fillTemplate(spatialCode, { terms: terms.join('\n  ') }),
      params: { maps: 'u32', rows: 'u32', n: 'u32', k: 'u32', z: 'u32', relu_mask: 'u32' },
      bindings: ['A', 'G', 'raw', 'norm'],
      includes: [FINITE, MINMAX_REDUCE],
    });
  });
}

/**
 * The maps of the spatial methods `methods` (slot m = methods[m]) for every row: Σ_k term(A, G)
 * per position, the ReLU, min–max normalisation. raw and norm [M, B, h, w]. `subgroups`: the
 * min/max by subgroup operations; default from reductionConfig.
 */
export async function spatialMaps(
  e: Recorder,
  A: Tensor,
  G: Tensor,
  methods: readonly SpatialMethodName[],
  opts: { subgroups?: boolean } = {},
): Promise<{ raw: Tensor; norm: Tensor }> {
  const [n, k, h, w] = A.shape;
  const rows = G.shape[0];
  const m = methods.length;
  if (m === 0) throw new InvalidInputError('spatialMaps: no methods');
  const sg = useSubgroups(e, opts.subgroups, 'spatialMaps');
  const kern = await e.kernel(spatialKernel(methods), { defines: { SUBGROUPS: sg }, overrides: { WG: WG_REDUCE } });
  const raw = e.empty([m, rows, h, w], 'spatial:raw');
  const norm = e.empty([m, rows, h, w], 'spatial:normalised');
  const reluMask = methods.reduce((mask, x, s) => (spatialMethod(x).relu ? mask | (1 << s) : mask), 0);
  e.dispatch(
    kern,
    { A, G, raw, norm },
    { maps: m * rows, rows, n, k, z: h * w, relu_mask: reluMask },
    grid1d(m * rows, 1),
  );
  return { raw, norm };
}

/** Bilinear resize (half-pixel centres) of [..., h, w] maps to [..., H, W], each renormalised to [0, 1]. */
export async function upsampleBilinear(e: Recorder, src: Tensor, H: number, W: number): Promise<Tensor> {
  const h = src.shape[src.rank - 2];
  const w = src.shape[src.rank - 1];
  const lead = src.shape.slice(0, -2);
  const rows = sizeOf(lead);
  const dst = e.empty([...lead, H, W], `${src.label}:upsampled`);
  const kern = await e.kernel(UPSAMPLE, { overrides: { WG: WG_UPSAMPLE } });
  const u = { rows, h, w, H, W, scale_y: h / H, scale_x: w / W };
  e.dispatch(kern, { src, dst }, u, grid1d(rows, 1));
  return dst;
}

/**
 * An input-gradient method's map from the (guided) gradient at the input, guided [B, C, H, W]:
 * times the upsampled map of slot `slot` of `cam` [M, B, H, W] (Guided Grad-CAM), or, with
 * cam null, the gradient itself (Guided Backprop). Finite either way (guided_gradcam.wgsl).
 */
export async function guidedGradcam(
  e: Recorder,
  cam: Tensor | null,
  slot: number,
  guided: Tensor,
  label = 'guided-gradcam',
): Promise<Tensor> {
  const [rows, c, H, W] = guided.shape;
  const kern = await e.kernel(GUIDED_GRADCAM, { defines: { CAM: cam !== null }, overrides: { WG: WG_ELEMENTWISE } });
  const out = e.empty(guided.shape, label);
  e.dispatch(
    kern,
    { cam, guided, out },
    { count: out.size, c, hw: H * W, cam_offset: slot * rows * H * W },
    grid1d(out.size, WG_ELEMENTWISE),
  );
  return out;
}

const EIGEN_GRAM = defineKernel({
  name: 'eigen_gram',
  code: eigenGramCode,
  params: { rows: 'u32', k: 'u32', z: 'u32', d: 'u32' },
  bindings: ['X', 'C'],
  includes: [FINITE],
});
const EIGEN_POWER = defineKernel({
  name: 'eigen_power',
  code: eigenPowerCode,
  params: { rows: 'u32', d: 'u32', iters: 'u32', tol: 'f32' },
  bindings: ['C', 'evec', 'info', 'work'],
  includes: [FINITE, SUM_MAX_REDUCE],
});
const EIGEN_PROJECT = defineKernel({
  name: 'eigen_project',
  code: eigenProjectCode,
  params: { rows: 'u32', src_rows: 'u32', k: 'u32', z: 'u32', d: 'u32', slot: 'u32', relu: 'u32' },
  bindings: ['X', 'evec', 'info', 'raw', 'norm'],
  includes: [FINITE, MINMAX_REDUCE],
});

/**
 * eigen_center.wgsl with a term filled in: an eigen method's (in a, g), or 'w * a' for the
 * eigenSmooth option of the channel methods (WEIGHTED: w the row's channel weight).
 */
function eigenCenterKernel(key: string, term: string) {
  return generatedKernel(`eigen_center.${key}`, () =>
    defineKernel({
      name: `eigen_center.${key}`,
      code: fillTemplate(eigenCenterCode, { term }),
      params: { rows: 'u32', n: 'u32', k: 'u32', z: 'u32', w_offset: 'u32' },
      bindings: ['A', 'G', 'weights', 'X'],
      includes: [FINITE],
    }),
  );
}

/**
 * The largest Gram matrix side the power iteration takes: its vector lives in workgroup memory
 * (2048 floats = 8 KiB of WebGPU's guaranteed 16 KiB).
 */
export const EIGEN_MAX_SIDE = 2048;
/** Power iterations at most (eigen_power.wgsl), and the change of v (max-norm) that ends them early. */
export const EIGEN_ITERATIONS = 300;
export const EIGEN_TOL = 1e-7;

/** The side of the Gram matrix for K channels and Z positions: the smaller one. */
export function eigenSide(k: number, z: number): { d: number; positions: boolean } {
  return k <= z ? { d: k, positions: false } : { d: z, positions: true };
}

/** Throws MethodNotApplicableError when a layer [., K, h, w] is too large on both sides for the eigen methods. */
export function checkEigenLayer(k: number, h: number, w: number): void {
  const { d } = eigenSide(k, h * w);
  if (d > EIGEN_MAX_SIDE) {
    throw new MethodNotApplicableError(
      `the eigen methods need min(K, h·w) ≤ ${EIGEN_MAX_SIDE} at the layer; it has K = ${k} channels and ` +
        `h·w = ${h}×${w} = ${h * w} positions. Choose a layer with fewer channels or positions.`,
    );
  }
}

/**
 * One map slot of the eigen path: centre (the given eigen_center variant and bindings), Gram
 * matrix, power iteration, projection into `slot` of raw and norm [M, rows, h, w]. S source
 * rows. Returns the info tensor [S, 4] (eigen_power.wgsl); the intermediates are freed.
 */
async function principalMap(
  e: Recorder,
  centerDef: ReturnType<typeof eigenCenterKernel>,
  defines: Readonly<Record<string, boolean>>,
  bind: { A: Tensor; G: Tensor | null; weights: Tensor | null },
  wOffset: number,
  shape: readonly number[],
  S: number,
  rows: number,
  raw: Tensor,
  norm: Tensor,
  slot: number,
  relu: boolean,
  iters: number,
  tol: number,
  label: string,
  serial: boolean,
  subgroups: boolean,
): Promise<Tensor> {
  const [n, k, h, w] = shape;
  const z = h * w;
  const { d, positions } = eigenSide(k, z);
  const dmax = Math.max(64, 2 ** Math.ceil(Math.log2(d)));
  const X = e.empty([S, k, h, w], `${label}:centred`);
  const C = e.empty([S, d, d], `${label}:gram`);
  const evec = e.empty([S, d], `${label}:eigenvector`);
  const info = e.empty([S, 4], `${label}:eigen-info`);
  const center = await e.kernel(centerDef, { defines, overrides: { WG: WG_REDUCE } });
  e.dispatch(center, { ...bind, X }, { rows: S, n, k, z, w_offset: wOffset }, grid1d(S * k, WG_REDUCE));
  const gram = await e.kernel(EIGEN_GRAM, { defines: { POSITIONS: positions }, overrides: { WG: WG_REDUCE } });
  e.dispatch(gram, { X, C }, { rows: S, k, z, d }, grid1d(S * d * d, WG_REDUCE));
  const power = await e.kernel(EIGEN_POWER, {
    defines: { SERIAL: serial, SUBGROUPS: subgroups && !serial },
    overrides: { WG: WG_REDUCE, DMAX: dmax },
  });
  const work = serial ? e.empty([S, d], `${label}:power-work`) : null;
  e.dispatch(power, { C, evec, info, work }, { rows: S, d, iters, tol }, serial ? grid1d(S, WG_REDUCE) : grid1d(S, 1));
  work?.destroy();
  const project = await e.kernel(EIGEN_PROJECT, {
    defines: { POSITIONS: positions, SUBGROUPS: subgroups },
    overrides: { WG: WG_REDUCE },
  });
  e.dispatch(
    project,
    { X: positions ? null : X, evec, info, raw, norm },
    { rows, src_rows: S, k, z, d, slot, relu: relu ? 1 : 0 },
    grid1d(rows, 1),
  );
  X.destroy();
  C.destroy();
  evec.destroy();
  return info;
}

/**
 * The eigenSmooth option of the channel methods: for each slot m of `weights` [M, B, K] and row
 * b, the first principal component of the weighted activations w_k·A^k (centred over the
 * positions, sign so that the largest |value| is positive) instead of their sum; ReLU where
 * relu[m]. raw and norm [M, B, h, w], as combineMaps gives.
 */
export async function eigenSmoothMaps(
  e: Recorder,
  A: Tensor,
  weights: Tensor,
  relu: readonly boolean[],
): Promise<{ raw: Tensor; norm: Tensor }> {
  const [, k, h, w] = A.shape;
  const [m, rows] = weights.shape;
  checkEigenLayer(k, h, w);
  const raw = e.empty([m, rows, h, w], 'maps:raw');
  const norm = e.empty([m, rows, h, w], 'maps:normalised');
  const center = eigenCenterKernel('weighted', 'w * a');
  for (let slot = 0; slot < m; slot++) {
    const bind = { A, G: null, weights };
    const info = await principalMap(
      e,
      center,
      { WEIGHTED: true },
      bind,
      slot * rows * k,
      A.shape,
      rows,
      rows,
      raw,
      norm,
      slot,
      relu[slot],
      EIGEN_ITERATIONS,
      EIGEN_TOL,
      `eigen-smooth:${slot}`,
      false,
      useSubgroups(e, undefined, 'eigenSmoothMaps'),
    );
    info.destroy();
  }
  return { raw, norm };
}

export interface EigenOptions {
  /** Power iterations at most (default EIGEN_ITERATIONS). */
  iterations?: number;
  /** Stop once no entry of the ∞-normalised vector changes by more than this (default EIGEN_TOL; 0: run every iteration). */
  tol?: number;
  /**
   * The power iteration's kernel: 'reduce' (default), a workgroup per row with workgroup-memory
   * reductions; 'serial', one invocation per row and no barriers. On SwiftShader (a loaded
   * 2-core machine) 'serial' was not faster: 1.4 against 2.3 s for 6 rows of a 49×49 Gram
   * matrix, 19 against 10 s at 196×196, 2.0 against 1.9 s at 64×64 (300 iterations each):
   * its rows share one workgroup, so one core, where 'reduce' spreads them over workgroups.
   */
  kernel?: 'reduce' | 'serial';
  /**
   * The power iteration's sums and maxima (eigen_power, 'reduce' kernel) and the projection's
   * min/max (eigen_project) by subgroup operations; default from reductionConfig.
   */
  subgroups?: boolean;
}

/**
 * The maps of the eigen methods `methods` (slot m = methods[m]) for all B = G.shape[0] rows
 * (B = T·N; for a method without gradients, G may be null and `rows` gives B): per source row
 * (the N images for Eigen-CAM, the B rows otherwise) the centred matrix (eigen_center), the
 * Gram matrix of its smaller side (eigen_gram), its top eigenvector by power iteration
 * (eigen_power), then per row the projection, the sign fix, the ReLU and the normalisation
 * (eigen_project). raw and norm [M, B, h, w]; info [M·S, 4] per source row (λ, iterations run,
 * last change, max |C|), rows of the methods one after another, each S rows (S = N or B).
 */
export async function eigenMaps(
  e: Recorder,
  A: Tensor,
  G: Tensor | null,
  methods: readonly EigenMethodName[],
  rows: number,
  opts: EigenOptions = {},
): Promise<{ raw: Tensor; norm: Tensor; info: Tensor[] }> {
  const [n, k, h, w] = A.shape;
  const iters = opts.iterations ?? EIGEN_ITERATIONS;
  const tol = opts.tol ?? EIGEN_TOL;
  if (!Number.isInteger(iters) || iters < 1) {
    throw new InvalidInputError(`eigenMaps: iterations must be a positive integer, got ${iters}`);
  }
  if (!(tol >= 0)) throw new InvalidInputError(`eigenMaps: tol must be a number ≥ 0, got ${tol}`);
  const kernel = opts.kernel ?? 'reduce';
  if (kernel !== 'reduce' && kernel !== 'serial') {
    throw new InvalidInputError(`eigenMaps: unknown kernel '${kernel as string}' (reduce or serial)`);
  }
  if (methods.length === 0) throw new InvalidInputError('eigenMaps: no methods');
  for (const m of methods) {
    if (eigenMethod(m).gradients && !G) throw new InvalidInputError(`eigenMaps: '${m}' needs the gradients`);
  }
  checkEigenLayer(k, h, w);
  const sg = useSubgroups(e, opts.subgroups, 'eigenMaps');
  const raw = e.empty([methods.length, rows, h, w], 'eigen:raw');
  const norm = e.empty([methods.length, rows, h, w], 'eigen:normalised');
  const info: Tensor[] = [];
  for (const [slot, m] of methods.entries()) {
    const desc = eigenMethod(m);
    const S = desc.gradients ? rows : n;
    const center = eigenCenterKernel(m, desc.term.wgsl);
    const bind = { A, G: desc.gradients ? G : null, weights: null };
    info.push(
      await principalMap(
        e,
        center,
        { GRAD: desc.gradients },
        bind,
        0,
        A.shape,
        S,
        rows,
        raw,
        norm,
        slot,
        desc.relu,
        iters,
        tol,
        m,
        kernel === 'serial',
        sg,
      ),
    );
  }
  return { raw, norm, info };
}
