/**
 * window.__camDemo: a test hook. Tests drive the page through it (choose a sample, compose,
 * pick a class) and read back what the page computed: the maps of the last run, the exact
 * pixels and preprocessing it used, and a canvas's pixels as the page shows them. Everything
 * that touches the GPU goes through the app's queue, so it never interleaves with a run.
 */
import type { Method } from '../src/attribution/explain';
import type { Fit } from '../src/core/image';
import type { App } from './app';
import type { BackgroundKind } from './background';
import type { ImagePanel } from './views/image-panel';
import type { InsideView } from './views/inside';
import type { MapsView } from './views/maps';
import type { Tour } from './tour';
import type { FaithfulnessView } from './views/faithfulness';
import type { ModelPanel } from './views/model-panel';

export interface DemoSummary {
  ready: boolean;
  adapter: { vendor: string; architecture: string; device: string; description: string; isSoftware: boolean };
  model: string | null;
  layer: string | null;
  size: [number, number] | null;
  /** The explained class and its label. */
  cls: number | null;
  label: string | null;
  top5: { cls: number; label: string; prob: number; score: number }[];
  methods: Method[];
  camReason: string | null;
  runs: number;
  source: string | null;
  /** Message of the last failed run, of the model panel, of the status line. */
  error: string | null;
  modelError: string | null;
  status: string;
  liveTensors: number;
  /** Engines the page has used (1 + recoveries from a lost device), and what it said about a loss. */
  engines: number;
  deviceNotice: string | null;
}

export interface CanvasPixels {
  width: number;
  height: number;
  /** RGBA bytes, as getImageData gives them. */
  data: number[];
}

interface Parts {
  app: App;
  maps: MapsView;
  inside: InsideView;
  images: ImagePanel;
  models: ModelPanel;
  tour: Tour;
  faithfulness: FaithfulnessView;
}

export function installHook(p: Parts) {
  const { app, maps, inside, images } = p;
  const composer = images.composer;
  const text = (id: string) => document.getElementById(id)?.textContent ?? '';

  const summary = (): DemoSummary => {
    const r = app.last;
    const order = r ? Array.from(r.probs, (_, i) => i).sort((a, b) => r.probs[b] - r.probs[a] || a - b) : [];
    const modelErr = document.getElementById('model-error')!;
    return {
      ready: document.documentElement.dataset.state === 'ready',
      adapter: { ...app.e.adapter },
      model: app.model?.name ?? null,
      layer: r?.layer.name ?? null,
      size: r?.model.size ?? null,
      cls: r?.cls ?? null,
      label: r ? r.model.labels[r.cls] : null,
      top5: r
        ? order.slice(0, 5).map((c) => ({ cls: c, label: r.model.labels[c], prob: r.probs[c], score: r.scores[c] }))
        : [],
      methods: r?.methods ?? [],
      camReason: r?.layer.camReason ?? null,
      runs: app.runs,
      source: r?.source.name ?? null,
      error: app.lastError,
      modelError: modelErr.hidden ? null : modelErr.textContent,
      status: text('run-status'),
      liveTensors: app.e.liveTensors,
      engines: app.engines,
      deviceNotice: document.getElementById('device-notice')?.hidden === false ? text('device-notice') : null,
    };
  };

  const idle = async (): Promise<DemoSummary> => {
    await app.idle();
    await app.gpu(async () => {});
    return summary();
  };

  /** Draw `draw` again and read the canvas in the same task, before the frame is presented. */
  const readCanvas = (canvas: HTMLCanvasElement, draw: (after: () => void) => Promise<void>) =>
    app.gpu(async (): Promise<CanvasPixels> => {
      const copy = document.createElement('canvas');
      let out: CanvasPixels | null = null;
      await draw(() => {
        copy.width = canvas.width;
        copy.height = canvas.height;
        const g = copy.getContext('2d', { willReadFrequently: true })!;
        g.drawImage(canvas, 0, 0);
        out = {
          width: copy.width,
          height: copy.height,
          data: Array.from(g.getImageData(0, 0, copy.width, copy.height).data),
        };
      });
      return out!;
    });

  const api = {
    summary,
    idle,
    samples: () => images.samples.map((s) => ({ file: s.file, name: s.name, items: s.items })),
    async chooseSample(file: string) {
      const s = images.samples.find((x) => x.file === file || x.name === file);
      if (!s) throw new Error(`no sample '${file}'`);
      images.showTab('samples');
      await images.chooseSample(s);
      return idle();
    },
    selectClass(cls: number | null) {
      app.settings.pinned = cls;
      app.request(3);
      return idle();
    },
    setLayer(name: string | null) {
      app.settings.layer = name;
      app.request(3);
      return idle();
    },
    setFit(fit: Fit) {
      app.settings.fit = fit;
      app.request(3);
      return idle();
    },
    setMethod(m: Method) {
      (document.querySelector(`#inside-tabs [data-method="${m}"]`) as HTMLButtonElement).click();
      return idle();
    },
    compose: {
      start() {
        images.showTab('compose');
        composer.clear();
        return idle();
      },
      background(kind: BackgroundKind, seed?: number) {
        composer.setBackground({ kind, ...(seed === undefined ? {} : { seed }) });
        return idle();
      },
      add(o: { cls: number; x: number; y: number; side?: number; tint?: [number, number, number] }) {
        return composer.add(o).id;
      },
      move(id: number, x: number, y: number) {
        composer.move(id, x, y);
      },
      remove(id: number) {
        composer.remove(id);
      },
      /** Items with class, label and box in the scene's pixels (see image()). */
      items() {
        return composer.itemBoxes();
      },
    },
    /** Maps of the last run, at the input resolution: [H·W] per channel method, [3·H·W] guided. */
    readMaps(methods: Method[], which: 'input' | 'layer' | 'raw' | 'weights' = 'input') {
      return app.gpu(async () => {
        const r = app.last;
        if (!r) throw new Error('no run yet');
        const out: Record<string, number[]> = {};
        for (const m of methods) {
          const maps = r.explanation.maps[m] as Record<string, { read(): Promise<Float32Array> }> | undefined;
          if (!maps) throw new Error(`the last run has no ${m} map`);
          const t = maps[which] ?? maps.input;
          out[m] = Array.from(await t.read());
        }
        return out;
      });
    },
    /** What the last run gave the GPU preprocessing, and the settings it ran with. */
    lastInput() {
      const r = app.last;
      if (!r) throw new Error('no run yet');
      return {
        image: { width: r.image.width, height: r.image.height, data: Array.from(r.image.data) },
        fit: r.fit,
        size: r.model.size,
        mean: r.model.mean,
        std: r.model.std,
        layer: r.layer.name,
        cls: r.cls,
        methods: r.methods,
        model: r.model.name,
      };
    },
    /** Pixels of a WebGPU canvas: 'input', a method's map, or tile n of the inside view. */
    readCanvas(which: Method | 'input' | `inside:${number}`) {
      const r = app.last;
      if (!r) throw new Error('no run yet');
      if (which.startsWith('inside:')) {
        const n = Number(which.slice(7));
        return readCanvas(inside.canvases[n], (after) => inside.redrawTile(n, after));
      }
      const draw = maps.draw(which as Method | 'input', r);
      if (!draw) throw new Error(`no ${which} map in the last run`);
      const canvas =
        which === 'input'
          ? (document.getElementById('model-input') as HTMLCanvasElement)
          : maps.canvas(which as Method);
      return readCanvas(canvas, draw);
    },
    insideTiles: () => inside.canvases.length,
    /** Click the faithfulness button and wait for the curves (null when they could not be computed). */
    async faithfulness() {
      (document.getElementById('faith-run') as HTMLButtonElement).click();
      await p.faithfulness.settled();
      await idle();
      return { curves: p.faithfulness.curves, note: text('faith-note') };
    },
    tour: {
      state: () => ({ current: p.tour.current, numbers: p.tour.numbers, error: p.tour.error }),
      /** Wait until the current step (started any way: a click, the keyboard) has computed its numbers. */
      async settled() {
        await p.tour.settled();
        await idle();
        return { current: p.tour.current, numbers: p.tour.numbers, error: p.tour.error, summary: summary() };
      },
      /** Click a step's button and wait until the step has computed its numbers (or failed). */
      async go(id: string) {
        (document.querySelector(`#tour-steps [data-step="${id}"]`) as HTMLButtonElement).click();
        await p.tour.settled();
        await idle();
        return { current: p.tour.current, numbers: p.tour.numbers, error: p.tour.error, summary: summary() };
      },
    },
    /** Lose the GPU device (destroy it under the engine), as a driver reset would. */
    loseDevice() {
      app.e.device.destroy();
    },
    /** Open an image file as the file input would (the file's bytes and name). */
    openImageFile: (bytes: Uint8Array, name: string, type = 'image/png') =>
      images.openImage(new Blob([bytes as BlobPart], { type }), name).then(idle),
    openModelFiles: (file: File, labels: File | null) => p.models.openFiles(file, labels),
  };
  window.__camDemo = api;
  return api;
}

export type CamDemoHook = ReturnType<typeof installHook>;

declare global {
  interface Window {
    /** The demo page's test hook (demo/hook.ts). */
    __camDemo: CamDemoHook;
  }
}
