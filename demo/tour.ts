/**
 * The lecture tour: the argument of the lecture on class attribution maps that the project comes
 * from, step by step, each step a live computation of the page. A step sets up its scene in the
 * composer (so it can be edited: drag, resize, add items), its model, method and class; the page
 * runs as usual (maps grid, inside view), and the step then reads the numbers it talks about from
 * the GPU buffers of that run (and, where it needs them, from a few more runs of its own: the
 * top-5 CAM maps, two classes' Guided Grad-CAM factors, the scores of masked inputs) and shows
 * them next to the formula, with a "try this" prompt. Every later run (an edit of the scene, a
 * class picked) recomputes the step's numbers.
 */
import { explain, type Method } from '../src/attribution/explain';
import type { Tensor } from '../src/gpu/tensor';
import { energyInBoxes } from '../src/metrics/localization';
import { canvasRowStride } from '../src/render/canvas';
import { guidedRGBA } from '../src/render/display';
import { overlay } from '../src/render/overlay';
import type { App, RunResult } from './app';
import type { ShippedModel } from './assets';
import type { Composer } from './composer';
import { byId, el, fmt } from './views/dom';
import { drawRGBA, gpuContext } from './views/maps';

type RGB = [number, number, number];

/** One item of a step's scene: class, centre and side in scene units (96 × 96), tint. */
interface SceneItem {
  cls: number;
  x: number;
  y: number;
  side: number;
  tint: RGB;
}

/** What a step computed, as the page shows it and as the test hook returns it. */
export interface StepNumbers {
  [key: string]: number | number[] | string | string[] | boolean;
}

interface Step {
  id: string;
  title: string;
  model: 'fashion_cam' | 'fashion_deep';
  method: Method;
  scene: SceneItem[];
  /** The formula and the argument, as HTML paragraphs. */
  text: string[];
  tryThis: string;
  /** The step's numbers for run `r`, written into `out` (a GPU step: runs in the app's queue). */
  compute(ctx: StepContext, r: RunResult, out: HTMLElement): Promise<StepNumbers>;
}

interface StepContext {
  app: App;
  /** n canvases for the step's own maps (created once per step, reused by later runs). */
  canvases(n: number, captions: string[]): GPUCanvasContext[];
  /** The scene's items with their boxes in the model input's pixels (the maps' grid). */
  boxes(r: RunResult): { class: number; label: string; box: [number, number, number, number] }[];
}

// Class ids of the shipped models (Fashion-MNIST).
const TSHIRT = 0;
const PULLOVER = 2;
const COAT = 4;
const SANDAL = 5;
const SNEAKER = 7;
const BAG = 8;
const BOOT = 9;

const WHITE: RGB = [0.95, 0.95, 0.95];
const WARM: RGB = [0.95, 0.8, 0.55];
const COOL: RGB = [0.6, 0.85, 0.95];

/** The scene of the first three steps: CAM, Grad-CAM against CAM, and the model without a CAM head. */
const BOOT_AND_TSHIRT: SceneItem[] = [
  { cls: BOOT, x: 30, y: 34, side: 40, tint: WARM },
  { cls: TSHIRT, x: 66, y: 62, side: 44, tint: COOL },
];

// ---- small numeric helpers (host side, on numbers read back from the GPU) --------------------

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

function table(head: string[], rows: (string | number)[][]): HTMLTableElement {
  return el('table', { class: 'tour-table' }, [
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        head.map((h) => el('th', { scope: 'col' }, h)),
      ),
    ),
    el(
      'tbody',
      {},
      rows.map((row) =>
        el(
          'tr',
          {},
          row.map((c) => el('td', {}, typeof c === 'number' ? fmt(c) : c)),
        ),
      ),
    ),
  ]);
}

const sigmoid = (y: number) => 1 / (1 + Math.exp(-y));

/** The score of class c for input x (host copy [1, C, H, W]) with the pixels where keep[p] = 0 set to 0. */
async function maskedScore(app: App, r: RunResult, x: Float32Array, keep: Uint8Array, c: number): Promise<number> {
  const e = app.e;
  const [H, W] = r.model.size;
  const P = H * W;
  const masked = Float32Array.from(x);
  for (let ch = 0; ch < masked.length / P; ch++) {
    for (let p = 0; p < P; p++) if (!keep[p]) masked[ch * P + p] = 0;
  }
  return e.scope(async () => {
    const input = e.upload(masked, r.x.shape, 'tour:masked');
    const acts = await r.model.model.forward(input);
    const y = await acts.get(r.model.model.graph.scores).read();
    acts.destroy();
    return y[c];
  });
}

// ---- the steps -------------------------------------------------------------------------------

const v = (s: string) => `<var>${s}</var>`;

const STEPS: Step[] = [
  {
    id: 'cam',
    title: '1. CAM: global average pooling and the linear layer',
    model: 'fashion_cam',
    method: 'cam',
    scene: BOOT_AND_TSHIRT,
    text: [
      `This network ends in global average pooling and one linear layer: ${v('y')}<sup>${v('c')}</sup> = Σ<sub>${v('k')}</sub> ${v('w')}<sup>${v('c')}</sup><sub>${v('k')}</sub> · GAP(${v('A')}<sup>${v('k')}</sup>) + ${v('b')}<sub>${v('c')}</sub>.`,
      `Moving the sum inside the average gives the class activation map: ${v('M')}<sup>${v('c')}</sup><sub>${v('ij')}</sub> = Σ<sub>${v('k')}</sub> ${v('w')}<sup>${v('c')}</sup><sub>${v('k')}</sub> ${v('A')}<sup>${v('k')}</sup><sub>${v('ij')}</sub>, whose average plus the bias is the score. Below: the largest terms of the sum, read from this run's GPU buffers, and the score the forward pass computed.`,
    ],
    tryThis:
      'Drag the boot onto the T-shirt, or pick another class in the prediction list: the weights change with the class, the feature maps do not.',
    async compute(ctx, r, out) {
      const m = r.model.model;
      const head = m.graph.camHead(r.layer.name);
      if ('reason' in head) throw new Error(`the CAM step needs a GAP → linear head: ${head.reason}`);
      const [, K, h, w] = r.explanation.activations.shape;
      const A = await r.explanation.activations.read();
      const Wt = await m.weight(`${head.linear.name}.weight`).read();
      let bias = 0;
      try {
        bias = (await m.weight(`${head.linear.name}.bias`).read())[r.cls];
      } catch {
        // a linear layer without a bias
      }
      const gap = Array.from({ length: K }, (_, k) => {
        let s = 0;
        for (let p = 0; p < h * w; p++) s += A[k * h * w + p];
        return s / (h * w);
      });
      const terms = gap.map((g, k) => ({ k, g, wk: Wt[r.cls * K + k], t: g * Wt[r.cls * K + k] }));
      const sum = terms.reduce((s, t) => s + t.t, 0);
      const top = [...terms].sort((a, b) => Math.abs(b.t) - Math.abs(a.t)).slice(0, 6);
      const label = r.model.labels[r.cls];
      // The five most probable classes' CAMs of this image, one more explain of this input.
      const order = Array.from(r.probs.keys())
        .sort((a, b) => r.probs[b] - r.probs[a])
        .slice(0, 5);
      const canvases = ctx.canvases(
        5,
        order.map((c) => `${r.model.labels[c]} (${fmt(r.probs[c], 2)})`),
      );
      await drawMaps(ctx.app, r, canvases, async () => {
        const ex = await explain(m, r.x, { methods: ['cam'], layer: r.layer.name, targets: order });
        return { tensors: ex.tensors(), maps: order.map((_, t) => slice2d(ctx.app, ex.maps.cam!.input, t, r)) };
      });
      out.replaceChildren(
        el('p', {}, `Class ${label}: ${K} feature maps of ${h} × ${w}; the six largest terms of the sum:`),
        table(
          ['k', 'GAP(Aᵏ)', 'wᶜₖ', 'product'],
          top.map((t) => [String(t.k), t.g, t.wk, t.t]),
        ),
        table(
          ['Σₖ wᶜₖ GAP(Aᵏ)', '+ bᶜ', '= yᶜ from the buffers', 'yᶜ of the forward pass'],
          [[sum, bias, sum + bias, r.scores[r.cls]]],
        ),
        el(
          'p',
          { class: 'note' },
          'The top-5 classes’ maps of this image (the lecture’s palace / dome / church slide):',
        ),
      );
      return { cls: r.cls, channels: K, sum: sum + bias, score: r.scores[r.cls], top5: order };
    },
  },
  {
    id: 'gradcam-is-cam',
    title: '2. Why Grad-CAM generalises CAM',
    model: 'fashion_cam',
    method: 'gradcam',
    scene: BOOT_AND_TSHIRT,
    text: [
      `Grad-CAM weighs each feature map by its average gradient: α<sup>${v('c')}</sup><sub>${v('k')}</sub> = (1/${v('Z')}) Σ<sub>${v('ij')}</sub> ∂${v('y')}<sup>${v('c')}</sup>/∂${v('A')}<sup>${v('k')}</sup><sub>${v('ij')}</sub>, ${v('Z')} = ${v('h')}·${v('w')}.`,
      `With a GAP → linear head, ∂${v('y')}<sup>${v('c')}</sup>/∂${v('A')}<sup>${v('k')}</sup><sub>${v('ij')}</sub> = ${v('w')}<sup>${v('c')}</sup><sub>${v('k')}</sub>/${v('Z')} at every position, so ${v('Z')}·α<sup>${v('c')}</sup><sub>${v('k')}</sub> = ${v('w')}<sup>${v('c')}</sup><sub>${v('k')}</sub>: the same map up to scale. Below, CAM's weights read from the linear layer next to Grad-CAM's from the backward pass.`,
    ],
    tryThis: 'Go on to the next step: the same comparison on a network with layers after the pooling.',
    async compute(_ctx, r, out) {
      const cam = r.explanation.maps.cam;
      const gc = r.explanation.maps.gradcam!;
      const [, K, h, w] = r.explanation.activations.shape;
      const Z = h * w;
      const alpha = await gc.weights.read();
      if (!cam) throw new Error('this model has no CAM head');
      const wk = await cam.weights.read();
      let worst = 0;
      let scale = 0;
      for (let k = 0; k < K; k++) {
        worst = Math.max(worst, Math.abs(Z * alpha[k] - wk[k]));
        scale = Math.max(scale, Math.abs(wk[k]));
      }
      const rows = Array.from({ length: Math.min(K, 8) }, (_, k) => [String(k), wk[k], alpha[k], Z * alpha[k]]);
      out.replaceChildren(
        el('p', {}, `Z = ${h} × ${w} = ${Z}; the first ${rows.length} of ${K} channels:`),
        table(['k', 'wᶜₖ (linear layer)', 'αᶜₖ (backward pass)', 'Z·αᶜₖ'], rows),
        el(
          'p',
          {},
          `Largest |Z·αᶜₖ − wᶜₖ| over all ${K} channels: ${fmt(worst)} (the weights reach ${fmt(scale)}): float32 rounding.`,
        ),
      );
      return { Z, channels: K, maxDifference: worst, maxWeight: scale };
    },
  },
  {
    id: 'beyond-gap',
    title: '2b. Layers after the pooling: CAM does not apply, Grad-CAM does',
    model: 'fashion_deep',
    method: 'gradcam',
    scene: BOOT_AND_TSHIRT,
    text: [
      `This network has two dense layers after the global average pooling, so the score is no longer a linear function of GAP(${v('A')}<sup>${v('k')}</sup>): there is no row of a linear layer to read CAM's weights from.`,
      `The gradient is still there: α<sup>${v('c')}</sup><sub>${v('k')}</sub> comes from the backward pass through whatever follows the layer, and the map is ReLU(Σ<sub>${v('k')}</sub> α<sup>${v('c')}</sup><sub>${v('k')}</sub> ${v('A')}<sup>${v('k')}</sup>).`,
    ],
    tryThis: 'Compare the Grad-CAM map here with the previous step’s: a different network, the same question.',
    async compute(_ctx, r, out) {
      const alpha = await r.explanation.maps.gradcam!.weights.read();
      const top = Array.from(alpha.keys())
        .sort((a, b) => Math.abs(alpha[b]) - Math.abs(alpha[a]))
        .slice(0, 6);
      out.replaceChildren(
        el('p', {}, `CAM: ${r.layer.camReason ?? 'applies'}.`),
        el('p', {}, `Grad-CAM for ${r.model.labels[r.cls]}: the six channels with the largest |αᶜₖ|:`),
        table(
          ['k', 'αᶜₖ'],
          top.map((k) => [String(k), alpha[k]]),
        ),
      );
      return { camApplies: r.layer.camReason === null, camReason: r.layer.camReason ?? '', cls: r.cls };
    },
  },
  {
    id: 'guided',
    title: '3. Guided Grad-CAM: where, times which pixels',
    model: 'fashion_cam',
    method: 'guided-gradcam',
    scene: [
      { cls: SNEAKER, x: 32, y: 66, side: 42, tint: WHITE },
      { cls: BAG, x: 64, y: 32, side: 42, tint: WARM },
    ],
    text: [
      `Guided Backprop is the gradient of the score with respect to the pixels, where every ReLU lets a gradient through only where its input was positive <em>and</em> the gradient is positive. It shows fine detail, but hardly depends on the class.`,
      `Guided Grad-CAM = upsample(Grad-CAM) ⊙ Guided Backprop: Grad-CAM says where (coarse, class-discriminative), Guided Backprop which pixels. Below, for the two most probable classes, the two factors and their product, and how alike the two classes' maps are.`,
    ],
    tryThis:
      'Swap the two items’ places: the Grad-CAM maps follow their classes, Guided Backprop hardly changes between classes.',
    async compute(ctx, r, out) {
      const order = Array.from(r.probs.keys())
        .sort((a, b) => r.probs[b] - r.probs[a])
        .slice(0, 2);
      const labels = order.map((c) => r.model.labels[c]);
      const canvases = ctx.canvases(6, [
        `Guided Backprop: ${labels[0]}`,
        `Grad-CAM: ${labels[0]}`,
        `Guided Grad-CAM: ${labels[0]}`,
        `Guided Backprop: ${labels[1]}`,
        `Grad-CAM: ${labels[1]}`,
        `Guided Grad-CAM: ${labels[1]}`,
      ]);
      const e = ctx.app.e;
      const [H, W] = r.model.size;
      let corr = { guided: 0, gradcam: 0 };
      await drawMaps(ctx.app, r, canvases, async () => {
        const ex = await explain(r.model.model, r.x, {
          methods: ['gradcam', 'guided-backprop', 'guided-gradcam'],
          layer: r.layer.name,
          targets: order,
        });
        const gb = ex.maps['guided-backprop']!.input;
        const gc = ex.maps.gradcam!.input;
        const ggc = ex.maps['guided-gradcam']!.input;
        const C = gb.shape[1];
        const gbHost = await gb.read();
        const gcHost = await gc.read();
        const per = C * H * W;
        corr = {
          guided: pearson(gbHost.subarray(0, per), gbHost.subarray(per, 2 * per)),
          gradcam: pearson(gcHost.subarray(0, H * W), gcHost.subarray(H * W, 2 * H * W)),
        };
        const maps: Draw[] = [];
        for (let t = 0; t < 2; t++) {
          const guided = e.slice(gb, t * per, [1, C, H, W], 'tour:gb');
          const product = e.slice(ggc, t * per, [1, C, H, W], 'tour:ggc');
          maps.push({ guided }, slice2d(ctx.app, gc, t, r), { guided: product });
        }
        return { tensors: ex.tensors(), maps };
      });
      out.replaceChildren(
        table(
          ['correlation of the two classes’ maps', ''],
          [
            ['Guided Backprop', corr.guided],
            ['Grad-CAM', corr.gradcam],
          ],
        ),
      );
      return { classes: order, guidedCorrelation: corr.guided, gradcamCorrelation: corr.gradcam };
    },
  },
  {
    id: 'counterfactual',
    title: '4. Counterfactual explanations: what argues against the class',
    model: 'fashion_cam',
    method: 'counterfactual',
    scene: [
      { cls: SANDAL, x: 32, y: 36, side: 40, tint: WARM },
      { cls: PULLOVER, x: 64, y: 62, side: 44, tint: COOL },
    ],
    text: [
      `Negating the gradients, α<sup>${v('c')}</sup><sub>${v('k')}</sub> = −(1/${v('Z')}) Σ<sub>${v('ij')}</sub> ∂${v('y')}<sup>${v('c')}</sup>/∂${v('A')}<sup>${v('k')}</sup><sub>${v('ij')}</sub>, gives the regions whose evidence <em>lowers</em> the score of class ${v('c')}.`,
      `If the map is right, removing those regions raises the score. Below, the score of the explained class for this image, with the counterfactual map's region (map ≥ 0.5) set to the dataset's mean colour, and, for contrast, with Grad-CAM's region removed instead.`,
    ],
    tryThis: 'Pick the other item’s class in the prediction list: its counterfactual region is now the first item.',
    async compute(ctx, r, out) {
      const [H, W] = r.model.size;
      const x = await r.x.read();
      const cf = await r.explanation.maps.counterfactual!.input.read();
      const gc = await r.explanation.maps.gradcam!.input.read();
      const keepOutside = (m: Float32Array) => Uint8Array.from(m, (v) => (v >= 0.5 ? 0 : 1));
      const noCf = keepOutside(cf);
      const noGc = keepOutside(gc);
      const c = r.cls;
      const yCf = await maskedScore(ctx.app, r, x, noCf, c);
      const yGc = await maskedScore(ctx.app, r, x, noGc, c);
      const removed = (k: Uint8Array) => k.length - k.reduce((s, v) => s + v, 0);
      const prob = (y: number) => (r.model.multiLabel ? sigmoid(y) : NaN);
      const rows: (string | number)[][] = [
        ['this image', '—', r.scores[c], prob(r.scores[c])],
        ['counterfactual region removed', String(removed(noCf)), yCf, prob(yCf)],
        ['Grad-CAM region removed', String(removed(noGc)), yGc, prob(yGc)],
      ];
      out.replaceChildren(
        el('p', {}, `Class ${r.model.labels[c]}, ${H} × ${W} pixels:`),
        table(['input', 'pixels removed', 'score yᶜ', r.model.multiLabel ? 'sigmoid(yᶜ)' : '—'], rows),
        el(
          'p',
          {},
          `Removing what the counterfactual map marks changes the score by ${fmt(yCf - r.scores[c])}; removing Grad-CAM's region by ${fmt(yGc - r.scores[c])}.`,
        ),
      );
      return { cls: c, score: r.scores[c], withoutCounterfactual: yCf, withoutGradcam: yGc, removedCf: removed(noCf) };
    },
  },
  {
    id: 'instances',
    title: '5. Several instances: Grad-CAM and Grad-CAM++',
    model: 'fashion_cam',
    method: 'gradcam++',
    scene: [
      { cls: SNEAKER, x: 20, y: 22, side: 24, tint: WHITE },
      { cls: SNEAKER, x: 66, y: 26, side: 34, tint: WARM },
      { cls: SNEAKER, x: 46, y: 70, side: 46, tint: COOL },
    ],
    text: [
      `Grad-CAM's weight is the average gradient, so a large instance, with many positions of strong gradient, can dominate it. Grad-CAM++ weighs each position by ${v('a')}<sub>${v('ij')}</sub> = ${v('g')}² / (2${v('g')}² + ${v('S')}<sub>${v('k')}</sub>${v('g')}³) and keeps only positive gradients, so several smaller instances of a class can all contribute (the lecture's three dogs).`,
      `Below, for each item, the share of each map's mass inside the item's box. The per-pixel α is in the inside view's Grad-CAM++ tab.`,
    ],
    tryThis: 'Make the small sneaker smaller still, or add a fourth: which map keeps covering every instance?',
    async compute(ctx, r, out) {
      const [, W] = r.model.size;
      const a = await r.explanation.maps.gradcam!.input.read();
      const b = await r.explanation.maps['gradcam++']!.input.read();
      const boxes = ctx.boxes(r);
      const rows = boxes.map((it) => {
        const side = it.box[2] - it.box[0];
        return [`${it.label} (${side} px wide)`, energyInBoxes(a, W, [it.box]), energyInBoxes(b, W, [it.box])];
      });
      out.replaceChildren(
        el('p', {}, `Explained class: ${r.model.labels[r.cls]}.`),
        table(['item', 'Grad-CAM mass inside', 'Grad-CAM++ mass inside'], rows),
      );
      return {
        cls: r.cls,
        gradcam: boxes.map((it) => energyInBoxes(a, W, [it.box])),
        gradcampp: boxes.map((it) => energyInBoxes(b, W, [it.box])),
      };
    },
  },
  {
    id: 'occlusion',
    title: '6. Occlusion: the same item, partly hidden',
    model: 'fashion_cam',
    method: 'gradcam',
    scene: [
      { cls: COAT, x: 46, y: 46, side: 54, tint: COOL },
      { cls: BAG, x: 58, y: 62, side: 34, tint: WARM },
    ],
    text: [
      `A bag covers part of a coat. The maps show what the network still sees of the coat, and whether the evidence for "coat" comes from its visible parts or from the bag.`,
      `Below, for the explained class, the share of the Grad-CAM and Grad-CAM++ maps inside each item's box.`,
    ],
    tryThis: 'Drag the bag over more of the coat until the prediction changes, and watch where the coat’s map goes.',
    async compute(ctx, r, out) {
      const [, W] = r.model.size;
      const a = await r.explanation.maps.gradcam!.input.read();
      const b = await r.explanation.maps['gradcam++']!.input.read();
      const boxes = ctx.boxes(r);
      out.replaceChildren(
        el('p', {}, `Explained class: ${r.model.labels[r.cls]} (probability ${fmt(r.probs[r.cls], 3)}).`),
        table(
          ['item', 'Grad-CAM mass inside', 'Grad-CAM++ mass inside'],
          boxes.map((it) => [it.label, energyInBoxes(a, W, [it.box]), energyInBoxes(b, W, [it.box])]),
        ),
      );
      return { cls: r.cls, gradcam: boxes.map((it) => energyInBoxes(a, W, [it.box])) };
    },
  },
];

/** A map to draw: a [H, W] map as an overlay on the input, or an input gradient [1, C, H, W]. */
type Draw = Tensor | { guided: Tensor };

function slice2d(app: App, maps: Tensor, t: number, r: RunResult): Tensor {
  const [H, W] = r.model.size;
  return app.e.slice(maps, t * H * W, [H, W], 'tour:map');
}

/** Draw what `make` returns into the canvases, then free its tensors. */
async function drawMaps(
  app: App,
  r: RunResult,
  canvases: GPUCanvasContext[],
  make: () => Promise<{ tensors: Tensor[]; maps: Draw[] }>,
): Promise<void> {
  const e = app.e;
  const [H, W] = r.model.size;
  const stride = canvasRowStride(W);
  const { colormap, opacity } = app.settings;
  const { tensors, maps } = await make();
  try {
    for (let i = 0; i < maps.length; i++) {
      const d = maps[i];
      await drawRGBA(e, canvases[i], W, H, () =>
        'guided' in d
          ? guidedRGBA(e, d.guided, { rowStride: stride })
          : overlay(e, d, r.display, { colormap, opacity, rowStride: stride }),
      );
    }
  } finally {
    for (const m of maps) ('guided' in m ? m.guided : m).destroy();
    for (const t of tensors) t.destroy();
  }
}

export interface TourParts {
  app: App;
  composer: Composer;
  shipped: ShippedModel[];
  /** Open a shipped model (the model panel's open). */
  openModel(entry: ShippedModel): Promise<boolean>;
  /** Show the composer's tab and make the scene the page's image. */
  showScene(): void;
  selectMethod(m: Method): void;
}

export class Tour {
  #step = -1;
  /** A step is being set up: runs on the way are not its own. */
  #setting = false;
  #going: Promise<void> | null = null;
  #numbers: StepNumbers | null = null;
  #error: string | null = null;
  #canvases: { step: number; contexts: GPUCanvasContext[] } | null = null;
  readonly #root = byId('tour');
  readonly #body = byId('tour-body');
  readonly #list = byId('tour-steps');

  constructor(readonly parts: TourParts) {
    this.#list.replaceChildren(
      ...STEPS.map((s, i) => {
        const b = el('button', { type: 'button', 'data-step': s.id, 'aria-current': 'false' }, s.title);
        b.addEventListener('click', () => void this.go(i));
        return el('li', {}, b);
      }),
    );
  }

  /** The steps' ids, in order. */
  static get steps(): string[] {
    return STEPS.map((s) => s.id);
  }

  get current(): string | null {
    return STEPS[this.#step]?.id ?? null;
  }

  /** The numbers the current step computed on the last run (null before the first). */
  get numbers(): StepNumbers | null {
    return this.#numbers;
  }

  get error(): string | null {
    return this.#error;
  }

  /** Resolves once the step being started has its scene in place and has computed its numbers. */
  async settled(): Promise<void> {
    while (this.#going) await this.#going;
    await this.parts.app.idle();
  }

  /** Start step i: its model, scene, method and class; the page runs, then the step computes. */
  go(i: number): Promise<void> {
    const run = this.#go(i).finally(() => {
      if (this.#going === run) this.#going = null;
    });
    this.#going = run;
    return run;
  }

  async #go(i: number): Promise<void> {
    const step = STEPS[i];
    const { app, composer } = this.parts;
    this.#setting = true;
    this.#step = i;
    this.#numbers = null;
    this.#error = null;
    for (const b of this.#list.querySelectorAll('button')) {
      b.setAttribute('aria-current', String(b.dataset.step === step.id));
    }
    this.#layout(step);
    if (app.model?.name !== step.model) {
      const entry = this.parts.shipped.find((m) => m.id === step.model);
      if (!entry || !(await this.parts.openModel(entry))) {
        this.#setting = false;
        this.#fail(`the step needs the shipped model ${step.model}`);
        return;
      }
    }
    app.settings.pinned = null;
    this.parts.selectMethod(step.method);
    composer.clear();
    for (const it of step.scene) {
      const group = composer.classes().find((c) => c.class === it.cls);
      if (!group) {
        this.#setting = false;
        this.#fail(`no sprite of class ${it.cls}`);
        return;
      }
      composer.add({ sprite: group.sprites[0], x: it.x, y: it.y, side: it.side, tint: it.tint });
    }
    composer.select(null);
    this.parts.showScene();
    await app.idle();
    // The runs on the way (a new model on the old image, the scene half built) were not the
    // step's: compute its numbers on the run of its finished scene.
    this.#setting = false;
    app.request(1);
    await app.idle();
  }

  /** After every run: the current step's numbers for it (in the app's GPU queue). */
  async render(r: RunResult): Promise<void> {
    const step = STEPS[this.#step];
    if (!step || this.#setting || r.model.name !== step.model) return;
    const out = byId('tour-numbers');
    const ctx: StepContext = {
      app: this.parts.app,
      canvases: (n, captions) => this.#figures(n, captions),
      // The composer's boxes are in the scene's pixels; the square scene is resized to the input.
      boxes: (run) =>
        this.parts.composer.itemBoxes().map((it) => {
          const f = run.model.size[1] / run.image.width;
          return { ...it, box: it.box.map((v) => Math.round(v * f)) as [number, number, number, number] };
        }),
    };
    try {
      this.#numbers = await step.compute(ctx, r, out);
      this.#error = null;
    } catch (err) {
      this.#fail(err instanceof Error ? err.message : String(err));
    }
  }

  #layout(step: Step): void {
    const i = STEPS.indexOf(step);
    const prev = el('button', { type: 'button', id: 'tour-prev' }, '← Previous');
    const next = el('button', { type: 'button', id: 'tour-next' }, 'Next →');
    prev.toggleAttribute('disabled', i === 0);
    next.toggleAttribute('disabled', i === STEPS.length - 1);
    prev.addEventListener('click', () => void this.go(i - 1));
    next.addEventListener('click', () => void this.go(i + 1));
    const text = el('div', { class: 'tour-text' });
    text.innerHTML = step.text.map((p) => `<p>${p}</p>`).join('');
    this.#body.replaceChildren(
      el('h3', { id: 'tour-title' }, step.title),
      text,
      el('div', { id: 'tour-numbers', 'aria-live': 'polite' }, el('p', { class: 'note' }, 'Computing…')),
      el('div', { id: 'tour-figures', class: 'tour-figures' }),
      el('p', { class: 'tour-try' }, [el('strong', {}, 'Try this: '), step.tryThis]),
      el('p', { id: 'tour-error', class: 'error', role: 'alert', hidden: '' }),
      el('div', { class: 'tour-nav' }, [prev, next]),
    );
    this.#canvases = null;
    this.#root.setAttribute('open', '');
  }

  #figures(n: number, captions: string[]): GPUCanvasContext[] {
    const holder = byId('tour-figures');
    if (!this.#canvases || this.#canvases.step !== this.#step || this.#canvases.contexts.length !== n) {
      const figs = Array.from({ length: n }, () => {
        const canvas = el('canvas', { 'aria-hidden': 'true' });
        return { fig: el('figure', {}, [canvas, el('figcaption', {}, '')]), canvas };
      });
      holder.replaceChildren(...figs.map((f) => f.fig));
      this.#canvases = { step: this.#step, contexts: figs.map((f) => gpuContext(f.canvas)) };
    }
    holder.querySelectorAll('figcaption').forEach((c, i) => (c.textContent = captions[i] ?? ''));
    return this.#canvases.contexts;
  }

  #fail(message: string): void {
    this.#error = message;
    const slot = document.getElementById('tour-error');
    if (slot) {
      slot.hidden = false;
      slot.textContent = `This step could not compute its numbers: ${message}`;
    }
  }
}
