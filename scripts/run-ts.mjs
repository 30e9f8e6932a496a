/**
 * Run a TypeScript entry module of this repository in Node: Vite's SSR module loader compiles
 * the TypeScript and resolves the `?raw` shader imports the engine uses, with no build step.
 * The module must export `main(argv: string[]): Promise<number>` (the exit code).
 *
 *   node scripts/run-ts.mjs eval/cli.ts --scenes 100
 */
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';

const [entry, ...argv] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs <module.ts> [args…]');
  process.exit(2);
}
const root = fileURLToPath(new URL('..', import.meta.url));
const server = await createServer({
  configFile: false,
  root,
  logLevel: 'error',
  clearScreen: false,
  appType: 'custom',
  server: { middlewareMode: true, hmr: false, ws: false, watch: null },
  optimizeDeps: { noDiscovery: true, entries: [] },
});
let code;
try {
  const mod = await server.ssrLoadModule(`/${entry.replace(/^\.?\//, '')}`);
  code = await mod.main(argv);
} catch (e) {
  console.error(e instanceof Error ? e.stack || e.message : e);
  code = 1;
} finally {
  await server.close();
}
process.exit(code);
