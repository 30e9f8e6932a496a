/**
 * Layers one way, checked on the module graph itself: the CPU reference executor, the ONNX
 * converter and the op and method registries load no GPU code and no shader (ESLint's
 * no-restricted-imports enforces the same per file; this follows every import from the entry).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Every module reachable from `entry` by static imports (type-only imports included); .ts and .js files are followed. */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    if (!/\.(ts|js)$/.test(file)) return;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+(['"])([^'"]+)\1/g)) {
      const spec = m[2];
      if (!spec.startsWith('.')) {
        seen.add(spec); // a package
        continue;
      }
      const path = resolve(dirname(file), spec);
      visit(spec.includes('?') || /\.(ts|js)$/.test(path) ? path : `${path}.ts`);
    }
  };
  visit(resolve(ROOT, entry));
  return seen;
}

const GPU = [/\/src\/gpu\//, /\/src\/ops\//, /\/src\/attribution\//, /\/src\/metrics\//, /\.wgsl\?raw$/, /^webgpu$/];

describe('layers', () => {
  it.each([
    'src/reference/model.ts',
    'src/reference/explain.ts',
    'src/reference/metrics.ts',
    'src/reference/sanity.ts',
    'src/model/onnx_convert.ts',
    'src/defs/index.ts',
    'src/methods/registry.ts',
  ])('%s loads no GPU module and no shader', (entry) => {
    const mods = [...reachable(entry)];
    expect(mods.length).toBeGreaterThan(1);
    const gpu = mods.filter((m) => GPU.some((re) => re.test(m)));
    expect(gpu, `GPU modules reachable from ${entry}`).toEqual([]);
  });

  it('the walk does find GPU modules where there are some (the check can fail)', () => {
    const mods = [...reachable('src/model/model.ts')];
    expect(mods.some((m) => /\/src\/ops\/conv2d\.ts$/.test(m))).toBe(true);
    expect(mods.some((m) => /\.wgsl\?raw$/.test(m))).toBe(true);
  });
});
