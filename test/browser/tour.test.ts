/**
 * The demo's lecture tour (demo/tour.ts) in headless Chromium, driven through its step buttons:
 * every step sets up its scene in the composer and its model, and the numbers it shows are
 * checked against the CPU reference run here on the same pixels (src/reference/) or against the
 * lecture's claims, which could fail on real numbers:
 *
 *   cam             Σ_k w^c_k·GAP(A^k) + b_c from the page's buffers equals the score, and both
 *                   equal the reference's score; the top-5 classes are the reference's
 *   gradcam-is-cam  Z·α^c_k = w^c_k for every channel (float32 rounding), Z = h·w of the layer
 *   beyond-gap      CAM does not apply to fashion_deep, for the graph's reason
 *   guided          the two classes' Guided Backprop maps are more alike than their Grad-CAMs
 *   counterfactual  removing the counterfactual region raises the score, removing Grad-CAM's lowers it
 *   instances,      each item's share of the map equals the share computed here from the
 *   occlusion       reference's maps of the same pixels and the composer's boxes
 *
 * and every step's own figures (screenshots of the page: test-artifacts/tour-<step>.png) are
 * non-blank pictures, and nothing leaks from one step to the next. Also the page's faithfulness
 * panel: the deletion and insertion curves of the selected map equal the CPU reference's.
 */
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import type { Page } from 'puppeteer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Fit } from '../../src/core/image';
import { Graph } from '../../src/model/graph';
import { onnxToGraphSpec } from '../../src/model/onnx';
import { explainReference } from '../../src/reference/explain';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { curveReference } from '../../src/reference/metrics';
import { preprocessImage } from '../../src/reference/preprocess';
import type { StepNumbers } from '../../demo/tour';
import { expectAllclose, NETWORK } from '../util/compare';
import { harness, type HarnessPage } from './browser';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const WEIGHTS = join(REPO, 'weights');
const ARTIFACTS = join(REPO, 'test-artifacts');

function shippedSpec(id: string) {
  const side = readdirSync(WEIGHTS).find((f) => f === `${id}.json`);
  const sidecar = side ? JSON.parse(readFileSync(join(WEIGHTS, side), 'utf8')) : undefined;
  return onnxToGraphSpec(new Uint8Array(readFileSync(join(WEIGHTS, `${id}.onnx`))), { sidecar }).spec;
}

interface StepResult {
  current: string | null;
  numbers: StepNumbers | null;
  error: string | null;
  summary: { cls: number | null; liveTensors: number; model: string | null; error: string | null };
}

async function go(page: Page, id: string): Promise<StepResult> {
  const r = (await page.evaluate((s) => window.__camDemo.tour.go(s), id)) as StepResult;
  expect(r.error, `step ${id}`).toBeNull();
  expect(r.summary.error, `step ${id}: the page's run`).toBeNull();
  expect(r.current).toBe(id);
  expect(r.numbers, `step ${id} computed its numbers`).not.toBeNull();
  return r;
}

/** The CPU reference of the page's last run (same model file, pixels and settings). */
async function reference(page: Page, methods: Parameters<typeof explainReference>[2]['methods'], topK = 1) {
  const input = await page.evaluate(() => window.__camDemo.lastInput());
  const spec = shippedSpec(input.model);
  const image = {
    data: Uint8ClampedArray.from(input.image.data),
    width: input.image.width,
    height: input.image.height,
  };
  const x = preprocessImage(image, { size: input.size, mean: input.mean, std: input.std, fit: input.fit as Fit });
  const ref = explainReference(new RefModel(spec), x, { methods, targets: { topK }, layer: input.layer });
  return { input, spec, ref, x };
}

/** The tour's figures as the page shows them: each figure's canvas area is a picture, not a blank. */
async function checkFigures(page: Page, id: string, count: number): Promise<void> {
  const holder = (await page.$('#tour-figures'))!;
  await holder.scrollIntoView();
  const figures = await page.$$('#tour-figures canvas');
  expect(figures.length, `${id}: figures`).toBe(count);
  mkdirSync(ARTIFACTS, { recursive: true });
  await holder.screenshot({ path: join(ARTIFACTS, `tour-${id}.png`) });
  for (const [i, f] of figures.entries()) {
    const png = PNG.sync.read(Buffer.from(await f.screenshot({ type: 'png' })));
    const lum = [];
    for (let p = 0; p < png.data.length; p += 4) lum.push(png.data[p] + png.data[p + 1] + png.data[p + 2]);
    const mean = lum.reduce((s, v) => s + v, 0) / lum.length;
    const sd = Math.sqrt(lum.reduce((s, v) => s + (v - mean) ** 2, 0) / lum.length);
    expect(sd, `${id}: figure ${i} is not blank`).toBeGreaterThan(5);
  }
}

function share(map: ArrayLike<number>, W: number, box: readonly number[]): number {
  let inside = 0;
  let total = 0;
  for (let p = 0; p < map.length; p++) {
    const x = p % W;
    const y = Math.floor(p / W);
    total += map[p];
    if (x >= box[0] && x < box[2] && y >= box[1] && y < box[3]) inside += map[p];
  }
  return inside / total;
}

describe('the lecture tour', () => {
  let hp: HarnessPage;

  beforeAll(async () => {
    hp = await (await harness()).newPage('/demo/index.html');
    await hp.page.setViewport({ width: 1280, height: 900 });
    await hp.page.waitForFunction(() => document.documentElement.dataset.state === 'ready', { timeout: 90_000 });
  });
  afterEach(() => hp.assertNoErrors());
  afterAll(() => hp?.close());

  it('lists the steps, and each button starts its step', async () => {
    const ids = await hp.page.$$eval('#tour-steps button', (bs) => bs.map((b) => (b as HTMLElement).dataset.step));
    expect(ids).toEqual(['cam', 'gradcam-is-cam', 'beyond-gap', 'guided', 'counterfactual', 'instances', 'occlusion']);
  });

  it('1. CAM: Σ w·GAP(A) + b from the buffers is the score; the top-5 maps', async () => {
    const { page } = hp;
    const r = await go(page, 'cam');
    const n = r.numbers!;
    const { ref } = await reference(page, ['cam']);
    const c = n.cls as number;
    expect(ref.classes[0][0]).toBe(c);
    expectAllclose([n.score as number, n.sum as number], [ref.scores.data[c], ref.scores.data[c]], NETWORK, 'score');
    const order = Array.from(ref.probabilities.data.keys()).sort(
      (a, b) => ref.probabilities.data[b] - ref.probabilities.data[a],
    );
    expect(n.top5).toEqual(order.slice(0, 5));
    expect(await page.$eval('#tour-numbers', (e) => e.textContent ?? '')).toContain('GAP(Aᵏ)');
    await checkFigures(page, 'cam', 5);
  });

  it('2. Grad-CAM generalises CAM: Z·α = w for every channel', async () => {
    const { page } = hp;
    const n = (await go(page, 'gradcam-is-cam')).numbers!;
    const { input, spec } = await reference(page, ['gradcam']);
    const [, h, w] = new Graph(spec).shape(input.layer).slice(1);
    expect(n.Z).toBe(h * w);
    expect(n.maxWeight as number).toBeGreaterThan(0);
    expect((n.maxDifference as number) / (n.maxWeight as number)).toBeLessThan(1e-4);
  });

  it('2b. CAM does not apply after dense layers, Grad-CAM does', async () => {
    const { page } = hp;
    const r = await go(page, 'beyond-gap');
    expect(r.summary.model).toBe('fashion_deep');
    const { input, spec } = await reference(page, ['gradcam']);
    const head = new Graph(spec).camHead(input.layer);
    expect('reason' in head).toBe(true);
    expect(r.numbers!.camApplies).toBe(false);
    expect(r.numbers!.camReason).toBe((head as { reason: string }).reason);
  });

  it('3. Guided Grad-CAM: guided backprop hardly tells the two classes apart, Grad-CAM does', async () => {
    const { page } = hp;
    const r = await go(page, 'guided');
    expect(r.summary.model).toBe('fashion_cam');
    const n = r.numbers!;
    expect((n.classes as number[]).length).toBe(2);
    expect(n.guidedCorrelation as number).toBeGreaterThan(n.gradcamCorrelation as number);
    await checkFigures(page, 'guided', 6);
  });

  it('4. Counterfactual: removing its region raises the score, removing Grad-CAM’s lowers it', async () => {
    const { page } = hp;
    const n = (await go(page, 'counterfactual')).numbers!;
    const { ref } = await reference(page, ['gradcam']);
    expectAllclose([n.score as number], [ref.scores.data[n.cls as number]], NETWORK, 'score');
    expect(n.removedCf as number).toBeGreaterThan(0);
    expect(n.withoutCounterfactual as number).toBeGreaterThan(n.score as number);
    expect(n.withoutGradcam as number).toBeLessThan(n.score as number);
  });

  it.each(['instances', 'occlusion'])(
    '%s: each item’s share of the maps, as computed from the reference maps',
    async (id) => {
      const { page } = hp;
      const r = await go(page, id);
      const { ref, input } = await reference(page, ['gradcam', 'gradcam++']);
      expect(ref.classes[0][0]).toBe(r.numbers!.cls);
      const W = input.size[1];
      // The composer's boxes are in the scene's pixels: scaled to the model input's (the maps').
      const f = W / input.image.width;
      const boxes = (await page.evaluate(() => window.__camDemo.compose.items())).map((b) => ({
        ...b,
        box: b.box.map((v) => Math.round(v * f)),
      }));
      expect(boxes.length).toBe(id === 'instances' ? 3 : 2);
      for (const b of boxes) expect(Math.max(...b.box), 'boxes inside the map').toBeLessThanOrEqual(W);
      const want = boxes.map((b) => share(ref.maps.gradcam!.input!.data, W, b.box));
      expectAllclose(r.numbers!.gradcam as number[], want, { atol: 1e-3, rtol: 0 }, 'Grad-CAM shares');
      // The map is denser on the items than elsewhere: their boxes hold more of its mass than of the area.
      const area = boxes.reduce((a, { box: [x0, y0, x1, y1] }) => a + (x1 - x0) * (y1 - y0), 0) / (W * input.size[0]);
      expect(want.reduce((a, b) => a + b, 0)).toBeGreaterThan(area);
      if (id === 'instances') {
        const pp = boxes.map((b) => share(ref.maps['gradcam++']!.input!.data, W, b.box));
        expectAllclose(r.numbers!.gradcampp as number[], pp, { atol: 1e-3, rtol: 0 }, 'Grad-CAM++ shares');
      }
    },
  );

  it('faithfulness on the page: the deletion and insertion curves of the selected map, as the CPU reference computes them', async () => {
    const { page } = hp;
    await page.evaluate(() => window.__camDemo.chooseSample('05_two_classes_boot_tshirt.png'));
    await page.evaluate(() => window.__camDemo.setMethod('gradcam'));
    const before = await page.evaluate(() => window.__camDemo.summary().liveTensors);
    const got = await page.evaluate(() => window.__camDemo.faithfulness());
    expect(got.curves, got.note).not.toBeNull();
    const c = got.curves!;
    const { spec, ref, x } = await reference(page, ['gradcam']);
    const model = new RefModel(spec);
    const map = ref.maps.gradcam!.input!;
    const [del] = curveReference(model, x, map, [c.cls], { metric: 'deletion', steps: 10, baseline: 'zero' });
    const [ins] = curveReference(model, x, map, [c.cls], { metric: 'insertion', steps: 10, baseline: 'blur' });
    // GPU and reference maps differ by float32 rounding, which may reorder near-tied pixels.
    expectAllclose(c.deletion, Array.from(del.curve), { atol: 2e-3, rtol: 0 }, 'deletion curve');
    expectAllclose(c.insertion, Array.from(ins.curve), { atol: 2e-3, rtol: 0 }, 'insertion curve');
    expect(c.deletionAuc).toBeCloseTo(del.value, 2);
    expect(c.insertionAuc).toBeCloseTo(ins.value, 2);
    expect(await page.$$eval('#faith-plot polyline', (ls) => ls.length)).toBe(2);
    expect(got.note).toContain('deletion AUC');
    expect(await page.evaluate(() => window.__camDemo.summary().liveTensors)).toBe(before);
    // A map per input channel has no single ranking of the pixels: the button is off, and says why.
    await page.evaluate(() => window.__camDemo.setMethod('guided-backprop'));
    expect(await page.$eval('#faith-run', (b) => (b as HTMLButtonElement).disabled)).toBe(true);
    expect(await page.$eval('#faith-note', (e) => e.textContent ?? '')).toContain('per input channel');
    expect(await page.$$eval('#faith-plot polyline', (ls) => ls.length)).toBe(0);
  });

  it('inside view: zeroing a channel and running from the layer gives the score the CPU reference gives', async () => {
    const { page } = hp;
    await page.evaluate(() => window.__camDemo.chooseSample('02_single_bag.png'));
    await page.evaluate(() => window.__camDemo.setMethod('gradcam'));
    const before = await page.evaluate(() => window.__camDemo.summary().liveTensors);
    const k = Number(await page.$eval('#inside-body button.ablate', (b) => (b as HTMLElement).dataset.channel));
    await page.click('#inside-body button.ablate');
    await page.waitForFunction(
      (c) => (document.querySelector(`.ablate-result[data-channel="${c}"]`)?.textContent ?? '') !== '',
      { timeout: 60_000 },
      k,
    );
    const text = await page.$eval(`.ablate-result[data-channel="${k}"]`, (e) => e.textContent ?? '');
    const { ref, spec, input, x } = await reference(page, ['gradcam']);
    const A = ref.activations;
    const [, K, h, w] = A.shape;
    const edited = hostTensor(A.shape, Float64Array.from(A.data));
    edited.data.fill(0, k * h * w, (k + 1) * h * w);
    expect(K).toBeGreaterThan(k);
    const model = new RefModel(spec);
    const c = ref.classes[0][0];
    const yk = model.forward(x, new Map([[input.layer, edited]])).get(model.graph.scores)!.data[c];
    const shown = Number(/→ (\S+) without channel/.exec(text)![1]);
    expect(Math.abs(shown - yk), text).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(yk)));
    expect(text).toContain(`without channel ${k}`);
    expect(await page.evaluate(() => window.__camDemo.summary().liveTensors)).toBe(before);
  });

  it('moving between steps leaks nothing (the inside view of a guided method included)', async () => {
    const { page } = hp;
    const a = await go(page, 'cam');
    await go(page, 'guided');
    await go(page, 'counterfactual');
    const b = await go(page, 'cam');
    expect(b.summary.liveTensors).toBe(a.summary.liveTensors);
  });
});
