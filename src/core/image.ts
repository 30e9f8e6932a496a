/**
 * Images as the engine takes them (RGBA8 pixels, row-major, the layout of ImageData) and the
 * rules of turning one into a model input: the region that is resized and the checks. Pure (no
 * GPU): the GPU preprocessing (src/ops/preprocess.ts) and its CPU reference share them.
 */
import { InvalidInputError } from './errors';

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
