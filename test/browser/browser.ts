/**
 * Browser test helper (runs in Node). Starts a Vite dev server rooted at the repository and the
 * system's headless Chromium with WebGPU (flags: scripts/chromium.mjs), once per test file, and
 * opens pages on it:
 *
 *   import { withPage } from './browser';
 *   it('…', () => withPage(async (page) => {
 *     const r = await page.run('relu-forward', { x: new Float32Array([1, -1]) });
 *   }));
 *
 * `page.run(name, arg)` calls a case registered in the harness page (test/browser/cases/*.ts);
 * typed arrays cross both ways intact (wire.ts). Any console error, uncaught page error or failed
 * request in the page fails the test. The server and browser close after the file's tests.
 * (Starting them: launch.ts.)
 */
import { afterAll } from 'vitest';
import { openHarness, withPageErrors, type Harness, type HarnessPage } from './launch';

export { openHarness, type Harness, type HarnessPage } from './launch';

// One harness per test file, started on first use and closed after the file's tests.
let shared: Promise<Harness> | null = null;

export function harness(): Promise<Harness> {
  if (!shared) {
    shared = openHarness();
    shared.catch(() => (shared = null));
  }
  return shared;
}

afterAll(async () => {
  const h = shared;
  shared = null;
  if (h) await (await h.catch(() => null))?.close();
});

/**
 * Open a page (default: the harness page), run `fn` with it, close it. Fails if the page
 * logged any error, and adds the page's errors to `fn`'s own failure.
 */
export async function withPage<T>(fn: (page: HarnessPage) => Promise<T>, path?: string): Promise<T> {
  const page = await (await harness()).newPage(path);
  try {
    let result: T;
    try {
      result = await fn(page);
    } catch (e) {
      throw withPageErrors(e, page.errors, page.warnings);
    }
    page.assertNoErrors();
    return result;
  } finally {
    await page.close();
  }
}
