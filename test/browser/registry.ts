/**
 * The harness page's case registry. A case is an async function run in the page with a shared
 * context (one Engine per page, made on first use) and an argument sent from the Node test.
 * To add cases, put a module in test/browser/cases/ that calls defineCase(); harness.ts loads
 * every module there. From a test: `await page.run('name', arg)` (see browser.ts).
 */
import { Engine } from '../../src/gpu/engine';

export interface CaseContext {
  /** The page's engine, made on first call (Engine.create() on navigator.gpu). */
  engine(): Promise<Engine>;
}

export type CaseFn = (ctx: CaseContext, arg: unknown) => Promise<unknown>;

/** Every registered case, by name; also reachable as `window.cases` for debugging. */
export const cases: Record<string, CaseFn> = {};

export function defineCase(name: string, fn: CaseFn): void {
  if (name in cases) throw new Error(`browser case '${name}' is defined twice`);
  cases[name] = fn;
}

let engine: Promise<Engine> | null = null;

export const context: CaseContext = {
  engine() {
    if (!engine) {
      engine = Engine.create();
      // A failed acquisition is reported to every case that asks, with the reason, and retried.
      engine.catch(() => (engine = null));
    }
    return engine;
  },
};
