/**
 * Faithfulness of the selected map, on request: the deletion and insertion curves of the
 * explained class (evaluate(), src/metrics/evaluate.ts: the map's pixels removed, or added to a
 * blurred copy, most salient first, in STEPS steps, each step's image a row of one batched
 * forward pass), plotted as SVG with their areas. On request only, because each curve is
 * STEPS + 1 more forward passes; a new run clears the plot, since it belongs to the old map.
 */
import { isInputGradient, methodOf, type Method } from '../../src/methods/registry';
import { evaluate } from '../../src/metrics/evaluate';
import type { Tensor } from '../../src/gpu/tensor';
import type { App, RunResult } from '../app';
import { byId, errorText, fmt } from './dom';

const STEPS = 10;
const SVG = 'http://www.w3.org/2000/svg';

export interface Curves {
  method: Method;
  cls: number;
  deletion: number[];
  insertion: number[];
  deletionAuc: number;
  insertionAuc: number;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

export class FaithfulnessView {
  #r: RunResult | null = null;
  #method: Method | null = null;
  #running: Promise<unknown> | null = null;
  #curves: Curves | null = null;
  readonly #button = byId<HTMLButtonElement>('faith-run');
  readonly #plot = byId('faith-plot');
  readonly #note = byId('faith-note');

  constructor(readonly app: App) {
    this.#button.addEventListener('click', () => {
      this.#running = this.compute();
    });
  }

  /** Resolves when the computation the button started (if any) has finished. */
  async settled(): Promise<void> {
    await this.#running;
  }

  /** The curves last computed (null until asked, and after a new run). */
  get curves(): Curves | null {
    return this.#curves;
  }

  /** After each run: the previous curves belong to the old map. */
  render(r: RunResult): void {
    const m = this.app.settings.method;
    if (this.#r !== r || this.#method !== m) {
      this.#r = r;
      this.#method = m;
      this.#curves = null;
      this.#plot.replaceChildren();
    }
    const why = isInputGradient(m)
      ? `${methodOf(m).label} gives a map per input channel: the curves need one value per pixel.`
      : !r.explanation.maps[m]
        ? `${methodOf(m).label} has no map in this run.`
        : null;
    this.#button.disabled = why !== null;
    if (!this.#curves) {
      this.#note.textContent =
        why ??
        `${methodOf(m).label} for ${r.model.labels[r.cls]}: ${STEPS + 1} images per curve, one batched forward pass each.`;
    }
  }

  /** Compute and plot the curves of the selected method's map for the explained class. */
  async compute(): Promise<Curves | null> {
    const r = this.#r;
    const m = this.app.settings.method;
    if (!r || isInputGradient(m)) return null;
    this.#button.disabled = true;
    this.#note.textContent = 'Computing the curves…';
    try {
      const curves = await this.app.gpu(async () => {
        const maps = r.explanation.maps[m] as { input: Tensor } | undefined;
        if (!maps) throw new Error(`${methodOf(m).label} has no map in this run`);
        const e = this.app.e;
        const [H, W] = r.model.size;
        return e.scope(async () => {
          // The page explains one class of one image: the map's row 0.
          const map = e.slice(maps.input, 0, [1, H, W], 'faithfulness:map');
          const del = await evaluate(r.model.model, r.x, { metric: 'deletion', map, targets: [r.cls], steps: STEPS });
          const ins = await evaluate(r.model.model, r.x, { metric: 'insertion', map, targets: [r.cls], steps: STEPS });
          return {
            method: m,
            cls: r.cls,
            deletion: Array.from(del.rows[0].curve!),
            insertion: Array.from(ins.rows[0].curve!),
            deletionAuc: del.rows[0].value,
            insertionAuc: ins.rows[0].value,
          };
        });
      });
      if (this.#r !== r || this.#method !== m) return null; // a new run or method came meanwhile
      this.#curves = curves;
      this.#draw(curves);
      this.#note.textContent =
        `${methodOf(m).label} for ${r.model.labels[r.cls]}: deletion AUC ${fmt(curves.deletionAuc, 3)} (lower is better), ` +
        `insertion AUC ${fmt(curves.insertionAuc, 3)} (higher is better); softmax probability of the class.`;
      return curves;
    } catch (err) {
      this.#note.textContent = `The curves could not be computed: ${errorText(err)}`;
      return null;
    } finally {
      this.#button.disabled = false;
    }
  }

  #draw(c: Curves): void {
    const w = 240;
    const h = 150;
    const pad = 24;
    const x = (i: number) => pad + (i / STEPS) * (w - 2 * pad);
    const y = (v: number) => h - pad - v * (h - 2 * pad);
    const line = (vals: number[], cls: string) =>
      svg('polyline', { class: cls, points: vals.map((v, i) => `${x(i)},${y(v)}`).join(' ') });
    const root = svg('svg', {
      viewBox: `0 0 ${w} ${h}`,
      role: 'img',
      'aria-label': `Deletion and insertion curves: areas ${fmt(c.deletionAuc, 3)} and ${fmt(c.insertionAuc, 3)}`,
    });
    root.append(
      svg('line', { class: 'axis', x1: String(pad), y1: String(h - pad), x2: String(w - pad), y2: String(h - pad) }),
      svg('line', { class: 'axis', x1: String(pad), y1: String(pad), x2: String(pad), y2: String(h - pad) }),
      line(c.deletion, 'deletion'),
      line(c.insertion, 'insertion'),
    );
    const label = (text: string, lx: number, ly: number, cls = '') => {
      const t = svg('text', { x: String(lx), y: String(ly), class: cls });
      t.textContent = text;
      return t;
    };
    root.append(
      label('0 %', pad - 4, h - 8),
      label('100 % of the pixels', w - pad - 70, h - 8),
      label('1', 8, pad + 4),
      label('deletion', w - pad - 50, y(c.deletion[STEPS]) - 4, 'deletion'),
      label('insertion', w - pad - 50, y(c.insertion[STEPS]) + 12, 'insertion'),
    );
    this.#plot.replaceChildren(root);
  }
}
