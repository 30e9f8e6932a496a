/**
 * Image → model input on the GPU: resize (antialiased bilinear) and normalise an RGBA8 image in
 * one dispatch. Shader: preprocess_image.wgsl.
 */
import type { Recorder } from '../gpu/recorder';
import { grid1d } from '../gpu/engine';
import { checkImage, fitRegion, type ImageInput, type PreprocessOptions } from '../core/image';
import { defineKernel } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import code from '../../shaders/preprocess_image.wgsl?raw';

const WG = 64; // matches `override WG` in preprocess_image.wgsl

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

/**
 * Returns the model input [1, 3, H, W]. Every check (checkImage: the pixel budget, the data's
 * size, the options; the device's binding size for the pixels and the output) comes before
 * anything is copied or uploaded, and a failure leaves nothing allocated.
 */
export async function preprocessImage(e: Recorder, image: ImageInput, opts: PreprocessOptions): Promise<Tensor> {
  checkImage(image, opts);
  const [H, W] = opts.size;
  const mean = opts.mean ?? [0, 0, 0];
  const std = opts.std ?? [1, 1, 1];
  const r = fitRegion(image.width, image.height, H, W, opts.fit ?? 'stretch');
  e.checkFits([1, 3, H, W], 'image');
  const kern = await e.kernel(PREPROCESS, { overrides: { WG } });
  const bytes = image.data;
  // RGBA8 is a whole number of words: uploaded from the caller's pixels without a host copy.
  const src = e.uploadBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'image:rgba');
  let out: Tensor | null = null;
  try {
    out = e.empty([1, 3, H, W], 'image');
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
    return out;
  } catch (err) {
    out?.destroy();
    throw err;
  } finally {
    src.destroy(); // recorded; a later reuse of the pooled buffer is ordered after this dispatch
  }
}
