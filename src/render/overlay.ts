/**
 * Overlay of an attribution map onto an image, on the GPU. Shader: overlay.wgsl. The result is
 * an RGBA8 image packed one pixel per 4-byte word in a Tensor of shape [H, rowStride]; draw it
 * with drawToCanvas() (no readback) or read it with readRGBA(). CPU reference:
 * src/reference/render.ts.
 */
import type { Engine } from '../gpu/engine';
import type { Recorder } from '../gpu/recorder';
import { grid1d } from '../gpu/engine';
import { InvalidInputError, ShapeMismatchError } from '../core/errors';
import { defineKernel } from '../gpu/kernel';
import { FINITE } from '../ops/includes';
import { type Tensor } from '../gpu/tensor';
import { shapeStr } from '../core/shape';
import overlayCode from '../../shaders/overlay.wgsl?raw';
import { checkColormap, colormapLUT, type ColormapName } from './colormaps';

const WG = 256; // matches `override WG` in overlay.wgsl

const OVERLAY = defineKernel({
  name: 'overlay',
  code: overlayCode,
  params: { height: 'u32', width: 'u32', row_stride: 'u32', opacity: 'f32', map_offset: 'u32' },
  bindings: ['attr', 'lut', 'rgba', 'img'],
  includes: [FINITE],
});

export interface OverlayOptions {
  /** One of COLORMAPS. */
  colormap: string;
  /** Weight of the map's colour in [0, 1]: out = (1 − opacity)·image + opacity·colour. Ignored without an image. */
  opacity: number;
  /** Words per output row, ≥ W (default W). Use canvasRowStride(W) for drawToCanvas(). */
  rowStride?: number;
  /** Which map of a [T, H, W] stack to draw (default 0). */
  target?: number;
}

/** [T, H, W] of a map given as [H, W] or [T, H, W]. */
function mapSize(map: Tensor): [number, number, number] {
  const s = map.shape;
  if (s.length === 2) return [1, s[0], s[1]];
  if (s.length === 3) return [s[0], s[1], s[2]];
  throw new ShapeMismatchError(`overlay: map must be [H, W] or [T, H, W], got ${shapeStr(s)}`);
}

/**
 * Colour `map` ([H, W], or [T, H, W] with opts.target choosing one; values in [0, 1], clamped)
 * with `opts.colormap` and blend it over `image`
 * ([3, H, W] or [1, 3, H, W] RGB in [0, 1]; null for the colormap alone). Returns a new Tensor
 * [H, rowStride] of packed RGBA8 pixels (r | g<<8 | b<<16 | 255<<24); padding words are 0.
 */
export async function overlay(e: Recorder, map: Tensor, image: Tensor | null, opts: OverlayOptions): Promise<Tensor> {
  const cm = checkColormap(opts.colormap, 'overlay');
  const [T, H, W] = mapSize(map);
  const target = opts.target ?? 0;
  if (!Number.isInteger(target) || target < 0 || target >= T) {
    throw new InvalidInputError(`overlay: target ${target} is not a map of ${shapeStr(map.shape)} (T = ${T})`);
  }
  if (image) {
    const s = image.shape;
    const ok = (s.length === 3 && s[0] === 3) || (s.length === 4 && s[0] === 1 && s[1] === 3);
    if (!ok || s.at(-2) !== H || s.at(-1) !== W) {
      throw new ShapeMismatchError(
        `overlay: image must be [3, ${H}, ${W}] or [1, 3, ${H}, ${W}] to match map ${shapeStr(map.shape)}, got ${shapeStr(s)}`,
      );
    }
  }
  const { opacity } = opts;
  if (typeof opacity !== 'number' || !(opacity >= 0 && opacity <= 1)) {
    throw new InvalidInputError(`overlay: opacity must be a number in [0, 1], got ${opacity}`);
  }
  const rowStride = opts.rowStride ?? W;
  if (!Number.isInteger(rowStride) || rowStride < W) {
    throw new InvalidInputError(`overlay: rowStride must be an integer ≥ W = ${W}, got ${rowStride}`);
  }

  const k = await e.kernel(OVERLAY, { defines: { IMAGE: !!image }, overrides: { WG } });
  const lut = lutBuffer(e, cm);
  const rgba = e.empty([H, rowStride], 'overlay:rgba');
  e.dispatch(
    k,
    { attr: map, lut, rgba, img: image },
    { height: H, width: W, row_stride: rowStride, opacity, map_offset: target * H * W },
    grid1d(H * rowStride, WG),
  );
  return rgba;
}

/**
 * Read a packed RGBA tensor from overlay() back as ImageData-style bytes (width·height·4, row
 * padding dropped). Runs pending GPU work first.
 */
export async function readRGBA(e: Recorder, rgba: Tensor, width: number, height: number): Promise<Uint8ClampedArray> {
  const rowStride = checkRGBA(rgba, width, height, 'readRGBA');
  const words = await e.read(rgba);
  const bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
  const out = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    out.set(bytes.subarray(y * rowStride * 4, (y * rowStride + width) * 4), y * width * 4);
  }
  return out;
}

/** Checks that `rgba` is [height, rowStride ≥ width]; returns rowStride. */
export function checkRGBA(rgba: Tensor, width: number, height: number, what: string): number {
  const s = rgba.shape;
  if (s.length !== 2 || s[0] !== height || s[1] < width) {
    throw new ShapeMismatchError(
      `${what}: RGBA tensor ${shapeStr(s)} does not hold a ${width}×${height} image (expected [${height}, rowStride ≥ ${width}])`,
    );
  }
  return s[1];
}

// Colormap LUTs on the GPU, uploaded once per engine and colormap. Plain GPUBuffers, not Tensors,
// so they never count as live tensors or fall to a scope; the engine destroys them (onDestroy).
const luts = new WeakMap<Engine, Map<ColormapName, GPUBuffer>>();

function lutBuffer(r: Recorder, name: ColormapName): GPUBuffer {
  const e = r.engine;
  let cache = luts.get(e);
  if (!cache) {
    const c = (cache = new Map());
    luts.set(e, c);
    e.onDestroy(() => {
      for (const b of c.values()) b.destroy();
      c.clear();
      luts.delete(e);
    });
  }
  let buf = cache.get(name);
  if (!buf) {
    // In byte units (0..255), as overlay.wgsl blends; the reference rounds to float32 the same way.
    const data = colormapLUT(name).map((v) => 255 * v);
    // Mapped at creation: the data is in place before any recorded work can run, whatever the queue order.
    buf = e.device.createBuffer({
      size: data.byteLength,
      usage: GPUBufferUsage.STORAGE,
      mappedAtCreation: true,
      label: `colormap:${name}`,
    });
    new Float32Array(buf.getMappedRange()).set(data);
    buf.unmap();
    cache.set(name, buf);
  }
  return buf;
}
