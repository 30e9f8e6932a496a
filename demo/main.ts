/**
 * The demo page: pick a model and an image (samples, your own file, or a scene you compose), and
 * see every attribution method's map and how it is computed, all on WebGPU. This file starts the page
 * and wires the parts: app.ts (state and run loop), views/model-panel.ts, views/image-panel.ts,
 * views/summary.ts, views/maps.ts, views/inside.ts, tour.ts (the lecture tour), hook.ts (the test hook, in development and
 * test builds only). When the GPU device is lost, the page says so, starts a new engine, loads
 * the model again and redoes the run (watchLoss).
 */
import type { Method } from '../src/attribution/explain';
import { isMultiPass } from '../src/methods/registry';
import { Engine } from '../src/gpu/engine';
import { WebGPUUnavailableError } from '../src/core/errors';
import type { Fit } from '../src/core/image';
import { COLORMAPS, type ColormapName } from '../src/render/colormaps';
import { App, type Renderer } from './app';
import { byId, el, errorText } from './views/dom';
import { ImagePanel } from './views/image-panel';
import { InsideView } from './views/inside';
import { MapsView } from './views/maps';
import { ModelPanel } from './views/model-panel';
import { SummaryView } from './views/summary';
import { Tour } from './tour';
import { FaithfulnessView } from './views/faithfulness';

/** Replace the page by a message: no WebGPU (what the browser needs), or another fatal error. */
function fatal(message: string, kind: 'no-webgpu' | 'failed' = 'no-webgpu'): void {
  const a = byId('adapter');
  if (kind === 'no-webgpu') a.textContent = 'No WebGPU';
  a.dataset.state = 'error';
  byId('no-webgpu-reason').textContent = message;
  if (kind === 'failed') {
    byId('no-webgpu').querySelector('h2')!.textContent = 'The page stopped';
    for (const p of byId('no-webgpu').querySelectorAll('p:not(#no-webgpu-reason)')) p.remove();
  }
  byId('no-webgpu').hidden = false;
  byId('app').hidden = true;
  document.documentElement.dataset.state = kind;
}

async function acquire(): Promise<Engine | null> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    const insecure = window.isSecureContext ? '' : '; the page is also not in a secure context';
    fatal(`This browser does not expose WebGPU (navigator.gpu is missing${insecure}).`);
    return null;
  }
  try {
    return await Engine.create();
  } catch (e) {
    fatal(e instanceof WebGPUUnavailableError ? e.message : `Could not acquire a WebGPU device: ${errorText(e)}`);
    return null;
  }
}

function showAdapter(engine: Engine): void {
  const ad = engine.adapter;
  const a = byId('adapter');
  const name = [ad.vendor, ad.architecture, ad.device].filter(Boolean).join(' · ') || ad.description || 'unnamed';
  const badge = el(
    'span',
    { class: 'badge', title: 'A CPU implementation of WebGPU: expect it to be slow' },
    'software',
  );
  a.replaceChildren(`WebGPU adapter: ${name}`, ad.isSoftware ? badge : '');
  a.title = ad.description;
  a.dataset.state = 'ready';
}

/** Attempts at starting a new engine after a device loss, and the wait before each retry. */
const RECOVERY_ATTEMPTS = 3;
const RECOVERY_DELAY_MS = 1000;

/**
 * When `engine`'s device is lost (and the page did not replace it itself), say so, start a new
 * engine, move the app onto it (the model loaded again, the run redone) and watch that one.
 * After RECOVERY_ATTEMPTS failures the page stops with the reason.
 */
function watchLoss(app: App, engine: Engine, notice: HTMLElement): void {
  void engine.lost.then(async (loss) => {
    if (engine.destroyed || app.e !== engine) return;
    const what = `The GPU device was lost (${loss.reason}${loss.message ? `: ${loss.message}` : ''})`;
    notice.textContent = `${what}. Starting a new one…`;
    notice.hidden = false;
    for (let attempt = 1; ; attempt++) {
      try {
        const next = await Engine.create();
        showAdapter(next);
        watchLoss(app, next, notice);
        await app.recover(next);
        const model = app.model ? `, loaded ${app.model.name} again` : '';
        notice.textContent = `${what}; the page started a new one${model} and ran again.`;
        return;
      } catch (err) {
        if (attempt >= RECOVERY_ATTEMPTS) {
          fatal(`${what}, and a new one could not be started: ${errorText(err)}. Reload the page.`, 'failed');
          return;
        }
        await new Promise((r) => setTimeout(r, RECOVERY_DELAY_MS * attempt));
      }
    }
  });
}

async function main(): Promise<void> {
  const engine = await acquire();
  if (!engine) return;
  showAdapter(engine);
  byId('app').hidden = false;

  // The views need the app and the app needs the renderer: the renderer looks them up late.
  const statusEl = byId('run-status');
  const errorEl = el('p', { id: 'run-error-slot', class: 'error', role: 'alert', hidden: '' });
  const noticeEl = el('p', { id: 'device-notice', class: 'notice', role: 'status', hidden: '' });
  statusEl.after(errorEl, noticeEl);
  const views = {} as {
    maps: MapsView;
    inside: InsideView;
    summary: SummaryView;
    images: ImagePanel;
    tour: Tour;
    faithfulness: FaithfulnessView;
  };
  const renderer: Renderer = {
    maps: (r) => views.maps.render(r),
    inside: async (r) => {
      await views.inside.render(r);
      views.faithfulness?.render(r);
      await views.tour?.render(r);
    },
    summary: (r) => {
      views.summary.render(r);
      views.images.showOriginal(r);
    },
    status(text, busy) {
      statusEl.textContent = text;
      statusEl.dataset.busy = String(busy);
    },
    error(message) {
      errorEl.hidden = !message;
      errorEl.textContent = message ?? '';
    },
  };
  const app = new App(engine, renderer);
  watchLoss(app, engine, noticeEl);
  const selectMethod = (m: Method) => {
    app.settings.method = m;
    views.maps.select(m);
    views.inside.select(m);
    // A method of many passes is computed while it is selected: explain again when the last
    // run lacks it.
    const explainAgain = isMultiPass(m) && !app.last?.methods.includes(m);
    app.request(explainAgain ? 3 : 1);
  };
  views.maps = new MapsView(app, byId('maps'), byId<HTMLCanvasElement>('model-input'), (m) => {
    selectMethod(m);
    byId('inside').scrollIntoView({ behavior: 'smooth', block: 'start' });
  });
  views.inside = new InsideView(app, byId('inside-tabs'), byId('inside-body'), selectMethod);
  views.summary = new SummaryView(app, (cls) => {
    app.settings.pinned = cls;
    app.request(3);
  });
  views.maps.select(app.settings.method);
  views.inside.select(app.settings.method);
  const models = new ModelPanel(app, renderer.status);
  const images = (views.images = new ImagePanel(app, models, (m) => renderer.error(m)));
  await images.init();
  views.faithfulness = new FaithfulnessView(app);
  views.tour = new Tour({
    app,
    composer: images.composer,
    shipped: models.shipped,
    openModel: (entry) => models.open({ kind: 'shipped', entry }),
    showScene: () => images.showScene(),
    selectMethod,
  });

  // Display settings: redraw only (opacity, colormap) or run again (fit).
  const opacity = byId<HTMLInputElement>('opacity');
  opacity.value = String(app.settings.opacity);
  opacity.addEventListener('input', () => {
    app.settings.opacity = Number(opacity.value);
    app.request(2);
  });
  const colormap = byId<HTMLSelectElement>('colormap');
  colormap.replaceChildren(...COLORMAPS.map((c) => el('option', { value: c }, c)));
  colormap.value = app.settings.colormap;
  colormap.addEventListener('change', () => {
    app.settings.colormap = colormap.value as ColormapName;
    app.request(2);
  });
  const fit = byId<HTMLSelectElement>('fit-select');
  fit.value = app.settings.fit;
  fit.addEventListener('change', () => {
    app.settings.fit = fit.value as Fit;
    app.request(3);
  });

  // The test hook (window.__camDemo) is for the dev server and `vite build --mode test` only:
  // in `npm run build` the condition is false at build time and hook.ts is left out.
  if (import.meta.env.DEV || import.meta.env.MODE === 'test') {
    const { installHook } = await import('./hook');
    installHook({
      app,
      maps: views.maps,
      inside: views.inside,
      images,
      models,
      tour: views.tour,
      faithfulness: views.faithfulness,
    });
  }

  // Start with the first shipped model and a two-item sample.
  if (models.shipped.length) await models.open({ kind: 'shipped', entry: models.shipped[0] });
  else renderer.status('No shipped model in this build: open your own ONNX classifier.', false);
  const first = images.samples.find((s) => s.items.length === 2) ?? images.samples[0];
  if (first) await images.chooseSample(first);
  await app.idle();
  document.documentElement.dataset.state = 'ready';
}

main().catch((err) => {
  // Last resort: show it rather than throw into the console.
  fatal(`The page failed to start: ${errorText(err)}`, 'failed');
});
