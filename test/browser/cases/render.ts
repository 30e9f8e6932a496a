/**
 * Render case: overlay() + drawToCanvas() into a real WebGPU canvas, then the canvas's pixels as
 * the page sees them (drawn onto a 2-D canvas and read with getImageData).
 */
import { canvasRowStride, drawToCanvas } from '../../../src/render/canvas';
import { overlay, readRGBA } from '../../../src/render/overlay';
import { defineCase } from '../registry';

export interface RenderCanvasArg {
  H: number;
  W: number;
  map: Float32Array;
  image: Float32Array | null;
  /** Drawn one after another into the same canvas. */
  draws: { colormap: string; opacity: number }[];
}

export interface RenderCanvasResult {
  /** Per draw: the canvas's pixels (ImageData.data) and the same overlay read back with readRGBA. */
  draws: { canvas: Uint8ClampedArray; readback: Uint8ClampedArray }[];
  canvasSize: [number, number];
  format: string | null;
  liveTensors: number;
}

defineCase('render-canvas', async (ctx, arg) => {
  const { H, W, map, image, draws } = arg as RenderCanvasArg;
  const e = await ctx.engine();
  const canvas = document.createElement('canvas');
  document.body.append(canvas);
  try {
    const context = canvas.getContext('webgpu');
    if (!context) throw new Error("canvas.getContext('webgpu') returned null");
    const out: RenderCanvasResult['draws'] = [];
    for (const { colormap, opacity } of draws) {
      const copy = document.createElement('canvas');
      copy.width = W;
      copy.height = H;
      const g = copy.getContext('2d', { willReadFrequently: true });
      if (!g) throw new Error("canvas.getContext('2d') returned null");
      const readback = await e.scope(async () => {
        const m = e.upload(map, [H, W], 'map');
        const img = image ? e.upload(image, [3, H, W], 'image') : null;
        const rgba = await overlay(e, m, img, { colormap, opacity, rowStride: canvasRowStride(W) });
        // drawToCanvas submits the copy before it first yields. Read the canvas in this same task,
        // before the frame is presented: a headless compositor without a GPU may not keep a
        // presented WebGPU frame readable.
        const drawn = drawToCanvas(e, rgba, W, H, context);
        g.drawImage(canvas, 0, 0);
        await drawn;
        return readRGBA(e, rgba, W, H);
      });
      out.push({ canvas: g.getImageData(0, 0, W, H).data, readback });
    }
    return {
      draws: out,
      canvasSize: [canvas.width, canvas.height],
      format: context.getConfiguration?.()?.format ?? null,
      liveTensors: e.liveTensors,
    } satisfies RenderCanvasResult;
  } finally {
    canvas.remove();
  }
});
