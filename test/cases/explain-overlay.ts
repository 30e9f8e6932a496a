/**
 * An explanation drawn as an overlay: Grad-CAM of the plain test network, coloured and blended
 * over a display image, on the GPU. The test compares the pixels with the CPU colormap + blend of
 * the CPU reference's map (src/reference/explain.ts + src/reference/render.ts).
 */
import type { Engine } from '../../src/gpu/engine';
import { Model } from '../../src/model/model';
import { explainReference } from '../../src/reference/explain';
import { RefModel } from '../../src/reference/model';
import { overlay as refOverlay } from '../../src/reference/render';
import { hostTensor } from '../../src/reference/tensor';
import { overlay, readRGBA } from '../../src/render/overlay';
import { rng, randn } from '../util/random';
import { NETS } from './nets';
import { explain } from '../../src/attribution/explain';

export const OVERLAY_CASE = { colormap: 'turbo', opacity: 0.6, target: 1 };

export function overlayInputs() {
  const spec = NETS.plain();
  const [c, h, w] = spec.input.shape;
  const r = rng(99);
  return {
    spec,
    x: randn(c * h * w, 98),
    display: Float32Array.from({ length: 3 * h * w }, () => r()),
    shape: [1, c, h, w],
  };
}

/** The GPU's overlay bytes of Grad-CAM for the 2nd of the top-3 classes (readRGBA). */
export async function gpuExplainOverlay(e: Engine): Promise<Uint8ClampedArray> {
  const { spec, x, display, shape } = overlayInputs();
  const model = await Model.load(e, spec);
  try {
    return await e.scope(async () => {
      const input = e.upload(x, shape);
      const image = e.upload(display, shape.slice(1), 'display');
      const r = await explain(model, input, { methods: ['gradcam'], targets: { topK: 3 } });
      const rgba = await overlay(e, r.maps.gradcam!.input, image, OVERLAY_CASE);
      const [, , h, w] = shape;
      return readRGBA(e, rgba, w, h);
    });
  } finally {
    model.destroy();
  }
}

/** The reference map ([T, H, W], normalised and upsampled) and its CPU overlay. */
export function refExplainOverlay(): { map: Float64Array; bytes: Uint8ClampedArray } {
  const { spec, x, display, shape } = overlayInputs();
  const r = explainReference(new RefModel(spec), hostTensor(shape, x), { methods: ['gradcam'], targets: { topK: 3 } });
  const map = r.maps.gradcam!.input!;
  const bytes = refOverlay(map, hostTensor(shape.slice(1), display), OVERLAY_CASE);
  const [, , h, w] = shape;
  return { map: map.data.subarray(OVERLAY_CASE.target * h * w, (OVERLAY_CASE.target + 1) * h * w), bytes };
}
