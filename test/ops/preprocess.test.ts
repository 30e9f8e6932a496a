import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/core/errors';
import { fitRegion, type ImageInput } from '../../src/core/image';
import { preprocessImage } from '../../src/ops/preprocess';
import * as ref from '../../src/reference/preprocess';
import { expectAllclose, F64 } from '../util/compare';
import { getEngine } from '../util/gpu';
import { rng } from '../util/random';

function randomImage(width: number, height: number, seed: number): ImageInput {
  const r = rng(seed);
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(r() * 256);
  return { data, width, height };
}

/** A one-row gray image from values 0..255 (R = G = B = v). */
function grayRow(values: number[]): ImageInput {
  const data = new Uint8ClampedArray(values.length * 4);
  values.forEach((v, i) => data.set([v, v, v, 255], i * 4));
  return { data, width: values.length, height: 1 };
}

describe('preprocessing reference', () => {
  it('upscaling is bilinear with half-pixel centres and clamped edges', () => {
    // 2 pixels → 4: output centres at source 0.25, 0.75, 1.25, 1.75 (pixel centres 0.5, 1.5):
    // 0.25 and 0.75 lie left of / between … → [a, 0.75a + 0.25b, 0.25a + 0.75b, b].
    const out = ref.preprocessImage(grayRow([0, 255]), { size: [1, 4] });
    expectAllclose(out.data.subarray(0, 4), [0, 0.25, 0.75, 1], F64, 'upscaled row');
  });

  it('downscaling widens the triangle filter (antialiasing)', () => {
    // 4 pixels → 2, scale 2: output 0 is centred at 1.0 with support 2, reading pixels 0, 1, 2
    // with weights 1 − |j + 0.5 − 1|/2 = 0.75, 0.75, 0.25 (normalised by 1.75).
    const v = [0, 255, 255, 0];
    const out = ref.preprocessImage(grayRow(v), { size: [1, 2] });
    const want0 = (0.75 * 0 + 0.75 * 1 + 0.25 * 1) / 1.75;
    const want1 = (0.25 * 1 + 0.75 * 1 + 0.75 * 0) / 1.75;
    expectAllclose(out.data.subarray(0, 2), [want0, want1], F64, 'downscaled row');
  });

  it('normalises with mean and std per channel; center-crop takes the middle', () => {
    expect(fitRegion(200, 100, 10, 10, 'center-crop')).toEqual({ x0: 50, y0: 0, w: 100, h: 100 });
    expect(fitRegion(100, 300, 10, 20, 'center-crop')).toEqual({ x0: 0, y0: 125, w: 100, h: 50 });
    const img = { data: new Uint8ClampedArray([255, 0, 51, 255]), width: 1, height: 1 };
    const out = ref.preprocessImage(img, { size: [1, 1], mean: [0.5, 0.5, 0.5], std: [0.5, 0.25, 0.2] });
    expectAllclose(out.data, [1, -2, -1.5], F64, 'normalised pixel');
  });
});

describe('preprocessing on the GPU equals the reference', () => {
  it.each([
    ['downscale, stretch', 37, 23, [16, 20], 'stretch'],
    ['downscale, center-crop of a wide image', 200, 50, [24, 24], 'center-crop'],
    ['upscale', 5, 3, [11, 9], 'stretch'],
    ['tall image, center-crop, large factor', 40, 300, [12, 10], 'center-crop'],
  ] as const)('%s', async (_name, w, h, size, fit) => {
    const e = await getEngine();
    const img = randomImage(w, h, w * 1000 + h);
    const opts = {
      size: [...size] as [number, number],
      fit,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
    } as const;
    await e.scope(async () => {
      const x = await preprocessImage(e, img, opts);
      expect(x.shape).toEqual([1, 3, ...size]);
      // Not a named tolerance: a 2-D filter of up to 60×60 taps, then ÷ std ≈ 0.225;
      // f32Reduction(3600, 1 / 0.225) would allow 5 times more than this test always has.
      const tol = { atol: 1e-5, rtol: 1e-5 };
      expectAllclose(await x.read(), ref.preprocessImage(img, opts).data, tol, 'input tensor');
    });
    expect(e.liveTensors).toBe(0);
  });

  it('bad images get typed errors and the engine stays usable', async () => {
    const e = await getEngine();
    const img = randomImage(4, 4, 1);
    await expect(preprocessImage(e, { ...img, width: 5 }, { size: [2, 2] })).rejects.toThrow(InvalidInputError);
    await expect(preprocessImage(e, { ...img, width: 5 }, { size: [2, 2] })).rejects.toThrow(
      /64 bytes; 5×4 RGBA needs 80/,
    );
    await expect(preprocessImage(e, img, { size: [0, 2] })).rejects.toThrow(/positive integers/);
    await expect(preprocessImage(e, img, { size: [2, 2], std: [1, 0, 1] })).rejects.toThrow(/std/);
    const x = await preprocessImage(e, img, { size: [2, 2] });
    expect((await x.read()).length).toBe(12);
    x.destroy();
    expect(e.liveTensors).toBe(0);
  });
});
