/**
 * Image preprocessing on the CPU: the region of an RGBA8 image chosen by `fit` is resized to
 * [H, W] with a triangle filter whose support widens with the downscale factor (antialiased
 * bilinear), then normalised per channel: (v/255 − mean) / std. See preprocess_image.wgsl.
 */
import { fitRegion, type ImageInput, type PreprocessOptions } from '../core/image';
import { hostTensor, type HostTensor } from './tensor';

/** The source pixels an output coordinate reads along one axis, with their normalised weights. */
function axisWeights(c: number, scale: number, size: number): { lo: number; w: number[] } {
  const s = Math.max(1, scale);
  const lo = Math.max(Math.floor(c - s), 0);
  const hi = Math.min(Math.ceil(c + s), size);
  const w: number[] = [];
  for (let j = lo; j < hi; j++) w.push(Math.max(0, 1 - Math.abs(j + 0.5 - c) / s));
  return { lo, w };
}

export function preprocessImage(image: ImageInput, opts: PreprocessOptions): HostTensor {
  const [H, W] = opts.size;
  const mean = opts.mean ?? [0, 0, 0];
  const std = opts.std ?? [1, 1, 1];
  const r = fitRegion(image.width, image.height, H, W, opts.fit ?? 'stretch');
  const sx = r.w / W;
  const sy = r.h / H;
  const out = hostTensor([1, 3, H, W]);
  for (let oy = 0; oy < H; oy++) {
    const ay = axisWeights(r.y0 + (oy + 0.5) * sy, sy, image.height);
    for (let ox = 0; ox < W; ox++) {
      const ax = axisWeights(r.x0 + (ox + 0.5) * sx, sx, image.width);
      const acc = [0, 0, 0];
      let wsum = 0;
      ay.w.forEach((ky, dj) => {
        ax.w.forEach((kx, di) => {
          const w = kx * ky;
          const at = ((ay.lo + dj) * image.width + (ax.lo + di)) * 4;
          for (let c = 0; c < 3; c++) acc[c] += w * image.data[at + c];
          wsum += w;
        });
      });
      for (let c = 0; c < 3; c++) {
        out.data[(c * H + oy) * W + ox] = (acc[c] / (255 * wsum) - mean[c]) / std[c];
      }
    }
  }
  return out;
}
