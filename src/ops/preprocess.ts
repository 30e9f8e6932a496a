/**
 * Image → model input on the GPU: resize (antialiased bilinear) and normalise an RGBA8 image in
 * one dispatch. Shader: preprocess_image.wgsl.
 */
import type { Engine } from '../gpu/engine';
import { grid1d } from '../gpu/engine';
import { InvalidInputError } from '../core/errors';
import { defineKernel } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import code from '../../shaders/preprocess_image.wgsl?raw';

const WG = 64; // matches `override WG` in preprocess_image.wgsl

/** RGBA8 pixels, row-major (the layout of ImageData). */
export interface ImageInput {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

export type Fit = 'stretch' | 'center-crop';

export interface PreprocessOptions {
  /** [H, W] of the model input. */
  size: [number, number];
  /** Per-channel mean and std of the normalisation (v/255 − mean)/std; default 0 and 1. */
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
  /** 'stretch' maps the whole image onto [H, W]; 'center-crop' takes the largest centred region of the input's aspect. */
  fit?: Fit;
}

/** The source region (in pixels, possibly fractional) that becomes the model input. */
export function fitRegion(
  srcW: number,
  srcH: number,
  H: number,
  W: number,
  fit: Fit,
): { x0: number; y0: number; w: number; h: number } {
  if (fit === 'stretch') return { x0: 0, y0: 0, w: srcW, h: srcH };
  const target = W / H;
  if (srcW / srcH > target) {
    const w = srcH * target;
    return { x0: (srcW - w) / 2, y0: 0, w, h: srcH };
  }
  const h = srcW / target;
  return { x0: 0, y0: (srcH - h) / 2, w: srcW, h };
}

export function checkImage(image: ImageInput, opts: PreprocessOptions): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new InvalidInputError(`image size ${width}×${height} is not a positive integer size`);
  }
  if (data.length !== width * height * 4) {
    throw new InvalidInputError(
      `image data has ${data.length} bytes; ${width}×${height} RGBA needs ${width * height * 4}`,
    );
  }
  const [H, W] = opts.size;
  if (!Number.isInteger(H) || !Number.isInteger(W) || H < 1 || W < 1) {
    throw new InvalidInputError(`preprocess size [${opts.size}] must be two positive integers`);
  }
  if (opts.fit && opts.fit !== 'stretch' && opts.fit !== 'center-crop') {
    throw new InvalidInputError(`fit '${opts.fit}' is not one of 'stretch', 'center-crop'`);
  }
  for (const s of opts.std ?? []) {
    if (!(s > 0)) throw new InvalidInputError(`normalisation std [${opts.std}] must be positive`);
  }
}

const PREPROCESS = defineKernel({
  name: 'preprocess_image',
  code,
  params: {
    src_w: 'u32',
    src_h: 'u32',
    H: 'u32',
    W: 'u32',
    x0: 'f32',
    y0: 'f32',
    sx: 'f32',
    sy: 'f32',
    mean_r: 'f32',
    mean_g: 'f32',
    mean_b: 'f32',
    std_r: 'f32',
    std_g: 'f32',
    std_b: 'f32',
  },
  bindings: ['src', 'dst'],
});

/** Returns the model input [1, 3, H, W]. */
export async function preprocessImage(e: Engine, image: ImageInput, opts: PreprocessOptions): Promise<Tensor> {
  checkImage(image, opts);
  const [H, W] = opts.size;
  const mean = opts.mean ?? [0, 0, 0];
  const std = opts.std ?? [1, 1, 1];
  const r = fitRegion(image.width, image.height, H, W, opts.fit ?? 'stretch');
  const kern = await e.kernel(PREPROCESS, { overrides: { WG } });
  const bytes = image.data;
  const src = e.uploadBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'image:rgba');
  const out = e.empty([1, 3, H, W], 'image');
  const [mean_r, mean_g, mean_b] = mean;
  const [std_r, std_g, std_b] = std;
  const u = {
    src_w: image.width,
    src_h: image.height,
    H,
    W,
    x0: r.x0,
    y0: r.y0,
    sx: r.w / W,
    sy: r.h / H,
    mean_r,
    mean_g,
    mean_b,
    std_r,
    std_g,
    std_b,
  };
  e.dispatch(kern, { src, dst: out }, u, grid1d(H * W, WG));
  src.destroy(); // recorded; a later reuse of the pooled buffer is ordered after this dispatch
  return out;
}
