/**
 * Images as the page handles them: RGBA8 pixels in ImageData layout, decoded from files, blobs
 * and URLs by the browser. Transparent pixels are composited over white (the models see RGB).
 * Before anything is decoded, the pixel size is read from the file's header and checked against
 * the library's pixel budget (MAX_IMAGE_PIXELS, src/core/image.ts): a small file that would
 * decode to gigabytes is refused with ImageTooLargeError, and a file whose size cannot be read
 * from its header is refused too.
 */
import { checkImageFile, readImageHeader, type ImageInput } from '../src/core/image';

export interface RGBAImage extends ImageInput {
  data: Uint8ClampedArray;
  /** [width, height] of the file when it was scaled down before upload (see MAX_PIXELS). */
  scaledFrom?: [number, number];
}

/**
 * Larger images are scaled down (by the browser, high quality) before they are uploaded: the
 * model sees 96×96 or so anyway, and a 16 MB upload is kinder to small GPUs than 200 MB.
 */
export const MAX_PIXELS = 2048 * 2048;

/** An image the user can explain, with where it came from. */
export interface ImageSource {
  /** Shown in captions. */
  name: string;
  kind: 'sample' | 'scene' | 'file';
  /** The pixels (called when a run starts, so a scene being dragged is read once per run). */
  pixels(): RGBAImage;
  /** Ground-truth items (samples and scenes), in the image's pixel coordinates. */
  items?(): { class: number; label: string; box: [number, number, number, number] }[];
}

export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
}

function context2d(w: number, h: number): CanvasRenderingContext2D {
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  const g = c.getContext('2d', { willReadFrequently: true });
  if (!g) throw new Error("canvas.getContext('2d') returned null");
  return g;
}

/** Pixels of a decoded bitmap, over white, scaled down only when larger than `maxPixels`. */
export function bitmapPixels(bitmap: ImageBitmap | HTMLImageElement, maxPixels = MAX_PIXELS): RGBAImage {
  let w = bitmap.width;
  let h = bitmap.height;
  if (w * h > maxPixels) {
    const s = Math.sqrt(maxPixels / (w * h));
    w = Math.max(1, Math.floor(w * s));
    h = Math.max(1, Math.floor(h * s));
  }
  const g = context2d(w, h);
  g.fillStyle = '#fff';
  g.fillRect(0, 0, w, h);
  g.imageSmoothingQuality = 'high';
  g.drawImage(bitmap, 0, 0, w, h);
  const d = g.getImageData(0, 0, w, h);
  const scaled = w !== bitmap.width || h !== bitmap.height;
  return { data: d.data, width: w, height: h, ...(scaled ? { scaledFrom: [bitmap.width, bitmap.height] } : {}) };
}

/** How much of a file is read first for its header (a JPEG's size may follow more metadata: then all of it). */
const HEADER_BYTES = 1 << 20;

/**
 * The size of an image file from its header, checked against the pixel budget before it is
 * decoded: ImageTooLargeError over the budget, InvalidInputError when the size cannot be read.
 */
export async function checkImageBlob(blob: Blob, name = 'image'): Promise<{ width: number; height: number }> {
  let bytes = new Uint8Array(await blob.slice(0, HEADER_BYTES).arrayBuffer());
  if (!readImageHeader(bytes) && blob.size > HEADER_BYTES) bytes = new Uint8Array(await blob.arrayBuffer());
  return checkImageFile(bytes, { name: `'${name}'` });
}

/**
 * Decode an image file or blob: PNG, JPEG, GIF, WebP, BMP or AVIF within the pixel budget
 * (checkImageBlob), scaled down to `maxPixels` when larger.
 */
export async function decodeBlob(blob: Blob, name = 'image', maxPixels?: number): Promise<RGBAImage> {
  await checkImageBlob(blob, name);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (e) {
    throw new ImageDecodeError(
      `'${name}' could not be read as an image (${blob.type || 'unknown type'}): ${(e as Error).message}`,
    );
  }
  try {
    return bitmapPixels(bitmap, maxPixels);
  } finally {
    bitmap.close();
  }
}

export async function decodeUrl(url: string, name = url): Promise<RGBAImage> {
  const res = await fetch(url);
  if (!res.ok) throw new ImageDecodeError(`'${name}': HTTP ${res.status}`);
  return decodeBlob(await res.blob(), name);
}

/** Draw RGBA pixels into a 2-D canvas at their own size. */
export function putPixels(canvas: HTMLCanvasElement, img: RGBAImage): CanvasRenderingContext2D {
  canvas.width = img.width;
  canvas.height = img.height;
  const g = canvas.getContext('2d');
  if (!g) throw new Error("canvas.getContext('2d') returned null");
  g.putImageData(new ImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
  return g;
}
