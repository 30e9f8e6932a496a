/**
 * "Inside the computation" for the eigen methods (Eigen-CAM, Eigen-Grad-CAM): the formula (shown
 * by the panel), the map at the layer, and under the pointer the projection the GPU computed
 * before and after normalisation. The principal component itself is not shown channel by
 * channel: it mixes all K channels at once.
 */
import { eigenMethod, type EigenMethodName } from '../../src/methods/registry';
import type { RunResult } from '../app';
import { el, fmt } from './dom';
import type { InsidePanel } from './inside';

export async function renderEigen(panel: InsidePanel, r: RunResult, m: EigenMethodName): Promise<void> {
  const { app } = panel;
  const d = eigenMethod(m);
  const maps = r.explanation.maps[m]!;
  const [K, h, w] = r.layer.shape;
  const raw = await app.host(r, `${m}:raw`, maps.raw);
  const norm = await app.host(r, `${m}:layer`, maps.layer);
  let peak = 0;
  for (let q = 1; q < raw.length; q++) if (raw[q] > raw[peak]) peak = q;
  const readout = el('pre', { class: 'readout', 'aria-live': 'polite', id: 'inside-readout' });
  const show = (i: number, j: number) => {
    panel.mark(i, j, h, w);
    const q = i * w + j;
    readout.textContent = [
      `position (i, j) = (${i}, ${j}) of ${h}×${w}; X has ${h * w} rows (positions) × ${K} columns (channels)`,
      `X_ij,k = ${d.term.wgsl}, centred over the positions`,
      '',
      `${d.relu ? 'L_ij = ReLU(±X_ij · v)' : 'L_ij = ±X_ij · v'} = ${fmt(raw[q])}   (the GPU's map)`,
      `normalised (L − min)/(max − min) = ${fmt(norm[q])}`,
      '',
      d.gradients ? 'X depends on the target class through g.' : 'No gradient: the same map for every target class.',
    ].join('\n');
  };
  const right = el('div', {}, [
    el('h3', {}, 'The result at the layer'),
    el('div', { class: 'result-tiles' }, [panel.mapTile(maps.layer, 0, 'L (normalised)', app.settings.colormap, show)]),
    el('h3', {}, 'Under the pointer'),
    readout,
    el('p', { class: 'note' }, 'Point at the tile (or focus it and use the arrow keys).'),
  ]);
  panel.body.append(el('div', { class: 'inside-grid' }, [right]));
  await panel.drawTiles();
  show(Math.floor(peak / w), peak % w);
}
