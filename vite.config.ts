/**
 * Vite config for the demo page: `npm run dev` serves demo/, `npm run build` writes the static
 * site to dist/. Shaders are imported from shaders/ with `?raw`, which Vite handles in both.
 * `long` is left out (scripts/no-long.mjs), so that the page runs under a Content-Security-Policy
 * of `script-src 'self'`. (The library build: vite.lib.config.ts. Tests use vitest.config.ts; the
 * browser tests start their own Vite server, test/browser/browser.ts.)
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const repoRoot = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: 'demo',
  base: './',
  resolve: { alias: { long: fileURLToPath(new URL('scripts/no-long.mjs', import.meta.url)) } },
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    target: 'es2022',
  },
  server: {
    // The demo imports src/ and shaders/, which live outside demo/.
    fs: { allow: [repoRoot] },
  },
});
