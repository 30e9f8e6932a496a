/**
 * "Inside the computation" for the input-gradient methods (Guided Backprop, Guided Grad-CAM,
 * Saliency, Gradient × Input, SmoothGrad, Integrated Gradients): the method's map per colour
 * channel (for a method that multiplies the guided gradient by a channel method's map, Guided
 * Grad-CAM, the guided gradient, the two factors and their product), and the values at the pixel
 * under the pointer.
 */
import {
  inputGradientMethod,
  methodOf,
  type ChannelMethodName,
  type InputGradientMethodName,
} from '../../src/methods/registry';
import { normalizeChannels } from '../../src/render/display';
import type { RunResult } from '../app';
import { el, fmt } from './dom';
import type { InsidePanel } from './inside';

export async function renderGuided(panel: InsidePanel, r: RunResult, m: InputGradientMethodName): Promise<void> {
  const { app } = panel;
  const ex = r.explanation;
  const [H, W] = r.model.size;
  // The input gradient (with the method's rule at the ReLUs), and the map it is multiplied by;
  // a method that multiplies by no channel map shows its own map.
  const t = inputGradientMethod(m).times;
  const times = t !== undefined && t !== 'input' ? (t as ChannelMethodName) : undefined;
  const own = !times && m !== 'guided-backprop';
  const gb = own ? ex.maps[m]!.input : ex.maps['guided-backprop']!.input;
  const gName = own ? methodOf(m).label : 'Guided Backprop';
  const vName = own ? methodOf(m).label : '∂y/∂x (guided)';
  const cam = times ? ex.maps[times]!.input : null;
  const camName = times ? methodOf(times).label : '';
  // The view holds a reference to the map's storage: held, so that the next render releases it.
  const view = panel.hold(gb.reshape([1, 3, H, W]));
  const channels = panel.hold(await normalizeChannels(app.e, view, [0, 1, 2], { scale: 'signed' }));

  const readout = el('pre', { class: 'readout', 'aria-live': 'polite', id: 'inside-readout' });
  let write = (_i: number, _j: number) => {};
  const point = (i: number, j: number) => {
    panel.mark(i, j, H, W);
    write(i, j);
  };
  const left = el('div', {}, [
    el('h3', {}, `${gName}, one tile per input channel (blue < 0 < red)`),
    el('div', { class: 'tiles' }, [
      panel.mapTile(channels, 0, `${own ? gName : '∂y/∂x'}, red`, 'bwr', point),
      panel.mapTile(channels, 1, `${own ? gName : '∂y/∂x'}, green`, 'bwr', point),
      panel.mapTile(channels, 2, `${own ? gName : '∂y/∂x'}, blue`, 'bwr', point),
    ]),
  ]);
  if (cam) {
    left.append(
      el('h3', {}, 'The two factors and their product'),
      el('div', { class: 'tiles' }, [
        panel.mapTile(cam, 0, `upsampled ${camName}`, app.settings.colormap, point),
        panel.rgbTile(gb, 'Guided Backprop', point),
        panel.rgbTile(ex.maps[m]!.input, methodOf(m).label, point),
      ]),
    );
  } else {
    left.append(
      el('h3', {}, 'As an image (grey = 0)'),
      el('div', { class: 'tiles' }, [panel.rgbTile(gb, gName, point)]),
    );
  }
  panel.body.append(
    el('div', { class: 'inside-grid' }, [left, el('div', {}, [el('h3', {}, 'Under the pointer'), readout])]),
  );
  await panel.drawTiles();

  // The numbers for the readout: the guided gradient, the input, the Grad-CAM map.
  const g = await app.host(r, own ? m : 'guided-backprop', gb);
  const x = await app.host(r, 'x', r.x);
  const L = cam ? await app.host(r, `${times}:input`, cam) : null;
  const HW = H * W;
  write = (i, j) => {
    const p = i * W + j;
    const lines = [`pixel (row ${i}, column ${j}) of the ${H}×${W} input`, ''];
    ['red', 'green', 'blue'].forEach((name, c) => {
      const v = g[c * HW + p];
      let line = `${name.padEnd(5)}  x = ${fmt(x[c * HW + p]).padStart(10)}   ${vName} = ${fmt(v).padStart(10)}`;
      if (L) line += `   × L = ${fmt(L[p])}  →  ${fmt(L[p] * v)}`;
      lines.push(line);
    });
    lines.push('', 'x is the normalised input: (pixel/255 − mean)/std.');
    if (L) lines.push(`L = the upsampled, normalised ${camName} map at this pixel = ${fmt(L[p])}`);
    readout.textContent = lines.join('\n');
  };
  // Start where the gradient is largest.
  let peak = 0;
  let best = -1;
  for (let p = 0; p < HW; p++) {
    const s = Math.abs(g[p]) + Math.abs(g[HW + p]) + Math.abs(g[2 * HW + p]);
    if (s > best) [peak, best] = [p, s];
  }
  point(Math.floor(peak / W), peak % W);
}
