/**
 * "Inside the computation" for the eigen methods (Eigen-CAM, Eigen-Grad-CAM): the matrix X of
 * h·w positions × K channels (X_jk = the method's term of A and g), its first principal
 * direction v channel by channel (the loadings), the feature maps with the largest |v_k| (with
 * the zero-channel button of the channel methods), the map at the layer, and under the pointer
 * the projection p_j = Σ_k (X_jk − mean_k) v_k term by term.
 *
 * The GPU's power iteration keeps its vector in buffers of its own; the loadings shown here are
 * the float64 CPU reference's (firstComponent) on this run's read-back A and g, and the panel
 * states how far the reference's projection is from the GPU's map, so the two can be compared.
 */
import { eigenMethod, type EigenMethodName } from '../../src/methods/registry';
import { firstComponent } from '../../src/reference/attribution';
import type { Tensor } from '../../src/gpu/tensor';
import { normalizeChannels } from '../../src/render/display';
import type { RunResult } from '../app';
import { el, fmt } from './dom';
import type { InsidePanel } from './inside';
import { ablateControl, resultColumn, weightsChart } from './inside-channels';

/** How many channels are shown. */
const SHOWN = 8;

export async function renderEigen(panel: InsidePanel, r: RunResult, m: EigenMethodName): Promise<void> {
  const { app } = panel;
  const e = app.e;
  const ex = r.explanation;
  const d = eigenMethod(m);
  const maps = ex.maps[m]!;
  const [K, h, w] = r.layer.shape;
  const Z = h * w;
  const raw = await app.host(r, `${m}:raw`, maps.raw);
  const norm = await app.host(r, `${m}:layer`, maps.layer);
  const A = await app.host(r, 'A', ex.activations);
  const G = d.gradients && ex.gradients ? await app.host(r, 'G', ex.gradients) : null;

  // X as a [Z, K] matrix (row-major), its centred columns and first principal direction.
  const X = new Float64Array(Z * K);
  for (let k = 0; k < K; k++)
    for (let j = 0; j < Z; j++) X[j * K + k] = d.term.ref(A[k * Z + j], G ? G[k * Z + j] : 0, {});
  const { projection, values, direction: v } = firstComponent(X, Z, K);
  const mean = Array.from({ length: K }, (_, k) => {
    let s = 0;
    for (let j = 0; j < Z; j++) s += X[j * K + k];
    return s / Z;
  });
  let gap = 0;
  for (let j = 0; j < Z; j++)
    gap = Math.max(gap, Math.abs((d.relu ? Math.max(projection[j], 0) : projection[j]) - raw[j]));
  const scale = Math.max(1e-30, ...Array.from(raw, Math.abs));

  const ids = Array.from({ length: K }, (_, k) => k)
    .sort((a, b) => Math.abs(v[b]) - Math.abs(v[a]) || a - b)
    .slice(0, Math.min(SHOWN, K));
  const Anorm = panel.hold(await normalizeChannels(e, ex.activations, ids, { scale: 'minmax' }));
  let Gnorm: Tensor | null = null;
  if (G && ex.gradients) Gnorm = panel.hold(await normalizeChannels(e, ex.gradients, ids, { scale: 'signed' }));

  const readout = el('pre', { class: 'readout', 'aria-live': 'polite', id: 'inside-readout' });
  const show = (i: number, j: number, k: number) => {
    panel.mark(i, j, h, w);
    const q = i * w + j;
    const terms = Array.from({ length: K }, (_, c) => (X[q * K + c] - mean[c]) * v[c]);
    let shown = 0;
    for (const c of ids) shown += terms[c];
    readout.textContent = [
      `position (i, j) = (${i}, ${j}) of ${h}×${w}, channel k = ${k}`,
      `X has ${Z} rows (positions) × ${K} columns (channels); X_jk = ${d.term.wgsl}`,
      '',
      `A^k_ij                  = ${fmt(A[k * Z + q])}` + (G ? `\ng^k_ij = ∂y^c/∂A^k_ij  = ${fmt(G[k * Z + q])}` : ''),
      `X_jk                    = ${fmt(X[q * K + k])}`,
      `mean over positions     = ${fmt(mean[k])}`,
      `v_k (loading)           = ${fmt(v[k])}`,
      `(X_jk − mean_k) · v_k   = ${fmt(terms[k])}`,
      '',
      `p_j = Σ_k (X_jk − mean_k) v_k over all ${K} channels = ${fmt(projection[q])}`,
      `   of which the ${ids.length} shown                = ${fmt(shown)}`,
      `${d.relu ? 'L_ij = ReLU(p_j)' : 'L_ij = p_j'} = ${fmt(raw[q])}   (the GPU's map)`,
      `normalised (L − min)/(max − min) = ${fmt(norm[q])}`,
      '',
      d.gradients ? 'X depends on the target class through g.' : 'No gradient: the same map for every target class.',
    ].join('\n');
  };
  let lastK = ids[0];
  const point = (k: number | null) => (i: number, j: number) => show(i, j, (lastK = k ?? lastK));

  const cards = el('div', { class: 'channels' });
  ids.forEach((k, slot) => {
    const tiles = el('div', { class: 'tiles' }, [panel.mapTile(Anorm, slot, `A^${k}`, 'grayscale', point(k))]);
    if (Gnorm) tiles.append(panel.mapTile(Gnorm, slot, `g^${k}`, 'bwr', point(k)));
    cards.append(
      el('div', { class: 'channel', 'data-loading': String(v[k]) }, [
        el('h4', {}, `k = ${k}   v_k = ${fmt(v[k])}`),
        tiles,
        ablateControl(panel, r, A, k),
      ]),
    );
  });
  const ratio = values[0] > 0 ? values[1] / values[0] : 0;
  const left = el('div', {}, [
    el('h3', {}, `Loadings v_k of all ${K} channels, largest first`),
    weightsChart(v, ids),
    el(
      'p',
      { class: 'note', id: 'eigen-component' },
      `v is the first principal direction of X (its Gram matrix's top eigenvector): σ₁² = ${fmt(values[0])}, ` +
        `σ₂²/σ₁² = ${fmt(ratio)}. Computed here in float64 from this run's A${G ? ' and g' : ''}; ` +
        `its projection differs from the GPU's map by at most ${fmt(gap)} (${fmt(gap / scale)} of the map's largest value).`,
    ),
    el('h3', {}, `The ${ids.length} feature maps with the largest |v_k|`),
    cards,
  ]);
  const right = el('div', {}, resultColumn(panel, maps.layer, 'L (normalised)', point(null), readout));
  panel.body.append(el('div', { class: 'inside-grid' }, [left, right]));
  await panel.drawTiles();
  let peak = 0;
  for (let q = 1; q < raw.length; q++) if (raw[q] > raw[peak]) peak = q;
  show(Math.floor(peak / w), peak % w, ids[0]);
}
