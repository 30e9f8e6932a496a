/**
 * 2-D convolution: forward (optionally with a fused ReLU) and backward with respect to the input.
 * The parameters and the output-shape rule are the op's definition (src/defs/conv2d.ts).
 *
 * N batch, Cin / Cout channels, H×W input, KH×KW kernel, OH×OW output, G groups, T targets.
 *
 * Kernels (one .wgsl file each):
 *   'direct'  conv2d_forward.wgsl: weights as given, a small register tile (co × ow). Depthwise
 *             convs (under 4 output channels per group) use it.
 *   'tiled'   conv2d_forward_tiled.wgsl: any conv, weights packed (conv2d_pack.wgsl) so that 4
 *             output channels are one vec4, a 4×4-pixel × 4- or 8-channel register tile.
 *   '3x3'     conv2d_forward_3x3.wgsl: 3×3 stride-1 convs, the same tile, each input value
 *             loaded once for all the taps it feeds.
 *   The two tiled kernels share the tile's helpers (which tile an invocation computes, row
 *   type, clamps, bias, store) through `#include "conv2d_tile"` (shaders/include/conv2d_tile.wgsl).
 *   'gemm'    conv2d_forward_gemm.wgsl: any conv as an implicit GEMM, (output channel) ×
 *             (output pixel) × (input channel · tap), TM × TN tiles of the output per workgroup
 *             with TK-deep slices of weights and input staged in workgroup memory, packed
 *             weights. The GPU kernel (chosen for hardware adapters); slower than the register
 *             tiles on software adapters.
 * Backward: the input gradient of a stride-1, dilation-1 conv is itself such a conv, of dy with
 * the weights transposed (Cin ↔ Cout inside each group) and flipped, padded by K − 1 − pad; it
 * runs on the tiled kernels ('conv'). A stride-s conv's input gradient splits into s² such convs
 * (one per stride phase, each with every s-th kernel tap, writing every s-th row and column of
 * dx). The phase convs run on the 'gemm' kernel where the engine's config has it. Dilated convs
 * use a gather kernel (conv2d_backward.wgsl).
 * Which kernels and tile sizes run is chosen per engine from the adapter (conv2dConfig) and can
 * be overridden per engine (setConv2dConfig) or per call (options).
 * Half-float weights (Model.load's weightStorage 'f16'): packed weights may be stored as halves
 * (conv2dPackWeights' `f16`, PackedConv2dWeights.f16); the tiled, 3x3 and gemm kernels read them
 * in their F16 variants, and the backward's re-layouts (conv2d_pack.wgsl, SRC_F16) read them
 * into float32 temporaries of one call, as they do from float32 weights: no float32 copy is kept.
 */
import type { Engine } from '../gpu/engine';
import type { Recorder } from '../gpu/recorder';
import { grid1d } from '../gpu/engine';
import { InvalidInputError, ShapeMismatchError } from '../core/errors';
import { defineKernel } from '../gpu/kernel';
import { type Tensor } from '../gpu/tensor';
import { shapeStr, type Shape } from '../core/shape';
import { conv2dOutputShape, type Conv2dParams } from '../defs/conv2d';
import forwardCode from '../../shaders/conv2d_forward.wgsl?raw';
import forwardTiledCode from '../../shaders/conv2d_forward_tiled.wgsl?raw';
import forward3x3Code from '../../shaders/conv2d_forward_3x3.wgsl?raw';
import forwardGemmCode from '../../shaders/conv2d_forward_gemm.wgsl?raw';
import backwardCode from '../../shaders/conv2d_backward.wgsl?raw';
import packCode from '../../shaders/conv2d_pack.wgsl?raw';
import { CONV2D_TILE } from './includes';
import { targetsOf } from './util';
import { toHalves } from './half';

export type Conv2dKernel = 'direct' | 'tiled' | '3x3' | 'gemm';

/**
 * How a forward conv splits the work on the register-tiled kernels. 'direct': each invocation
 * computes `co` output channels (1, or 4 as the lanes of a vec4) times `ow` consecutive output
 * pixels of one row (1..MAX_OW). 'tiled' and '3x3': each invocation computes 4×4 output pixels
 * times `co` channels (4 or 8). `wg` is the workgroup size. Every variant computes the same result.
 */
export interface Conv2dTileVariant {
  /** Default 'direct' when a variant is given (the tile fields below were first its own). */
  kernel?: 'direct' | 'tiled' | '3x3';
  co: 1 | 4 | 8;
  /** 'direct' only. */
  ow?: number;
  wg?: number;
}

/**
 * The implicit-GEMM kernel's workgroup tile: `tm` output channels × `tn` output pixels (both
 * multiples of 4: each invocation computes 4 × 4 of them, so a workgroup has tm·tn/16
 * invocations), the K loop (input channel · tap) in slices of `tk`, staged in
 * (tm + tn + 4)·tk·4 bytes of workgroup memory (weights, input, and 16 bytes per k of tap
 * offsets). The override constants TM, TN, TK of conv2d_forward_gemm.wgsl.
 */
export interface Conv2dGemmTile {
  tm: number;
  tn: number;
  tk: number;
}

/** The default gemm tile: 64 invocations, 4.25 KiB of workgroup memory (fits WebGPU's default limits). */
export const GEMM_TILE: Readonly<Conv2dGemmTile> = { tm: 32, tn: 32, tk: 16 };

/** The 'gemm' kernel; `tile` defaults to the engine's config, else GEMM_TILE. */
export interface Conv2dGemmVariant {
  kernel: 'gemm';
  tile?: Conv2dGemmTile;
}

export type Conv2dVariant = Conv2dTileVariant | Conv2dGemmVariant;

/** Must equal MAX_OWT in conv2d_forward.wgsl. */
export const MAX_OW = 8;
const WG = 64; // default `override WG` of the shaders
const PACK_WG = 256; // `override WG` of conv2d_pack.wgsl

/** The conv geometry at the head of the direct and gather kernels' Params (after `count`). */
const GEOMETRY = {
  Cin: 'u32',
  H: 'u32',
  W: 'u32',
  Cout: 'u32',
  OH: 'u32',
  OW: 'u32',
  KH: 'u32',
  KW: 'u32',
  sh: 'u32',
  sw: 'u32',
  pt: 'u32',
  pl: 'u32',
  dh: 'u32',
  dw: 'u32',
  cin_g: 'u32',
  cout_g: 'u32',
} as const;
/** The packed-weight tile fields of the tiled kernels' Params. */
const TILES = { cop4: 'u32', co_tiles: 'u32', co_tiles_all: 'u32', oh_tiles: 'u32', ow_tiles: 'u32' } as const;
/** The register-tile helpers both tiled kernels include (tile_at, Px4, clamps, bias4, store). */

const DIRECT = defineKernel({
  name: 'conv2d_forward',
  code: forwardCode,
  params: { count: 'u32', ...GEOMETRY, co_tiles: 'u32', co_tiles_all: 'u32', ow_tiles: 'u32' },
  bindings: ['x', 'w', 'b', 'y'],
});
const TILED = defineKernel({
  name: 'conv2d_forward_tiled',
  code: forwardTiledCode,
  params: {
    count: 'u32',
    ...GEOMETRY,
    ...TILES,
    YH: 'u32',
    YW: 'u32',
    ysh: 'u32',
    ysw: 'u32',
    yoh: 'u32',
    yow: 'u32',
  },
  bindings: ['x', 'w', 'b', 'y'],
  includes: [CONV2D_TILE],
});
const TILED_3X3 = defineKernel({
  name: 'conv2d_forward_3x3',
  code: forward3x3Code,
  params: {
    count: 'u32',
    Cin: 'u32',
    H: 'u32',
    W: 'u32',
    Cout: 'u32',
    OH: 'u32',
    OW: 'u32',
    pt: 'u32',
    pl: 'u32',
    cin_g: 'u32',
    cout_g: 'u32',
    ...TILES,
  },
  bindings: ['x', 'w', 'b', 'y'],
  includes: [CONV2D_TILE],
});
const GEMM = defineKernel({
  name: 'conv2d_forward_gemm',
  code: forwardGemmCode,
  params: {
    ...GEOMETRY,
    cop: 'u32',
    npix: 'u32',
    kdim: 'u32',
    m_tiles: 'u32',
    YH: 'u32',
    YW: 'u32',
    ysh: 'u32',
    ysw: 'u32',
    yoh: 'u32',
    yow: 'u32',
  },
  bindings: ['x', 'w', 'b', 'y'],
});
const GATHER = defineKernel({
  name: 'conv2d_backward',
  code: backwardCode,
  params: { count: 'u32', ...GEOMETRY },
  bindings: ['dy', 'w', 'dx'],
});
const PACK = defineKernel({
  name: 'conv2d_pack',
  code: packCode,
  params: {
    count: 'u32',
    d1: 'u32',
    d2: 'u32',
    d3: 'u32',
    d4: 'u32',
    n4: 'u32',
    base: 'i32',
    s0: 'i32',
    s1: 'i32',
    s2: 'i32',
    s3: 'i32',
    s4: 'i32',
  },
  bindings: ['src', 'out'],
});

/** Per-engine kernel choice; see conv2dConfig. */
export interface Conv2dConfig {
  /** Use the packed-weight tiled kernels where they apply (else always 'direct'). */
  tiled: boolean;
  /** Channels per invocation of the tiled kernels. */
  co: 4 | 8;
  /** Workgroup size of the tiled kernels and of the gather backward. */
  wg: number;
  /**
   * With `tiled`: run the implicit-GEMM kernel with this tile instead of the register-tiled
   * kernels, for forward convs with at least 4 output channels per group and for the input
   * gradient of dilation-1 convs with at least 4 input channels per group; null: the
   * register-tiled kernels.
   */
  gemm: Conv2dGemmTile | null;
  /** Why this choice (for the log). */
  reason: string;
}

const configs = new WeakMap<Engine, Conv2dConfig>();

/**
 * The engine's conv kernel choice, made on first use from the adapter and logged once:
 * software adapters (SwiftShader) get 8 channels × 4×4 pixels per invocation in workgroups of 32
 * (each storage load costs a lane-by-lane gather there, so the biggest register tile wins; see
 * docs/BENCHMARKS.md); GPUs get the implicit-GEMM kernel (GEMM_TILE: 32 channels × 32 pixels
 * per workgroup of 64, K slices of 16 through workgroup memory), and for the convs it leaves
 * (depthwise) 4 channels in workgroups of 64 (fewer registers per thread, more threads in
 * flight). Override with setConv2dConfig().
 */
export function conv2dConfig(r: Recorder): Conv2dConfig {
  const e = r.engine;
  let c = configs.get(e);
  if (!c) {
    const a = e.adapter;
    c = a.isSoftware
      ? { tiled: true, co: 8, wg: 32, gemm: null, reason: `software adapter (${a.kindReason}): largest register tile` }
      : { tiled: true, co: 4, wg: 64, gemm: { ...GEMM_TILE }, reason: `hardware adapter (${a.kindReason})` };
    configs.set(e, c);
    const name = [a.vendor, a.architecture, a.description].filter(Boolean).join(' ') || 'unknown adapter';
    console.info(`webgpu-cam: conv2d kernels for ${name}: ${describeConv2dConfig(c)}; change with setConv2dConfig()`);
  }
  return c;
}

/** The config in words, e.g. 'implicit GEMM 32×32×16 (tiled, 4 channels × 4×4 pixels, workgroup 64 for the rest)'. */
export function describeConv2dConfig(c: Conv2dConfig): string {
  if (!c.tiled) return `direct, workgroup ${c.wg} (${c.reason})`;
  const t = `tiled, ${c.co} channels × 4×4 pixels, workgroup ${c.wg}`;
  if (!c.gemm) return `${t} (${c.reason})`;
  return `implicit GEMM ${c.gemm.tm}×${c.gemm.tn}×${c.gemm.tk} (${t} for the rest; ${c.reason})`;
}

/**
 * Override the engine's conv kernel choice (fields not given keep their value). A config read
 * earlier with conv2dConfig() can be given back whole to restore it, reason included.
 */
export function setConv2dConfig(r: Recorder, c: Partial<Conv2dConfig>): Conv2dConfig {
  const e = r.engine;
  const cur = conv2dConfig(e);
  const next: Conv2dConfig = { ...cur, ...c, reason: c.reason ?? 'set by setConv2dConfig' };
  if (next.co !== 4 && next.co !== 8) throw new InvalidInputError(`setConv2dConfig: co must be 4 or 8, got ${next.co}`);
  checkWG(next.wg, e.limits.maxComputeInvocationsPerWorkgroup, 'setConv2dConfig');
  if (next.gemm) next.gemm = checkGemmTile(next.gemm, e.limits, 'setConv2dConfig');
  configs.set(e, next);
  return next;
}

function checkWG(wg: number, max: number, what: string): void {
  if (!Number.isInteger(wg) || wg < 1 || wg > max) throw new InvalidInputError(`${what}: wg ${wg} is not in 1..${max}`);
}

/**
 * A gemm tile checked against the device's limits: tm, tn multiples of 4, tk ≥ 1,
 * tm·tn/16 invocations within maxComputeInvocationsPerWorkgroup and maxComputeWorkgroupSizeX,
 * (tm + tn + 4)·tk·4 bytes within maxComputeWorkgroupStorageSize.
 */
export function checkGemmTile(t: Conv2dGemmTile, limits: GPUSupportedLimits, what: string): Conv2dGemmTile {
  const bad = (why: string) => new InvalidInputError(`${what}: gemm tile ${JSON.stringify(t)} is invalid: ${why}`);
  const { tm, tn, tk } = t;
  for (const [k, v] of [
    ['tm', tm],
    ['tn', tn],
  ] as const) {
    if (!Number.isInteger(v) || v < 4 || v % 4 !== 0) throw bad(`${k} must be a positive multiple of 4`);
  }
  if (!Number.isInteger(tk) || tk < 1) throw bad('tk must be a positive integer');
  const nt = (tm / 4) * (tn / 4);
  const maxNT = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  if (nt > maxNT) throw bad(`(tm/4)·(tn/4) = ${nt} invocations, the device allows ${maxNT}`);
  const bytes = (tm + tn + 4) * tk * 4;
  const maxBytes = limits.maxComputeWorkgroupStorageSize;
  if (bytes > maxBytes)
    throw bad(`(tm + tn + 4)·tk·4 = ${bytes} bytes of workgroup memory, the device allows ${maxBytes}`);
  return { tm, tn, tk };
}

function is3x3s1(w: Shape, p: Conv2dParams): boolean {
  return w[2] === 3 && w[3] === 3 && p.stride.every((s) => s === 1) && p.dilation.every((d) => d === 1);
}

/**
 * The default variant: the tiled kernels where the engine's config allows and a group has at
 * least 4 output channels ('3x3' for 3×3 stride-1 convs), else a 'direct' tile of 4 channels
 * (1 for depthwise) by up to 4 pixels along the row.
 */
export function defaultConv2dVariant(w: Shape, p: Conv2dParams, outShape: Shape, cfg?: Conv2dConfig): Conv2dVariant {
  const coutG = w[0] / p.groups;
  if (cfg?.tiled && coutG >= 4) {
    if (cfg.gemm) return { kernel: 'gemm', tile: { ...cfg.gemm } };
    return { kernel: is3x3s1(w, p) ? '3x3' : 'tiled', co: coutG > 4 ? cfg.co : 4, wg: cfg.wg };
  }
  const OW = outShape[3];
  return { kernel: 'direct', co: coutG >= 4 ? 4 : 1, ow: OW >= 4 ? 4 : OW >= 2 ? 2 : 1, wg: WG };
}

function checkVariant(v: Conv2dTileVariant, w: Shape, p: Conv2dParams, maxWG: number): Required<Conv2dTileVariant> {
  const kernel = v.kernel ?? 'direct';
  const bad = (why: string) => new InvalidInputError(`conv2dForward: variant ${JSON.stringify(v)} is invalid: ${why}`);
  if (kernel === 'direct') {
    const ow = v.ow ?? 4;
    if (v.co !== 1 && v.co !== 4) throw bad('co must be 1 or 4 for the direct kernel');
    if (!Number.isInteger(ow) || ow < 1 || ow > MAX_OW) throw bad(`ow must be 1..${MAX_OW}`);
  } else if (kernel === 'tiled' || kernel === '3x3') {
    if (v.co !== 4 && v.co !== 8) throw bad(`co must be 4 or 8 for the ${kernel} kernel`);
    if (kernel === '3x3' && !is3x3s1(w, p)) throw bad('the 3x3 kernel needs a 3×3 kernel with stride 1 and dilation 1');
  } else {
    throw bad(`unknown kernel '${kernel as string}' (direct, tiled, 3x3 or gemm)`);
  }
  const wg = v.wg ?? WG;
  if (!Number.isInteger(wg) || wg < 1 || wg > maxWG) throw bad(`wg must be 1..${maxWG}`);
  return { kernel, co: v.co, ow: v.ow ?? 4, wg };
}

/**
 * Conv weights re-laid out for the tiled kernels: `data` is [G, Cin/G, KH, KW, COP] with
 * COP = 4·ceil((Cout/G) / 4), zero past Cout/G. `shape` is the original [Cout, Cin/G, KH, KW].
 */
export interface PackedConv2dWeights {
  readonly data: Tensor;
  readonly shape: Shape;
  readonly groups: number;
  /**
   * `data` holds the packed weights as halves, two per u32 (src/ops/half.ts; its last dim is
   * COP / 2 words): the kernels' F16 variants read them, accumulating in float32.
   */
  readonly f16?: boolean;
}

/** Weights as given ([Cout, Cin/G, KH, KW] tensor) or packed by conv2dPackWeights. */
export type Conv2dWeights = Tensor | PackedConv2dWeights;

function isPacked(w: Conv2dWeights): w is PackedConv2dWeights {
  return 'data' in w && 'groups' in w;
}

const ceil4 = (n: number) => Math.ceil(n / 4) * 4;

/** One strided gather of conv2d_pack.wgsl: out dims d[0..4], source base and strides. */
async function gather5(
  e: Recorder,
  src: Tensor,
  d: [number, number, number, number, number],
  n4: number,
  base: number,
  s: [number, number, number, number, number],
  label: string,
  srcHalves = false,
): Promise<Tensor> {
  const out = e.empty(d, label);
  const vec4 = d[4] % 4 === 0;
  const count = vec4 ? out.size / 4 : out.size;
  const k = await e.kernel(PACK, { defines: { VEC4: vec4, SRC_F16: srcHalves }, overrides: { WG: PACK_WG } });
  const [s0, s1, s2, s3, s4] = s;
  const u = { count, d1: d[1], d2: d[2], d3: d[3], d4: d[4], n4, base, s0, s1, s2, s3, s4 };
  e.dispatch(k, { src, out }, u, grid1d(count, PACK_WG));
  return out;
}

/**
 * Pack w [Cout, Cin/G, KH, KW] for the tiled forward kernels; with `f16`, stored as halves
 * (the float32 packing is a temporary). The caller owns the result.
 */
export async function conv2dPackWeights(
  e: Recorder,
  w: Tensor,
  groups: number,
  opts: { f16?: boolean } = {},
): Promise<PackedConv2dWeights> {
  const [Cout, CinG, KH, KW] = w.shape;
  if (w.rank !== 4 || !Number.isInteger(groups) || groups < 1 || Cout % groups !== 0) {
    throw new ShapeMismatchError(`conv2dPackWeights: weight ${shapeStr(w.shape)} does not fit groups ${groups}`);
  }
  const coutG = Cout / groups;
  const taps = KH * KW;
  const data = await gather5(
    e,
    w,
    [groups, CinG, KH, KW, ceil4(coutG)],
    coutG,
    0,
    [coutG * CinG * taps, taps, KW, 1, CinG * taps],
    `${w.label}:packed`,
  );
  if (!opts.f16) return { data, shape: [...w.shape], groups };
  try {
    const halves = await toHalves(e, data, [groups, CinG, KH, KW, ceil4(coutG) / 2], `${w.label}:packed:f16`);
    return { data: halves, shape: [...w.shape], groups, f16: true };
  } finally {
    data.destroy();
  }
}

/**
 * One stride phase of a conv's input gradient (dilation 1). Input rows ih = rh + sh·m receive
 * gradient through the kernel rows kh ≡ rh + pad_top (mod sh) only: kh = kh0 + sh·j,
 * j < nKh, from output rows oh = m + qh − j. That is a stride-1 conv of dy with the sub-kernel
 * wsub[j'] = w[kh0 + sh·(nKh − 1 − j')] (flipped) and top pad nKh − 1 − qh (negative pads are
 * passed as their i32 bits; the shaders read them back as i32). Likewise for columns.
 */
interface Phase {
  r: number; // first input row (column) of the phase
  m: number; // its number of rows (columns)
  k0: number;
  nk: number; // taps of the sub-kernel (0: the phase gets no gradient)
  pad: number;
}

function phases(size: number, stride: number, pad: number, k: number): Phase[] {
  const out: Phase[] = [];
  for (let r = 0; r < stride && r < size; r++) {
    const k0 = (r + pad) % stride;
    const nk = k0 < k ? Math.ceil((k - k0) / stride) : 0;
    const q = (r + pad - k0) / stride;
    out.push({ r, m: Math.ceil((size - r) / stride), k0, nk, pad: nk - 1 - q });
  }
  return out;
}

/**
 * The sub-kernel of one phase, transposed (Cin ↔ Cout inside each group) and flipped, packed
 * for the tiled kernels: [G, Cout/G, nKh, nKw, 4·ceil((Cin/G) / 4)] from the forward packing
 * wf[g][ci][kh][kw][co]. A temporary for one backward call.
 */
async function packPhase(
  e: Recorder,
  w: PackedConv2dWeights,
  sh: number,
  sw: number,
  ph: Phase,
  pw: Phase,
): Promise<PackedConv2dWeights> {
  const [Cout, CinG, KH, KW] = w.shape;
  const taps = KH * KW;
  const G = w.groups;
  const coutG = Cout / G;
  const cop = ceil4(coutG);
  // out[g][co][j'][i'][ci] = wf[g][ci][kh0 + sh·(nKh−1−j')][kw0 + sw·(nKw−1−i')][co]
  const data = await gather5(
    e,
    w.data,
    [G, coutG, ph.nk, pw.nk, ceil4(CinG)],
    CinG,
    ((ph.k0 + sh * (ph.nk - 1)) * KW + pw.k0 + sw * (pw.nk - 1)) * cop,
    [CinG * taps * cop, 1, -sh * KW * cop, -sw * cop, taps * cop],
    'conv2d:backward-weights',
    !!w.f16,
  );
  return { data, shape: [CinG * G, coutG, ph.nk, pw.nk], groups: G };
}

/** The weights in their given [Cout, Cin/G, KH, KW] layout (a temporary when unpacked from `w`). */
async function unpacked(e: Recorder, w: Conv2dWeights): Promise<{ t: Tensor; temp: boolean }> {
  if (!isPacked(w)) return { t: w, temp: false };
  const [Cout, CinG, KH, KW] = w.shape;
  const G = w.groups;
  const coutG = Cout / G;
  const cop = ceil4(coutG);
  const taps = KH * KW;
  // out [g][co][ci][kh][kw] from wf[g][ci][kh][kw][co]
  const t = await gather5(
    e,
    w.data,
    [G, coutG, CinG, KH, KW],
    KW,
    0,
    [CinG * taps * cop, 1, taps * cop, KW * cop, cop],
    'conv2d:weights',
    !!w.f16,
  );
  // The caller destroys the view it gets; the gathered tensor itself is released here (the
  // buffer stays while the view holds it).
  const view = t.reshape(w.shape);
  t.destroy();
  return { t: view, temp: true };
}

async function packedOf(
  e: Recorder,
  w: Conv2dWeights,
  groups: number,
): Promise<{ pw: PackedConv2dWeights; temp: boolean }> {
  if (isPacked(w)) return { pw: w, temp: false };
  return { pw: await conv2dPackWeights(e, w, groups), temp: true };
}

export interface Conv2dForwardOptions {
  /** Fuse y = max(y, 0) into the store. */
  relu?: boolean;
  /** Kernel and tile; default from defaultConv2dVariant with the engine's conv2dConfig. */
  variant?: Conv2dVariant;
}

/**
 * The GEOMETRY fields. Pads may be negative (a stride phase of the backward): u32 fields store
 * them as two's-complement bits and the shaders read them back with i32().
 */
function geometry(xShape: Shape, w: Shape, out: Shape, p: Conv2dParams) {
  const [, Cin, H, W] = xShape;
  const [Cout, cin_g, KH, KW] = w;
  const [, , OH, OW] = out;
  const [sh, sw] = p.stride;
  const [pt, pl] = p.pads;
  const [dh, dw] = p.dilation;
  return { Cin, H, W, Cout, OH, OW, KH, KW, sh, sw, pt, pl, dh, dw, cin_g, cout_g: Cout / p.groups };
}

/**
 * x: [N, Cin, H, W], w: [Cout, Cin/g, KH, KW] (or packed), b: [Cout] or null. Returns
 * y: [N, Cout, OH, OW].
 */
export async function conv2dForward(
  e: Recorder,
  x: Tensor,
  w: Conv2dWeights,
  b: Tensor | null,
  p: Conv2dParams,
  opts: Conv2dForwardOptions = {},
): Promise<Tensor> {
  const ws = w.shape;
  if (isPacked(w) && w.groups !== p.groups) {
    throw new ShapeMismatchError(`conv2dForward: weights were packed for ${w.groups} groups, the conv has ${p.groups}`);
  }
  const outShape = conv2dOutputShape(x.shape, ws, p);
  const Cout = ws[0];
  if (b && (b.rank !== 1 || b.shape[0] !== Cout)) {
    throw new ShapeMismatchError(
      `conv2dForward: bias ${shapeStr(b.shape)} does not match weight ${shapeStr(ws)} (expected [${Cout}])`,
    );
  }
  const cfg = conv2dConfig(e);
  const chosen = opts.variant ?? defaultConv2dVariant(ws, p, outShape, cfg);
  if (chosen.kernel === 'gemm') {
    const tile = checkGemmTile(chosen.tile ?? cfg.gemm ?? GEMM_TILE, e.limits, 'conv2dForward');
    e.checkFits(outShape, 'conv2d');
    const { pw, temp } = await packedOf(e, w, p.groups);
    try {
      return await gemm(e, x, pw, b, p, outShape, tile, !!opts.relu, 'conv2d');
    } finally {
      if (temp) pw.data.destroy();
    }
  }
  const v = checkVariant(chosen, ws, p, e.limits.maxComputeInvocationsPerWorkgroup);
  e.checkFits(outShape, 'conv2d');
  if (v.kernel === 'direct') {
    const { t, temp } = await unpacked(e, w);
    try {
      return await direct(e, x, t, b, p, outShape, v, !!opts.relu);
    } finally {
      if (temp) t.destroy();
    }
  }
  const { pw, temp } = await packedOf(e, w, p.groups);
  try {
    return await tiled(e, x, pw, b, p, outShape, v, !!opts.relu, 'conv2d');
  } finally {
    if (temp) pw.data.destroy();
  }
}

async function direct(
  e: Recorder,
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  p: Conv2dParams,
  outShape: Shape,
  v: Required<Conv2dTileVariant>,
  relu: boolean,
): Promise<Tensor> {
  const [N, Cout, OH, OW] = outShape;
  const coTiles = Math.ceil(Cout / p.groups / v.co); // per group
  const owTiles = Math.ceil(OW / v.ow);
  const count = N * p.groups * coTiles * OH * owTiles;
  const k = await e.kernel(DIRECT, {
    defines: { CO4: v.co === 4, BIAS: b !== null, RELU: relu },
    overrides: { WG: v.wg, OWT: v.ow },
  });
  const y = e.empty(outShape, 'conv2d');
  const u = {
    count,
    ...geometry(x.shape, w.shape, outShape, p),
    co_tiles: coTiles,
    co_tiles_all: p.groups * coTiles,
    ow_tiles: owTiles,
  };
  e.dispatch(k, { x, w, b, y }, u, grid1d(count, v.wg));
  return y;
}

/** Where the tiled kernel stores: output pixel (oh, ow) goes to row yoh + oh·ysh, column yow + ow·ysw of `y`. */
interface Placement {
  y: Tensor;
  ysh: number;
  ysw: number;
  yoh: number;
  yow: number;
}

/**
 * The tiled kernels ('tiled', '3x3') on packed weights; `outShape` fixes OH, OW. Returns a new
 * tensor, or writes into `place.y` (the 'tiled' kernel only) and returns it.
 */
async function tiled(
  e: Recorder,
  x: Tensor,
  w: PackedConv2dWeights,
  b: Tensor | null,
  p: Conv2dParams,
  outShape: Shape,
  v: Required<Conv2dTileVariant>,
  relu: boolean,
  label: string,
  place?: Placement,
): Promise<Tensor> {
  const [N, Cout, OH, OW] = outShape;
  const [, Cin, H, W] = x.shape;
  const [, CinG] = w.shape;
  const G = p.groups;
  const coutG = Cout / G;
  const coTiles = Math.ceil(coutG / v.co);
  const ohTiles = Math.ceil(OH / 4);
  const owTiles = Math.ceil(OW / 4);
  const count = N * G * coTiles * ohTiles * owTiles;
  const is3 = v.kernel === '3x3';
  const variant = {
    defines: { CO8: v.co === 8, BIAS: b !== null, RELU: relu, F16: !!w.f16 },
    overrides: { WG: v.wg },
  };
  if (place && is3) throw new Error('unreachable: only the tiled kernel places its output');
  const y = place?.y ?? e.empty(outShape, label);
  const tiles = {
    cin_g: CinG,
    cout_g: coutG,
    cop4: ceil4(coutG) / 4,
    co_tiles: coTiles,
    co_tiles_all: G * coTiles,
    oh_tiles: ohTiles,
    ow_tiles: owTiles,
  };
  const bindings = { x, w: w.data, b, y };
  if (is3) {
    const k = await e.kernel(TILED_3X3, variant);
    const [pt, pl] = p.pads;
    e.dispatch(k, bindings, { count, Cin, H, W, Cout, OH, OW, pt, pl, ...tiles }, grid1d(count, v.wg));
  } else {
    const k = await e.kernel(TILED, variant);
    const [, , YH, YW] = y.shape;
    const u = {
      count,
      ...geometry(x.shape, w.shape, outShape, p),
      ...tiles,
      YH,
      YW,
      ysh: place?.ysh ?? 1,
      ysw: place?.ysw ?? 1,
      yoh: place?.yoh ?? 0,
      yow: place?.yow ?? 0,
    };
    e.dispatch(k, bindings, u, grid1d(count, v.wg));
  }
  return y;
}

/**
 * The 'gemm' kernel on packed weights; `outShape` fixes OH, OW. Returns a new tensor, or writes
 * into `place.y` and returns it.
 */
async function gemm(
  e: Recorder,
  x: Tensor,
  w: PackedConv2dWeights,
  b: Tensor | null,
  p: Conv2dParams,
  outShape: Shape,
  tile: Conv2dGemmTile,
  relu: boolean,
  label: string,
  place?: Placement,
): Promise<Tensor> {
  const [N, Cout, OH, OW] = outShape;
  const [, CinG, KH, KW] = w.shape;
  const G = p.groups;
  const coutG = Cout / G;
  const mTiles = Math.ceil(coutG / tile.tm);
  const npix = N * OH * OW;
  const maxDim = e.limits.maxComputeWorkgroupsPerDimension;
  if (G * mTiles > maxDim) {
    throw new InvalidInputError(
      `conv2d gemm: ${G} groups × ${mTiles} channel tiles = ${G * mTiles} workgroups along z, the device allows ${maxDim}`,
    );
  }
  const [gx, gy] = grid1d(npix, tile.tn, maxDim);
  const k = await e.kernel(GEMM, {
    defines: { BIAS: b !== null, RELU: relu, F16: !!w.f16 },
    overrides: { TM: tile.tm, TN: tile.tn, TK: tile.tk },
  });
  const y = place?.y ?? e.empty(outShape, label);
  const [, , YH, YW] = y.shape;
  const u = {
    ...geometry(x.shape, w.shape, outShape, p),
    cop: ceil4(coutG),
    npix,
    kdim: CinG * KH * KW,
    m_tiles: mTiles,
    YH,
    YW,
    ysh: place?.ysh ?? 1,
    ysw: place?.ysw ?? 1,
    yoh: place?.yoh ?? 0,
    yow: place?.yow ?? 0,
  };
  e.dispatch(k, { x, w: w.data, b, y }, u, [gx, gy, G * mTiles]);
  return y;
}

export interface Conv2dBackwardOptions {
  /**
   * 'conv': run the input gradient as convs with transposed, flipped weights on the tiled
   * kernels, one per stride phase (dilation-1 convs only); 'gemm': the same convs on the
   * implicit-GEMM kernel; 'gather': one invocation per dx element. Default: 'gemm' where the
   * engine's config has a gemm tile, the conv has dilation 1 and at least 4 input channels per
   * group, else 'conv' where it applies and the engine's config is tiled, else 'gather'.
   */
  kernel?: 'conv' | 'gemm' | 'gather';
  /** The tile for 'gemm' (default the engine's config, else GEMM_TILE). */
  tile?: Conv2dGemmTile;
  /** Channels per invocation for 'conv' (default from the engine's config). */
  co?: 4 | 8;
  wg?: number;
}

/**
 * dy: [T·N, Cout, OH, OW] output gradients of T targets; w: [Cout, Cin/g, KH, KW] (or packed);
 * inputShape: the forward input's [N, Cin, H, W]. Returns dx: [T·N, Cin, H, W].
 */
export async function conv2dBackward(
  e: Recorder,
  dy: Tensor,
  w: Conv2dWeights,
  p: Conv2dParams,
  inputShape: Shape,
  opts: Conv2dBackwardOptions = {},
): Promise<Tensor> {
  const ws = w.shape;
  if (isPacked(w) && w.groups !== p.groups) {
    throw new ShapeMismatchError(
      `conv2dBackward: weights were packed for ${w.groups} groups, the conv has ${p.groups}`,
    );
  }
  const outShape = conv2dOutputShape(inputShape, ws, p);
  const T = targetsOf(dy.shape, outShape, 'conv2dBackward');
  const [N, Cin, H, W] = inputShape;
  const dxShape = [T * N, Cin, H, W];
  e.checkFits(dxShape, 'conv2d:dx');
  const cfg = conv2dConfig(e);
  const undilated = p.dilation.every((d) => d === 1);
  const kernel =
    opts.kernel ?? (cfg.tiled && undilated ? (cfg.gemm && Cin / p.groups >= 4 ? 'gemm' : 'conv') : 'gather');
  const wg = opts.wg ?? (kernel === 'conv' ? cfg.wg : WG);
  checkWG(wg, e.limits.maxComputeInvocationsPerWorkgroup, 'conv2dBackward');
  if (kernel === 'conv' || kernel === 'gemm') {
    if (!undilated) {
      throw new InvalidInputError(
        `conv2dBackward: kernel '${kernel}' needs dilation 1, the conv has dilation [${p.dilation}]`,
      );
    }
    const co = opts.co ?? cfg.co;
    if (co !== 4 && co !== 8) throw new InvalidInputError(`conv2dBackward: co must be 4 or 8, got ${co}`);
    const tile =
      kernel === 'gemm' ? checkGemmTile(opts.tile ?? cfg.gemm ?? GEMM_TILE, e.limits, 'conv2dBackward') : null;
    const { pw, temp } = await packedOf(e, w, p.groups);
    const [sh, sw] = p.stride;
    const rows = phases(H, sh, p.pads[0], ws[2]);
    const cols = phases(W, sw, p.pads[1], ws[3]);
    const gaps = rows.some((r) => r.nk === 0) || cols.some((c) => c.nk === 0);
    const single = rows.length === 1 && cols.length === 1;
    const dx = single ? null : gaps ? e.zeros(dxShape, 'conv2d:dx') : e.empty(dxShape, 'conv2d:dx');
    try {
      let out: Tensor | null = dx;
      for (const ph of rows) {
        for (const pc of cols) {
          if (ph.nk === 0 || pc.nk === 0) continue;
          const wt = await packPhase(e, pw, sh, sw, ph, pc);
          try {
            // dx (this phase) = conv(dy, wt) with pads nK − 1 − q, output m rows × m columns.
            const pb: Conv2dParams = {
              stride: [1, 1],
              dilation: [1, 1],
              groups: p.groups,
              pads: [ph.pad, pc.pad, 0, 0],
            };
            const place = dx ? { y: dx, ysh: sh, ysw: sw, yoh: ph.r, yow: pc.r } : undefined;
            const dxShape1 = [T * N, Cin, ph.m, pc.m];
            if (tile) {
              out = await gemm(e, dy, wt, null, pb, dxShape1, tile, false, 'conv2d:dx', place);
            } else {
              const three = single && ph.nk === 3 && pc.nk === 3;
              const variant = { kernel: three ? '3x3' : 'tiled', co: Cin / p.groups > 4 ? co : 4, ow: 4, wg } as const;
              out = await tiled(e, dy, wt, null, pb, dxShape1, variant, false, 'conv2d:dx', place);
            }
          } finally {
            wt.data.destroy();
          }
        }
      }
      return out!;
    } catch (err) {
      dx?.destroy();
      throw err;
    } finally {
      if (temp) pw.data.destroy();
    }
  }
  if (kernel !== 'gather') throw new InvalidInputError(`conv2dBackward: unknown kernel '${kernel as string}'`);
  const { t, temp } = await unpacked(e, w);
  try {
    const count = T * N * Cin * H * W;
    const k = await e.kernel(GATHER, { overrides: { WG: wg } });
    const dx = e.empty(dxShape, 'conv2d:dx');
    e.dispatch(k, { dy, w: t, dx }, { count, ...geometry(inputShape, ws, outShape, p) }, grid1d(count, wg));
    return dx;
  } finally {
    if (temp) t.destroy();
  }
}
