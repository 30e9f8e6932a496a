/**
 * Drawing an overlay() result into a WebGPU canvas straight from its GPU buffer: one
 * copyBufferToTexture into the canvas's current texture, recorded after the kernels that made
 * the pixels, so nothing is read back to the CPU.
 */
import type { Recorder } from '../gpu/recorder';
import { InvalidInputError } from '../core/errors';
import type { Tensor } from '../gpu/tensor';
import { checkRGBA } from './overlay';

/** copyBufferToTexture needs bytesPerRow to be a multiple of this. */
const COPY_ROW_ALIGN = 256;

/** Words per row of an overlay() result for drawToCanvas(): rows padded to 256 bytes (64 pixels). */
export function canvasRowStride(width: number): number {
  return (Math.ceil((width * 4) / COPY_ROW_ALIGN) * COPY_ROW_ALIGN) / 4;
}

const FORMAT: GPUTextureFormat = 'rgba8unorm';
const USAGE = 0x02 | 0x10; // GPUTextureUsage.COPY_DST | GPUTextureUsage.RENDER_ATTACHMENT

// The device each context was last configured for by drawToCanvas (when getConfiguration() is missing).
const configured = new WeakMap<GPUCanvasContext, GPUDevice>();

function ensureConfigured(r: Recorder, context: GPUCanvasContext): void {
  const e = r.engine;
  const current = typeof context.getConfiguration === 'function' ? context.getConfiguration() : null;
  const ok = current
    ? current.device === e.device &&
      current.format === FORMAT &&
      (current.usage & USAGE) === USAGE &&
      current.alphaMode === 'opaque'
    : configured.get(context) === e.device;
  if (ok) return;
  context.configure({ device: e.device, format: FORMAT, usage: USAGE, alphaMode: 'opaque' });
  configured.set(context, e.device);
}

/**
 * Draw `rgba` (an overlay() result of a width×height image, made with
 * rowStride = canvasRowStride(width)) into the canvas of `context`. Resizes the canvas to
 * width×height if needed, configures the context for this engine's device (format 'rgba8unorm',
 * alphaMode 'opaque') when it is not already, records the copy after all pending work and
 * submits. The submission happens before the returned promise first yields, so the caller can
 * read the canvas (drawImage, toDataURL) in the same task, before the frame is presented; the
 * promise then settles once GPU errors, if any, are known (GPUExecutionError).
 */
export async function drawToCanvas(
  e: Recorder,
  rgba: Tensor,
  width: number,
  height: number,
  context: GPUCanvasContext,
): Promise<void> {
  const rowStride = checkRGBA(rgba, width, height, 'drawToCanvas');
  if ((rowStride * 4) % COPY_ROW_ALIGN !== 0) {
    throw new InvalidInputError(
      `drawToCanvas: rows of ${rowStride * 4} bytes are not a multiple of ${COPY_ROW_ALIGN}; make the overlay with rowStride = canvasRowStride(${width}) = ${canvasRowStride(width)}`,
    );
  }
  const canvas = context.canvas;
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  ensureConfigured(e, context);
  // No await between taking the texture and submitting: the texture is only valid this task.
  const texture = context.getCurrentTexture();
  e.encode(
    (enc) =>
      enc.copyBufferToTexture(
        { buffer: rgba.buffer, bytesPerRow: rowStride * 4, rowsPerImage: height },
        { texture },
        { width, height },
      ),
    [rgba],
  );
  await e.flush();
}
