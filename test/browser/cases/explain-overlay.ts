/** Grad-CAM of a test network drawn into a WebGPU canvas; returns the canvas pixels as the page sees them. */
import { gpuExplainOverlay, overlayInputs, OVERLAY_CASE } from '../../cases/explain-overlay';
import { Model } from '../../../src/model/model';
import { canvasRowStride, drawToCanvas } from '../../../src/render/canvas';
import { overlay } from '../../../src/render/overlay';
import { defineCase } from '../registry';
import { explain } from '../../../src/attribution/explain';

defineCase('explain-overlay', async (ctx) => {
  const e = await ctx.engine();
  const { spec, x, display, shape } = overlayInputs();
  const [, , H, W] = shape;
  const canvas = document.createElement('canvas');
  document.body.append(canvas);
  const model = await Model.load(e, spec);
  let pixels: Uint8ClampedArray;
  try {
    const context = canvas.getContext('webgpu');
    if (!context) throw new Error("canvas.getContext('webgpu') returned null");
    const copy = document.createElement('canvas');
    copy.width = W;
    copy.height = H;
    const g = copy.getContext('2d', { willReadFrequently: true })!;
    await e.scope(async () => {
      const input = e.upload(x, shape);
      const image = e.upload(display, shape.slice(1), 'display');
      const r = await explain(model, input, { methods: ['gradcam'], targets: { topK: 3 } });
      const rgba = await overlay(e, r.maps.gradcam!.input, image, { ...OVERLAY_CASE, rowStride: canvasRowStride(W) });
      // Read the canvas in the task that submits the copy (see drawToCanvas).
      const drawn = drawToCanvas(e, rgba, W, H, context);
      g.drawImage(canvas, 0, 0);
      await drawn;
    });
    pixels = g.getImageData(0, 0, W, H).data;
  } finally {
    model.destroy();
    canvas.remove();
  }
  const readback = await gpuExplainOverlay(e);
  return { canvas: pixels, readback, liveTensors: e.liveTensors };
});
