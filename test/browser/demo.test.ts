/**
 * The demo page (demo/) in headless Chromium, driven through its test hook window.__camDemo
 * (demo/hook.ts) and through its real inputs (file input, drop events, the model picker):
 *
 * - a sample scene with known contents: the top class is one of its items, and the Grad-CAM and
 *   Grad-CAM++ maps the page computed equal the CPU reference (src/reference/) run here on the
 *   same ONNX file (onnxToGraphSpec) and the same pixels;
 * - the hover readout of "Inside the computation" sums the run's GPU buffers to the GPU's map;
 * - the second shipped model (layers after the pool): CAM unavailable with the reason, Grad-CAM
 *   equal to the reference;
 * - an image opened with the file input, one dropped on the page and one pasted are explained;
 * - composing: adding an item changes the prediction, and moving it moves the map's peak;
 * - an ONNX model with an unsupported operator shows the typed error's message and the previous
 *   model keeps working;
 * - a screenshot after an explanation (test-artifacts/demo.png), with the canvases' pixels read
 *   back and checked against the CPU overlay of the page's own maps;
 * - without WebGPU the page says what it needs and logs nothing into the console.
 *
 * One page serves the tests of the first block (the page is loaded once); each test sets the
 * state it needs.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'puppeteer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UnsupportedOperatorError } from '../../src/core/errors';
import { Graph } from '../../src/model/graph';
import { isInputGradient, methodOf, METHODS } from '../../src/methods/registry';
import { onnxToGraphSpec } from '../../src/model/onnx';
import { fitRegion, type Fit } from '../../src/core/image';
import { firstComponent } from '../../src/reference/attribution';
import { explainReference } from '../../src/reference/explain';
import { RefModel } from '../../src/reference/model';
import { preprocessImage } from '../../src/reference/preprocess';
import { overlay } from '../../src/reference/render';
import { hostTensor } from '../../src/reference/tensor';
import type { DemoSummary } from '../../demo/hook';
import { expectAllclose, MAPS, NETWORK } from '../util/compare';
import { floatTensor, node, onnxModel } from '../util/onnx_builder';
import { randn } from '../util/random';
import { harness, type HarnessPage } from './browser';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const WEIGHTS = join(REPO, 'weights');
const ARTIFACTS = join(REPO, 'test-artifacts');
const DEMO = '/demo/index.html';

interface SampleMeta {
  file: string;
  classes: number[];
  items: { class: number; label: string; box: [number, number, number, number] }[];
}
const SAMPLES: SampleMeta[] = JSON.parse(readFileSync(join(WEIGHTS, 'samples/samples.json'), 'utf8')).samples;

/** The ONNX bytes and sidecar of a shipped model, found the way demo/assets.ts finds them. */
function shippedModel(id: string): { bytes: Uint8Array; sidecar: unknown } {
  const files = readdirSync(WEIGHTS);
  const side = files.find((f) => f === `${id}.json` || (f.startsWith(`${id}.`) && f.endsWith('.json')));
  return {
    bytes: new Uint8Array(readFileSync(join(WEIGHTS, `${id}.onnx`))),
    sidecar: side ? JSON.parse(readFileSync(join(WEIGHTS, side), 'utf8')) : undefined,
  };
}

async function waitReady(page: Page): Promise<void> {
  await page.waitForFunction(() => document.documentElement.dataset.state, { timeout: 90_000 });
  const state = await page.evaluate(() => document.documentElement.dataset.state);
  const why = await page.$eval('#no-webgpu-reason', (el) => el.textContent ?? '');
  expect(state, why).toBe('ready');
}

const idle = (page: Page): Promise<DemoSummary> => page.evaluate(() => window.__camDemo.idle());

function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** The CPU reference of the page's last run: same model file, same pixels, same settings. */
async function referenceOfLastRun(page: Page, methods: ('gradcam' | 'gradcam++' | 'eigencam' | 'eigengradcam')[]) {
  const input = await page.evaluate(() => window.__camDemo.lastInput());
  const { bytes, sidecar } = shippedModel(input.model);
  const imp = onnxToGraphSpec(bytes, { sidecar: sidecar as never });
  const image = {
    data: Uint8ClampedArray.from(input.image.data),
    width: input.image.width,
    height: input.image.height,
  };
  const x = preprocessImage(image, { size: input.size, mean: input.mean, std: input.std, fit: input.fit as Fit });
  const ref = explainReference(new RefModel(imp.spec), x, { methods, targets: { topK: 1 }, layer: input.layer });
  return { input, ref, image };
}

describe('demo page', () => {
  let hp: HarnessPage;

  beforeAll(async () => {
    hp = await (await harness()).newPage(DEMO);
    await hp.page.setViewport({ width: 1280, height: 900 });
    await waitReady(hp.page);
  });
  afterEach(() => hp.assertNoErrors());
  afterAll(() => hp?.close());

  it('explains a two-item sample: the top class is one of its items, Grad-CAM and Grad-CAM++ equal the CPU reference', async () => {
    const { page } = hp;
    const sample = SAMPLES.find((s) => s.file.includes('two_classes_boot_tshirt'))!;
    const s = await page.evaluate((f) => window.__camDemo.chooseSample(f), sample.file);
    expect(s.error).toBeNull();
    expect(s.source).toBe('two classes boot tshirt');
    expect(sample.classes, `top class ${s.label}`).toContain(s.cls);
    expect(s.top5[0].cls).toBe(s.cls);

    const maps = await page.evaluate(() => window.__camDemo.readMaps(['gradcam', 'gradcam++']));
    const { input, ref } = await referenceOfLastRun(page, ['gradcam', 'gradcam++']);
    expect(input.image.width * input.image.height).toBe(96 * 96);
    expect(ref.classes[0][0], 'the reference picks the same top class').toBe(s.cls);
    expectAllclose(
      s.top5.map((t) => t.score),
      s.top5.map((t) => ref.scores.data[t.cls]),
      NETWORK,
      'top-5 scores',
    );
    expectAllclose(maps.gradcam, ref.maps.gradcam!.input!.data, MAPS, 'Grad-CAM map');
    expectAllclose(maps['gradcam++'], ref.maps['gradcam++']!.input!.data, MAPS, 'Grad-CAM++ map');
    // The maps are not trivial: normalised at the layer to span [0, 1], nearly so once upsampled.
    expect(Math.max(...maps.gradcam)).toBeGreaterThan(0.9);
    expect(Math.min(...maps.gradcam)).toBeLessThan(0.1);

    // Another run of the same image frees what the previous one held: no tensor leaks per run.
    const again = await page.evaluate((f) => window.__camDemo.chooseSample(f), sample.file);
    expect(again.runs).toBe(s.runs + 1);
    expect(again.liveTensors).toBe(s.liveTensors);
  });

  it('Score-CAM and Ablation-CAM appear in the maps grid, to be computed when selected', async () => {
    // Computing them here (K = 128 forwards each, plus the CPU reference) takes minutes on a
    // software adapter; test/attribution/perturbation.test.ts checks their maps.
    const { page } = hp;
    const s = await page.evaluate(() => window.__camDemo.chooseSample('02_single_bag.png'));
    expect(s.methods).not.toContain('scorecam');
    for (const m of ['scorecam', 'ablationcam']) {
      const figure = await page.$eval(`#maps [data-method="${m}"]`, (el) => ({
        text: el.textContent ?? '',
        canvasHidden: el.querySelector('canvas')!.hidden,
      }));
      expect(figure.canvasHidden).toBe(true);
      expect(figure.text).toContain('one forward pass per channel of the layer (128): computed while it is selected');
    }
  });

  it('inside the computation: the hover readout adds up the GPU buffers to the GPU map', async () => {
    const { page } = hp;
    await page.evaluate(() => window.__camDemo.chooseSample('02_single_bag.png'));
    await page.evaluate(() => window.__camDemo.setMethod('gradcam'));
    const tile = (await page.$('#inside-body .channel canvas'))!;
    await tile.scrollIntoView();
    const box = (await tile.boundingBox())!;
    const [h, w] = await page.$eval('#inside-body', (el) => {
      const m = /feature maps of (\d+)×(\d+)/.exec(el.textContent ?? '')!;
      return [Number(m[1]), Number(m[2])];
    });
    for (const [i, j] of [
      [2, 3],
      [h - 3, w - 4],
    ]) {
      await page.mouse.move(box.x + ((j + 0.5) / w) * box.width, box.y + ((i + 0.5) / h) * box.height);
      const text = await page.$eval('#inside-readout', (el) => el.textContent ?? '');
      expect(text).toContain(`position (i, j) = (${i}, ${j})`);
      const num = (re: RegExp) => Number(re.exec(text)![1]);
      const sum = num(/over all \d+ channels = (\S+)/);
      const gpu = num(/ReLU\(Σ\)\s+= (\S+)/);
      expect(Math.abs(Math.max(0, sum) - gpu), text).toBeLessThanOrEqual(1e-3 * Math.abs(gpu) + 1e-6);
    }
    // The focused tile moves the readout with the arrow keys.
    await tile.focus();
    await page.keyboard.press('ArrowLeft');
    expect(await page.$eval('#inside-readout', (el) => el.textContent ?? '')).toContain(
      `position (i, j) = (${h - 3}, ${w - 5})`,
    );
  });

  it('inside the computation for every input-gradient method: its own map per channel and a readout', async () => {
    const { page } = hp;
    await page.evaluate(() => window.__camDemo.chooseSample('02_single_bag.png'));
    for (const m of METHODS.filter(isInputGradient)) {
      await page.evaluate((x) => window.__camDemo.setMethod(x), m);
      const heading = await page.$eval('#inside-body h3', (el) => el.textContent ?? '');
      // Guided Backprop and Guided Grad-CAM show the guided gradient; the others their own map.
      const own = m !== 'guided-gradcam' && m !== 'guided-backprop';
      expect(heading, m).toBe(
        `${own ? methodOf(m).label : 'Guided Backprop'}, one tile per input channel (blue < 0 < red)`,
      );
      const text = await page.$eval('#inside-readout', (el) => el.textContent ?? '');
      expect(text, m).toMatch(/pixel \(row \d+, column \d+\)/);
      expect(text, m).toContain(own ? methodOf(m).label : '∂y/∂x (guided)');
      expect(text, m).not.toContain('NaN');
    }
  });

  it('the eigen methods: in the maps grid, equal to the CPU reference, and an inside view with the readout', async () => {
    const { page } = hp;
    const s = await page.evaluate(() => window.__camDemo.chooseSample('02_single_bag.png'));
    expect(s.error).toBeNull();
    expect(s.methods).toEqual(expect.arrayContaining(['eigencam', 'eigengradcam']));
    const maps = await page.evaluate(() => window.__camDemo.readMaps(['eigencam', 'eigengradcam']));
    const { ref } = await referenceOfLastRun(page, ['eigencam', 'eigengradcam']);
    expectAllclose(maps.eigencam, ref.maps.eigencam!.input!.data, MAPS, 'Eigen-CAM map');
    expectAllclose(maps.eigengradcam, ref.maps.eigengradcam!.input!.data, MAPS, 'Eigen-Grad-CAM map');
    for (const m of ['eigencam', 'eigengradcam'] as const) {
      expect(await page.$(`#maps [data-method="${m}"]`), `${m} in the maps grid`).not.toBeNull();
      await page.evaluate((x) => window.__camDemo.setMethod(x), m);
      const text = await page.$eval('#inside-readout', (el) => el.textContent ?? '');
      expect(text).toContain('position (i, j)');
      expect(Number.isFinite(Number(/= (\S+)\s+\(the GPU's map\)/.exec(text)![1])), text).toBe(true);
    }
    // Eigen-CAM's loadings, channel by channel: the page's (from its read-back A) equal the
    // principal direction of the reference's own activations, and its projection is the GPU's map.
    await page.evaluate(() => window.__camDemo.setMethod('eigencam'));
    const shown = await page.$$eval('#inside .channel[data-loading]', (els) =>
      els.map((el) => ({
        k: Number(/k = (\d+)/.exec(el.textContent ?? '')![1]),
        v: Number(el.getAttribute('data-loading')),
      })),
    );
    expect(shown.length).toBeGreaterThan(0);
    const A = ref.activations;
    const [, K, h, w] = A.shape;
    const X = new Float64Array(h * w * K);
    for (let k = 0; k < K; k++) for (let j = 0; j < h * w; j++) X[j * K + k] = A.data[k * h * w + j];
    const { direction } = firstComponent(X, h * w, K);
    for (const { k, v } of shown) expect(Math.abs(v - direction[k]), `v_${k}`).toBeLessThan(1e-3);
    mkdirSync(ARTIFACTS, { recursive: true });
    await (await page.$('#inside'))!.screenshot({ path: join(ARTIFACTS, 'inside-eigencam.png') });
    const note = await page.$eval('#eigen-component', (el) => el.textContent ?? '');
    const rel = Number(/\((\S+) of the map's largest value\)/.exec(note)![1]);
    expect(rel, note).toBeLessThan(1e-3);
  });

  it('a model with layers after the pool (fashion_deep): CAM is shown as unavailable with the reason, Grad-CAM equals the reference', async () => {
    const { page } = hp;
    const first = (await idle(page)).model;
    await page.select('#model-select', 'fashion_deep');
    await page.waitForFunction(() => window.__camDemo.summary().model === 'fashion_deep', { timeout: 60_000 });
    await page.evaluate(() => window.__camDemo.chooseSample('06_two_classes_trouser_bag.png'));
    const s = await idle(page);
    expect(s.error).toBeNull();
    expect(s.methods).not.toContain('cam');
    const { ref, input } = await referenceOfLastRun(page, ['gradcam']);
    const reason = new Graph(onnxToGraphSpec(shippedModel('fashion_deep').bytes).spec).camHead(input.layer);
    expect('reason' in reason).toBe(true);
    const why = (reason as { reason: string }).reason;
    expect(s.camReason).toBe(why);
    const camFigure = await page.$eval('#maps [data-method="cam"]', (el) => ({
      text: el.textContent ?? '',
      canvasHidden: el.querySelector('canvas')!.hidden,
    }));
    expect(camFigure.canvasHidden).toBe(true);
    expect(camFigure.text).toContain(`CAM does not apply: ${why}`);
    expect(ref.classes[0][0]).toBe(s.cls);
    const maps = await page.evaluate(() => window.__camDemo.readMaps(['gradcam']));
    expectAllclose(maps.gradcam, ref.maps.gradcam!.input!.data, MAPS, 'Grad-CAM map (fashion_deep)');

    await page.select('#model-select', first!);
    await page.waitForFunction((m) => window.__camDemo.summary().model === m, { timeout: 60_000 }, first);
    expect((await idle(page)).methods).toContain('cam');
  });

  it('explains an image opened with the file input and one dropped on the page (any size, centre-cropped)', async () => {
    const { page } = hp;
    // A 150×100 image made in the page from a sample, saved as a PNG file for the file input.
    const sample = SAMPLES.find((s) => s.file.includes('single_trouser'))!;
    const b64 = await page.evaluate(async (file) => {
      const img = new Image();
      img.src = document.querySelector<HTMLImageElement>(`#gallery [data-file="${file}"] img`)!.src;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = 150;
      c.height = 100;
      const g = c.getContext('2d')!;
      g.fillStyle = '#808080';
      g.fillRect(0, 0, 150, 100);
      g.drawImage(img, 25, 0, 100, 100);
      const blob = await new Promise<Blob>((r) => c.toBlob((b) => r(b!), 'image/png'));
      const bytes = new Uint8Array(await blob.arrayBuffer());
      return btoa(String.fromCharCode(...bytes));
    }, sample.file);
    mkdirSync(ARTIFACTS, { recursive: true });
    const path = join(ARTIFACTS, 'upload-150x100.png');
    writeFileSync(path, Buffer.from(b64, 'base64'));

    const before = (await idle(page)).runs;
    await page.click('#tab-file');
    const fileInput = await page.$('input#image-file');
    await fileInput!.uploadFile(path);
    await page.waitForFunction((n) => window.__camDemo.summary().runs > n, { timeout: 60_000 }, before);
    let s = await idle(page);
    expect(s.error).toBeNull();
    expect(s.source).toBe('upload-150x100.png');
    let input = await page.evaluate(() => window.__camDemo.lastInput());
    expect([input.image.width, input.image.height]).toEqual([150, 100]);
    expect(input.fit).toBe('center-crop');
    expect(fitRegion(150, 100, 96, 96, 'center-crop')).toEqual({ x0: 25, y0: 0, w: 100, h: 100 });
    const caption = await page.$eval('#input-caption', (el) => el.textContent);
    expect(caption).toContain('centre crop of 100×100');
    const viaInput = s.top5.map((t) => t.cls);

    // The same bytes as a File in a synthetic drop event.
    await page.evaluate(async (data) => {
      const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      const file = new File([bytes], 'dropped.png', { type: 'image/png' });
      const dt = new DataTransfer();
      dt.items.add(file);
      const target = document.getElementById('dropzone')!;
      for (const type of ['dragenter', 'dragover', 'drop']) {
        target.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
      }
    }, b64);
    await page.waitForFunction(() => window.__camDemo.summary().source === 'dropped.png', { timeout: 60_000 });
    s = await idle(page);
    expect(s.error).toBeNull();
    input = await page.evaluate(() => window.__camDemo.lastInput());
    expect([input.image.width, input.image.height]).toEqual([150, 100]);
    expect(
      s.top5.map((t) => t.cls),
      'same pixels, same prediction',
    ).toEqual(viaInput);
    expect(await page.$eval('#drop-hint', (el) => (el as HTMLElement).hidden)).toBe(true);

    // And pasted.
    await page.evaluate(async (data) => {
      const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'clip.png', { type: 'image/png' }));
      document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, b64);
    await page.waitForFunction(() => window.__camDemo.summary().source === 'pasted image', { timeout: 60_000 });
    s = await idle(page);
    expect(s.top5.map((t) => t.cls)).toEqual(viaInput);
  });

  it('composing: adding an item changes the prediction, moving it moves the peak of its map', async () => {
    const { page } = hp;
    await page.evaluate(() => window.__camDemo.compose.start());
    await page.evaluate(() => window.__camDemo.compose.background('plain', 3));
    const empty = await idle(page);
    expect(empty.source).toBe('your scene');

    const CLS = 1; // Trouser
    const id = await page.evaluate(
      (c) => window.__camDemo.compose.add({ cls: c, x: 26, y: 48, side: 48, tint: [0.95, 0.55, 0.15] }),
      CLS,
    );
    const left = await idle(page);
    expect(left.cls, `top class after adding a trouser: ${left.label}`).toBe(CLS);
    expect(empty.top5[0].cls !== CLS || empty.top5[0].prob < left.top5[0].prob - 0.2).toBe(true);

    /** The peak of the top class's Grad-CAM map, and the item's box, in model-input pixels. */
    const peakAndBox = async () => {
      const m = (await page.evaluate(() => window.__camDemo.readMaps(['gradcam']))).gradcam;
      const items = await page.evaluate(() => window.__camDemo.compose.items());
      const input = await page.evaluate(() => window.__camDemo.lastInput());
      const k = input.size[1] / input.image.width; // the scene is square: centre crop = all of it
      const p = argmax(m);
      return { peak: [p % input.size[1], Math.floor(p / input.size[1])], box: items[0].box.map((v) => v * k) };
    };
    const a = await peakAndBox();
    // Inside the item's box, give or take one cell of the 12×12 layer (8 input pixels).
    const inside = ({ peak: [x, y], box: [x0, y0, x1, y1] }: { peak: number[]; box: number[] }) =>
      x >= x0 - 8 && x < x1 + 8 && y >= y0 - 8 && y < y1 + 8;
    expect(inside(a), `peak ${a.peak} vs box ${a.box.map(Math.round)}`).toBe(true);

    // Drag it to the right half with the mouse, through the real pointer events.
    const box = (await (await page.$('#scene'))!.boundingBox())!;
    const at = (u: number, v: number): [number, number] => [
      box.x + (u / 96) * box.width,
      box.y + (v / 96) * box.height,
    ];
    await page.mouse.move(...at(26, 48));
    await page.mouse.down();
    for (let i = 1; i <= 8; i++) await page.mouse.move(...at(26 + 5 * i, 48));
    await page.mouse.up();
    const moved = await idle(page);
    expect(moved.cls).toBe(CLS);
    const b = await peakAndBox();
    expect(b.box[0] - a.box[0], 'the item moved 40 units right').toBeCloseTo(40 * (96 / 96), 0);
    expect(inside(b), `peak ${b.peak} vs box ${b.box.map(Math.round)}`).toBe(true);
    expect(b.peak[0] - a.peak[0], 'the peak moved right with the item').toBeGreaterThan(20);
    await page.evaluate((i) => window.__camDemo.compose.remove(i), id);
    await idle(page);
  });

  it('an ONNX model with an unsupported operator shows the typed error, and the previous model keeps working', async () => {
    const { page } = hp;
    const before = await idle(page);
    // conv → Hardmax (not supported) → GAP → Gemm, built with protobufjs like the importer's tests.
    const bytes = onnxModel({
      input: ['image', [1, 3, 8, 8]],
      output: 'logits',
      initializers: [floatTensor('w', [2, 3, 3, 3], randn(54, 5)), floatTensor('fc', [3, 2], randn(6, 6))],
      nodes: [
        node('Conv', ['image', 'w'], ['c'], { pads: [1, 1, 1, 1] }, 'conv'),
        node('Hardmax', ['c'], ['s'], {}, 'squash'),
        node('GlobalAveragePool', ['s'], ['g'], {}, 'gap'),
        node('Flatten', ['g'], ['f'], {}, 'flat'),
        node('Gemm', ['f', 'fc'], ['logits'], { transB: 1 }, 'fc'),
      ],
    });
    let expected = '';
    try {
      onnxToGraphSpec(bytes);
    } catch (e) {
      expect(e).toBeInstanceOf(UnsupportedOperatorError);
      expected = (e as Error).message;
    }
    expect(expected).toContain("'Hardmax'");
    mkdirSync(ARTIFACTS, { recursive: true });
    const path = join(ARTIFACTS, 'unsupported-hardmax.onnx');
    writeFileSync(path, bytes);

    await page.$eval('#own-model', (d) => ((d as HTMLDetailsElement).open = true));
    await (await page.$('input#onnx-file'))!.uploadFile(path);
    await page.click('#onnx-load');
    await page.waitForSelector('#model-error:not([hidden])', { timeout: 30_000 });
    const shown = await page.$eval('#model-error', (el) => el.textContent ?? '');
    expect(shown).toContain(`UnsupportedOperatorError: ${expected}`);
    expect(shown).toContain(`previous model (${before.model}) is still in use`);
    const after = await idle(page);
    expect(after.model).toBe(before.model);
    expect(await page.$eval('#model-select', (el) => (el as HTMLSelectElement).value)).toBe(before.model);

    // …and it still explains.
    const s = await page.evaluate(() => window.__camDemo.chooseSample('01_single_sneaker.png'));
    expect(s.runs).toBeGreaterThan(after.runs);
    expect(s.error).toBeNull();
    expect(s.model).toBe(before.model);
  });

  it('after an explanation: a screenshot, and the canvases hold the overlay of the maps the page computed', async () => {
    const { page } = hp;
    const s = await page.evaluate(() => window.__camDemo.chooseSample('05_two_classes_boot_tshirt.png'));
    await page.evaluate(() => window.__camDemo.setMethod('gradcam++'));
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'demo.png'), fullPage: true });

    // Pixels of the Grad-CAM canvas as the page shows them, against the CPU overlay of the
    // page's own map onto the reference preprocessing of the same pixels (no normalisation).
    const shown = await page.evaluate(() => window.__camDemo.readCanvas('gradcam'));
    const [H, W] = s.size!;
    expect([shown.width, shown.height]).toEqual([W, H]);
    const map = (await page.evaluate(() => window.__camDemo.readMaps(['gradcam']))).gradcam;
    const input = await page.evaluate(() => window.__camDemo.lastInput());
    const image = {
      data: Uint8ClampedArray.from(input.image.data),
      width: input.image.width,
      height: input.image.height,
    };
    const rgb = preprocessImage(image, { size: [H, W], fit: input.fit as Fit });
    const settings = await page.evaluate(() => ({
      colormap: (document.getElementById('colormap') as HTMLSelectElement).value,
      opacity: Number((document.getElementById('opacity') as HTMLInputElement).value),
    }));
    const want = overlay(hostTensor([H, W], map), rgb, settings);
    let off = 0;
    for (let i = 0; i < want.length; i++) if (Math.abs(shown.data[i] - want[i]) > 1) off++;
    expect(off / want.length, `${off} of ${want.length} bytes differ by more than 1`).toBeLessThan(0.005);

    // Not all black, not one colour: the model input and an inside-view tile too.
    for (const which of ['input', 'guided-backprop', 'inside:0'] as const) {
      const px = await page.evaluate((w) => window.__camDemo.readCanvas(w), which);
      const colours = new Set<number>();
      let sum = 0;
      for (let i = 0; i < px.data.length; i += 4) {
        colours.add((px.data[i] << 16) | (px.data[i + 1] << 8) | px.data[i + 2]);
        sum += px.data[i] + px.data[i + 1] + px.data[i + 2];
      }
      expect(sum / (3 * px.width * px.height), `${which}: mean brightness`).toBeGreaterThan(10);
      expect(colours.size, `${which}: distinct colours`).toBeGreaterThan(8);
    }
  });
});

describe('demo page without WebGPU', () => {
  it('says what it needs and logs nothing into the console', async () => {
    const h = await harness();
    const page = await h.browser.newPage();
    const logged: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warn') logged.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => logged.push(`uncaught: ${e}`));
    try {
      await page.evaluateOnNewDocument(() => {
        Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
      });
      await page.goto(h.origin + DEMO, { waitUntil: 'load' });
      await page.waitForFunction(() => document.documentElement.dataset.state === 'no-webgpu', { timeout: 30_000 });
      const msg = await page.$eval('#no-webgpu', (el) => ((el as HTMLElement).hidden ? '' : (el.textContent ?? '')));
      expect(msg).toContain('This page needs WebGPU');
      expect(msg).toContain('navigator.gpu is missing');
      expect(msg).toMatch(/Chrome and Edge 113/);
      expect(await page.$eval('#app', (el) => (el as HTMLElement).hidden)).toBe(true);
      expect(logged).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
