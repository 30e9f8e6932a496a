/**
 * The built demo (`vite build` of vite.config.ts, what `npm run build` writes) served with
 * `Content-Security-Policy: script-src 'self'`, in headless Chromium:
 *
 * - it loads the shipped model and explains the first sample: no policy violation (no eval,
 *   no Function, no WebAssembly), no console error, predictions shown;
 * - an ONNX file with an unsupported operator shows the typed error by its name
 *   ("UnsupportedOperatorError: …") although the bundle is minified;
 * - the test hook (window.__camDemo) is not in the build, and no built script contains eval,
 *   Function or WebAssembly.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { floatTensor, node, onnxModel } from '../util/onnx_builder';
import { randn } from '../util/random';
import { launchChromium } from './launch';
import { CSP, serveStatic, UNSAFE, violations, watchViolations, type StaticServer } from './served';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
describe("the built demo under Content-Security-Policy: script-src 'self'", () => {
  let dir: string;
  let server: StaticServer;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  const logged: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'webgpu-cam-demo-build-'));
    // As `npm run build` does it: a child process, without the test runner's NODE_ENV=test (with
    // which Vite would make a development build).
    const env = { ...process.env };
    delete env.NODE_ENV;
    delete env.VITEST;
    const vite = join(REPO, 'node_modules/vite/bin/vite.js');
    const r = spawnSync(process.execPath, [vite, 'build', '--outDir', dir, '--emptyOutDir', '--logLevel', 'warn'], {
      cwd: REPO,
      env,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    server = await serveStatic(dir, { 'Content-Security-Policy': CSP });
    chromium = await launchChromium();
    page = await chromium.browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') logged.push(`console.error: ${m.text()}`);
    });
    page.on('pageerror', (e) => logged.push(`uncaught: ${e}`));
    await watchViolations(page);
    await page.goto(`${server.origin}/`, { waitUntil: 'load' });
    await page.waitForFunction(() => document.documentElement.dataset.state, { timeout: 120_000 });
  });
  afterAll(async () => {
    await chromium?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loads the shipped model and explains a sample, with no violation and no console error', async () => {
    const state = await page.evaluate(() => document.documentElement.dataset.state);
    const why = await page.$eval('#no-webgpu-reason', (el) => el.textContent ?? '');
    expect(state, why).toBe('ready');
    expect(await violations(page)).toEqual([]);
    expect(logged).toEqual([]);
    const top = await page.$$eval('#top5 li', (lis) => lis.map((li) => li.textContent ?? ''));
    expect(top).toHaveLength(5);
    expect(await page.$eval('#model-error', (el) => (el as HTMLElement).hidden)).toBe(true);
    expect(await page.$eval('#run-status', (el) => el.textContent)).toBe('Ready.');
  });

  it('shows a typed error by its name although the bundle is minified', async () => {
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
    const artifacts = join(REPO, 'test-artifacts');
    mkdirSync(artifacts, { recursive: true });
    const path = join(artifacts, 'csp-unsupported-hardmax.onnx');
    writeFileSync(path, bytes);
    await page.$eval('#own-model', (d) => ((d as HTMLDetailsElement).open = true));
    await (await page.$('input#onnx-file'))!.uploadFile(path);
    await page.click('#onnx-load');
    await page.waitForSelector('#model-error:not([hidden])', { timeout: 30_000 });
    const shown = await page.$eval('#model-error', (el) => el.textContent ?? '');
    expect(shown).toMatch(/: UnsupportedOperatorError: unsupported operator 'Hardmax' ×1 \(first: node 'squash'\)/);
    expect(await violations(page)).toEqual([]);
  });

  it('has no test hook and no eval, Function or WebAssembly in its scripts', async () => {
    expect(await page.evaluate(() => '__camDemo' in window)).toBe(false);
    const scripts = readdirSync(join(dir, 'assets')).filter((f) => f.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(0);
    for (const f of scripts) {
      const code = readFileSync(join(dir, 'assets', f), 'utf8');
      expect(code.match(UNSAFE)?.[0] ?? null, f).toBeNull();
      expect(code.includes('__camDemo'), `${f} mentions __camDemo`).toBe(false);
    }
  });
});
