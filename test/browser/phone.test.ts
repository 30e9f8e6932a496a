/**
 * The demo at a phone's width (390 × 844 CSS pixels, touch, device pixel ratio 2), driven with
 * the keyboard only: the page does not scroll sideways, the maps grid, the inside view, the
 * lecture tour and the faithfulness panel fit the width, and a tour step started with Tab and
 * Enter and the curves started the same way compute their numbers. Screenshots:
 * test-artifacts/phone-{tour,faithfulness,inside}.png.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'puppeteer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { harness, type HarnessPage } from './browser';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const ARTIFACTS = join(REPO, 'test-artifacts');
const WIDTH = 390;

/** Elements (by selector) whose box sticks out of the viewport's width, with their right edges. */
async function overflowing(page: Page, selectors: string[]): Promise<string[]> {
  return page.evaluate(
    (sels, width) =>
      sels.flatMap((sel) =>
        [...document.querySelectorAll(sel)]
          .map((el) => ({ sel, r: el.getBoundingClientRect() }))
          .filter(({ r }) => r.width > 0 && (r.left < -1 || r.right > width + 1))
          .map(({ sel, r }) => `${sel}: ${Math.round(r.left)}…${Math.round(r.right)}`),
      ),
    selectors,
    WIDTH,
  );
}

/** Tab from the top of the page until `selector` has the focus; the presses it took. */
async function tabTo(page: Page, selector: string, most = 400): Promise<number> {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  for (let n = 1; n <= most; n++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return n;
  }
  throw new Error(`${selector} was not reached with ${most} Tab presses`);
}

describe('the demo on a phone, with the keyboard', () => {
  let hp: HarnessPage;

  beforeAll(async () => {
    hp = await (await harness()).newPage('/demo/index.html');
    await hp.page.setViewport({ width: WIDTH, height: 844, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    await hp.page.waitForFunction(() => document.documentElement.dataset.state === 'ready', { timeout: 90_000 });
    await hp.page.evaluate(() => window.__camDemo.idle());
  });
  afterEach(() => hp.assertNoErrors());
  afterAll(() => hp?.close());

  it('fits the width: no sideways scrolling, every panel within the viewport', async () => {
    const { page } = hp;
    const width = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      client: document.documentElement.clientWidth,
    }));
    expect(width.client).toBe(WIDTH);
    expect(width.scroll, 'the page scrolls sideways').toBeLessThanOrEqual(WIDTH);
    expect(await overflowing(page, ['.panel', '#maps figure', '#inside-tabs', '#tour-steps', '#faith-run'])).toEqual(
      [],
    );
  });

  it('a tour step started with Tab and Enter computes its numbers; so do the curves', async () => {
    const { page } = hp;
    // The tour is a closed <details>: its summary opens it.
    await tabTo(page, '#tour > summary');
    await page.keyboard.press('Enter');
    expect(await page.$eval('#tour', (d) => (d as HTMLDetailsElement).open)).toBe(true);
    await tabTo(page, '#tour-steps [data-step="gradcam-is-cam"]');
    await page.keyboard.press('Enter');
    const r = await page.evaluate(() => window.__camDemo.tour.settled());
    expect(r.error).toBeNull();
    expect(r.current).toBe('gradcam-is-cam');
    expect(r.numbers).not.toBeNull();
    expect(await overflowing(page, ['#tour-figures canvas', '#tour-numbers'])).toEqual([]);
    // The channel column holds channel indices (0, 1, …), not numbers formatted as values.
    const ks = await page.$$eval('#tour-numbers table tbody tr td:first-child', (tds) =>
      tds.map((td) => td.textContent),
    );
    expect(ks).toEqual(ks.map((_, k) => String(k)));
    expect(ks.length).toBeGreaterThan(1);

    await tabTo(page, '#faith-run');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => (document.getElementById('faith-note')?.textContent ?? '').includes('AUC'), {
      timeout: 120_000,
    });
    expect(await overflowing(page, ['#faith-plot svg'])).toEqual([]);
    mkdirSync(ARTIFACTS, { recursive: true });
    // The panels one by one (a full-page shot of a page this tall at DPR 2 exceeds the
    // compositor's largest texture and repeats itself).
    for (const id of ['tour', 'faithfulness', 'inside']) {
      await (await page.$(`#${id}`))!.screenshot({ path: join(ARTIFACTS, `phone-${id}.png`) });
    }
  });
});
