/**
 * The overlay on the CPU: colour an attribution map with a colormap and blend it over an image,
 * giving RGBA bytes laid out like ImageData.data. Same rules as shaders/overlay.wgsl.
 */
import { colormapLUT, LUT_SIZE } from '../render/colormaps';
import type { HostTensor } from './tensor';

export interface OverlayOptions {
  colormap: string;
  /** Weight of the map's colour in [0, 1]; ignored without an image. */
  opacity: number;
  /** Which map of a [T, H, W] stack (default 0). */
  target?: number;
}

/**
 * map: [H, W] or [T, H, W] (opts.target picks one), values in [0, 1] (clamped). image: [3, H, W] or [1, 3, H, W] RGB
 * in [0, 1], or null for the colormap alone. Returns H·W·4 bytes (r, g, b, 255 per pixel).
 */
export function overlay(map: HostTensor, image: HostTensor | null, opts: OverlayOptions): Uint8ClampedArray {
  const H = map.shape.at(-2)!;
  const W = map.shape.at(-1)!;
  if (image && (image.shape.at(-3) !== 3 || image.shape.at(-2) !== H || image.shape.at(-1) !== W)) {
    throw new Error(`overlay: image [${image.shape}] does not match map [${map.shape}]`);
  }
  // Colours in byte units (0..255), rounded to float32 like the GPU's copy of the LUT.
  const lut255 = colormapLUT(opts.colormap).map((v) => 255 * v);
  const a = opts.opacity;
  const offset = (opts.target ?? 0) * H * W;
  const out = new Uint8ClampedArray(H * W * 4);
  for (let p = 0; p < H * W; p++) {
    // Which of the 256 entries: 256 equal bins over [0, 1], with v = 1 in the last one.
    const v = Math.min(1, Math.max(0, map.data[offset + p]));
    const k = Math.min(LUT_SIZE - 1, Math.floor(v * LUT_SIZE));
    for (let c = 0; c < 3; c++) {
      const colour = lut255[3 * k + c];
      const blended = image ? (1 - a) * 255 * image.data[c * H * W + p] + a * colour : colour;
      // Round half up to a byte.
      out[4 * p + c] = Math.floor(Math.min(255, Math.max(0, blended)) + 0.5);
    }
    out[4 * p + 3] = 255;
  }
  return out;
}
