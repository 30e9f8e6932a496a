/**
 * The demo page's side of the reliability catalogue (test/reliability/; this file is here with
 * the other browser tests, so that `npm run test:node` runs without Chromium), in headless
 * Chromium through the page's test hook:
 *
 * - an image file that would decode to 20000 × 20000 (a PNG of about 50 KB) is refused from its
 *   header with ImageTooLargeError before the browser decodes anything (createImageBitmap is
 *   counted), and the page keeps its last run, maps unchanged bit for bit;
 * - when the GPU device is lost, the page says so, starts a new engine by itself, loads the model
 *   again and redoes the run: the same maps as before, bit for bit, and no more tensors.
 */
import { deflateSync } from 'node:zlib';
import type { Page } from 'puppeteer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DemoSummary } from '../../demo/hook';
import { MAX_IMAGE_PIXELS } from '../../src/core/image';
import { harness, type HarnessPage } from './browser';

const DEMO = '/demo/index.html';

async function waitReady(page: Page): Promise<void> {
  await page.waitForFunction(() => document.documentElement.dataset.state, { timeout: 90_000 });
  const state = await page.evaluate(() => document.documentElement.dataset.state);
  const why = await page.$eval('#no-webgpu-reason', (el) => el.textContent ?? '');
  expect(state, why).toBe('ready');
}

const idle = (page: Page): Promise<DemoSummary> => page.evaluate(() => window.__camDemo.idle());

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A real PNG of width × height black 1-bit pixels (zeros compress ~1000:1). */
function blackPng(width: number, height: number): Buffer {
  const be32 = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  const chunk = (type: string, data: Uint8Array) => {
    const body = Uint8Array.from([...Buffer.from(type, 'latin1'), ...data]);
    return [...be32(data.length), ...body, ...be32(crc32(body))];
  };
  const ihdr = Uint8Array.from([...be32(width), ...be32(height), 1, 0, 0, 0, 0]);
  const idat = deflateSync(new Uint8Array((Math.ceil(width / 8) + 1) * height), { level: 9 });
  return Buffer.from([
    ...Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'),
    ...chunk('IHDR', ihdr),
    ...chunk('IDAT', idat),
    ...chunk('IEND', new Uint8Array(0)),
  ]);
}

/** Open a file through the hook (bytes travel as base64); counts the page's image decodes. */
async function openFile(page: Page, bytes: Buffer, name: string): Promise<{ summary: DemoSummary; decodes: number }> {
  return page.evaluate(
    async (b64, n) => {
      const w = window as unknown as { __decodes?: number };
      if (w.__decodes === undefined) {
        w.__decodes = 0;
        const original = window.createImageBitmap.bind(window);
        window.createImageBitmap = ((...args: Parameters<typeof createImageBitmap>) => {
          w.__decodes!++;
          return original(...args);
        }) as typeof createImageBitmap;
      }
      const start = w.__decodes;
      const bin = atob(b64);
      const data = Uint8Array.from(bin, (c) => c.charCodeAt(0));
      const summary = await window.__camDemo.openImageFile(data, n);
      return { summary, decodes: w.__decodes - start };
    },
    bytes.toString('base64'),
    name,
  );
}

describe('demo page: huge images and a lost device', () => {
  let hp: HarnessPage;

  beforeAll(async () => {
    hp = await (await harness()).newPage(DEMO);
    await waitReady(hp.page);
  });
  afterEach(() => hp.assertNoErrors());
  afterAll(() => hp?.close());

  it('a PNG that would decode to 20000 × 20000 is refused from its header, nothing decoded; the last run stays', async () => {
    const { page } = hp;
    const s0 = await page.evaluate(() => window.__camDemo.chooseSample('02_single_bag.png'));
    const maps0 = await page.evaluate(() => window.__camDemo.readMaps(['gradcam', 'guided-backprop']));
    const bomb = blackPng(20000, 20000);
    expect(bomb.length).toBeLessThan(100_000);

    const { summary, decodes } = await openFile(page, bomb, 'bomb.png');
    expect(decodes, 'images decoded by the browser').toBe(0);
    const shown = await page.$eval('#run-error-slot', (el) =>
      (el as HTMLElement).hidden ? '' : (el.textContent ?? ''),
    );
    expect(shown).toBe(
      `ImageTooLargeError: 'bomb.png' (png) is 20000×20000 = 400000000 pixels, more than the budget of ${MAX_IMAGE_PIXELS} pixels; scale it down first`,
    );
    expect(summary.source).toBe(s0.source);
    expect(summary.runs).toBe(s0.runs);
    expect(summary.liveTensors).toBe(s0.liveTensors);
    const maps1 = await page.evaluate(() => window.__camDemo.readMaps(['gradcam', 'guided-backprop']));
    expect(maps1).toEqual(maps0);

    // A file within the budget is decoded (once) and explained.
    const ok = await openFile(page, blackPng(300, 200), 'small.png');
    expect(ok.decodes).toBe(1);
    expect(ok.summary.source).toBe('small.png');
    expect(ok.summary.runs).toBe(s0.runs + 1);
    expect(ok.summary.error).toBeNull();
  });

  it('a lost device: the page says so, starts a new engine, loads the model again and redoes the run, maps equal bit for bit', async () => {
    const { page } = hp;
    const s0 = await page.evaluate(() => window.__camDemo.chooseSample('06_two_classes_trouser_bag.png'));
    expect(s0.engines).toBe(1);
    expect(s0.deviceNotice).toBeNull();
    const maps0 = await page.evaluate((ms) => window.__camDemo.readMaps(ms), s0.methods);

    await page.evaluate(() => window.__camDemo.loseDevice());
    await page.waitForFunction(() => window.__camDemo.summary().deviceNotice?.includes('ran again'), {
      timeout: 120_000,
    });
    const s1 = await idle(page);
    expect(s1.engines).toBe(2);
    expect(s1.deviceNotice).toMatch(
      /^The GPU device was lost \(destroyed.*\); the page started a new one, loaded fashion_cam again and ran again\.$/,
    );
    expect(s1.error).toBeNull();
    expect(s1.model).toBe(s0.model);
    expect(s1.source).toBe(s0.source);
    expect(s1.cls).toBe(s0.cls);
    expect(s1.runs).toBe(s0.runs + 1);
    expect(s1.liveTensors).toBe(s0.liveTensors);
    const maps1 = await page.evaluate((ms) => window.__camDemo.readMaps(ms), s0.methods);
    expect(maps1).toEqual(maps0);

    // The new engine keeps working: another run, and the canvases draw.
    const s2 = await page.evaluate(() => window.__camDemo.chooseSample('02_single_bag.png'));
    expect(s2.error).toBeNull();
    expect(s2.runs).toBe(s1.runs + 1);
    const px = await page.evaluate(() => window.__camDemo.readCanvas('gradcam'));
    expect(px.data.some((v, i) => i % 4 !== 3 && v !== 0)).toBe(true);
  });
});
