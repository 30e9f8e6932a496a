/**
 * <webgpu-cam-explainer> (src/element/) in headless Chromium, on a Vite-served page with the
 * snippet of docs/ELEMENT.md (test/browser/element.html):
 *
 * - it explains the sample: the top class is one of its items, the shown map equals the CPU
 *   reference (src/reference/) of the same pixels, and the drawn pixels equal the CPU overlay;
 * - the class picker shows another class's map, the opacity slider redraws, a new `src` is
 *   explained again, and `score="probability"` explains the softmax probability (the CPU
 *   reference's map of that score);
 * - with its own engine it frees every tensor when replaced and when removed from the page;
 * - a screenshot (test-artifacts/element.png) shows an image, not an empty box;
 * - without WebGPU it says what the browser needs.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'puppeteer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ExplainerResult, WebGpuCamExplainer } from '../../src/element/index';
import { onnxToGraphSpec } from '../../src/model/onnx';
import type { Score } from '../../src/attribution/targets';
import { explainReference } from '../../src/reference/explain';
import { RefModel } from '../../src/reference/model';
import { preprocessImage } from '../../src/reference/preprocess';
import { overlay } from '../../src/reference/render';
import { hostTensor } from '../../src/reference/tensor';
import { decodeImage } from '../../src/node/image';
import { expectAllclose, MAPS } from '../util/compare';
import { harness, type HarnessPage } from './browser';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PAGE = '/test/browser/element.html';
const SAMPLE = '05_two_classes_boot_tshirt.png';
const sidecar = JSON.parse(readFileSync(join(REPO, 'weights/fashion_cam.json'), 'utf8'));
const spec = onnxToGraphSpec(readFileSync(join(REPO, 'weights/fashion_cam.onnx')), { sidecar }).spec;
const ref = new RefModel(spec);

/** The pixels the element gave the GPU: the browser's decode of the URL, drawn over white, as the element does. */
function pixelsInPage(page: Page, url: string) {
  return page.evaluate(async (u) => {
    const bitmap = await createImageBitmap(await (await fetch(u)).blob());
    const c = new OffscreenCanvas(bitmap.width, bitmap.height);
    const g = c.getContext('2d', { willReadFrequently: true })!;
    g.fillStyle = '#fff';
    g.fillRect(0, 0, c.width, c.height);
    g.drawImage(bitmap, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height);
    return { width: d.width, height: d.height, data: Array.from(d.data) };
  }, url);
}

async function reference(page: Page, url: string, topK: number, score: Score = 'logit') {
  const p = await pixelsInPage(page, url);
  const image = { width: p.width, height: p.height, data: Uint8ClampedArray.from(p.data) };
  const rgb = (v: number[]) => v as [number, number, number];
  const x = preprocessImage(image, {
    size: [96, 96],
    mean: rgb(sidecar.mean),
    std: rgb(sidecar.std),
    fit: 'center-crop',
  });
  const display = preprocessImage(image, { size: [96, 96], fit: 'center-crop' });
  return { r: explainReference(ref, x, { methods: ['gradcam'], targets: { topK }, score }), display };
}

const shown = (page: Page) => page.$('#shown') as Promise<import('puppeteer').ElementHandle<WebGpuCamExplainer>>;

async function settled(
  page: Page,
  id = 'shown',
): Promise<{ state: string | null; result: ExplainerResult | null; message: string }> {
  return page.evaluate(async (i) => {
    const el = document.getElementById(i) as WebGpuCamExplainer;
    await customElements.whenDefined('webgpu-cam-explainer');
    for (let k = 0; k < 600 && (el.state === null || el.state === 'loading'); k++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await el.updated();
    return {
      state: el.state,
      result: el.result,
      message: el.shadowRoot!.querySelector('.message')!.textContent ?? '',
    };
  }, id);
}

const readMap = async (page: Page) =>
  Float32Array.from(await (await shown(page)).evaluate(async (el) => Array.from(await el.readMap())));
const readPixels = async (page: Page) =>
  (await shown(page)).evaluate(async (el) => Array.from((await el.readPixels()).data));

describe('<webgpu-cam-explainer>', () => {
  let hp: HarnessPage;
  beforeAll(async () => {
    hp = await (await harness()).newPage(PAGE);
  });
  afterEach(() => hp.assertNoErrors());
  afterAll(() => hp?.close());

  it('explains the sample: its top classes, the map and the drawn pixels equal the CPU reference', async () => {
    const { page } = hp;
    const s = await settled(page);
    expect(s.state, s.message).toBe('ready');
    const res = s.result!;
    expect(res.method).toBe('gradcam');
    expect(res.classes).toHaveLength(3);
    expect([0, 9]).toContain(res.classes[0].class);
    expect(res.selected).toBe(res.classes[0].class);
    expect(res.classes[0].label).toBe(sidecar.labels[res.classes[0].class]);

    const { r, display } = await reference(page, `/weights/samples/${SAMPLE}`, 3);
    expect(res.classes.map((c) => c.class)).toEqual(r.classes[0]);
    const maps = r.maps.gradcam!.input!.data;
    expectAllclose(await readMap(page), maps.subarray(0, 96 * 96), MAPS, 'the shown Grad-CAM map');

    const px = await readPixels(page);
    const want = overlay(hostTensor([96, 96], maps.subarray(0, 96 * 96)), display, { colormap: 'turbo', opacity: 0.5 });
    let off = 0;
    for (let i = 0; i < want.length; i++) if (Math.abs(px[i] - want[i]) > 1) off++;
    expect(off / want.length, `${off} bytes differ by more than 1`).toBeLessThan(0.005);
    const caption = await page.$eval('#shown', (el) => el.shadowRoot!.querySelector('figcaption')!.textContent);
    expect(caption).toMatch(new RegExp(`^Grad-CAM: ${res.classes[0].label.replace('/', '\\/')} \\(\\d+\\.\\d%\\)$`));
  });

  it('the class picker shows the map of another class; the opacity slider redraws; a new src is explained', async () => {
    const { page } = hp;
    const before = (await settled(page)).result!;
    const { r } = await reference(page, `/weights/samples/${SAMPLE}`, 3);
    const second = before.classes[1].class;
    await page.evaluate((c) => {
      const sel = document.getElementById('shown')!.shadowRoot!.querySelector('select')!;
      sel.value = String(c);
      sel.dispatchEvent(new Event('change'));
    }, second);
    const after = (await settled(page)).result!;
    expect(after.selected).toBe(second);
    expectAllclose(
      await readMap(page),
      r.maps.gradcam!.input!.data.subarray(96 * 96, 2 * 96 * 96),
      MAPS,
      'second class',
    );

    // Opacity 0: the image alone; 1: the colormap alone.
    const slider = async (v: string) => {
      await page.evaluate((x) => {
        const input = document
          .getElementById('shown')!
          .shadowRoot!.querySelector('input[type=range]') as HTMLInputElement;
        input.value = x;
        input.dispatchEvent(new Event('input'));
      }, v);
      await settled(page);
      return readPixels(page);
    };
    const clear = await slider('0');
    const full = await slider('1');
    expect(await page.$eval('#shown', (el) => el.getAttribute('opacity'))).toBe('1');
    const { display } = await reference(page, `/weights/samples/${SAMPLE}`, 3);
    const image = overlay(hostTensor([96, 96], new Float32Array(96 * 96)), display, { colormap: 'turbo', opacity: 0 });
    let off = 0;
    for (let i = 0; i < image.length; i++) if (Math.abs(clear[i] - image[i]) > 1) off++;
    expect(off, 'opacity 0 draws the image').toBe(0);
    expect(full.some((v, i) => Math.abs(v - clear[i]) > 16)).toBe(true);

    await page.$eval('#shown', (el) => {
      el.setAttribute('opacity', '0.5');
      el.setAttribute('src', '/weights/samples/02_single_bag.png');
    });
    const bag = await settled(page);
    expect(bag.state, bag.message).toBe('ready');
    expect(bag.result!.classes[0].label).toBe('Bag');
    const again = await reference(page, '/weights/samples/02_single_bag.png', 3);
    expectAllclose(await readMap(page), again.r.maps.gradcam!.input!.data.subarray(0, 96 * 96), MAPS, 'the new image');

    // score="probability": Grad-CAM of each class's softmax probability instead of its logit.
    await page.$eval('#shown', (el) => el.setAttribute('score', 'probability'));
    const prob = await settled(page);
    expect(prob.state, prob.message).toBe('ready');
    expect(prob.result!.score).toBe('probability');
    const byProb = await reference(page, '/weights/samples/02_single_bag.png', 3, 'probability');
    const probMap = byProb.r.maps.gradcam!.input!.data.subarray(0, 96 * 96);
    expectAllclose(await readMap(page), probMap, MAPS, 'Grad-CAM of the probability');
    // The two scores' maps differ here, so the attribute reached explain().
    const logitMap = again.r.maps.gradcam!.input!.data.subarray(0, 96 * 96);
    expect(Math.max(...probMap.map((v, i) => Math.abs(v - logitMap[i])))).toBeGreaterThan(0.01);
    await page.$eval('#shown', (el) => el.removeAttribute('score'));
    expect((await settled(page)).result!.score).toBe('logit');

    mkdirSync(join(REPO, 'test-artifacts'), { recursive: true });
    const png = await (await shown(page)).screenshot({ path: join(REPO, 'test-artifacts/element.png') });
    const shot = decodeImage(new Uint8Array(png));
    const colours = new Set<number>();
    for (let i = 0; i < shot.data.length; i += 4)
      colours.add((shot.data[i] << 16) | (shot.data[i + 1] << 8) | shot.data[i + 2]);
    expect(colours.size, 'distinct colours in the screenshot').toBeGreaterThan(100);
  });

  it('with its own engine: every tensor is freed when the image changes and when the element leaves the page', async () => {
    const { page } = hp;
    // The library's Engine, from a module the test adds to the page.
    await page.addScriptTag({
      type: 'module',
      content: "import { Engine } from '/src/index.ts'; window.__Engine = Engine;",
    });
    await page.waitForFunction(() => '__Engine' in window);
    const live = await page.evaluate(async () => {
      const Engine = (window as unknown as { __Engine: typeof import('../../src/index').Engine }).__Engine;
      const engine = await Engine.create();
      const el = document.createElement('webgpu-cam-explainer') as WebGpuCamExplainer;
      el.id = 'own';
      el.engine = engine;
      el.setAttribute('model', '/weights/fashion_cam.onnx');
      el.setAttribute('src', '/weights/samples/02_single_bag.png');
      el.setAttribute('method', 'gradcam++');
      document.body.append(el);
      const ready = () =>
        new Promise<void>((res, rej) => {
          el.addEventListener('explained', () => res(), { once: true });
          el.addEventListener('error', (e) => rej((e as unknown as CustomEvent).detail.error), { once: true });
        });
      await ready();
      const first = engine.liveTensors as number;
      el.setAttribute('src', '/weights/samples/04_single_trouser.png');
      await ready();
      const second = engine.liveTensors as number;
      const labels = el.result!.classes.map((c) => c.label);
      el.remove();
      await el.updated();
      const gone = engine.liveTensors as number;
      engine.destroy();
      return { first, second, gone, labels, state: el.state };
    });
    expect(live.first).toBeGreaterThan(0);
    expect(live.second).toBe(live.first);
    expect(live.gone).toBe(0);
    expect(live.labels[0]).toBe('Trouser');
  });
});

describe('<webgpu-cam-explainer> with a file that is not a model', () => {
  it('shows the typed error and fires an error event', async () => {
    const h = await harness();
    const hp = await h.newPage(PAGE);
    try {
      const out = await hp.page.evaluate(async () => {
        const el = document.createElement('webgpu-cam-explainer') as WebGpuCamExplainer;
        el.id = 'bad';
        el.setAttribute('model', '/weights/fashion_cam.json');
        el.setAttribute('src', '/weights/samples/02_single_bag.png');
        const fired = new Promise<string>((res) =>
          el.addEventListener('error', (e) => res(((e as unknown as CustomEvent).detail.error as Error).name), {
            once: true,
          }),
        );
        document.body.append(el);
        return fired;
      });
      expect(out).toBe('ModelFormatError');
      const s = await settled(hp.page, 'bad');
      expect(s.state).toBe('error');
      expect(s.message).toMatch(/^ModelFormatError: not an ONNX model/);
      hp.assertNoErrors();
    } finally {
      await hp.close();
    }
  });
});

describe('<webgpu-cam-explainer> without WebGPU', () => {
  it('says what the browser needs', async () => {
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
      await page.goto(h.origin + PAGE, { waitUntil: 'load' });
      const s = await settled(page);
      expect(s.state).toBe('no-webgpu');
      expect(s.message).toMatch(/needs WebGPU.*navigator\.gpu is missing.*Chrome or Edge \(113 or later\)/);
      const hidden = await page.$eval('#shown', (el) => el.shadowRoot!.querySelector('canvas')!.hidden);
      expect(hidden).toBe(true);
      expect(logged).toEqual([]);
      writeFileSync(join(REPO, 'test-artifacts/element-no-webgpu.txt'), s.message + '\n');
    } finally {
      await page.close();
    }
  });
});
