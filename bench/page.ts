/**
 * Entry of bench/page.html: exposes `window.__bench.run(config)`, which bench/cli.ts calls
 * through puppeteer. Progress and log lines go to `window.__benchProgress` / `__benchLog`, which
 * the CLI exposes from Node. ONNX files are fetched from the Vite server (paths relative to the
 * repository root).
 */
import { runSuite, type Progress, type SuiteConfig, type SuiteResult } from './suite';

declare global {
  interface Window {
    __bench: { ready: true; run(cfg: SuiteConfig): Promise<SuiteResult> };
    __benchProgress?: (p: Progress) => void;
    __benchLog?: (s: string) => void;
  }
}

window.__bench = {
  ready: true,
  run: (cfg) =>
    runSuite(cfg, {
      runtime: navigator.userAgent,
      async readBytes(path) {
        const r = await fetch(`/${path.replace(/^\.?\//, '')}`);
        if (!r.ok) throw new Error(`could not fetch ${path}: HTTP ${r.status}`);
        return new Uint8Array(await r.arrayBuffer());
      },
      progress: (p) => window.__benchProgress?.(p),
      log: (s) => window.__benchLog?.(s),
    }),
};
