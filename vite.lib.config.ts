/**
 * The library build (npm run build:lib, scripts/build-lib.mjs): ES modules in lib/ for the
 * package's entry points, the shaders (`?raw`) and everything of src/ inlined, shared code in
 * chunks, not minified (the consumer's bundler minifies). Entries:
 *
 *   lib/index.js    the library (src/index.ts): the `browser` and default condition of "."
 *   lib/node.js     the library plus image files in Node (src/node.ts): the `node` condition of "."
 *   lib/element.js  <webgpu-cam-explainer> (src/element/index.ts): "./element"
 *   lib/cli.js      the webgpu-cam command (src/cli/bin.ts): "bin"
 *
 * Left as imports, so the consumer installs them: the runtime dependencies of package.json, the
 * optional peer dependency `webgpu` (src/gpu/device.ts imports it by a name in a variable, in
 * Node only) and Node's modules. protobufjs's runtime is bundled, without long.js
 * (scripts/no-long.mjs), so that pages with `script-src 'self'` can load models.
 */
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import pkg from './package.json' with { type: 'json' };

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const external = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies ?? {})]);

export default defineConfig({
  // No public/ folder and no .env files: the library has neither.
  publicDir: false,
  envDir: false,
  resolve: { alias: { long: here('scripts/no-long.mjs') } },
  build: {
    outDir: 'lib',
    emptyOutDir: true,
    target: 'es2022',
    minify: false,
    sourcemap: false,
    copyPublicDir: false,
    reportCompressedSize: false,
    lib: {
      entry: {
        index: here('src/index.ts'),
        node: here('src/node.ts'),
        element: here('src/element/index.ts'),
        cli: here('src/cli/bin.ts'),
      },
      formats: ['es'],
    },
    rolldownOptions: {
      external: (id) =>
        id.startsWith('node:') ||
        builtinModules.includes(id) ||
        external.has(id) ||
        [...external].some((d) => id.startsWith(`${d}/`)),
      output: { chunkFileNames: 'chunks/[name]-[hash].js' },
    },
  },
});
