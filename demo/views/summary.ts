/**
 * The parts of a run that need no GPU: the top-5 classes (buttons that explain a class), the
 * note on which class is explained, and the stage timings.
 */
import type { App, RunResult } from '../app';
import { byId, el, fmt } from './dom';

export class SummaryView {
  readonly #top5 = byId<HTMLOListElement>('top5');
  readonly #note = byId('class-note');
  readonly #timings = byId<HTMLTableElement>('timings');
  readonly #timingNote = byId('timing-note');

  constructor(
    readonly app: App,
    onClass: (cls: number | null) => void,
  ) {
    this.#top5.addEventListener('click', (ev) => {
      const b = (ev.target as HTMLElement).closest('button');
      if (!b) return;
      if (b.dataset.follow !== undefined) onClass(null);
      else onClass(Number(b.dataset.class));
    });
    this.#note.addEventListener('click', (ev) => {
      if ((ev.target as HTMLElement).closest('button')) onClass(null);
    });
  }

  render(r: RunResult): void {
    const { labels } = r.model;
    const order = Array.from(r.probs, (_, i) => i).sort((a, b) => r.probs[b] - r.probs[a] || a - b);
    const top = order.slice(0, Math.min(5, order.length));
    // The explained class is listed even when it is not in the top 5.
    if (!top.includes(r.cls)) top.push(r.cls);
    this.#top5.replaceChildren(
      ...top.map((c) => {
        const p = r.probs[c];
        return el(
          'li',
          {},
          el(
            'button',
            {
              type: 'button',
              'data-class': String(c),
              'aria-pressed': String(c === r.cls),
              title: `Explain ${labels[c]} (score y = ${fmt(r.scores[c])})`,
            },
            [
              el('span', { class: 'num' }, String(order.indexOf(c) + 1)),
              el('span', {}, labels[c]),
              el(
                'span',
                { class: 'bar', 'aria-hidden': 'true' },
                el('span', { style: `width: ${(100 * p).toFixed(1)}%` }),
              ),
              el('span', { class: 'num' }, `${(100 * p).toFixed(1)} %`),
              el('span', { class: 'num logit', title: 'class score y (logit)' }, `y ${fmt(r.scores[c], 3)}`),
            ],
          ),
        );
      }),
    );
    const pinned = this.app.settings.pinned;
    if (pinned === null) {
      this.#note.replaceChildren(
        `Explaining the top class, ${labels[r.cls]}. Choose another class to explain it instead (the maps then follow that class while you change the image).`,
      );
    } else {
      this.#note.replaceChildren(
        `Explaining ${labels[pinned]}, chosen by you. `,
        el('button', { type: 'button' }, 'Follow the top class again'),
      );
    }
    this.#note.append(
      ' ',
      r.model.multiLabel
        ? 'The model is multi-label: each percentage is sigmoid(y), the probability that an item of that class is in the image; they need not add up to 100 %.'
        : 'Percentages are the softmax of the scores y.',
    );
    this.timings(r);
  }

  timings(r: RunResult): void {
    const body = this.#timings.tBodies[0];
    const rows: [string, number][] = [];
    const gpu = r.timings.gpu;
    if (gpu) {
      for (const k of ['preprocess', 'forward', 'backward', 'attribution', 'render', 'inside']) {
        if (gpu[k] !== undefined) rows.push([`${k} (GPU)`, gpu[k]]);
      }
    }
    for (const [k, v] of Object.entries(r.timings.wall)) rows.push([`${k} (wall clock)`, v]);
    body.replaceChildren(...rows.map(([k, v]) => el('tr', {}, [el('td', {}, k), el('td', {}, v.toFixed(1))])));
    const a = this.app.e.adapter;
    this.#timingNote.textContent = gpu
      ? 'GPU times come from timestamp queries around each compute pass; wall-clock times include JavaScript, submission and waiting for results.'
      : `This adapter${a.isSoftware ? ' (a software one)' : ''} offers no timestamp queries, so only wall-clock times are shown: they include JavaScript, submission and waiting, and the first run also compiles the shaders.`;
  }
}
