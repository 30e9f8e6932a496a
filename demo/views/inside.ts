/**
 * "Inside the computation": for the explained class and one method, the feature maps A^k with
 * the largest weights, their weights (and Grad-CAM++'s coefficients a^k), the gradient maps,
 * the formula being applied, and on hover the values under the pointer. Tiles are drawn from GPU
 * buffers (normalizeChannels / gradcamppAlpha / guidedRGBA → overlay → canvas); the numbers in
 * the readout are read back from the same run's buffers (small: K weights, the layer's maps).
 */
import type { Method } from '../../src/attribution/explain';
import type { Tensor } from '../../src/gpu/tensor';
import { canvasRowStride } from '../../src/render/canvas';
import type { ColormapName } from '../../src/render/colormaps';
import { gradcamppAlpha, guidedRGBA, normalizeChannels } from '../../src/render/display';
import { overlay } from '../../src/render/overlay';
import type { App, RunResult } from '../app';
import { el, fmt } from './dom';
import { drawRGBA, gpuContext, METHOD_NAMES, type Draw } from './maps';
import { formulaHTML } from './formulas';

/** How many channels are shown. */
const SHOWN = 8;

type ChannelMethod = 'cam' | 'gradcam' | 'gradcam++' | 'counterfactual';

interface Tile {
  canvas: HTMLCanvasElement;
  marker: HTMLElement;
  /** Grid of the tile: [h, w]. */
  size: [number, number];
  /** Channel shown (index into the layer), or -1 for a map. */
  channel: number;
  draw: Draw;
}

/** The numbers behind the readout, all from this run's GPU buffers. */
interface Numbers {
  K: number;
  h: number;
  w: number;
  weights: Float32Array;
  raw: Float32Array;
  norm: Float32Array;
  A: Float32Array;
  G: Float32Array | null;
  /** a^k for the shown channels [M, h, w] (Grad-CAM++). */
  alpha: Float32Array | null;
  ids: number[];
}

export class InsideView {
  #tiles: Tile[] = [];
  #numbers: Numbers | null = null;
  #r: RunResult | null = null;
  #pos: { i: number; j: number; k: number } | null = null;
  /** Tensors of the tiles shown, freed when the view is rebuilt. */
  #held: Tensor[] = [];
  readonly #tabs = new Map<Method, HTMLButtonElement>();

  constructor(
    readonly app: App,
    tabs: HTMLElement,
    readonly body: HTMLElement,
    onSelect: (m: Method) => void,
  ) {
    const order: Method[] = ['cam', 'gradcam', 'gradcam++', 'counterfactual', 'guided-backprop', 'guided-gradcam'];
    for (const m of order) {
      const b = el(
        'button',
        { role: 'tab', type: 'button', 'aria-selected': 'false', 'data-method': m },
        METHOD_NAMES[m],
      );
      b.addEventListener('click', () => onSelect(m));
      b.addEventListener('keydown', (ev) => {
        const i = order.indexOf(m);
        const next =
          ev.key === 'ArrowRight'
            ? order[(i + 1) % order.length]
            : ev.key === 'ArrowLeft'
              ? order[(i + order.length - 1) % order.length]
              : null;
        if (next) {
          ev.preventDefault();
          onSelect(next);
          this.#tabs.get(next)!.focus();
        }
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

  /** The run the tiles show (their tensors may belong to it). */
  get run(): RunResult | null {
    return this.#r;
  }

  /** Redraw one tile (for the test hook); `after` runs right after its submission. */
  redrawTile(n: number, after?: () => void): Promise<void> {
    if (this.#r !== this.app.last) throw new Error('the inside view shows an older run (mid-drag); wait for idle()');
    return this.#tiles[n].draw(after);
  }

  #release(): void {
    for (const t of this.#held) t.destroy();
    this.#held = [];
  }

  async render(r: RunResult): Promise<void> {
    const m = this.app.settings.method;
    this.select(m);
    this.#release();
    this.#gpuMs = 0;
    this.#tiles = [];
    this.#numbers = null;
    this.#r = r;
    this.#pos = null;
    const label = r.model.labels[r.cls];
    const [K, h, w] = r.layer.shape;
    const intro = el('p', {}, [
      'Class ',
      el('strong', {}, label),
      ` (score y`,
      el('sup', {}, 'c'),
      ` = ${fmt(r.scores[r.cls])}), layer `,
      el('code', {}, r.layer.name),
      `: K = ${K} feature maps of ${h}×${w}.`,
    ]);
    const formula = el('div', { class: 'formula' });
    formula.innerHTML = formulaHTML(m);
    this.body.replaceChildren(intro, formula);
    const t0 = performance.now();
    this.app.e.stage('inside');
    if (m === 'guided-backprop' || m === 'guided-gradcam') await this.#guided(r, m);
    else if (!r.methods.includes(m)) {
      this.body.append(
        el('p', { class: 'note' }, `${METHOD_NAMES[m]} does not apply here: ${r.layer.camReason ?? 'not computed'}.`),
      );
    } else await this.#channels(r, m);
    r.timings.wall.inside = performance.now() - t0;
    if (r.timings.gpu) r.timings.gpu.inside = this.#gpuMs;
  }

  #gpuMs = 0;

  /** Draw every tile (one flush each), summing the GPU time of their passes. */
  async #drawTiles(): Promise<void> {
    this.#gpuMs = 0;
    for (const t of this.#tiles) {
      await t.draw();
      this.#gpuMs += (await this.app.e.stageTimings())?.inside ?? 0;
    }
  }

  // ------------------------------------------------------------------ channel methods

  async #channels(r: RunResult, m: ChannelMethod): Promise<void> {
    const app = this.app;
    const e = app.e;
    const ex = r.explanation;
    const maps = ex.maps[m]!;
    const [K, h, w] = r.layer.shape;
    const weights = await app.host(r, `${m}:weights`, maps.weights);
    const raw = await app.host(r, `${m}:raw`, maps.raw);
    const norm = await app.host(r, `${m}:layer`, maps.layer);
    const A = await app.host(r, 'A', ex.activations);
    const usesGrad = m !== 'cam';
    const G = usesGrad && ex.gradients ? await app.host(r, 'G', ex.gradients) : null;
    const ids = Array.from({ length: K }, (_, k) => k)
      .sort((a, b) => weights[b] - weights[a] || a - b)
      .slice(0, Math.min(SHOWN, K));

    // GPU: the shown channels scaled for display (and Grad-CAM++'s a^k).
    const Anorm = await normalizeChannels(e, ex.activations, ids, { scale: 'minmax' });
    this.#held.push(Anorm);
    let Gnorm: Tensor | null = null;
    let alphaNorm: Tensor | null = null;
    let alpha: Float32Array | null = null;
    if (G && ex.gradients) {
      Gnorm = await normalizeChannels(e, ex.gradients, ids, { scale: 'signed' });
      this.#held.push(Gnorm);
    }
    if (m === 'gradcam++' && ex.gradients) {
      const a = await gradcamppAlpha(e, ex.activations, ex.gradients, ids);
      this.#held.push(a);
      alpha = await a.read();
      alphaNorm = await normalizeChannels(
        e,
        a.reshape([1, ids.length, h, w]),
        ids.map((_, n) => n),
        { scale: 'minmax' },
      );
      this.#held.push(alphaNorm);
    }
    this.#numbers = { K, h, w, weights, raw, norm, A, G, alpha, ids };

    const wname = m === 'cam' ? 'w' : m === 'gradcam++' ? 'w' : 'α';
    const grid = el('div', { class: 'inside-grid' });
    const left = el('div');
    const right = el('div');
    grid.append(left, right);
    this.body.append(grid);

    left.append(
      el('h3', {}, `Weights of all ${K} channels, largest first`),
      this.#chart(weights, ids),
      el('h3', {}, `The ${ids.length} feature maps with the largest ${wname}`),
    );
    // With only pooling and dense layers above the chosen layer, every position of a feature map
    // gets the same gradient: say so, since a flat tile could look like a bug.
    const constant = (v: Float32Array | null, k: number) => {
      if (!v) return false;
      const a = v.subarray(k * h * w, (k + 1) * h * w);
      return a.every((x) => x === a[0]);
    };
    const flatG = G !== null && ids.every((k) => constant(G, k));
    if (flatG) {
      left.append(
        el(
          'p',
          { class: 'note' },
          'Every gradient map is constant: above this layer the network only pools and applies dense layers, so each position of a feature map gets the same gradient.' +
            (m === 'gradcam++' ? ' Then a^k is constant too.' : ''),
        ),
      );
    }
    const cards = el('div', { class: 'channels' });
    left.append(cards);
    ids.forEach((k, n) => {
      const tiles = el('div', { class: 'tiles' });
      const card = el('div', { class: 'channel' }, [el('h4', {}, `k = ${k}   ${wname}_k = ${fmt(weights[k])}`), tiles]);
      cards.append(card);
      tiles.append(this.#tile(Anorm, n, [h, w], k, 'grayscale', `A^${k}`));
      if (Gnorm) tiles.append(this.#tile(Gnorm, n, [h, w], k, 'bwr', `g^${k}${constant(G, k) ? ' (flat)' : ''}`));
      if (alphaNorm) tiles.append(this.#tile(alphaNorm, n, [h, w], k, 'viridis', `a^${k}`));
    });

    const mapName = m === 'cam' ? 'M' : 'L';
    right.append(
      el('h3', {}, 'The result at the layer'),
      el('div', { class: 'result-tiles' }, [
        this.#tile(maps.layer, 0, [h, w], -1, app.settings.colormap, `${mapName} (normalised)`),
      ]),
      el('h3', {}, 'Under the pointer'),
    );
    const readout = el('pre', { class: 'readout', 'aria-live': 'polite', id: 'inside-readout' });
    right.append(readout, el('p', { class: 'note' }, 'Point at any tile (or focus one and use the arrow keys).'));
    await this.#drawTiles();

    // Start at the map's peak, first channel.
    let peak = 0;
    for (let p = 1; p < raw.length; p++) if (raw[p] > raw[peak]) peak = p;
    this.#show(Math.floor(peak / w), peak % w, ids[0]);
  }

  #chart(weights: Float32Array, shown: number[]): SVGSVGElement {
    const NS = 'http://www.w3.org/2000/svg';
    const K = weights.length;
    const order = Array.from({ length: K }, (_, k) => k).sort((a, b) => weights[b] - weights[a] || a - b);
    const max = Math.max(1e-30, ...Array.from(weights, Math.abs));
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('class', 'weights-chart');
    svg.setAttribute('viewBox', `0 0 ${K} 100`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    svg.setAttribute(
      'aria-label',
      `Channel weights sorted: largest ${fmt(weights[order[0]])} (channel ${order[0]}), smallest ${fmt(weights[order[K - 1]])} (channel ${order[K - 1]})`,
    );
    const axis = document.createElementNS(NS, 'line');
    axis.setAttribute('x1', '0');
    axis.setAttribute('x2', String(K));
    axis.setAttribute('y1', '50');
    axis.setAttribute('y2', '50');
    axis.setAttribute('stroke', '#999');
    axis.setAttribute('stroke-width', '0.3');
    axis.setAttribute('vector-effect', 'non-scaling-stroke');
    svg.append(axis);
    order.forEach((k, x) => {
      const v = weights[k] / max;
      const rect = document.createElementNS(NS, 'rect');
      rect.setAttribute('x', String(x + 0.1));
      rect.setAttribute('width', '0.8');
      rect.setAttribute('y', String(v >= 0 ? 50 - 50 * v : 50));
      rect.setAttribute('height', String(Math.max(0.5, 50 * Math.abs(v))));
      rect.setAttribute('fill', shown.includes(k) ? '#1f5fbf' : v >= 0 ? '#9db6dd' : '#e2a0a0');
      const title = document.createElementNS(NS, 'title');
      title.textContent = `channel ${k}: ${fmt(weights[k])}`;
      rect.append(title);
      svg.append(rect);
    });
    return svg;
  }

  /** A tile canvas showing map `target` of `src` [M, h, w] (values in [0, 1]). */
  #tile(
    src: Tensor,
    target: number,
    size: [number, number],
    channel: number,
    colormap: ColormapName,
    caption: string,
  ): HTMLElement {
    const e = this.app.e;
    const [h, w] = size;
    const canvas = el('canvas', {
      tabindex: '0',
      'aria-label': `${caption}: ${h}×${w} map; arrow keys move the readout position`,
    });
    const marker = el('div', { class: 'marker', hidden: '' });
    const wrap = el('div', { class: 'tile' }, [
      el('div', { class: 'pix' }, [canvas, marker]),
      el('div', { class: 'cap' }, caption),
    ]);
    const ctx = gpuContext(canvas);
    const stride = canvasRowStride(w);
    const tile: Tile = {
      canvas,
      marker,
      size,
      channel,
      draw: (after) =>
        drawRGBA(e, ctx, w, h, () => overlay(e, src, null, { colormap, opacity: 1, target, rowStride: stride }), after),
    };
    this.#tiles.push(tile);
    const k = channel >= 0 ? channel : null;
    canvas.addEventListener('pointermove', (ev) => {
      const rect = canvas.getBoundingClientRect();
      const j = Math.min(w - 1, Math.max(0, Math.floor(((ev.clientX - rect.left) / rect.width) * w)));
      const i = Math.min(h - 1, Math.max(0, Math.floor(((ev.clientY - rect.top) / rect.height) * h)));
      this.#show(i, j, k ?? this.#pos?.k ?? 0);
    });
    canvas.addEventListener('focus', () => this.#show(this.#pos?.i ?? 0, this.#pos?.j ?? 0, k ?? this.#pos?.k ?? 0));
    canvas.addEventListener('keydown', (ev) => {
      const d: Record<string, [number, number]> = {
        ArrowUp: [-1, 0],
        ArrowDown: [1, 0],
        ArrowLeft: [0, -1],
        ArrowRight: [0, 1],
      };
      const mv = d[ev.key];
      if (!mv || !this.#pos) return;
      ev.preventDefault();
      const [th, tw] = tile.size;
      this.#show(
        Math.min(th - 1, Math.max(0, this.#pos.i + mv[0])),
        Math.min(tw - 1, Math.max(0, this.#pos.j + mv[1])),
        k ?? this.#pos.k,
      );
    });
    return wrap;
  }

  /** Move the markers to (i, j) and write the readout for channel k there. */
  #show(i: number, j: number, k: number): void {
    this.#pos = { i, j, k };
    for (const t of this.#tiles) {
      const [h, w] = t.size;
      // Tiles at another resolution (guided: the input) map the position proportionally.
      const sameGrid = !this.#numbers || (h === this.#numbers.h && w === this.#numbers.w);
      t.marker.hidden = !sameGrid;
      if (!sameGrid) continue;
      t.marker.style.left = `${(j / w) * 100}%`;
      t.marker.style.top = `${(i / h) * 100}%`;
      t.marker.style.width = `${100 / w}%`;
      t.marker.style.height = `${100 / h}%`;
    }
    const out = this.body.querySelector('#inside-readout');
    if (out && this.#numbers && this.#r) out.textContent = readout(this.app.settings.method, this.#numbers, i, j, k);
  }

  // ------------------------------------------------------------------ guided methods

  async #guided(r: RunResult, m: 'guided-backprop' | 'guided-gradcam'): Promise<void> {
    const app = this.app;
    const e = app.e;
    const ex = r.explanation;
    const [H, W] = r.model.size;
    const gb = ex.maps['guided-backprop']!.input;
    const stride = canvasRowStride(W);
    const channels = await normalizeChannels(e, gb.reshape([1, 3, H, W]), [0, 1, 2], { scale: 'signed' });
    this.#held.push(channels);
    const grid = el('div', { class: 'inside-grid' });
    const left = el('div');
    const right = el('div');
    grid.append(left, right);
    this.body.append(grid);
    const rgbTile = (t: Tensor, caption: string): HTMLElement => {
      const canvas = el('canvas', { tabindex: '0', 'aria-label': caption });
      const marker = el('div', { class: 'marker', hidden: '' });
      const ctx = gpuContext(canvas);
      this.#tiles.push({
        canvas,
        marker,
        size: [H, W],
        channel: -1,
        draw: (after) => drawRGBA(e, ctx, W, H, () => guidedRGBA(e, t, { rowStride: stride }), after),
      });
      return el('div', { class: 'tile' }, [
        el('div', { class: 'pix' }, [canvas, marker]),
        el('div', { class: 'cap' }, caption),
      ]);
    };
    const mapTile = (t: Tensor, target: number, cm: ColormapName, caption: string): HTMLElement => {
      const canvas = el('canvas', { tabindex: '0', 'aria-label': caption });
      const marker = el('div', { class: 'marker', hidden: '' });
      const ctx = gpuContext(canvas);
      this.#tiles.push({
        canvas,
        marker,
        size: [H, W],
        channel: -1,
        draw: (after) =>
          drawRGBA(
            e,
            ctx,
            W,
            H,
            () => overlay(e, t, null, { colormap: cm, opacity: 1, target, rowStride: stride }),
            after,
          ),
      });
      return el('div', { class: 'tile' }, [
        el('div', { class: 'pix' }, [canvas, marker]),
        el('div', { class: 'cap' }, caption),
      ]);
    };
    left.append(
      el('h3', {}, 'Guided Backprop, one tile per input channel (blue < 0 < red)'),
      el('div', { class: 'tiles' }, [
        mapTile(channels, 0, 'bwr', '∂y/∂x, red'),
        mapTile(channels, 1, 'bwr', '∂y/∂x, green'),
        mapTile(channels, 2, 'bwr', '∂y/∂x, blue'),
      ]),
    );
    if (m === 'guided-gradcam') {
      left.append(
        el('h3', {}, 'The two factors and their product'),
        el('div', { class: 'tiles' }, [
          mapTile(ex.maps.gradcam!.input, 0, app.settings.colormap, 'upsampled Grad-CAM'),
          rgbTile(gb, 'Guided Backprop'),
          rgbTile(ex.maps['guided-gradcam']!.input, 'Guided Grad-CAM'),
        ]),
      );
    } else {
      left.append(
        el('h3', {}, 'As an image (grey = 0)'),
        el('div', { class: 'tiles' }, [rgbTile(gb, 'Guided Backprop')]),
      );
    }
    const readoutEl = el('pre', { class: 'readout', 'aria-live': 'polite', id: 'inside-readout' });
    right.append(el('h3', {}, 'Under the pointer'), readoutEl);
    await this.#drawTiles();

    const gbHost = await app.host(r, 'guided-backprop', gb);
    const camHost = m === 'guided-gradcam' ? await app.host(r, 'gradcam:input', ex.maps.gradcam!.input) : null;
    const xHost = await app.host(r, 'x', r.x);
    const write = (i: number, j: number) => {
      const p = i * W + j;
      const HW = H * W;
      const lines = [`pixel (row ${i}, column ${j}) of the ${H}×${W} input`, ''];
      ['red', 'green', 'blue'].forEach((c, ch) => {
        const g = gbHost[ch * HW + p];
        let line = `${c.padEnd(5)}  x = ${fmt(xHost[ch * HW + p]).padStart(10)}   ∂y/∂x (guided) = ${fmt(g).padStart(10)}`;
        if (camHost) line += `   × L = ${fmt(camHost[p])}  →  ${fmt(camHost[p] * g)}`;
        lines.push(line);
      });
      if (camHost) lines.push('', `L = upsampled, normalised Grad-CAM at this pixel = ${fmt(camHost[p])}`);
      readoutEl.textContent = lines.join('\n');
    };
    for (const t of this.#tiles) {
      t.canvas.addEventListener('pointermove', (ev) => {
        const rect = t.canvas.getBoundingClientRect();
        write(
          Math.min(H - 1, Math.max(0, Math.floor(((ev.clientY - rect.top) / rect.height) * H))),
          Math.min(W - 1, Math.max(0, Math.floor(((ev.clientX - rect.left) / rect.width) * W))),
        );
      });
    }
    let peak = 0;
    for (let p = 1; p < H * W; p++) {
      const a = Math.abs(gbHost[p]) + Math.abs(gbHost[H * W + p]) + Math.abs(gbHost[2 * H * W + p]);
      const b = Math.abs(gbHost[peak]) + Math.abs(gbHost[H * W + peak]) + Math.abs(gbHost[2 * H * W + peak]);
      if (a > b) peak = p;
    }
    write(Math.floor(peak / W), peak % W);
  }
}

/** The readout of a channel method at position (i, j), channel k. */
function readout(m: Method, n: Numbers, i: number, j: number, k: number): string {
  const { K, h, w, weights, raw, norm, A, G, alpha, ids } = n;
  const Z = h * w;
  const p = i * w + j;
  const a = A[k * Z + p];
  const lines: string[] = [`position (i, j) = (${i}, ${j}) of ${h}×${w}, channel k = ${k}`, ''];
  lines.push(`A^k_ij            = ${fmt(a)}`);
  if (G) {
    const g = G[k * Z + p];
    let mean = 0;
    for (let q = 0; q < Z; q++) mean += G[k * Z + q];
    mean /= Z;
    lines.push(`g^k_ij = ∂y^c/∂A^k_ij = ${fmt(g)}`);
    if (m === 'gradcam') lines.push(`α_k = (1/Z) Σ g^k  = ${fmt(weights[k])}   (Z = ${Z}; mean of g^k = ${fmt(mean)})`);
    if (m === 'counterfactual') lines.push(`α_k = −(1/Z) Σ g^k = ${fmt(weights[k])}   (mean of g^k = ${fmt(mean)})`);
    if (m === 'gradcam++') {
      let S = 0;
      for (let q = 0; q < Z; q++) S += A[k * Z + q];
      const slot = ids.indexOf(k);
      const al = alpha && slot >= 0 ? alpha[slot * Z + p] : null;
      lines.push(`S_k = Σ_ab A^k_ab   = ${fmt(S)}`);
      if (al !== null) {
        lines.push(`a^k_ij = g²/(2g² + S_k·g³) = ${fmt(al)}`);
        lines.push(`a^k_ij · ReLU(g^k_ij)     = ${fmt(al * Math.max(0, g))}`);
      }
      lines.push(`w_k = Σ_ij a^k_ij·ReLU(g^k_ij) = ${fmt(weights[k])}`);
    }
  }
  if (m === 'cam') lines.push(`w_k = W[c, k] (the linear layer) = ${fmt(weights[k])}`);
  const wk = m === 'gradcam' || m === 'counterfactual' ? 'α_k' : 'w_k';
  lines.push(`${wk} · A^k_ij${' '.repeat(Math.max(0, 10 - wk.length))}= ${fmt(weights[k] * a)}`);
  let sum = 0;
  let shown = 0;
  for (let c = 0; c < K; c++) {
    const t = weights[c] * A[c * Z + p];
    sum += t;
    if (ids.includes(c)) shown += t;
  }
  lines.push('');
  lines.push(`Σ_k ${wk} A^k_ij over all ${K} channels = ${fmt(sum)}`);
  lines.push(`   of which the ${ids.length} shown       = ${fmt(shown)}`);
  if (m === 'cam') lines.push(`M_ij (no ReLU)  = ${fmt(raw[p])}   (the GPU's map)`);
  else lines.push(`L_ij = ReLU(Σ)  = ${fmt(raw[p])}   (the GPU's map)`);
  lines.push(`normalised (L − min)/(max − min) = ${fmt(norm[p])}`);
  return lines.join('\n');
}
