/**
 * "Inside the computation" for the channel-weight methods (CAM, Grad-CAM, Grad-CAM++, XGrad-CAM,
 * counterfactual, …) and the spatial ones (HiResCAM, …): the weights of all K channels, the
 * feature maps A^k with the largest weights (or the largest terms at the map's peak) next to
 * their gradients g^k (and Grad-CAM++'s a^k), the map at the layer, and the readout of every
 * term at the cell under the pointer. The readout's sums and weights follow the method's
 * descriptor (src/methods/registry.ts): each sum is recomputed here from the run's A and g and
 * shown beside the weight the GPU computed.
 */
import {
  channelMethod,
  isPerturbation,
  perturbationMethod,
  spatialMethod,
  type ChannelMethodName,
  type PerturbationMethodName,
  type SpatialMethodName,
} from '../../src/methods/registry';
import type { ChannelMethod, PerturbationMethod, Sums, Term } from '../../src/methods/types';
import type { Tensor } from '../../src/gpu/tensor';
import { gradcamppAlpha, normalizeChannels } from '../../src/render/display';
import type { RunResult } from '../app';
import { el, fmt } from './dom';
import type { InsidePanel } from './inside';

/** How many channels are shown. */
const SHOWN = 8;

/** The numbers behind the readout, all read back from this run's GPU buffers. */
interface Numbers {
  K: number;
  h: number;
  w: number;
  /** Channel weights [K] of the method. */
  weights: Float32Array;
  /** The map at the layer before (raw) and after normalisation [h, w]. */
  raw: Float32Array;
  norm: Float32Array;
  /** Activations and gradients [K, h, w]. */
  A: Float32Array;
  G: Float32Array | null;
  /** a^k for the shown channels [M, h, w] (Grad-CAM++). */
  alpha: Float32Array | null;
  ids: number[];
}

export async function renderChannels(
  panel: InsidePanel,
  r: RunResult,
  m: ChannelMethodName | PerturbationMethodName,
): Promise<void> {
  const { app } = panel;
  const e = app.e;
  const ex = r.explanation;
  const d: ChannelMethod | PerturbationMethod = isPerturbation(m) ? perturbationMethod(m) : channelMethod(m);
  const maps = ex.maps[m]!;
  const [K, h, w] = r.layer.shape;
  const weights = await app.host(r, `${m}:weights`, maps.weights);
  const raw = await app.host(r, `${m}:raw`, maps.raw);
  const norm = await app.host(r, `${m}:layer`, maps.layer);
  const A = await app.host(r, 'A', ex.activations);
  const G =
    d.family === 'channel' && d.source === 'gradients' && ex.gradients ? await app.host(r, 'G', ex.gradients) : null;
  const ids = Array.from({ length: K }, (_, k) => k)
    .sort((a, b) => weights[b] - weights[a] || a - b)
    .slice(0, Math.min(SHOWN, K));

  // GPU: the shown channels scaled for display, and Grad-CAM++'s per-position a^k.
  const Anorm = panel.hold(await normalizeChannels(e, ex.activations, ids, { scale: 'minmax' }));
  let Gnorm: Tensor | null = null;
  let alphaNorm: Tensor | null = null;
  let alpha: Float32Array | null = null;
  if (G && ex.gradients) Gnorm = panel.hold(await normalizeChannels(e, ex.gradients, ids, { scale: 'signed' }));
  if (m === 'gradcam++' && ex.gradients) {
    const a = panel.hold(await gradcamppAlpha(e, ex.activations, ex.gradients, ids));
    alpha = await a.read();
    const all = ids.map((_, n) => n);
    alphaNorm = panel.hold(await normalizeChannels(e, a.reshape([1, ids.length, h, w]), all, { scale: 'minmax' }));
  }
  const n: Numbers = { K, h, w, weights, raw, norm, A, G, alpha, ids };

  const wname = d.symbol;
  const left = el('div');
  const right = el('div');
  panel.body.append(el('div', { class: 'inside-grid' }, [left, right]));
  left.append(
    el('h3', {}, `Weights of all ${K} channels, largest first`),
    weightsChart(weights, ids),
    el('h3', {}, `The ${ids.length} feature maps with the largest ${wname}`),
  );
  // With only pooling and dense layers above the layer, every position of a feature map gets the
  // same gradient: say so, since a flat tile could look like a bug.
  const flat = (v: Float32Array | null, k: number) => {
    if (!v) return false;
    const a = v.subarray(k * h * w, (k + 1) * h * w);
    return a.every((x) => x === a[0]);
  };
  if (G && ids.every((k) => flat(G, k))) {
    left.append(
      el(
        'p',
        { class: 'note' },
        'Every gradient map is constant: above this layer the network only pools and applies dense layers, so each position of a feature map gets the same gradient.' +
          (m === 'gradcam++' ? ' Then a^k is constant too.' : ''),
      ),
    );
  }

  const readout = el('pre', { class: 'readout', 'aria-live': 'polite', id: 'inside-readout' });
  const show = (i: number, j: number, k: number) => {
    panel.mark(i, j, h, w);
    readout.textContent = readoutText(d, n, i, j, k);
  };
  let lastK = ids[0];
  const point = (k: number | null) => (i: number, j: number) => show(i, j, (lastK = k ?? lastK));

  const cards = el('div', { class: 'channels' });
  left.append(cards);
  ids.forEach((k, slot) => {
    const tiles = el('div', { class: 'tiles' }, [panel.mapTile(Anorm, slot, `A^${k}`, 'grayscale', point(k))]);
    if (Gnorm) tiles.append(panel.mapTile(Gnorm, slot, `g^${k}${flat(G, k) ? ' (flat)' : ''}`, 'bwr', point(k)));
    if (alphaNorm) tiles.append(panel.mapTile(alphaNorm, slot, `a^${k}`, 'viridis', point(k)));
    cards.append(
      el('div', { class: 'channel' }, [
        el('h4', {}, `k = ${k}   ${wname}_k = ${fmt(weights[k])}`),
        tiles,
        ablateControl(panel, r, A, k),
      ]),
    );
  });

  right.append(...resultColumn(panel, maps.layer, `${d.relu ? 'L' : 'M'} (normalised)`, point(null), readout));
  await panel.drawTiles();

  // Start at the map's peak, first channel.
  let peak = 0;
  for (let p = 1; p < raw.length; p++) if (raw[p] > raw[peak]) peak = p;
  show(Math.floor(peak / w), peak % w, ids[0]);
}

/**
 * The right-hand column of an inside view: the map at the layer (row 0 of `layerMap`, in the
 * page's colormap) and the readout of the cell under the pointer.
 */
export function resultColumn(
  panel: InsidePanel,
  layerMap: Tensor,
  caption: string,
  point: (i: number, j: number) => void,
  readout: HTMLElement,
): HTMLElement[] {
  return [
    el('h3', {}, 'The result at the layer'),
    el('div', { class: 'result-tiles' }, [panel.mapTile(layerMap, 0, caption, panel.app.settings.colormap, point)]),
    el('h3', {}, 'Under the pointer'),
    readout,
    el('p', { class: 'note' }, 'Point at any tile (or focus one and use the arrow keys).'),
  ];
}

/**
 * A button that zeroes channel k of the layer's activations and runs the network from the layer
 * onward (Model.forwardFrom), showing the class score with and without the channel: Ablation-CAM's
 * idea, live. Only where every path from the input to the scores goes through the layer.
 */
export function ablateControl(panel: InsidePanel, r: RunResult, A: Float32Array, k: number): HTMLElement {
  const { app } = panel;
  const out = el('span', { class: 'ablate-result', 'aria-live': 'polite', 'data-channel': String(k) });
  const button = el('button', { type: 'button', class: 'ablate', 'data-channel': String(k) }, `Zero A^${k} and run on`);
  if (!r.layer.methods.includes('ablationcam')) {
    button.disabled = true;
    button.title = 'The input reaches the scores around this layer: the network cannot run from the layer onward.';
  }
  button.addEventListener('click', () => {
    button.disabled = true;
    void app
      .gpu(async () => {
        const e = app.e;
        const model = r.model.model;
        const [K, h, w] = r.layer.shape;
        const edited = Float32Array.from(A.subarray(0, K * h * w));
        edited.fill(0, k * h * w, (k + 1) * h * w);
        return e.scope(async () => {
          const given = { [r.layer.name]: e.upload(edited, [1, K, h, w], 'ablated') };
          const acts = await model.forwardFrom(given, { keep: [model.graph.scores] });
          const y = await acts.get(model.graph.scores).read();
          acts.destroy();
          return y[r.cls];
        });
      })
      .then((yk) => {
        const y = r.scores[r.cls];
        const label = r.model.labels[r.cls];
        out.textContent = `y(${label}) ${fmt(y)} → ${fmt(yk)} without channel ${k} (Δ ${fmt(yk - y)}; Ablation-CAM's weight (y − y_k)/y = ${fmt(y !== 0 ? (y - yk) / y : 0)})`;
      })
      .catch((err: unknown) => {
        out.textContent = `Could not run: ${err instanceof Error ? err.message : String(err)}`;
      })
      .finally(() => {
        button.disabled = false;
      });
  });
  return el('div', { class: 'ablate-row' }, [button, out]);
}

/** All K weights (or loadings) as bars, sorted; the shown channels highlighted. */
export function weightsChart(weights: ArrayLike<number>, shown: number[]): SVGSVGElement {
  const NS = 'http://www.w3.org/2000/svg';
  const svgEl = <K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>) => {
    const node = document.createElementNS(NS, tag);
    for (const [a, v] of Object.entries(attrs)) node.setAttribute(a, String(v));
    return node;
  };
  const K = weights.length;
  const order = Array.from({ length: K }, (_, k) => k).sort((a, b) => weights[b] - weights[a] || a - b);
  const max = Math.max(1e-30, ...Array.from(weights, Math.abs));
  const svg = svgEl('svg', {
    class: 'weights-chart',
    viewBox: `0 0 ${K} 100`,
    preserveAspectRatio: 'none',
    role: 'img',
    'aria-label': `Channel weights sorted: largest ${fmt(weights[order[0]])} (channel ${order[0]}), smallest ${fmt(weights[order[K - 1]])} (channel ${order[K - 1]})`,
  });
  svg.append(
    svgEl('line', {
      x1: 0,
      x2: K,
      y1: 50,
      y2: 50,
      stroke: '#999',
      'stroke-width': 0.3,
      'vector-effect': 'non-scaling-stroke',
    }),
  );
  order.forEach((k, x) => {
    const v = weights[k] / max;
    const rect = svgEl('rect', {
      x: x + 0.1,
      width: 0.8,
      y: v >= 0 ? 50 - 50 * v : 50,
      height: Math.max(0.5, 50 * Math.abs(v)),
      fill: shown.includes(k) ? '#1f5fbf' : v >= 0 ? '#9db6dd' : '#e2a0a0',
    });
    const title = svgEl('title', {});
    title.textContent = `channel ${k}: ${fmt(weights[k])}`;
    rect.append(title);
    svg.append(rect);
  });
  return svg;
}

/** The sums of `terms` over channel k's positions, recomputed from A and G (first pass given as `prev`). */
function channelSums(terms: Readonly<Record<string, Term>>, n: Numbers, k: number, prev: Sums): Record<string, number> {
  const Z = n.h * n.w;
  const out: Record<string, number> = {};
  for (const [name, t] of Object.entries(terms)) {
    let s = 0;
    for (let q = 0; q < Z; q++) s += t.ref(n.A[k * Z + q], n.G ? n.G[k * Z + q] : 0, prev);
    out[name] = s;
  }
  return out;
}

/** Every term of the method at cell (i, j) for channel k, and the sum the GPU's map holds. */
function readoutText(d: ChannelMethod | PerturbationMethod, n: Numbers, i: number, j: number, k: number): string {
  const { K, h, w, weights, raw, norm, A, G, alpha, ids } = n;
  const Z = h * w;
  const p = i * w + j;
  const a = A[k * Z + p];
  const lines: string[] = [`position (i, j) = (${i}, ${j}) of ${h}×${w}, channel k = ${k}`, ''];
  lines.push(`A^k_ij            = ${fmt(a)}`);
  const wk = `${d.symbol}_k`;
  if (d.family === 'perturbation') {
    lines.push(`${wk} = ${fmt(weights[k])}   (from the extra forward pass of channel ${k}; the GPU's weight)`);
  } else if (d.source === 'noisy-gradients') {
    lines.push(`${wk} = ${fmt(weights[k])}   (from the means of g, g², g³ over the noisy copies; the GPU's weight)`);
  } else if (d.source === 'linear-head') {
    lines.push(`${wk} = W[c, k] (the linear layer) = ${fmt(weights[k])}`);
  } else if (G) {
    lines.push(`g^k_ij = ∂y^c/∂A^k_ij = ${fmt(G[k * Z + p])}`);
    // The method's sums over the channel's Z positions (from its descriptor), then its weight.
    const first = channelSums(d.sums, n, k, {});
    const second = channelSums(d.sums2 ?? {}, n, k, first);
    for (const [name, v] of Object.entries({ ...first, ...second })) {
      const term = (d.sums2?.[name] ?? d.sums[name]).wgsl;
      lines.push(`sum_${name} = Σ_ij ${term} = ${fmt(v)}`);
    }
    const slot = ids.indexOf(k);
    const al = alpha && slot >= 0 ? alpha[slot * Z + p] : null;
    if (al !== null) lines.push(`a^k_ij = g²/(2g² + S_k·g³) = ${fmt(al)}   (S_k = sum_a)`);
    lines.push(`${wk} = ${d.weight!.wgsl} = ${fmt(weights[k])}   (Z = ${Z}; the GPU's weight)`);
  }
  lines.push(`${wk} · A^k_ij       = ${fmt(weights[k] * a)}`);
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
  if (d.relu) lines.push(`L_ij = ReLU(Σ)  = ${fmt(raw[p])}   (the GPU's map)`);
  else lines.push(`M_ij (no ReLU)  = ${fmt(raw[p])}   (the GPU's map)`);
  lines.push(`normalised (L − min)/(max − min) = ${fmt(norm[p])}`);
  return lines.join('\n');
}

/**
 * A spatial method (HiResCAM, …): no channel weights; the channels with the largest terms at
 * the map's peak, their A^k and g^k, the map, and at the cell under the pointer each term and
 * their sum.
 */
export async function renderSpatial(panel: InsidePanel, r: RunResult, m: SpatialMethodName): Promise<void> {
  const { app } = panel;
  const e = app.e;
  const ex = r.explanation;
  const d = spatialMethod(m);
  const maps = ex.maps[m]!;
  const [K, h, w] = r.layer.shape;
  const Z = h * w;
  const raw = await app.host(r, `${m}:raw`, maps.raw);
  const norm = await app.host(r, `${m}:layer`, maps.layer);
  const A = await app.host(r, 'A', ex.activations);
  const G = await app.host(r, 'G', ex.gradients!);
  let peak = 0;
  for (let q = 1; q < raw.length; q++) if (raw[q] > raw[peak]) peak = q;
  const termAt = (k: number, q: number) => d.term.ref(A[k * Z + q], G[k * Z + q], {});
  const ids = Array.from({ length: K }, (_, k) => k)
    .sort((a, b) => termAt(b, peak) - termAt(a, peak) || a - b)
    .slice(0, Math.min(SHOWN, K));
  const Anorm = panel.hold(await normalizeChannels(e, ex.activations, ids, { scale: 'minmax' }));
  const Gnorm = panel.hold(await normalizeChannels(e, ex.gradients!, ids, { scale: 'signed' }));

  const readout = el('pre', { class: 'readout', 'aria-live': 'polite', id: 'inside-readout' });
  const show = (i: number, j: number, k: number) => {
    panel.mark(i, j, h, w);
    const q = i * w + j;
    let sum = 0;
    for (let c = 0; c < K; c++) sum += termAt(c, q);
    readout.textContent = [
      `position (i, j) = (${i}, ${j}) of ${h}×${w}, channel k = ${k}`,
      '',
      `A^k_ij            = ${fmt(A[k * Z + q])}`,
      `g^k_ij = ∂y^c/∂A^k_ij = ${fmt(G[k * Z + q])}`,
      `term = ${d.term.wgsl} = ${fmt(termAt(k, q))}`,
      '',
      `Σ_k ${d.term.wgsl} over all ${K} channels = ${fmt(sum)}`,
      `${d.relu ? 'L_ij = ReLU(Σ)' : 'L_ij'}  = ${fmt(raw[q])}   (the GPU's map)`,
      `normalised (L − min)/(max − min) = ${fmt(norm[q])}`,
    ].join('\n');
  };
  let lastK = ids[0];
  const point = (k: number | null) => (i: number, j: number) => show(i, j, (lastK = k ?? lastK));
  const cards = el('div', { class: 'channels' });
  ids.forEach((k, slot) => {
    const tiles = el('div', { class: 'tiles' }, [
      panel.mapTile(Anorm, slot, `A^${k}`, 'grayscale', point(k)),
      panel.mapTile(Gnorm, slot, `g^${k}`, 'bwr', point(k)),
    ]);
    cards.append(
      el('div', { class: 'channel' }, [el('h4', {}, `k = ${k}   term at the peak = ${fmt(termAt(k, peak))}`), tiles]),
    );
  });
  const left = el('div', {}, [
    el('h3', {}, `The ${ids.length} channels with the largest terms at the map's peak`),
    cards,
  ]);
  const right = el('div', {}, resultColumn(panel, maps.layer, 'L (normalised)', point(null), readout));
  panel.body.append(el('div', { class: 'inside-grid' }, [left, right]));
  await panel.drawTiles();
  show(Math.floor(peak / w), peak % w, ids[0]);
}
