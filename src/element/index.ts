/**
 * <webgpu-cam-explainer>: an image with what a classifier looks at in it, as a custom element
 * with no framework, built on the library's public API (src/index.ts) alone. Importing this
 * module defines the element (the package's "./element" entry):
 *
 *   <script type="module">import 'webgpu-cam/element';</script>
 *   <webgpu-cam-explainer model="net.onnx" sidecar="net.json" src="cat.jpg" method="gradcam"></webgpu-cam-explainer>
 *
 * It fetches the model (and sidecar) and the image, explains the image's top classes in one
 * explain() call on WebGPU and draws the chosen class's map over the image from the GPU buffer
 * into a WebGPU canvas, with a class picker and an opacity slider. Without WebGPU it shows a
 * message saying what the browser needs. Attributes (all may change at any time; the latest wins):
 *
 *   model     URL of the ONNX model (required)
 *   sidecar   URL of its JSON sidecar: labels, mean, std, inputSize (optional)
 *   src       URL of the image (PNG, JPEG, anything the browser decodes)
 *   method    one of METHODS (default gradcam)
 *   score     the explained score of each class: logit (default), probability (softmax) or sigmoid
 *   layer     the layer to explain at (default: the model's last spatial layer)
 *   classes   how many of the top classes the picker offers (default 5)
 *   colormap  one of COLORMAPS (default turbo)
 *   opacity   the map's weight over the image, 0…1 (default 0.5)
 *   fit       center-crop (default) or stretch
 *
 * The element sets its `state` attribute to loading, ready, error or no-webgpu, and fires
 * `explained` (detail: the result) and `error` (detail: { error }). It uses one Engine per page,
 * shared by every such element, or the one given to `engine`; it frees its model and tensors
 * when it leaves the page. See docs/ELEMENT.md.
 */
import {
  canvasRowStride,
  drawToCanvas,
  Engine,
  explain,
  guidedRGBA,
  InvalidInputError,
  isColormap,
  isMultiLabel,
  loadOnnx,
  METHODS,
  methodOf,
  ModelFormatError,
  SCORES,
  overlay,
  preprocessImage,
  readRGBA,
  WebGPUUnavailableError,
  type ColormapName,
  type Explanation,
  type Fit,
  type LoadedModel,
  type Method,
  type OnnxSidecar,
  type Recorder,
  type Score,
  type Tensor,
} from '../index';

/** The tag name. */
export const TAG = 'webgpu-cam-explainer';

/** What the element shows: the image's top classes and the one whose map is drawn. */
export interface ExplainerResult {
  method: Method;
  /** The explained score (the `score` attribute). */
  score: Score;
  layer: string;
  /** The top classes, best first, with score and probability (sigmoid for a multi-label model, else softmax). */
  classes: { class: number; label: string; score: number; probability: number }[];
  /** The class whose map is shown. */
  selected: number;
}

export type ExplainerState = 'loading' | 'ready' | 'error' | 'no-webgpu';

/** Images larger than this are scaled down (by the browser) before they are uploaded. */
const MAX_PIXELS = 2048 * 2048;

const STYLE = `
:host { display: inline-block; width: 256px; max-width: 100%; font: 13px/1.4 system-ui, sans-serif; color: inherit; }
:host([hidden]) { display: none; }
figure { margin: 0; }
canvas { display: block; width: 100%; aspect-ratio: var(--aspect, 1); background: #0001; border-radius: 4px; }
figcaption { margin: 4px 0; min-height: 1.4em; }
.controls { display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: center; }
.controls[hidden], canvas[hidden], figcaption[hidden] { display: none; }
label { display: inline-flex; gap: 4px; align-items: center; }
select { max-width: 14em; font: inherit; }
input[type='range'] { width: 7em; }
.message { margin: 4px 0; }
:host([state='error']) .message, :host([state='no-webgpu']) .message { padding: 8px; border: 1px solid #c33a; border-radius: 4px; }
`;

let sharedEngine: Promise<Engine> | null = null;

/** The page's engine, made on first use and shared by every element without its own. */
function pageEngine(): Promise<Engine> {
  if (!sharedEngine) {
    sharedEngine = Engine.create();
    sharedEngine.catch(() => (sharedEngine = null));
  }
  return sharedEngine;
}

function noWebGPU(): string | null {
  const gpu = (navigator as Navigator & { gpu?: unknown }).gpu;
  if (gpu) return null;
  const insecure = window.isSecureContext ? '' : ' The page is also not in a secure context (https or localhost).';
  return `This explanation needs WebGPU, which this browser does not offer (navigator.gpu is missing): use a recent Chrome or Edge (113 or later), or another browser with WebGPU enabled.${insecure}`;
}

/** RGBA pixels of an image URL, over white, scaled down when larger than MAX_PIXELS. */
async function fetchPixels(url: string): Promise<ImageData> {
  const r = await fetch(url);
  if (!r.ok) throw new InvalidInputError(`could not fetch the image '${url}': HTTP ${r.status} ${r.statusText}`);
  const bitmap = await createImageBitmap(await r.blob());
  try {
    let w = bitmap.width;
    let h = bitmap.height;
    if (w * h > MAX_PIXELS) {
      const s = Math.sqrt(MAX_PIXELS / (w * h));
      w = Math.max(1, Math.floor(w * s));
      h = Math.max(1, Math.floor(h * s));
    }
    const canvas = new OffscreenCanvas(w, h);
    const g = canvas.getContext('2d', { willReadFrequently: true });
    if (!g) throw new InvalidInputError("OffscreenCanvas.getContext('2d') returned null: the image cannot be read");
    g.fillStyle = '#fff';
    g.fillRect(0, 0, w, h);
    g.drawImage(bitmap, 0, 0, w, h);
    return g.getImageData(0, 0, w, h);
  } finally {
    bitmap.close();
  }
}

/** A sidecar: the JSON at `url`. */
async function fetchJSON(url: string): Promise<unknown> {
  const r = await fetch(url);
  if (!r.ok) throw new InvalidInputError(`could not fetch the sidecar '${url}': HTTP ${r.status} ${r.statusText}`);
  const text = await r.text();
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ModelFormatError(`the sidecar '${url}' is not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null) {
    throw new ModelFormatError(`the sidecar '${url}' is not a JSON object or list of labels`);
  }
  return v;
}

const errorText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

interface Run {
  explanation: Explanation;
  /** The model input without normalisation, RGB in [0, 1]: what the map is drawn over. */
  display: Tensor;
  result: ExplainerResult;
  size: [number, number];
}

export class WebGpuCamExplainer extends HTMLElement {
  static readonly observedAttributes = [
    'model',
    'sidecar',
    'src',
    'method',
    'score',
    'layer',
    'classes',
    'colormap',
    'opacity',
    'fit',
  ];

  readonly #root: ShadowRoot;
  readonly #canvas: HTMLCanvasElement;
  readonly #caption: HTMLElement;
  readonly #controls: HTMLElement;
  readonly #picker: HTMLSelectElement;
  readonly #opacity: HTMLInputElement;
  readonly #message: HTMLElement;
  #engine: Engine | null = null;
  #recorder: Recorder | null = null;
  /** The loaded model, for the model and sidecar URLs it came from. */
  #model: { key: string; loaded: LoadedModel; multiLabel: boolean } | null = null;
  #run: Run | null = null;
  /** The last overlay drawn (kept for readPixels()). */
  #rgba: Tensor | null = null;
  /** Work on the GPU, one step at a time; `#wanted` says what the next step must redo. */
  #queue: Promise<unknown> = Promise.resolve();
  #wanted: 'explain' | 'draw' | null = null;
  #scheduled = false;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = STYLE;
    const figure = document.createElement('figure');
    figure.part.add('figure');
    this.#canvas = document.createElement('canvas');
    this.#canvas.part.add('canvas');
    this.#canvas.hidden = true;
    this.#caption = document.createElement('figcaption');
    this.#caption.part.add('caption');
    this.#caption.setAttribute('aria-live', 'polite');
    figure.append(this.#canvas, this.#caption);
    this.#controls = document.createElement('div');
    this.#controls.className = 'controls';
    this.#controls.part.add('controls');
    this.#controls.hidden = true;
    this.#picker = document.createElement('select');
    this.#picker.part.add('class-picker');
    this.#opacity = document.createElement('input');
    Object.assign(this.#opacity, { type: 'range', min: '0', max: '1', step: '0.05' });
    this.#opacity.part.add('opacity');
    const label = (text: string, control: HTMLElement) => {
      const l = document.createElement('label');
      l.append(text, control);
      return l;
    };
    this.#controls.append(label('Class', this.#picker), label('Opacity', this.#opacity));
    this.#message = document.createElement('p');
    this.#message.className = 'message';
    this.#message.part.add('message');
    this.#message.setAttribute('role', 'status');
    this.#root.append(style, figure, this.#controls, this.#message);
    this.#picker.addEventListener('change', () => this.#request('draw'));
    this.#opacity.addEventListener('input', () => this.setAttribute('opacity', this.#opacity.value));
  }

  /** The engine to use (default: one shared by every element of the page). Set it before the element connects. */
  get engine(): Engine | null {
    return this.#engine;
  }

  set engine(e: Engine | null) {
    if (e === this.#engine) return;
    this.#release();
    this.#engine = e;
    this.#recorder = null;
    if (this.isConnected) this.#request('explain');
  }

  /** What is shown, or null before the first explanation. */
  get result(): ExplainerResult | null {
    return this.#run ? { ...this.#run.result, selected: this.selectedClass ?? this.#run.result.selected } : null;
  }

  get state(): ExplainerState | null {
    return (this.getAttribute('state') as ExplainerState | null) ?? null;
  }

  /** The class whose map is shown (one of result.classes). */
  get selectedClass(): number | null {
    return this.#run ? Number(this.#picker.value) : null;
  }

  set selectedClass(c: number | null) {
    if (c === null || !this.#run) return;
    if (!this.#run.result.classes.some((x) => x.class === c)) return;
    this.#picker.value = String(c);
    this.#request('draw');
  }

  /** Resolves when every change made so far is explained and drawn (or has failed), and what was released is freed. */
  async updated(): Promise<void> {
    await this.#queue;
  }

  /** The shown class's map at the model input's resolution: [H·W] in [0, 1] ([3·H·W] for the guided methods). */
  async readMap(): Promise<Float32Array> {
    await this.updated();
    return this.#gpu(async () => {
      const run = this.#run;
      if (!run) throw new InvalidInputError(`${TAG}: nothing explained yet`);
      const t = run.result.classes.findIndex((c) => c.class === this.selectedClass);
      const maps = await (run.explanation.maps[run.result.method] as { input: Tensor }).input.read();
      const per = maps.length / run.result.classes.length;
      return maps.slice(t * per, (t + 1) * per);
    });
  }

  /** The pixels drawn into the canvas, read back from the GPU: RGBA8 rows (ImageData's layout), the model input's size. */
  async readPixels(): Promise<{ width: number; height: number; data: Uint8ClampedArray }> {
    await this.updated();
    return this.#gpu(async () => {
      const run = this.#run;
      if (!run || !this.#rgba) throw new InvalidInputError(`${TAG}: nothing drawn yet`);
      const [H, W] = run.size;
      return { width: W, height: H, data: await readRGBA(this.#recorder!, this.#rgba, W, H) };
    });
  }

  connectedCallback(): void {
    this.#request('explain');
  }

  disconnectedCallback(): void {
    // Freed once the work in flight is done; a reconnect explains again.
    void this.#gpu(async () => this.#release());
  }

  attributeChangedCallback(name: string, old: string | null, value: string | null): void {
    if (old === value || !this.isConnected) return;
    if (name === 'opacity' || name === 'colormap') this.#request('draw');
    else this.#request('explain');
  }

  #setState(state: ExplainerState, message = ''): void {
    this.setAttribute('state', state);
    this.#message.textContent = message;
    this.#message.hidden = !message;
  }

  /** Ask for a new explanation or a redraw; requests coalesce, and the latest attributes win. */
  #request(what: 'explain' | 'draw'): void {
    if (what === 'explain') this.#wanted = 'explain';
    else this.#wanted ??= 'draw';
    if (this.#scheduled) return;
    this.#scheduled = true;
    void this.#gpu(async () => {
      // Let the changes of this task (several attributes set in a row) arrive first.
      await new Promise((r) => setTimeout(r, 0));
      this.#scheduled = false;
      const wanted = this.#wanted;
      this.#wanted = null;
      if (!this.isConnected || !wanted) return;
      try {
        if (wanted === 'explain') await this.#explain();
        if (this.#run) await this.#draw();
      } catch (e) {
        this.#fail(e);
      }
    });
  }

  /** Run `fn` after every GPU step queued before it. */
  #gpu<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(fn);
    this.#queue = p.catch(() => {});
    return p;
  }

  #fail(e: unknown): void {
    const noGPU = e instanceof WebGPUUnavailableError;
    this.#setState(noGPU ? 'no-webgpu' : 'error', noGPU ? `This explanation needs WebGPU: ${e.message}` : errorText(e));
    this.#canvas.hidden = noGPU || !this.#run;
    this.#controls.hidden = noGPU || !this.#run;
    this.dispatchEvent(new CustomEvent('error', { detail: { error: e } }));
  }

  #attr<T>(name: string, parse: (v: string) => T | undefined, dflt: T): T {
    const v = this.getAttribute(name);
    if (v === null || v === '') return dflt;
    const p = parse(v);
    if (p === undefined) throw new InvalidInputError(`${TAG}: ${name}="${v}" is not valid`);
    return p;
  }

  async #explain(): Promise<void> {
    const missing = noWebGPU();
    if (missing) {
      this.#setState('no-webgpu', missing);
      this.#canvas.hidden = true;
      this.#controls.hidden = true;
      this.dispatchEvent(new CustomEvent('error', { detail: { error: new WebGPUUnavailableError(missing) } }));
      return;
    }
    const modelUrl = this.getAttribute('model');
    const src = this.getAttribute('src');
    if (!modelUrl || !src) {
      this.#setState('loading', !modelUrl ? 'No model: set the model attribute.' : 'No image: set the src attribute.');
      return;
    }
    const method = this.#attr(
      'method',
      (v) => ((METHODS as readonly string[]).includes(v) ? (v as Method) : undefined),
      'gradcam' as Method,
    );
    const score = this.#attr(
      'score',
      (v) => ((SCORES as readonly string[]).includes(v) ? (v as Score) : undefined),
      'logit' as Score,
    );
    const count = this.#attr('classes', (v) => (/^\d+$/.test(v) && Number(v) >= 1 ? Number(v) : undefined), 5);
    const fit = this.#attr(
      'fit',
      (v) => (v === 'stretch' || v === 'center-crop' ? (v as Fit) : undefined),
      'center-crop' as Fit,
    );
    const sidecarUrl = this.getAttribute('sidecar');
    this.#setState('loading', 'Explaining…');

    if (!this.#engine) this.#engine = await pageEngine();
    const e = this.#engine;
    this.#recorder ??= e.recorder(TAG);
    const r = this.#recorder;
    const key = JSON.stringify([modelUrl, sidecarUrl]);
    if (this.#model?.key !== key) {
      this.#releaseRun();
      this.#model?.loaded.model.destroy();
      this.#model = null;
      const sidecar = sidecarUrl ? await fetchJSON(sidecarUrl) : undefined;
      const loaded = await loadOnnx(e, modelUrl, { sidecar: sidecar as OnnxSidecar | string[] | undefined });
      this.#model = { key, loaded, multiLabel: isMultiLabel(sidecar) };
    }
    const { loaded, multiLabel } = this.#model;
    if (loaded.model.inputShape[0] !== 3) {
      throw new InvalidInputError(
        `the model takes ${loaded.model.inputShape[0]}-channel input; the element feeds it RGB images (3 channels)`,
      );
    }
    const g = loaded.model.graph;
    const layer = this.getAttribute('layer') || g.defaultLayer();
    const pixels = await fetchPixels(src);
    const [, H, W] = loaded.model.inputShape;
    const pre = loaded.preprocessing;
    const size: [number, number] = pre ? pre.inputSize : [H, W];
    const rgb = (v: number[] | undefined) => v as [number, number, number] | undefined;
    const numClasses = g.shape(g.scores)[1];
    const t = Math.min(count, numClasses);

    let x: Tensor | null = null;
    let display: Tensor | null = null;
    let explanation: Explanation | null = null;
    try {
      x = await preprocessImage(r, pixels, { size, mean: rgb(pre?.mean), std: rgb(pre?.std), fit });
      display = await preprocessImage(r, pixels, { size, fit });
      explanation = await explain(loaded.model, x, { methods: [method], targets: { topK: t }, score, layer });
      const scores = await explanation.scores.read();
      const probs = multiLabel ? scores.map((y) => 1 / (1 + Math.exp(-y))) : await explanation.probabilities.read();
      const classes = (await explanation.readClasses())[0];
      const labels = loaded.labels ?? [];
      const result: ExplainerResult = {
        method,
        score,
        layer,
        classes: classes.map((c) => ({
          class: c,
          label: labels[c] ?? `class ${c}`,
          score: scores[c],
          probability: probs[c],
        })),
        selected: classes[0],
      };
      x.destroy();
      x = null;
      const previous = this.#run ? Number(this.#picker.value) : null;
      this.#releaseRun();
      this.#run = { explanation, display, result, size };
      explanation = null;
      display = null;
      this.#picker.replaceChildren(
        ...result.classes.map((c) => {
          const o = document.createElement('option');
          o.value = String(c.class);
          o.textContent = `${c.label} (${(100 * c.probability).toFixed(1)}%)`;
          return o;
        }),
      );
      this.#picker.value = String(classes.includes(previous ?? -1) ? previous : classes[0]);
      this.style.setProperty('--aspect', `${size[1]} / ${size[0]}`);
    } finally {
      x?.destroy();
      display?.destroy();
      explanation?.destroy();
    }
  }

  async #draw(): Promise<void> {
    const run = this.#run!;
    const r = this.#recorder!;
    const [H, W] = run.size;
    const colormap = this.#attr(
      'colormap',
      (v) => (isColormap(v) ? (v as ColormapName) : undefined),
      'turbo' as ColormapName,
    );
    const opacity = this.#attr('opacity', (v) => (Number(v) >= 0 && Number(v) <= 1 ? Number(v) : undefined), 0.5);
    const selected = Number(this.#picker.value);
    const target = run.result.classes.findIndex((c) => c.class === selected);
    const m = run.result.method;
    const maps = (run.explanation.maps[m] as { input: Tensor }).input;
    const guided = methodOf(m).family === 'input-gradient';
    const rowStride = canvasRowStride(W);
    const rgba = guided
      ? await guidedRGBA(r, maps.rank === 3 ? maps.reshape([1, ...maps.shape]) : maps, { target, rowStride })
      : await overlay(r, maps, run.display, { colormap, opacity, target, rowStride });
    this.#rgba?.destroy();
    this.#rgba = rgba;
    const context = this.#canvas.getContext('webgpu');
    if (!context) throw new WebGPUUnavailableError("canvas.getContext('webgpu') returned null");
    this.#canvas.hidden = false;
    await drawToCanvas(r, rgba, W, H, context);
    this.#opacity.value = String(opacity);
    this.#opacity.disabled = guided;
    this.#controls.hidden = false;
    const c = run.result.classes[target];
    this.#caption.textContent = `${methodOf(m).label}: ${c.label} (${(100 * c.probability).toFixed(1)}%)`;
    this.#setState('ready');
    this.dispatchEvent(new CustomEvent('explained', { detail: this.result }));
  }

  #releaseRun(): void {
    this.#rgba?.destroy();
    this.#rgba = null;
    if (this.#run) {
      this.#run.explanation.destroy();
      this.#run.display.destroy();
      this.#run = null;
    }
  }

  #release(): void {
    this.#releaseRun();
    this.#model?.loaded.model.destroy();
    this.#model = null;
  }
}

if (!customElements.get(TAG)) customElements.define(TAG, WebGpuCamExplainer);

declare global {
  interface HTMLElementTagNameMap {
    'webgpu-cam-explainer': WebGpuCamExplainer;
  }
}
