/**
 * The page's state and its run loop. Every GPU step (explain, drawing maps, the inside view, a
 * test-hook readback) runs through one serial queue, because the engine records into a single
 * command encoder. Requests coalesce: while a run is in flight, further requests only raise the
 * level of the next run, which reads the latest state when it starts (latest wins), so dragging
 * an item never queues up stale runs. After a device loss, recover() moves the page onto a new
 * engine: the model is loaded again from where it came from and the last run is redone.
 */
import { applicableMethods, explain, type Explanation } from '../src/attribution/explain';
import { isMultiPass, type Method } from '../src/methods/registry';
import type { Engine } from '../src/gpu/engine';
import type { Tensor } from '../src/gpu/tensor';
import type { Fit } from '../src/core/image';
import { preprocessImage } from '../src/ops/preprocess';
import type { ColormapName } from '../src/render/colormaps';
import type { ImageSource, RGBAImage } from './images';
import { loadModel, type DemoModel, type LayerInfo } from './models';

export interface Settings {
  fit: Fit;
  /** A tensor or module name (Graph.layer()); null: the model's default layer. */
  layer: string | null;
  /** The class to explain; null: each image's top class. */
  pinned: number | null;
  colormap: ColormapName;
  opacity: number;
  /** The method shown in "Inside the computation". */
  method: Method;
}

export interface Timings {
  /** GPU time per stage (ms) from timestamp queries; null when the adapter has none. */
  gpu: Record<string, number> | null;
  /** Wall-clock time per step (ms), measured in the page around each step's submission and wait. */
  wall: Record<string, number>;
}

export interface RunResult {
  seq: number;
  model: DemoModel;
  layer: LayerInfo;
  fit: Fit;
  source: ImageSource;
  /** The pixels given to the GPU preprocessing. */
  image: RGBAImage;
  /** The model input [1, 3, H, W] (normalised). */
  x: Tensor;
  /** The same crop and resize without normalisation, RGB in [0, 1]: what overlays are drawn on. */
  display: Tensor;
  explanation: Explanation;
  methods: Method[];
  /** The explained class. */
  cls: number;
  /** Per class: sigmoid(score) for a multi-label model, else the softmax. */
  probs: Float32Array;
  scores: Float32Array;
  timings: Timings;
  /** Readbacks of this run's small tensors, made once (hover values in the inside view). */
  host: Map<string, Float32Array>;
}

export interface Renderer {
  /** Draw the maps of `r` (called after each explain and on display-setting changes). */
  maps(r: RunResult): Promise<void>;
  /** Update "Inside the computation" for `r`. */
  inside(r: RunResult): Promise<void>;
  /** Everything that does not need the GPU (predictions list, captions, timings). */
  summary(r: RunResult): void;
  status(text: string, busy: boolean): void;
  error(message: string | null): void;
}

/** What the next run must do: 3 explain (then draw), 2 draw maps, 1 inside view only. */
export type Level = 1 | 2 | 3;

export class App {
  model: DemoModel | null = null;
  source: ImageSource | null = null;
  settings: Settings = {
    fit: 'center-crop',
    layer: null,
    pinned: null,
    colormap: 'turbo',
    opacity: 0.5,
    method: 'gradcam',
  };
  last: RunResult | null = null;
  /** Completed explain runs. */
  runs = 0;
  /** Message of the last failed run (cleared by the next successful one). */
  lastError: string | null = null;
  /** Engines this page has used: 1, plus one per recovery from a lost device. */
  engines = 1;
  #need = 0;
  #loop: Promise<void> | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #seq = 0;

  constructor(
    /** The engine in use (replaced by recover()). */
    public e: Engine,
    readonly renderer: Renderer,
  ) {}

  /** Run `fn` when every GPU step queued before it has finished. */
  gpu<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(fn);
    this.#queue = p.catch(() => {});
    return p;
  }

  get busy(): boolean {
    return this.#loop !== null;
  }

  request(level: Level): void {
    this.#need = Math.max(this.#need, level);
    if (!this.#loop) {
      this.#loop = this.#drain().finally(() => {
        this.#loop = null;
        if (this.#need) this.request(this.#need as Level);
      });
    }
  }

  /** Resolves once no run is in flight or requested. */
  async idle(): Promise<void> {
    while (this.#loop) await this.#loop;
  }

  /** The chosen layer (a tensor or module name), or the default where the model has no such layer. */
  layerInfo(m: DemoModel): LayerInfo {
    const chosen = this.settings.layer;
    let name = m.defaultLayer;
    if (chosen !== null) {
      try {
        name = m.model.graph.layer(chosen);
      } catch {
        // not a layer of this model: the default
      }
    }
    return m.layers.find((l) => l.name === name) ?? m.layers.find((l) => l.name === m.defaultLayer)!;
  }

  async #drain(): Promise<void> {
    // Let the event that asked for this run (and its neighbours) finish updating the state.
    await new Promise((r) => setTimeout(r, 0));
    while (this.#need) {
      const level = this.#need;
      this.#need = 0;
      try {
        if (level >= 3) {
          this.renderer.status('Explaining…', true);
          const r = await this.gpu(() => this.#explain());
          if (!r) {
            this.renderer.status(this.model ? 'Choose an image.' : 'Choose a model.', false);
            continue;
          }
          this.renderer.summary(r);
        }
        const r = this.last;
        if (!r) continue;
        if (level >= 2) await this.gpu(() => this.renderer.maps(r));
        // Mid-drag, skip the inside view: the next explain is already wanted.
        if (this.#need < 3) await this.gpu(() => this.renderer.inside(r));
        this.renderer.summary(r);
        this.lastError = null;
        this.renderer.error(null);
        this.renderer.status(this.#need ? 'Explaining…' : 'Ready.', this.#need > 0);
      } catch (err) {
        this.lastError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        this.renderer.error(this.lastError);
        this.renderer.status('The last run failed.', false);
      }
    }
  }

  async #explain(): Promise<RunResult | null> {
    const m = this.model;
    const source = this.source;
    if (!m || !source) return null;
    const e = this.e;
    const { fit, pinned } = this.settings;
    const layer = this.layerInfo(m);
    // A method of many passes (isMultiPass: SmoothGrad, Integrated Gradients,
    // Score-CAM, Ablation-CAM) only while it is
    // the selected one.
    const methods = applicableMethods(m.model.graph, layer.name).filter(
      (x) => !isMultiPass(x) || x === this.settings.method,
    );
    const image = source.pixels();
    let x: Tensor | null = null;
    let display: Tensor | null = null;
    let explanation: Explanation | null = null;
    try {
      const t0 = performance.now();
      e.stage('preprocess');
      x = await preprocessImage(e, image, { size: m.size, mean: m.mean, std: m.std, fit });
      display = await preprocessImage(e, image, { size: m.size, fit });
      await e.flush();
      const preprocessTimes = await e.stageTimings();
      explanation = await explain(m.model, x, {
        methods,
        layer: layer.name,
        targets: pinned !== null && pinned < m.labels.length ? [pinned] : { topK: 1 },
      });
      // The timings of explain()'s own submission (resolved once the GPU is done).
      const gpuTimes = explanation.stageTimings();
      const scores = await explanation.scores.read();
      const probs = m.multiLabel ? scores.map((y) => 1 / (1 + Math.exp(-y))) : await explanation.probabilities.read();
      const cls = (await explanation.classes.read())[0];
      const wall = performance.now() - t0;
      const stages = await gpuTimes;
      const gpu = stages ? { ...preprocessTimes, ...stages } : null;
      const result: RunResult = {
        seq: ++this.#seq,
        model: m,
        layer,
        fit,
        source,
        image,
        x,
        display,
        explanation,
        methods,
        cls,
        probs,
        scores,
        timings: { gpu, wall: { 'preprocess + explain + read scores': wall } },
        host: new Map(),
      };
      const prev = this.last;
      this.last = result;
      if (prev) destroyRun(prev);
      this.runs++;
      return result;
    } catch (err) {
      x?.destroy();
      display?.destroy();
      explanation?.destroy();
      throw err;
    }
  }

  /** Read a tensor of the last run once and keep the numbers (for hover readouts). */
  async host(r: RunResult, key: string, t: Tensor): Promise<Float32Array> {
    let v = r.host.get(key);
    if (!v) {
      v = await t.read();
      r.host.set(key, v);
    }
    return v;
  }

  /** Replace the model: the previous one is destroyed once the GPU queue reaches this point. */
  async setModel(m: DemoModel): Promise<void> {
    await this.gpu(async () => {
      const old = this.model;
      if (this.last) destroyRun(this.last);
      this.last = null;
      this.model = m;
      this.settings.layer = null;
      this.settings.pinned = null;
      if (old && old !== m) old.model.destroy();
    });
    this.request(3);
  }

  /**
   * Continue on `engine` after the current one's device was lost: what the old engine held is
   * dropped (its tensors died with the device), the model is loaded again on the new engine
   * from its source, and the last run is redone. Rejects when the model cannot be loaded again
   * (the page then has no model, on the new engine).
   */
  async recover(engine: Engine): Promise<void> {
    await this.gpu(async () => {
      const old = this.e;
      const last = this.last;
      const m = this.model;
      this.e = engine;
      this.engines++;
      this.last = null;
      this.model = null;
      if (last) destroyRun(last);
      m?.model.destroy();
      old.destroy();
      if (m?.source) this.model = await loadModel(engine, m.source);
    });
    this.request(3);
  }

  setSource(s: ImageSource): void {
    this.source = s;
    this.request(3);
  }
}

export function destroyRun(r: RunResult): void {
  r.x.destroy();
  r.display.destroy();
  r.explanation.destroy();
}
