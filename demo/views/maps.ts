/**
 * Every registered method's map side by side, drawn from the explanation's GPU buffers into
 * WebGPU canvases: channel and spatial methods as colormap overlays on the model's input
 * (overlay()), input-gradient methods as RGB input gradients (guidedRGBA()). Also the
 * model-input canvas ("what the model sees"). Nothing is read back to be shown.
 */
import { isInputGradient, isMultiPass, methodOf, METHODS, type Method } from '../../src/methods/registry';
import type { Engine } from '../../src/gpu/engine';
import type { Tensor } from '../../src/gpu/tensor';
import { canvasRowStride, drawToCanvas } from '../../src/render/canvas';
import { guidedRGBA } from '../../src/render/display';
import { overlay } from '../../src/render/overlay';
import type { App, RunResult } from '../app';
import { el } from './dom';

/** Why a method has no map in run `r` (it needs a head the layer does not have, or was not run). */
export function unavailableReason(m: Method, r: RunResult): string {
  const d = methodOf(m);
  if (d.family === 'channel' && d.source === 'linear-head' && r.layer.camReason) {
    return `${d.label} does not apply: ${r.layer.camReason}. ${d.label} needs the class scores to be a linear function of this layer's global average pool.`;
  }
  if (d.family === 'perturbation') {
    if (!r.layer.methods.includes(m)) {
      return `${d.label} does not apply here: the input reaches the scores around this layer, so the network cannot run from the layer onward.`;
    }
    return `${d.label} runs one forward pass per channel of the layer (${r.layer.shape[0]}): computed while it is selected.`;
  }
  if (isMultiPass(m) && !r.methods.includes(m)) {
    return `${d.label} runs the network on a batch of copies of the input: computed while it is selected.`;
  }
  return 'Not computed.';
}

interface Figure {
  button: HTMLButtonElement;
  canvas: HTMLCanvasElement;
  context: GPUCanvasContext | null;
  unavailable: HTMLElement;
}

/** A canvas draw: record the pixels, then copy them in; `after` runs right after the submission. */
export type Draw = (after?: () => void) => Promise<void>;

export function gpuContext(canvas: HTMLCanvasElement): GPUCanvasContext {
  const c = canvas.getContext('webgpu');
  if (!c) throw new Error("canvas.getContext('webgpu') returned null");
  return c;
}

/** Record `make` (which returns packed RGBA [H, canvasRowStride(W)]) and draw it into `ctx`. */
export async function drawRGBA(
  e: Engine,
  ctx: GPUCanvasContext,
  W: number,
  H: number,
  make: () => Promise<Tensor>,
  after?: () => void,
): Promise<void> {
  await e.scope(async () => {
    const rgba = await make();
    const done = drawToCanvas(e, rgba, W, H, ctx);
    after?.();
    await done;
  });
}

export class MapsView {
  readonly #figures = new Map<Method, Figure>();
  readonly #input: GPUCanvasContext;

  constructor(
    readonly app: App,
    root: HTMLElement,
    inputCanvas: HTMLCanvasElement,
    onSelect: (m: Method) => void,
  ) {
    this.#input = gpuContext(inputCanvas);
    for (const m of METHODS) {
      const canvas = el('canvas', { 'aria-hidden': 'true' });
      const unavailable = el('span', { class: 'unavailable', hidden: '' });
      const name = el('span', { class: 'name' }, methodOf(m).label);
      const button = el('button', { class: 'map', type: 'button', 'data-method': m, 'aria-pressed': 'false' }, [
        canvas,
        unavailable,
        name,
      ]);
      button.addEventListener('click', () => onSelect(m));
      root.append(button);
      this.#figures.set(m, { button, canvas, context: null, unavailable });
    }
  }

  select(m: Method): void {
    for (const [k, f] of this.#figures) f.button.setAttribute('aria-pressed', String(k === m));
  }

  /** Canvas of a method's map (for tests and screenshots). */
  canvas(m: Method): HTMLCanvasElement {
    return this.#figures.get(m)!.canvas;
  }

  /** The draw of one canvas of the current result: 'input' or a method. */
  draw(which: Method | 'input', r: RunResult): Draw | null {
    const e = this.app.e;
    const [H, W] = r.model.size;
    const stride = canvasRowStride(W);
    const maps = r.explanation.maps;
    const { colormap, opacity } = this.app.settings;
    if (which === 'input') {
      // The model's crop and resize: an overlay at opacity 0 is the image itself.
      const anyMap = maps.gradcam!.input;
      return (after) =>
        drawRGBA(
          e,
          this.#input,
          W,
          H,
          () => overlay(e, anyMap, r.display, { colormap, opacity: 0, rowStride: stride }),
          after,
        );
    }
    const f = this.#figures.get(which)!;
    if (isInputGradient(which)) {
      const g = maps[which];
      if (!g) return null;
      f.context ??= gpuContext(f.canvas);
      const ctx = f.context;
      return (after) => drawRGBA(e, ctx, W, H, () => guidedRGBA(e, g.input, { rowStride: stride }), after);
    }
    const cm = maps[which];
    if (!cm) return null;
    f.context ??= gpuContext(f.canvas);
    const ctx = f.context;
    return (after) =>
      drawRGBA(e, ctx, W, H, () => overlay(e, cm.input, r.display, { colormap, opacity, rowStride: stride }), after);
  }

  /** Draw every map of `r`; adds the 'render' stage to r.timings. */
  async render(r: RunResult): Promise<void> {
    const e = this.app.e;
    const t0 = performance.now();
    e.stage('render');
    const draws: Draw[] = [];
    const input = this.draw('input', r);
    if (input) draws.push(input);
    for (const m of METHODS) {
      const f = this.#figures.get(m)!;
      const d = this.draw(m, r);
      f.canvas.hidden = !d;
      f.unavailable.hidden = !!d;
      if (!d) {
        f.unavailable.textContent = unavailableReason(m, r);
        f.button.title = f.unavailable.textContent;
      } else {
        f.button.title = `${methodOf(m).label} for ${r.model.labels[r.cls]}: show how it is computed`;
        draws.push(d);
      }
    }
    // One flush per canvas; GPU time is summed over them.
    let gpu = 0;
    for (const d of draws) {
      await d();
      gpu += (await e.stageTimings())?.render ?? 0;
    }
    await e.device.queue.onSubmittedWorkDone();
    r.timings.wall.render = performance.now() - t0;
    if (r.timings.gpu) r.timings.gpu.render = gpu;
  }
}
