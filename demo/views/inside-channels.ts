/**
 * "Inside the computation" for the channel-weight methods (CAM, Grad-CAM, Grad-CAM++,
 * counterfactual): the weights of all K channels, the feature maps A^k with the largest weights
 * next to their gradients g^k (and Grad-CAM++'s a^k), the map at the layer, and the readout of
 * every term at the cell under the pointer.
 */
import type { Method } from '../../src/attribution/explain';
import type { Tensor } from '../../src/gpu/tensor';
import { gradcamppAlpha, normalizeChannels } from '../../src/render/display';
import type { RunResult } from '../app';
import { el, fmt } from './dom';
import type { InsidePanel } from './inside';

/** How many channels are shown. */
const SHOWN = 8;

type ChannelMethod = 'cam' | 'gradcam' | 'gradcam++' | 'counterfactual';

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

export async function renderChannels(panel: InsidePanel, r: RunResult, m: ChannelMethod): Promise<void> {
  const { app } = panel;
  const e = app.e;
  const ex = r.explanation;
  const maps = ex.maps[m]!;
  const [K, h, w] = r.layer.shape;
  const weights = await app.host(r, `${m}:weights`, maps.weights);
  const raw = await app.host(r, `${m}:raw`, maps.raw);
  const norm = await app.host(r, `${m}:layer`, maps.layer);
  const A = await app.host(r, 'A', ex.activations);
  const G = m !== 'cam' && ex.gradients ? await app.host(r, 'G', ex.gradients) : null;
  const ids = Array.from({ length: K }, (_, k) => k)
    .sort((a, b) => weights[b] - weights[a] || a - b)
    .slice(0, Math.min(SHOWN, K));

  // GPU: the shown channels scaled for display, and Grad-CAM++'s a^k.
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

  const wname = m === 'gradcam' || m === 'counterfactual' ? 'α' : 'w';
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
    readout.textContent = readoutText(m, n, i, j, k);
  };
  let lastK = ids[0];
  const point = (k: number | null) => (i: number, j: number) => show(i, j, (lastK = k ?? lastK));

  const cards = el('div', { class: 'channels' });
  left.append(cards);
  ids.forEach((k, slot) => {
    const tiles = el('div', { class: 'tiles' }, [panel.mapTile(Anorm, slot, `A^${k}`, 'grayscale', point(k))]);
    if (Gnorm) tiles.append(panel.mapTile(Gnorm, slot, `g^${k}${flat(G, k) ? ' (flat)' : ''}`, 'bwr', point(k)));
    if (alphaNorm) tiles.append(panel.mapTile(alphaNorm, slot, `a^${k}`, 'viridis', point(k)));
    cards.append(el('div', { class: 'channel' }, [el('h4', {}, `k = ${k}   ${wname}_k = ${fmt(weights[k])}`), tiles]));
  });

  right.append(
    el('h3', {}, 'The result at the layer'),
    el('div', { class: 'result-tiles' }, [
      panel.mapTile(maps.layer, 0, `${m === 'cam' ? 'M' : 'L'} (normalised)`, app.settings.colormap, point(null)),
    ]),
    el('h3', {}, 'Under the pointer'),
    readout,
    el('p', { class: 'note' }, 'Point at any tile (or focus one and use the arrow keys).'),
  );
  await panel.drawTiles();

  // Start at the map's peak, first channel.
  let peak = 0;
  for (let p = 1; p < raw.length; p++) if (raw[p] > raw[peak]) peak = p;
  show(Math.floor(peak / w), peak % w, ids[0]);
}

/** All K weights as bars, sorted; the shown channels highlighted. */
function weightsChart(weights: Float32Array, shown: number[]): SVGSVGElement {
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

/** Every term of the method at cell (i, j) for channel k, and the sum the GPU's map holds. */
function readoutText(m: Method, n: Numbers, i: number, j: number, k: number): string {
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
  if (m === 'cam') lines.push(`M_ij (no ReLU)  = ${fmt(raw[p])}   (the GPU's map)`);
  else lines.push(`L_ij = ReLU(Σ)  = ${fmt(raw[p])}   (the GPU's map)`);
  lines.push(`normalised (L − min)/(max − min) = ${fmt(norm[p])}`);
  return lines.join('\n');
}
