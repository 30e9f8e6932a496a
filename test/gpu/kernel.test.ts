/**
 * Kernel declarations: uniforms and bindings declared once in TypeScript and checked against the
 * shader when the pipeline is built; the uniform layout; the preprocessor's #if and #include with
 * the line map compiler messages use.
 */
import { describe, expect, it } from 'vitest';
import { ShaderError } from '../../src/core/errors';
import { grid1d } from '../../src/gpu/engine';
import { defineKernel, packParams, paramLayout, preprocess, shaderInterface } from '../../src/gpu/kernel';
import { getEngine } from '../util/gpu';

const SCALE = `
struct Params {
  count: u32,
  offset: i32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
#if BIAS
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
#else
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
#endif

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i >= p.count) {
    return;
  }
  var v = x[i] * p.scale + f32(p.offset);
#if BIAS
  v += b[i];
#endif
  y[i] = v;
}
`;

describe('uniform layout', () => {
  it('packs u32, i32 and f32 by name in declaration order, padded to 16 bytes', () => {
    const layout = paramLayout({ count: 'u32', offset: 'i32', scale: 'f32' });
    expect(layout.size).toBe(16);
    expect(layout.fields.map((f) => f.offset)).toEqual([0, 4, 8]);
    const buf = new ArrayBuffer(16);
    packParams('t', layout, { scale: 0.5, count: 7, offset: -2 }, buf, 0);
    const dv = new DataView(buf);
    expect([dv.getUint32(0, true), dv.getInt32(4, true), dv.getFloat32(8, true)]).toEqual([7, -2, 0.5]);
  });

  it('aligns vec4 and arrays of vec4 to 16 bytes', () => {
    const layout = paramLayout({ rank: 'u32', dims: 'array<vec4u, 2>', scale: 'f32', v: 'vec4f' });
    expect(layout.fields.map((f) => [f.name, f.offset, f.words])).toEqual([
      ['rank', 0, 1],
      ['dims', 16, 8],
      ['scale', 48, 1],
      ['v', 64, 4],
    ]);
    expect(layout.size).toBe(80);
    const buf = new ArrayBuffer(80);
    packParams('t', layout, { rank: 3, dims: [1, 2, 3, 4, 5, 6, 7, 8], scale: 2, v: [1, 2, 3, 4] }, buf, 0);
    expect([...new Uint32Array(buf, 16, 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('refuses a missing value, a wrong length and a non-integer for an integer field', () => {
    const layout = paramLayout({ count: 'u32', dims: 'array<vec4u, 1>' });
    const buf = new ArrayBuffer(32);
    expect(() => packParams('k', layout, { count: 1 }, buf, 0)).toThrow(/uniform 'dims'.*needs 4/);
    expect(() => packParams('k', layout, { count: 1, dims: [1, 2] }, buf, 0)).toThrow(ShaderError);
    expect(() => packParams('k', layout, { count: 1.5, dims: [1, 2, 3, 4] }, buf, 0)).toThrow(/not a u32/);
  });
});

describe('preprocessor', () => {
  it('resolves nested #if / #elif / #else and maps every line to its source', () => {
    const src = ['a', '#if A', 'b', '#if B', 'c', '#else', 'd', '#endif', '#elif C', 'e', '#else', 'f', '#endif', 'g'];
    const run = (d: Record<string, boolean>) => preprocess('t', src.join('\n'), d).code.split('\n').join('');
    expect(run({ A: true, B: true })).toBe('abcg');
    expect(run({ A: true })).toBe('abdg');
    expect(run({ C: true })).toBe('aeg');
    expect(run({})).toBe('afg');
    const pre = preprocess('t', src.join('\n'), { A: true });
    expect(pre.origin.map((o) => o.line)).toEqual([1, 3, 7, 14]);
  });

  it('#include pulls a snippet in once, preprocessed with the same defines, and maps its lines', () => {
    const inc = { name: 'lib', code: 'fn one() -> f32 { return 1.0; }\n#if FAST\nfn fast() {}\n#endif' };
    const pre = preprocess('k', 'x\n#include "lib"\n#include "lib"\ny', { FAST: true }, [inc]);
    expect(pre.code.split('\n')).toEqual(['x', 'fn one() -> f32 { return 1.0; }', 'fn fast() {}', 'y']);
    expect(pre.origin).toEqual([
      { file: 'k', line: 1 },
      { file: 'lib', line: 1 },
      { file: 'lib', line: 3 },
      { file: 'k', line: 4 },
    ]);
  });

  it('rejects malformed directives and unknown or circular includes, naming the line', () => {
    expect(() => preprocess('t', 'a\n#else\nb')).toThrow(/t\.wgsl:2: #else without #if/);
    expect(() => preprocess('t', '#if A\nb')).toThrow(/#if without #endif/);
    expect(() => preprocess('t', '#include "nope"')).toThrow(/t\.wgsl:1: #include "nope" is not among/);
    const a = { name: 'a', code: '#include "b"' };
    const b = { name: 'b', code: '#include "a"' };
    expect(() => preprocess('t', '#include "a"', {}, [a, b])).toThrow(/circular/);
    expect(() => preprocess('t', '#pragma x')).toThrow(/unknown directive #pragma/);
  });
});

describe('declared interface checked against the shader', () => {
  it('reads Params and bindings after preprocessing', () => {
    const on = shaderInterface(preprocess('s', SCALE, { BIAS: true }).code);
    expect(on.params).toEqual([
      { name: 'count', type: 'u32' },
      { name: 'offset', type: 'i32' },
      { name: 'scale', type: 'f32' },
    ]);
    expect([...on.storage]).toEqual([
      ['x', 1],
      ['b', 2],
      ['y', 3],
    ]);
    const off = shaderInterface(preprocess('s', SCALE, {}).code);
    expect([...off.storage]).toEqual([
      ['x', 1],
      ['y', 2],
    ]);
  });

  it('binds by name, also where #if renumbers the bindings', async () => {
    const e = await getEngine();
    const def = defineKernel({
      name: 'scale_test',
      code: SCALE,
      params: { count: 'u32', offset: 'i32', scale: 'f32' },
      bindings: ['x', 'b', 'y'],
    });
    const x = e.upload([1, 2, 3], [3]);
    const b = e.upload([10, 20, 30], [3]);
    for (const bias of [false, true]) {
      const k = await e.kernel(def, { defines: { BIAS: bias } });
      const y = e.empty([3]);
      e.dispatch(k, { x, b: bias ? b : null, y }, { count: 3, offset: -1, scale: 2 }, grid1d(3, 64));
      expect([...(await y.read())]).toEqual(bias ? [11, 23, 35] : [1, 3, 5]);
      y.destroy();
    }
    x.destroy();
    b.destroy();
  });

  it('a missing, extra, renamed or swapped Params field fails loudly when the pipeline is built', async () => {
    const e = await getEngine();
    const bindings = ['x', 'b', 'y'] as const;
    const bad = [
      { count: 'u32', offset: 'i32' },
      { count: 'u32', offset: 'i32', scale: 'f32', extra: 'u32' },
      { count: 'u32', offset: 'i32', factor: 'f32' },
      { count: 'u32', scale: 'f32', offset: 'i32' },
      { count: 'u32', offset: 'u32', scale: 'f32' },
    ] as const;
    for (const [i, params] of bad.entries()) {
      const def = defineKernel({ name: `scale_bad_${i}`, code: SCALE, params, bindings });
      await expect(e.kernel(def)).rejects.toThrow(/interface: Params field/);
    }
  });

  it('a binding the definition does not list, or a binding not given or not declared, is an error', async () => {
    const e = await getEngine();
    const params = { count: 'u32', offset: 'i32', scale: 'f32' } as const;
    const unlisted = defineKernel({ name: 'scale_unlisted', code: SCALE, params, bindings: ['x', 'y'] });
    await expect(e.kernel(unlisted, { defines: { BIAS: true } })).rejects.toThrow(/binds 'b'/);
    const def = defineKernel({ name: 'scale_bind', code: SCALE, params, bindings: ['x', 'b', 'y'] });
    const k = await e.kernel(def, { defines: { BIAS: true } });
    const x = e.upload([1], [1]);
    const u = { count: 1, offset: 0, scale: 1 };
    expect(() => e.dispatch(k, { x, b: null, y: x }, u, [1, 1, 1])).toThrow(/binding 'b' is declared by the shader/);
    const k0 = await e.kernel(def);
    expect(() => e.dispatch(k0, { x, b: x, y: x }, u, [1, 1, 1])).toThrow(/binding 'b' is given but/);
    x.destroy();
  });

  it('a compiler error names the included file and its line', async () => {
    const e = await getEngine();
    const lib = { name: 'broken_lib', code: 'fn ok() {}\nfn bad() -> f32 { return undefined_name; }' };
    const def = defineKernel({
      name: 'uses_lib',
      code: '#include "broken_lib"\n@compute @workgroup_size(1) fn main() { ok(); }',
      params: {},
      bindings: [],
      includes: [lib],
    });
    await expect(e.kernel(def)).rejects.toThrow(/broken_lib\.wgsl:2:\d+: .*undefined_name/s);
  });

  it('two different sources under one name are refused', async () => {
    const e = await getEngine();
    const a = defineKernel({
      name: 'twin',
      code: '@compute @workgroup_size(1) fn main() {}',
      params: {},
      bindings: [],
    });
    const b = defineKernel({
      name: 'twin',
      code: '@compute @workgroup_size(2) fn main() {}',
      params: {},
      bindings: [],
    });
    await e.kernel(a);
    await expect(e.kernel(b)).rejects.toThrow(/two different kernel sources share this name/);
  });
});
