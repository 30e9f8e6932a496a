/**
 * The display helpers of src/render/display.ts on the CPU, same names and argument order
 * (without the engine). Plain loops, float64.
 */
import type { ChannelScale } from '../render/colormaps';
import { gradcamppA } from '../methods/registry';
import { hostTensor, type HostTensor } from './tensor';

/** Channels `ids` of row `row` of src [B, K, h, w], each scaled to [0, 1]: [M, h, w]. */
export function normalizeChannels(
  src: HostTensor,
  ids: readonly number[],
  opts: { row?: number; scale: ChannelScale },
): HostTensor {
  const [, K, h, w] = src.shape;
  const Z = h * w;
  const row = opts.row ?? 0;
  const out = hostTensor([ids.length, h, w]);
  ids.forEach((k, m) => {
    const v = src.data.subarray((row * K + k) * Z, (row * K + k + 1) * Z);
    let lo = Infinity;
    let hi = -Infinity;
    for (const x of v) {
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
    const amax = Math.max(Math.abs(lo), Math.abs(hi));
    for (let j = 0; j < Z; j++) {
      out.data[m * Z + j] =
        opts.scale === 'minmax' ? (hi > lo ? (v[j] - lo) / (hi - lo) : 0) : amax > 0 ? 0.5 + (0.5 * v[j]) / amax : 0.5;
    }
  });
  return out;
}

/**
 * Grad-CAM++'s a^k_ij = g² / (2g² + S_k·g³), S_k = Σ_ab A^k_ab (0 where the denominator is 0),
 * for channels `ids` of gradient row `row` (image row % N): [M, h, w].
 */
export function gradcamppAlpha(A: HostTensor, G: HostTensor, ids: readonly number[], row = 0): HostTensor {
  const [N, K, h, w] = A.shape;
  const Z = h * w;
  const i = row % N;
  const out = hostTensor([ids.length, h, w]);
  ids.forEach((k, m) => {
    let S = 0;
    for (let ab = 0; ab < Z; ab++) S += A.data[(i * K + k) * Z + ab];
    for (let ij = 0; ij < Z; ij++) out.data[m * Z + ij] = gradcamppA(G.data[(row * K + k) * Z + ij], S);
  });
  return out;
}

/**
 * Map `target` of maps [T, 3, H, W] as RGBA bytes (ImageData layout, H·W·4):
 * byte = round(255·(0.5 + 0.5·v/max|v|)), 128-ish grey for zero; alpha 255.
 */
export function guidedRGBA(maps: HostTensor, opts: { target?: number } = {}): Uint8ClampedArray {
  const H = maps.shape.at(-2)!;
  const W = maps.shape.at(-1)!;
  const HW = H * W;
  const base = (opts.target ?? 0) * 3 * HW;
  let amax = 0;
  for (let j = 0; j < 3 * HW; j++) amax = Math.max(amax, Math.abs(maps.data[base + j]));
  const out = new Uint8ClampedArray(HW * 4);
  for (let p = 0; p < HW; p++) {
    for (let c = 0; c < 3; c++) {
      const u = amax > 0 ? 0.5 + (0.5 * maps.data[base + c * HW + p]) / amax : 0.5;
      out[4 * p + c] = Math.floor(Math.min(255, Math.max(0, 255 * u)) + 0.5);
    }
    out[4 * p + 3] = 255;
  }
  return out;
}
