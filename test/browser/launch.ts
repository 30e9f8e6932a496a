/**
 * Starting the system's headless Chromium with WebGPU (flags: scripts/chromium.mjs) next to a
 * Vite dev server rooted at the repository, and opening pages on it that record console errors.
 * No test-runner imports: used by the browser tests (browser.ts) and by the benchmark
 * (bench/cli.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer';
import { createServer, type ViteDevServer } from 'vite';
import { chromiumArgs, findChromium } from '../../scripts/chromium.mjs';
import { decode, encode } from './wire';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const HARNESS = '/test/browser/harness.html';

export interface Harness {
  readonly browser: Browser;
  readonly server: ViteDevServer;
  /** http://127.0.0.1:PORT — the repository root as served by Vite. */
  readonly origin: string;
  /** The Chromium flags used. */
  readonly args: readonly string[];
  /** Open `path` (default: the harness page) in a new tab that records errors. */
  newPage(path?: string): Promise<HarnessPage>;
  close(): Promise<void>;
}

export interface HarnessPage {
  readonly page: Page;
  /** Console errors, uncaught exceptions and failed requests seen so far. */
  readonly errors: string[];
  /** Console warnings seen so far (not failures; shown when something else fails). */
  readonly warnings: string[];
  /** Run a registered case in the page (harness page only). */
  run<T = unknown>(name: string, arg?: unknown): Promise<T>;
  /** Throws if the page logged an error. */
  assertNoErrors(): void;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** More pages whose imports Vite pre-bundles before the first request (besides the test harness and demo). */
  entries?: string[];
  /** More dependencies to pre-bundle (ones only imported dynamically). */
  include?: string[];
  /** Vite's dependency cache, relative to the repository (default node_modules/.vite-browser-tests). */
  cacheDir?: string;
}

/**
 * The system's headless Chromium with WebGPU (scripts/chromium.mjs), in a fresh profile that
 * close() removes. Used by openHarness() and by tests that serve pages themselves
 * (test/browser/csp.test.ts, test/package/consumer.test.ts).
 */
export async function launchChromium(): Promise<{ browser: Browser; args: readonly string[]; close(): Promise<void> }> {
  const executablePath = findChromium();
  if (!executablePath) {
    throw new Error(
      'no Chrome/Chromium found: run `node scripts/ensure-chromium.mjs` (npm test does) or set CHROME_PATH',
    );
  }
  const userDataDir = await mkdtemp(join(tmpdir(), 'webgpu-cam-chromium-'));
  const args = chromiumArgs(userDataDir);
  try {
    const browser = await puppeteer.launch({
      executablePath,
      headless: true,
      args,
      userDataDir,
      protocolTimeout: 600_000,
    });
    return {
      browser,
      args,
      async close() {
        await browser.close().catch(() => {});
        await rm(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await rm(userDataDir, { recursive: true, force: true });
    throw e;
  }
}

/** Start the Vite server and the browser. In tests prefer withPage(), which shares one per test file. */
export async function openHarness(opts: HarnessOptions = {}): Promise<Harness> {
  if (!findChromium()) {
    throw new Error(
      'no Chrome/Chromium found: run `node scripts/ensure-chromium.mjs` (npm test does) or set CHROME_PATH',
    );
  }
  const server = await createServer({
    configFile: false,
    root: REPO,
    logLevel: 'error',
    clearScreen: false,
    cacheDir: join(REPO, opts.cacheDir ?? 'node_modules/.vite-browser-tests'),
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null },
    // Pre-bundle dependencies before the first request: discovering one mid-load makes Vite
    // reload the page, which would race with the test.
    optimizeDeps: {
      entries: ['test/browser/harness.html', 'demo/index.html', ...(opts.entries ?? [])],
      ...(opts.include ? { include: opts.include } : {}),
    },
  });
  let chromium: Awaited<ReturnType<typeof launchChromium>> | undefined;
  try {
    await server.listen();
    const address = server.httpServer?.address();
    if (!address || typeof address === 'string') throw new Error('vite dev server has no TCP address');
    const origin = `http://127.0.0.1:${address.port}`;
    chromium = await launchChromium();
    const c = chromium;
    return {
      browser: c.browser,
      server,
      origin,
      args: c.args,
      newPage: (path = HARNESS) => openPage(c.browser, origin, path),
      async close() {
        await c.close();
        await server.close();
      },
    };
  } catch (e) {
    await chromium?.close();
    await server.close();
    throw e;
  }
}

export async function openPage(browser: Browser, origin: string, path: string): Promise<HarnessPage> {
  const page = await browser.newPage();
  const errors: string[] = [];
  const warnings: string[] = [];
  page.on('console', (m) => {
    const where = m.location()?.url ? ` (${m.location().url}:${m.location().lineNumber ?? '?'})` : '';
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}${where}`);
    else if (m.type() === 'warn') warnings.push(`console.warn: ${m.text()}${where}`);
  });
  page.on('pageerror', (err) => errors.push(`uncaught: ${err instanceof Error ? err.stack || err.message : err}`));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  const hp: HarnessPage = {
    page,
    errors,
    warnings,
    async run<T>(name: string, arg?: unknown): Promise<T> {
      const out = await page.evaluate((n, a) => window.__harness.run(n, a), name, encode(arg) as never);
      return decode(out) as T;
    },
    assertNoErrors() {
      if (errors.length) throw new Error(`the page logged errors:\n  ${errors.join('\n  ')}${noteWarnings(warnings)}`);
    },
    close: () => page.close(),
  };
  try {
    await page.goto(origin + path, { waitUntil: 'load' });
    if (path === HARNESS) await page.waitForFunction(() => window.__harness?.ready === true, { timeout: 60_000 });
  } catch (e) {
    await page.close();
    throw withPageErrors(e, errors, warnings);
  }
  return hp;
}

function noteWarnings(warnings: string[]): string {
  return warnings.length ? `\nwarnings:\n  ${warnings.join('\n  ')}` : '';
}

export function withPageErrors(e: unknown, errors: string[], warnings: string[]): unknown {
  if (!(e instanceof Error) || (!errors.length && !warnings.length)) return e;
  e.message += `\npage errors:\n  ${errors.join('\n  ') || '(none)'}${noteWarnings(warnings)}`;
  return e;
}
