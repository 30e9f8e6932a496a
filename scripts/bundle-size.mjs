#!/usr/bin/env node
/**
 * What the library costs a page: Vite bundles (minified, for browsers) of a module that imports
 * from the built package (lib/, npm run build:lib first), and their size minified and gzipped.
 * The README's table comes from here.
 *
 *   node scripts/bundle-size.mjs          [--json]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';

const LIB = fileURLToPath(new URL('../lib/', import.meta.url));

/** What each measured page imports (and uses, so that nothing is shaken off). */
export const IMPORTS = {
  'Engine, loadOnnx, explain': `import { Engine, loadOnnx, explain } from '${LIB}index.js'; window.x = [Engine, loadOnnx, explain];`,
  '+ preprocessImage, overlay, drawToCanvas': `import { Engine, loadOnnx, explain, preprocessImage, overlay, drawToCanvas } from '${LIB}index.js'; window.x = [Engine, loadOnnx, explain, preprocessImage, overlay, drawToCanvas];`,
  'everything (import *)': `import * as all from '${LIB}index.js'; window.x = all;`,
  'the element (webgpu-cam/element)': `import '${LIB}element.js';`,
};

/** Minified and gzipped bytes of a browser bundle of `code`. */
export async function measure(code) {
  const dir = mkdtempSync(join(tmpdir(), 'webgpu-cam-size-'));
  try {
    const entry = join(dir, 'entry.js');
    writeFileSync(entry, code);
    const out = await build({
      configFile: false,
      logLevel: 'silent',
      root: dir,
      build: {
        write: false,
        minify: true,
        target: 'es2022',
        // An application build, as a page that uses the library gets (library mode would keep whitespace).
        rolldownOptions: { input: entry, output: { codeSplitting: false } },
      },
    });
    const chunks = (Array.isArray(out) ? out : [out]).flatMap((o) => o.output).filter((c) => c.type === 'chunk');
    const text = chunks.map((c) => c.code).join('\n');
    return { min: Buffer.byteLength(text), gzip: gzipSync(text, { level: 9 }).length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = [];
  for (const [what, code] of Object.entries(IMPORTS)) rows.push({ what, ...(await measure(code)) });
  if (process.argv.includes('--json')) console.log(JSON.stringify(rows, null, 1));
  else {
    const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
    console.log('| imports | minified | min + gzip |\n|---|---:|---:|');
    for (const r of rows) console.log(`| ${r.what} | ${kb(r.min)} | ${kb(r.gzip)} |`);
  }
}
