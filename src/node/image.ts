/**
 * Image files in Node: PNG (pngjs) and JPEG (jpeg-js) bytes to the RGBA8 pixels the engine takes
 * (ImageInput), and RGBA8 pixels to PNG bytes. No GPU; Node only (the package's `node` entry,
 * src/node.ts, and the CLI). In a page the browser decodes images (createImageBitmap, a canvas).
 */
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { InvalidInputError } from '../core/errors';
import type { ImageInput } from '../core/image';

const { PNG } = pngjs;

/** RGBA8 pixels with their size, as decodeImage() returns them. */
export interface DecodedImage extends ImageInput {
  data: Uint8Array;
  /** The file's format. */
  format: 'png' | 'jpeg';
}

export interface DecodeOptions {
  /** Colour that transparent pixels are composited over, [r, g, b] in 0…255 (default white, as in the demo page). */
  background?: readonly [number, number, number];
  /** Files with more pixels than this are refused (default 100 million, jpeg-js's own limit). */
  maxPixels?: number;
  /** Named in error messages (default 'the image'). */
  name?: string;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** 'png', 'jpeg' or null, from the file's first bytes. */
export function imageFormat(bytes: Uint8Array): 'png' | 'jpeg' | null {
  if (PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

/** Width and height from a PNG's IHDR chunk (checked before anything is decoded). */
function pngSize(bytes: Uint8Array): [number, number] | null {
  if (bytes.length < 24) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return [v.getUint32(16), v.getUint32(20)];
}

/**
 * Decode PNG or JPEG bytes to RGBA8 pixels, transparent pixels composited over `background`.
 * Throws InvalidInputError naming the file for anything else, a damaged file, or one over `maxPixels`.
 */
export function decodeImage(bytes: Uint8Array, opts: DecodeOptions = {}): DecodedImage {
  const name = opts.name ?? 'the image';
  const maxPixels = opts.maxPixels ?? 100e6;
  const format = imageFormat(bytes);
  if (!format) throw new InvalidInputError(`${name} is not a PNG or JPEG file`);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width: number;
  let height: number;
  let data: Uint8Array;
  try {
    if (format === 'png') {
      const size = pngSize(bytes);
      if (size && size[0] * size[1] > maxPixels)
        throw new Error(`${size[0]}×${size[1]} is more than ${maxPixels} pixels`);
      const png = PNG.sync.read(buf);
      ({ width, height } = png);
      data = new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength);
    } else {
      const img = jpeg.decode(buf, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: maxPixels / 1e6,
        maxMemoryUsageInMB: Math.max(512, (maxPixels * 8) / 2 ** 20),
      });
      ({ width, height, data } = img);
    }
  } catch (e) {
    throw new InvalidInputError(`${name} cannot be decoded as ${format.toUpperCase()}: ${(e as Error).message}`);
  }
  if (width * height > maxPixels)
    throw new InvalidInputError(`${name} is ${width}×${height}, more than ${maxPixels} pixels`);
  composite(data, opts.background ?? [255, 255, 255]);
  return { data, width, height, format };
}

/** Blend every pixel over an opaque background colour, in place; alpha becomes 255. */
function composite(data: Uint8Array, [r, g, b]: readonly [number, number, number]): void {
  for (let i = 0; i < data.length; i += 4) {
    const a = data[i + 3];
    if (a === 255) continue;
    const t = a / 255;
    data[i] = Math.round(data[i] * t + r * (1 - t));
    data[i + 1] = Math.round(data[i + 1] * t + g * (1 - t));
    data[i + 2] = Math.round(data[i + 2] * t + b * (1 - t));
    data[i + 3] = 255;
  }
}

/** PNG bytes of RGBA8 pixels (width·height·4, row-major: ImageData's layout, readRGBA()'s output). */
export function encodePNG(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Uint8Array {
  if (rgba.length !== width * height * 4) {
    throw new InvalidInputError(
      `encodePNG: ${rgba.length} bytes for a ${width}×${height} RGBA image (${width * height * 4} expected)`,
    );
  }
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return PNG.sync.write(png);
}
