/**
 * Entry of test/browser/harness.html. Loads every case module in ./cases/ and exposes
 * `window.__harness.run(name, encodedArg)`, which the Node side calls through page.evaluate.
 */
import { cases, context } from './registry';
import { decode, encode } from './wire';

import.meta.glob('./cases/*.ts', { eager: true });

export interface HarnessApi {
  ready: true;
  names(): string[];
  run(name: string, arg: unknown): Promise<unknown>;
}

const api: HarnessApi = {
  ready: true,
  names: () => Object.keys(cases).sort(),
  async run(name, arg) {
    const fn = cases[name];
    if (!fn) throw new Error(`no browser case '${name}'; defined: ${api.names().join(', ')}`);
    return encode(await fn(context, decode(arg)));
  },
};

declare global {
  interface Window {
    __harness: HarnessApi;
    cases: typeof cases;
  }
}

window.cases = cases;
window.__harness = api;
