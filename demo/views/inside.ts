/**
 * "Inside the computation": for the explained class and one method, how the map is computed.
 * This file holds the panel (method tabs, the tiles and their pointer/keyboard handling, the
 * tensors the tiles show); inside-channels.ts fills it for CAM / Grad-CAM / Grad-CAM++ /
 * counterfactual, inside-guided.ts for the guided methods. Tiles are drawn from GPU buffers;
 * the numbers in the readout are read back from the same run's buffers.
 */
import {
  isChannel,
  isEigen,
  isInputGradient,
  isPerturbation,
  methodOf,
  METHODS,
  type Method,
} from '../../src/methods/registry';
import type { Tensor } from '../../src/gpu/tensor';
import { canvasRowStride } from '../../src/render/canvas';
import type { ColormapName } from '../../src/render/colormaps';
import { guidedRGBA } from '../../src/render/display';
import { overlay } from '../../src/render/overlay';
import type { App, RunResult } from '../app';
import { el, fmt } from './dom';
import { renderChannels, renderSpatial } from './inside-channels';
import { renderEigen } from './inside-eigen';
import { renderGuided } from './inside-guided';
import { drawRGBA, gpuContext, unavailableReason, type Draw } from './maps';

interface Tile {
  canvas: HTMLCanvasElement;
  marker: HTMLElement;
  /** Grid of the tile: [h, w]. */
  size: [number, number];
  draw: Draw;
  /** Called with the cell under the pointer (or moved to with the arrow keys). */
  point: (i: number, j: number) => void;
}

/** What the method-specific parts use to build the panel. */
export interface InsidePanel {
  readonly app: App;
  readonly body: HTMLElement;
  /** Keep a tensor until the panel is rebuilt (the tiles draw from it). */
  hold<T extends Tensor>(t: T): T;
  /** A tile showing map `target` of `src` [M, h, w] (values in [0, 1]) with a colormap. */
  mapTile(
    src: Tensor,
    target: number,
    caption: string,
    colormap: ColormapName,
    point: (i: number, j: number) => void,
  ): HTMLElement;
  /** A tile showing a signed input gradient [1, 3, H, W] as RGB (guidedRGBA). */
  rgbTile(src: Tensor, caption: string, point: (i: number, j: number) => void): HTMLElement;
  /** Move every tile's marker to the cell (i, j) of an h×w grid (scaled to each tile's grid). */
  mark(i: number, j: number, h: number, w: number): void;
  /** Draw every tile made so far (one flush each). */
  drawTiles(): Promise<void>;
}

const ARROWS: Record<string, [number, number]> = {
  ArrowUp: [-1, 0],
  ArrowDown: [1, 0],
  ArrowLeft: [0, -1],
  ArrowRight: [0, 1],
};

export class InsideView implements InsidePanel {
  #tiles: Tile[] = [];
  #held: Tensor[] = [];
  #r: RunResult | null = null;
  /** The last cell pointed at, as a fraction of the grid (so keyboard moves work on any tile). */
  #pos: { i: number; j: number; h: number; w: number } | null = null;
  #gpuMs = 0;
  readonly #tabs = new Map<Method, HTMLButtonElement>();

  constructor(
    readonly app: App,
    tabs: HTMLElement,
    readonly body: HTMLElement,
    onSelect: (m: Method) => void,
  ) {
    for (const m of METHODS) {
      const b = el(
        'button',
        { role: 'tab', type: 'button', 'aria-selected': 'false', 'data-method': m },
        methodOf(m).label,
      );
      b.addEventListener('click', () => onSelect(m));
      b.addEventListener('keydown', (ev) => {
        const step = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
        if (!step) return;
        ev.preventDefault();
        const next = METHODS[(METHODS.indexOf(m) + step + METHODS.length) % METHODS.length];
        onSelect(next);
        this.#tabs.get(next)!.focus();
      });
      tabs.append(b);
      this.#tabs.set(m, b);
    }
  }

  select(m: Method): void {
    for (const [k, b] of this.#tabs) {
      b.setAttribute('aria-selected', String(k === m));
      b.tabIndex = k === m ? 0 : -1;
    }
  }

  /** The tile canvases currently shown (for tests). */
  get canvases(): HTMLCanvasElement[] {
    return this.#tiles.map((t) => t.canvas);
  }

  /** Redraw one tile (for the test hook); `after` runs right after its submission. */
  redrawTile(n: number, after?: () => void): Promise<void> {
    if (this.#r !== this.app.last) throw new Error('the inside view shows an older run (mid-drag); wait for idle()');
    return this.#tiles[n].draw(after);
  }

  async render(r: RunResult): Promise<void> {
    const m = this.app.settings.method;
    this.select(m);
    for (const t of this.#held) t.destroy();
    this.#held = [];
    this.#tiles = [];
    this.#gpuMs = 0;
    this.#r = r;
    this.#pos = null;
    const [K, h, w] = r.layer.shape;
    const intro = el('p', {}, [
      'Class ',
      el('strong', {}, r.model.labels[r.cls]),
      ' (score y',
      el('sup', {}, 'c'),
      ` = ${fmt(r.scores[r.cls])}), layer `,
      el('code', {}, r.layer.name),
      `: K = ${K} feature maps of ${h}×${w}.`,
    ]);
    const formula = el('div', { class: 'formula' });
    // The registry's formula text: trusted HTML of this repository, not user input.
    formula.innerHTML = methodOf(m)
      .formula.map((line) => `<p>${line}</p>`)
      .join('');
    this.body.replaceChildren(intro, formula);
    const t0 = performance.now();
    this.app.e.stage('inside');
    if (!r.methods.includes(m)) {
      this.body.append(el('p', { class: 'note' }, unavailableReason(m, r)));
    } else if (isInputGradient(m)) {
      await renderGuided(this, r, m);
    } else if (isChannel(m) || isPerturbation(m)) {
      await renderChannels(this, r, m);
    } else if (isEigen(m)) {
      await renderEigen(this, r, m);
    } else {
      await renderSpatial(this, r, m);
    }
    r.timings.wall.inside = performance.now() - t0;
    if (r.timings.gpu) r.timings.gpu.inside = this.#gpuMs;
  }

  hold<T extends Tensor>(t: T): T {
    this.#held.push(t);
    return t;
  }

  async drawTiles(): Promise<void> {
    for (const t of this.#tiles) {
      await t.draw();
      this.#gpuMs += (await this.app.e.stageTimings())?.inside ?? 0;
    }
  }

  mapTile(
    src: Tensor,
    target: number,
    caption: string,
    colormap: ColormapName,
    point: (i: number, j: number) => void,
  ): HTMLElement {
    const e = this.app.e;
    const [h, w] = src.shape.slice(-2);
    const stride = canvasRowStride(w);
    return this.#tile([h, w], caption, point, (ctx, after) =>
      drawRGBA(e, ctx, w, h, () => overlay(e, src, null, { colormap, opacity: 1, target, rowStride: stride }), after),
    );
  }

  rgbTile(src: Tensor, caption: string, point: (i: number, j: number) => void): HTMLElement {
    const e = this.app.e;
    const [H, W] = src.shape.slice(-2);
    const stride = canvasRowStride(W);
    return this.#tile([H, W], caption, point, (ctx, after) =>
      drawRGBA(e, ctx, W, H, () => guidedRGBA(e, src, { rowStride: stride }), after),
    );
  }

  mark(i: number, j: number, h: number, w: number): void {
    this.#pos = { i, j, h, w };
    for (const t of this.#tiles) {
      const [th, tw] = t.size;
      // Scaled to the tile's own grid: a cell of a 12×12 layer covers 8×8 pixels of a 96×96 tile.
      const ti = Math.floor((i / h) * th);
      const tj = Math.floor((j / w) * tw);
      const sh = Math.max(1, th / h);
      const sw = Math.max(1, tw / w);
      Object.assign(t.marker.style, {
        top: `${(ti / th) * 100}%`,
        left: `${(tj / tw) * 100}%`,
        height: `${(sh / th) * 100}%`,
        width: `${(sw / tw) * 100}%`,
      });
      t.marker.hidden = false;
    }
  }

  #tile(
    size: [number, number],
    caption: string,
    point: (i: number, j: number) => void,
    draw: (ctx: GPUCanvasContext, after?: () => void) => Promise<void>,
  ): HTMLElement {
    const [h, w] = size;
    const canvas = el('canvas', {
      tabindex: '0',
      'aria-label': `${caption}: ${h}×${w}; point at it, or use the arrow keys, to read the values`,
    });
    const marker = el('div', { class: 'marker', hidden: '' });
    const ctx = gpuContext(canvas);
    const tile: Tile = { canvas, marker, size, point, draw: (after) => draw(ctx, after) };
    this.#tiles.push(tile);
    const at = (i: number, j: number) => point(Math.min(h - 1, Math.max(0, i)), Math.min(w - 1, Math.max(0, j)));
    canvas.addEventListener('pointermove', (ev) => {
      const rect = canvas.getBoundingClientRect();
      at(
        Math.floor(((ev.clientY - rect.top) / rect.height) * h),
        Math.floor(((ev.clientX - rect.left) / rect.width) * w),
      );
    });
    // The cell pointed at last, in this tile's grid.
    const current = (): [number, number] => {
      const p = this.#pos;
      return p ? [Math.floor((p.i / p.h) * h), Math.floor((p.j / p.w) * w)] : [0, 0];
    };
    canvas.addEventListener('focus', () => at(...current()));
    canvas.addEventListener('keydown', (ev) => {
      const mv = ARROWS[ev.key];
      if (!mv) return;
      ev.preventDefault();
      const [i, j] = current();
      at(i + mv[0], j + mv[1]);
    });
    return el('div', { class: 'tile' }, [
      el('div', { class: 'pix' }, [canvas, marker]),
      el('div', { class: 'cap' }, caption),
    ]);
  }
}
