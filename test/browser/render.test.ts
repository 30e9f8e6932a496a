/**
 * The overlay drawn into a WebGPU canvas in headless Chromium has the pixels the CPU reference
 * (src/reference/render.ts, run here in Node) computes: the GPU buffer → canvas texture copy, the
 * canvas configuration and the byte order are all checked on what the page actually shows.
 */
import { describe, expect, it } from 'vitest';
import * as ref from '../../src/reference/render';
import { colormapLUT } from '../../src/render/colormaps';
import { hostTensor } from '../../src/reference/tensor';
import { rng } from '../util/random';
import { withPage } from './browser';
import type { RenderCanvasArg, RenderCanvasResult } from './cases/render';

const H = 9;
const W = 70; // more than 64 pixels: two 256-byte rows of padding logic, a partial second block

/**
 * Bytes equal, except ±1 where the float64 blend lies within 1e-3 of a rounding tie (the GPU
 * blends in float32; see shaders/overlay.wgsl). Returns the number of such bytes.
 */
function expectSameBytes(
  got: Uint8ClampedArray,
  want: Uint8ClampedArray,
  arg: RenderCanvasArg,
  draw: { colormap: string; opacity: number },
  what: string,
): number {
  expect(got.length, what).toBe(want.length);
  const lut255 = colormapLUT(draw.colormap).map((v) => 255 * v);
  let ties = 0;
  for (let i = 0; i < want.length; i++) {
    if (got[i] === want[i]) continue;
    const p = i >> 2;
    const c = i & 3;
    const k = Math.min(255, Math.floor(Math.min(1, Math.max(0, arg.map[p])) * 256));
    const x =
      c === 3
        ? 255
        : arg.image
          ? (1 - draw.opacity) * 255 * arg.image[c * H * W + p] + draw.opacity * lut255[3 * k + c]
          : lut255[3 * k + c];
    const nearTie = Math.abs(x - Math.floor(x) - 0.5) < 1e-3;
    if (!nearTie || Math.abs(got[i] - want[i]) > 1) {
      throw new Error(
        `${what}: byte ${i} (x ${p % W}, y ${Math.floor(p / W)}, ${'rgba'[c]}) is ${got[i]}, reference ${want[i]}`,
      );
    }
    ties++;
  }
  return ties;
}

describe('overlay drawn into a WebGPU canvas', () => {
  it.each([true, false])('equals the CPU reference (image: %s), drawn three times into one canvas', (withImage) =>
    withPage(async (page) => {
      const r = rng(withImage ? 31 : 32);
      const map = Float32Array.from({ length: H * W }, () => r());
      map.set([0, 1, 0.5, -0.5, 2]);
      const image = withImage ? Float32Array.from({ length: 3 * H * W }, () => r()) : null;
      const arg: RenderCanvasArg = {
        H,
        W,
        map,
        image,
        draws: [
          { colormap: 'turbo', opacity: 0.4 },
          { colormap: 'jet', opacity: 1 },
          { colormap: 'viridis', opacity: 0.75 },
        ],
      };
      const res = await page.run<RenderCanvasResult>('render-canvas', arg);
      expect(res.canvasSize).toEqual([W, H]);
      expect(res.format).toBe('rgba8unorm');
      expect(res.liveTensors).toBe(0);
      expect(res.draws.length).toBe(arg.draws.length);
      res.draws.forEach((d, n) => {
        const draw = arg.draws[n];
        const want = ref.overlay(hostTensor([H, W], map), image ? hostTensor([3, H, W], image) : null, draw);
        const what = `${draw.colormap} at opacity ${draw.opacity}`;
        const t1 = expectSameBytes(d.readback, want, arg, draw, `${what}, readRGBA`);
        const t2 = expectSameBytes(d.canvas, want, arg, draw, `${what}, canvas pixels`);
        if (!image || draw.opacity === 1) expect(t1 + t2).toBe(0);
        // the canvas shows exactly the buffer the overlay wrote
        expect(d.canvas).toEqual(d.readback);
      });
      page.assertNoErrors();
    }),
  );
});
