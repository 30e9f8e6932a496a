#!/usr/bin/env node
/**
 * The library build (npm run build:lib; npm pack runs it first, as `prepack`):
 *
 *   1. Vite's library mode (vite.lib.config.ts): lib/*.js, the shaders and src/ inlined;
 *   2. tsc (tsconfig.lib.json): one declaration file per source file under lib/types/;
 *   3. the declarations' relative imports get their `.js` extension ('./gpu/engine' →
 *      './gpu/engine.js'), which Node's ESM resolution (TypeScript's `nodenext`) requires and
 *      bundler resolution accepts.
 *
 * The declarations use WebGPU's types (GPUDevice, …) as globals: TypeScript 6's "dom" lib has
 * them, TypeScript 5 needs @webgpu/types (see the README); they reference neither, as a
 * reference to @webgpu/types would clash with TypeScript 6's own.
 *
 * Fails on an import that has no declaration file.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const LIB = join(REPO, 'lib');
const TYPES = join(LIB, 'types');
/** Declaration files that are entry points of the package (see package.json "exports"). */
const ENTRIES = ['index.d.ts', 'node.d.ts', 'element/index.d.ts'];

const t0 = performance.now();
await build({ configFile: join(REPO, 'vite.lib.config.ts'), logLevel: 'warn' });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(REPO, 'tsconfig.lib.json')], { cwd: REPO, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(`build-lib: tsc failed (exit status ${r.status ?? r.signal})`);
  process.exit(1);
}

function* walk(dir) {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith('.d.ts')) yield p;
  }
}

const SPECIFIER = /(\bfrom\s+|\bimport\s*\(\s*)(['"])(\.{1,2}\/[^'"]*)\2/g;
let files = 0;
for (const file of walk(TYPES)) {
  const text = readFileSync(file, 'utf8');
  let out = text.replace(SPECIFIER, (_, lead, q, spec) => {
    if (spec.endsWith('.js')) return `${lead}${q}${spec}${q}`;
    const abs = resolve(dirname(file), spec);
    if (existsSync(`${abs}.d.ts`)) return `${lead}${q}${spec}.js${q}`;
    if (existsSync(join(abs, 'index.d.ts'))) return `${lead}${q}${spec}/index.js${q}`;
    throw new Error(`build-lib: ${relative(REPO, file)} imports '${spec}', which has no declaration file`);
  });
  if (out !== text) writeFileSync(file, out);
  files++;
}
for (const e of ENTRIES) {
  if (!existsSync(join(TYPES, e)))
    throw new Error(`build-lib: the entry point's declarations lib/types/${e} are missing`);
}
console.error(
  `build-lib: lib/ (JavaScript and ${files} declaration files) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
