/**
 * Images as the engine takes them (RGBA8 pixels, row-major, the layout of ImageData) and the
 * rules of turning one into a model input: the region that is resized and the checks. Pure (no
 * GPU): the GPU preprocessing (src/ops/preprocess.ts) and its CPU reference share them.
 */
import { ImageTooLargeError, InvalidInputError } from './errors';

/**
 * The pixel budget: the most pixels (width × height) an image may have, in preprocessImage()
 * and in the demo before it decodes a file. 2^25 = 33,554,432 pixels (8192 × 4096, or a
 * 32-megapixel photo): 128 MiB of RGBA8, the storage binding size every WebGPU device offers.
 * Larger images are refused with ImageTooLargeError before anything is decoded, copied or
 * uploaded; callers with more pixels scale them down first.
 */
export const MAX_IMAGE_PIXELS = 2 ** 25;

/** Throws ImageTooLargeError when width × height exceeds `maxPixels`. */
export function checkPixelBudget(width: number, height: number, maxPixels = MAX_IMAGE_PIXELS, what = 'image'): void {
  if (width * height > maxPixels) throw new ImageTooLargeError(width, height, maxPixels, what);
}

/** The image file formats whose size readImageHeader() reads. */
export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp' | 'avif';
export const IMAGE_FORMATS: readonly ImageFormat[] = ['png', 'jpeg', 'gif', 'webp', 'bmp', 'avif'];

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
}

/**
 * The format and pixel size of an image file, read from its header without decoding it: PNG
 * (IHDR), JPEG (the first SOF segment), GIF (the logical screen), WebP (VP8, VP8L or VP8X), BMP
 * (the DIB header), AVIF (the first 'ispe' property). Null when `bytes` is none of these, or ends
 * before the size (a JPEG's SOF can follow large metadata segments: give more of the file).
 */
export function readImageHeader(bytes: Uint8Array): ImageHeader | null {
  const b = bytes;
  const n = b.length;
  const u16be = (i: number) => (b[i] << 8) | b[i + 1];
  const u16le = (i: number) => b[i] | (b[i + 1] << 8);
  const u24le = (i: number) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
  const u32be = (i: number) => ((b[i] << 24) >>> 0) + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]);
  const i32le = (i: number) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
  const ascii = (i: number, len: number) => String.fromCharCode(...b.subarray(i, i + len));
  const header = (format: ImageFormat, width: number, height: number): ImageHeader | null =>
    width > 0 && height > 0 ? { format, width, height } : null;

  if (n >= 24 && b[0] === 0x89 && ascii(1, 3) === 'PNG' && ascii(12, 4) === 'IHDR') {
    return header('png', u32be(16), u32be(20));
  }
  if (n >= 10 && (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a')) return header('gif', u16le(6), u16le(8));
  if (n >= 26 && ascii(0, 2) === 'BM') {
    if (i32le(14) === 12) return header('bmp', u16le(18), u16le(20));
    return header('bmp', Math.abs(i32le(18)), Math.abs(i32le(22)));
  }
  if (n >= 30 && ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') {
    const chunk = ascii(12, 4);
    if (chunk === 'VP8 ' && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
      return header('webp', u16le(26) & 0x3fff, u16le(28) & 0x3fff);
    }
    if (chunk === 'VP8L' && b[20] === 0x2f) {
      const bits = (b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24)) >>> 0;
      return header('webp', (bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
    }
    if (chunk === 'VP8X') return header('webp', u24le(24) + 1, u24le(27) + 1);
    return null;
  }
  if (n >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 4 <= n) {
      if (b[i] !== 0xff) return null; // not at a marker: malformed
      const m = b[i + 1];
      if (m === 0xff) {
        i++; // fill byte
        continue;
      }
      if (m === 0x01 || (m >= 0xd0 && m <= 0xd8)) {
        i += 2; // markers without a length
        continue;
      }
      if (m === 0xd9 || m === 0xda) return null; // end of image, or scan data before any frame header
      const len = u16be(i + 2);
      const sof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
      if (sof) return i + 9 <= n ? header('jpeg', u16be(i + 7), u16be(i + 5)) : null;
      if (len < 2) return null;
      i += 2 + len;
    }
    return null;
  }
  if (n >= 12 && ascii(4, 4) === 'ftyp' && /avi[fs]/.test(ascii(8, Math.min(n - 8, u32be(0) - 8)))) {
    // The first 'ispe' (image spatial extent) box: size, 'ispe', version and flags, width, height.
    for (let i = 4; i + 16 <= n; i++) {
      if (b[i] === 0x69 && ascii(i, 4) === 'ispe') return header('avif', u32be(i + 8), u32be(i + 12));
    }
    return null;
  }
  return null;
}

/**
 * Check an image file before decoding it: its size from the header (readImageHeader), against
 * the pixel budget. Returns the header; throws ImageTooLargeError over the budget, and
 * InvalidInputError when the size cannot be read (not one of IMAGE_FORMATS, or truncated).
 */
export function checkImageFile(bytes: Uint8Array, opts: { name?: string; maxPixels?: number } = {}): ImageHeader {
  const name = opts.name ?? 'the image';
  const h = readImageHeader(bytes);
  if (!h) {
    throw new InvalidInputError(
      `${name}: its pixel size cannot be read from the file header (${IMAGE_FORMATS.join(', ')} files can be read)`,
    );
  }
  checkPixelBudget(h.width, h.height, opts.maxPixels ?? MAX_IMAGE_PIXELS, `${name} (${h.format})`);
  return h;
}

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

/**
 * The checks of preprocessImage(), before anything is copied or uploaded: a positive integer
 * size within the pixel budget (MAX_IMAGE_PIXELS, ImageTooLargeError), data of that size, and
 * the options.
 */
export function checkImage(image: ImageInput, opts: PreprocessOptions): void {
  if (typeof image !== 'object' || image === null) throw new InvalidInputError(`image must be { data, width, height }`);
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new InvalidInputError(`image size ${width}×${height} is not a positive integer size`);
  }
  checkPixelBudget(width, height);
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray)) {
    throw new InvalidInputError('image data must be a Uint8Array or Uint8ClampedArray of RGBA8 pixels');
  }
  if (data.length !== width * height * 4) {
    throw new InvalidInputError(
      `image data has ${data.length} bytes; ${width}×${height} RGBA needs ${width * height * 4}`,
    );
  }
  if (typeof opts !== 'object' || opts === null || !Array.isArray(opts.size) || opts.size.length !== 2) {
    throw new InvalidInputError('preprocess options need size: [H, W]');
  }
  const [H, W] = opts.size;
  if (!Number.isInteger(H) || !Number.isInteger(W) || H < 1 || W < 1) {
    throw new InvalidInputError(`preprocess size [${opts.size}] must be two positive integers`);
  }
  if (opts.fit && opts.fit !== 'stretch' && opts.fit !== 'center-crop') {
    throw new InvalidInputError(`fit '${opts.fit}' is not one of 'stretch', 'center-crop'`);
  }
  for (const m of opts.mean ?? []) {
    if (!Number.isFinite(m)) throw new InvalidInputError(`normalisation mean [${opts.mean}] must be finite`);
  }
  for (const s of opts.std ?? []) {
    if (!(s > 0 && s < Infinity))
      throw new InvalidInputError(`normalisation std [${opts.std}] must be positive and finite`);
  }
}
