/**
 * Display helpers for the quantities behind a map, all on the GPU so nothing is read back just
 * to be shown: a few channels of a [B, K, h, w] tensor scaled to [0, 1] (feed them to overlay()
 * with any colormap), Grad-CAM++'s per-position coefficients for a few channels, and a signed
 * input-gradient map (Guided Backprop, Guided Grad-CAM) as an RGB image for drawToCanvas().
 * Shaders: normalize_channels.wgsl, gradcampp_alpha.wgsl, guided_rgb.wgsl. CPU reference:
 * src/reference/display.ts.
 */
import type { Recorder } from '../gpu/recorder';
import { grid1d } from '../gpu/engine';
import { InvalidInputError, ShapeMismatchError } from '../core/errors';
import { defineKernel } from '../gpu/kernel';
import { type Tensor } from '../gpu/tensor';
import { shapeStr } from '../core/shape';
import type { ChannelScale } from './colormaps';
import { FINITE, GRADCAMPP, MINMAX_REDUCE, SUM_MAX_REDUCE } from '../ops/includes';
import normalizeCode from '../../shaders/normalize_channels.wgsl?raw';
import alphaCode from '../../shaders/gradcampp_alpha.wgsl?raw';
import guidedCode from '../../shaders/guided_rgb.wgsl?raw';

const WG_REDUCE = 64; // `override WG` of normalize_channels.wgsl and gradcampp_alpha.wgsl
const WG_RGB = 256; // `override WG` of guided_rgb.wgsl

const NORMALIZE = defineKernel({
  name: 'normalize_channels',
  code: normalizeCode,
  params: { count: 'u32', k: 'u32', z: 'u32', base: 'u32', mode: 'u32' },
  bindings: ['src', 'ids', 'out'],
  includes: [FINITE, MINMAX_REDUCE],
});
const ALPHA = defineKernel({
  name: 'gradcampp_alpha',
  code: alphaCode,
  params: { count: 'u32', k: 'u32', z: 'u32', a_base: 'u32', g_base: 'u32' },
  bindings: ['A', 'G', 'ids', 'out'],
  includes: [FINITE, GRADCAMPP, SUM_MAX_REDUCE],
});
const GUIDED_RGB = defineKernel({
  name: 'guided_rgb',
  code: guidedCode,
  params: { height: 'u32', width: 'u32', row_stride: 'u32', offset: 'u32' },
  bindings: ['maps', 'rgba'],
  includes: [FINITE, SUM_MAX_REDUCE],
});

/** 'minmax': (v − min)/(max − min) per channel; 'signed': 0.5 + 0.5·v/max|v| (zero at the middle). */
export type { ChannelScale };

function checkRank4(t: Tensor, what: string): [number, number, number, number] {
  if (t.rank !== 4)
    throw new ShapeMismatchError(`${what}: '${t.label}' must be [B, K, h, w], got ${shapeStr(t.shape)}`);
  return t.shape as [number, number, number, number];
}

function checkIds(ids: readonly number[], k: number, what: string): void {
  if (ids.length === 0) throw new InvalidInputError(`${what}: no channels chosen`);
  for (const c of ids) {
    if (!Number.isInteger(c) || c < 0 || c >= k) {
      throw new InvalidInputError(`${what}: channel ${c} is not a channel index (0 … ${k - 1})`);
    }
  }
}

function checkRow(row: number, rows: number, what: string): void {
  if (!Number.isInteger(row) || row < 0 || row >= rows) {
    throw new InvalidInputError(`${what}: row ${row} is out of range (0 … ${rows - 1})`);
  }
}

/**
 * Channels `ids` of row `row` of `src` [B, K, h, w], each scaled to [0, 1] on its own (`scale`).
 * Returns a new tensor [M, h, w], M = ids.length: draw map m with overlay(…, { target: m }).
 */
export async function normalizeChannels(
  e: Recorder,
  src: Tensor,
  ids: readonly number[],
  opts: { row?: number; scale: ChannelScale },
): Promise<Tensor> {
  const [B, K, h, w] = checkRank4(src, 'normalizeChannels');
  const row = opts.row ?? 0;
  checkIds(ids, K, 'normalizeChannels');
  checkRow(row, B, 'normalizeChannels');
  if (opts.scale !== 'minmax' && opts.scale !== 'signed') {
    throw new InvalidInputError(`normalizeChannels: scale '${opts.scale}' is not 'minmax' or 'signed'`);
  }
  const z = h * w;
  const kern = await e.kernel(NORMALIZE, { overrides: { WG: WG_REDUCE } });
  const idt = e.upload(ids, [ids.length], 'channel-ids');
  const out = e.empty([ids.length, h, w], `${src.label}:channels`);
  e.dispatch(
    kern,
    { src, ids: idt, out },
    { count: ids.length, k: K, z, base: row * K * z, mode: opts.scale === 'minmax' ? 0 : 1 },
    grid1d(ids.length, 1),
  );
  idt.destroy(); // recorded; a reuse of the pooled buffer is ordered after this dispatch
  return out;
}

/**
 * Grad-CAM++'s a^k_ij = g²/(2g² + S_k·g³) (0 where the denominator is 0) for channels `ids` of
 * gradient row `row` of G [B, K, h, w]; A [N, K, h, w] are the layer's activations, row b
 * belongs to image b % N. Returns a new tensor [M, h, w]. Σ_ij a·ReLU(g) is Grad-CAM++'s weight.
 */
export async function gradcamppAlpha(
  e: Recorder,
  A: Tensor,
  G: Tensor,
  ids: readonly number[],
  row = 0,
): Promise<Tensor> {
  const [N, K, h, w] = checkRank4(A, 'gradcamppAlpha');
  const [B, KG, hg, wg] = checkRank4(G, 'gradcamppAlpha');
  if (KG !== K || hg !== h || wg !== w || B % N !== 0) {
    throw new ShapeMismatchError(
      `gradcamppAlpha: gradients ${shapeStr(G.shape)} do not match activations ${shapeStr(A.shape)}`,
    );
  }
  checkIds(ids, K, 'gradcamppAlpha');
  checkRow(row, B, 'gradcamppAlpha');
  const z = h * w;
  const kern = await e.kernel(ALPHA, { overrides: { WG: WG_REDUCE } });
  const idt = e.upload(ids, [ids.length], 'channel-ids');
  const out = e.empty([ids.length, h, w], 'gradcam++:alpha');
  e.dispatch(
    kern,
    { A, G, ids: idt, out },
    { count: ids.length, k: K, z, a_base: (row % N) * K * z, g_base: row * K * z },
    grid1d(ids.length, 1),
  );
  idt.destroy();
  return out;
}

/**
 * Map `target` of a signed input-gradient stack `maps` [T, 3, H, W] (or [3, H, W]) as packed
 * RGBA8 [H, rowStride]: channel c → colour c, 0.5 + 0.5·v/max|v|, zero at mid-grey. Draw it
 * with drawToCanvas() (rowStride = canvasRowStride(W)) or read it with readRGBA().
 */
export async function guidedRGBA(
  e: Recorder,
  maps: Tensor,
  opts: { target?: number; rowStride?: number } = {},
): Promise<Tensor> {
  const s = maps.shape;
  const lead = s.length === 4 ? s[0] : s.length === 3 ? 1 : -1;
  if (lead < 0 || s.at(-3) !== 3) {
    throw new ShapeMismatchError(`guidedRGBA: maps must be [T, 3, H, W] or [3, H, W], got ${shapeStr(s)}`);
  }
  const H = s.at(-2)!;
  const W = s.at(-1)!;
  const target = opts.target ?? 0;
  checkRow(target, lead, 'guidedRGBA target');
  const rowStride = opts.rowStride ?? W;
  if (!Number.isInteger(rowStride) || rowStride < W) {
    throw new InvalidInputError(`guidedRGBA: rowStride must be an integer ≥ W = ${W}, got ${rowStride}`);
  }
  const kern = await e.kernel(GUIDED_RGB, { overrides: { WG: WG_RGB } });
  const rgba = e.empty([H, rowStride], 'guided:rgba');
  const u = { height: H, width: W, row_stride: rowStride, offset: target * 3 * H * W };
  e.dispatch(kern, { maps, rgba }, u, [1, 1, 1]);
  return rgba;
}
