/** The GPU layer: kernel errors, scopes, pooling, readback, uniforms, timing, caller-owned devices. */
import { describe, expect, it } from 'vitest';
import { Engine, grid1d } from '../../src/gpu/engine';
import { GraphError, InvalidInputError, ShaderError } from '../../src/core/errors';
import { defineKernel, preprocess } from '../../src/gpu/kernel';
import { sizeClass } from '../../src/gpu/pool';
import { unaryForward } from '../../src/ops/elementwise';
import { getEngine } from '../util/gpu';

// bench/fma.wgsl's loop: p.iters iterations of 4 independent vec4 FMAs per invocation.
const FMA = `
struct Params { iters: u32, count: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
override WG: u32 = 64;
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  var a0 = vec4f(f32(gid.x) * 1e-7);
  var a1 = a0 + 1.0;
  var a2 = a0 + 2.0;
  var a3 = a0 + 3.0;
  let m = vec4f(0.999999);
  let c = vec4f(1e-6);
  for (var i = 0u; i < p.iters; i++) {
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
  }
  let r = a0 + a1 + a2 + a3;
  if (gid.x < p.count) {
    y[gid.x] = r.x + r.y + r.z + r.w;
  }
}`;

describe('kernels', () => {
  it('a shader that does not compile raises ShaderError with the kernel label and the compiler message', async () => {
    const e = await getEngine();
    const code = '@compute @workgroup_size(1) fn main() { let x: f32 = undefined_thing; }';
    const run = () => e.kernel(defineKernel({ name: 'broken_kernel', code, params: {}, bindings: [] }));
    await expect(run()).rejects.toThrow(ShaderError);
    await expect(run()).rejects.toThrow(/broken_kernel.*undefined_thing/s);
    // The engine still works afterwards.
    const x = e.upload([-1, 2], [2]);
    const y = await unaryForward(e, 'relu', x);
    expect([...(await y.read())]).toEqual([0, 2]);
    x.destroy();
    y.destroy();
  });

  it('an override that the shader lacks fails pipeline creation with the variant label', async () => {
    const e = await getEngine();
    const code = 'override WG: u32 = 1;\n@compute @workgroup_size(WG) fn main() {}';
    const def = defineKernel({ name: 'k', code, params: {}, bindings: [] });
    await expect(e.kernel(def, { overrides: { NOPE: 3 } })).rejects.toThrow(/k\[NOPE=3\]/);
  });

  it('the same variant is compiled once and cached per engine', async () => {
    const e = await getEngine();
    const code = 'override WG: u32 = 1;\n@compute @workgroup_size(WG) fn main() {}';
    const def = defineKernel({ name: 'cached', code, params: {}, bindings: [] });
    const a = await e.kernel(def, { overrides: { WG: 4 } });
    const b = await e.kernel(def, { overrides: { WG: 4 } });
    const c = await e.kernel(def, { overrides: { WG: 8 } });
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it('#if blocks are resolved from defines (absent names are false)', () => {
    const src = 'a\n#if GUIDED\nb\n#else\nc\n#endif\nd';
    expect(preprocess('t', src, { GUIDED: true }).code.replace(/\s+/g, '')).toBe('abd');
    expect(preprocess('t', src, {}).code.replace(/\s+/g, '')).toBe('acd');
  });

  it('grid1d splits more than 65535 workgroups over y', () => {
    expect(grid1d(100, 64)).toEqual([2, 1, 1]);
    const [x, y] = grid1d(65536 * 64 + 1, 64);
    expect(y).toBeGreaterThan(1);
    expect(x * y * 64).toBeGreaterThanOrEqual(65536 * 64 + 1);
    expect(x).toBeLessThanOrEqual(65535);
  });
});

describe('tensors and scopes', () => {
  it('a scope destroys what it made except what it returns, also on throw', async () => {
    const e = await getEngine();
    const before = e.liveTensors;
    const kept = await e.scope(async () => {
      e.upload([1, 2, 3], [3], 'temp');
      return { out: e.upload([4], [1], 'kept') };
    });
    expect(e.liveTensors).toBe(before + 1);
    await expect(
      e.scope(async () => {
        e.upload([1], [1]);
        throw new GraphError('boom');
      }),
    ).rejects.toThrow('boom');
    expect(e.liveTensors).toBe(before + 1);
    kept.out.destroy();
    expect(e.liveTensors).toBe(before);
  });

  it('views share storage; the buffer returns to the pool when the last view goes', async () => {
    const e = await getEngine();
    const t = e.upload([1, 2, 3, 4, 5, 6], [2, 3]);
    const v = t.reshape([3, 2]);
    t.destroy();
    expect([...(await v.read())]).toEqual([1, 2, 3, 4, 5, 6]);
    const live = e.pool.liveBytes;
    v.destroy();
    expect(e.pool.liveBytes).toBe(live - sizeClass(24));
    expect(() => v.buffer).toThrow(InvalidInputError);
    expect(() => e.upload([1, 2], [3])).toThrow(/2 values given for shape \[3\]/);
    expect(() => t.reshape([4])).toThrow(/cannot reshape/);
  });

  it('copy() into a destination at an offset: one image into its place in a batch, the rest untouched', async () => {
    const e = await getEngine();
    const batch = e.upload([0, 0, 0, 0, 0, 0], [3, 2]);
    const a = e.upload([1, 2], [1, 2]);
    const b = e.upload([3, 4], [1, 2]);
    expect(e.copy(a, batch, 0)).toBe(batch);
    e.copy(b, batch, 4);
    expect([...(await batch.read())]).toEqual([1, 2, 0, 0, 3, 4]);
    expect(() => e.copy(b, batch, 5)).toThrow(/does not fit .* at element 5/);
    expect(() => e.copy(b, batch, -2)).toThrow(InvalidInputError);
    expect(() => e.copy(b, undefined, 2)).toThrow(/needs a destination/);
    expect(() => e.copy(batch, a)).toThrow(InvalidInputError);
    for (const t of [batch, a, b]) t.destroy();
  });

  it('copyRange() copies a range of one tensor into another at an offset; refuses bad ranges and shared storage', async () => {
    const e = await getEngine();
    const src = e.upload([1, 2, 3, 4, 5, 6], [2, 3]);
    const dst = e.upload([0, 0, 0, 0, 0, 0, 0, 0], [8]);
    e.copyRange(src, 3, 3, dst, 0);
    e.copyRange(src, 1, 2, dst, 5);
    e.copyRange(src, 0, 0, dst, 8);
    expect([...(await dst.read())]).toEqual([4, 5, 6, 0, 0, 2, 3, 0]);
    expect(() => e.copyRange(src, 4, 3, dst, 0)).toThrow(/elements \[4, 7\) of .* out of range/);
    expect(() => e.copyRange(src, 0, 3, dst, 6)).toThrow(InvalidInputError);
    expect(() => e.copyRange(src, -1, 1, dst, 0)).toThrow(InvalidInputError);
    expect(() => e.copyRange(src, 0.5, 1, dst, 0)).toThrow(InvalidInputError);
    const view = src.reshape([6]);
    expect(() => e.copyRange(src, 0, 2, view, 3)).toThrow(/share storage/);
    // The engine stays usable after the refusals.
    e.copyRange(src, 0, 1, dst, 7);
    expect((await dst.read())[7]).toBe(1);
    for (const t of [src, dst, view]) t.destroy();
  });

  it('an upload recorded after work that used a pooled buffer does not overwrite that work', async () => {
    const e = await getEngine();
    const a = e.upload([-1, 5, -3, 7], [4]);
    const y = await unaryForward(e, 'relu', a); // recorded, not submitted
    a.destroy(); // a's buffer goes back to the pool…
    const b = e.upload([9, 9, 9, 9], [4]); // …and is reused here, before the ReLU has run
    expect([...(await y.read())]).toEqual([0, 5, 0, 7]);
    expect([...(await b.read())]).toEqual([9, 9, 9, 9]);
    y.destroy();
    b.destroy();
  });

  it("stage timings: a heavy and a light stage of one run are both timed, the heavy one longer, the sum within the run's wall time", async () => {
    const e = await getEngine();
    const def = defineKernel({ name: 'test_fma', code: FMA, params: { iters: 'u32', count: 'u32' }, bindings: ['y'] });
    const fma = await e.kernel(def, { overrides: { WG: 64 } });
    const count = 4 * 64;
    const acc = e.empty([count], 'fma');
    const x = e.upload(new Float32Array(4096).fill(1), [4096]);
    await e.flush();
    e.stage('heavy');
    e.dispatch(fma, { y: acc }, { iters: 50_000, count }, [4, 1, 1]);
    e.stage('light');
    const y = await unaryForward(e, 'relu', x);
    const t0 = performance.now();
    await e.flush();
    await e.device.queue.onSubmittedWorkDone();
    const wall = performance.now() - t0;
    const t = await e.stageTimings();
    if (e.hasTimestamps) {
      expect(Object.keys(t!).sort()).toEqual(['heavy', 'light']);
      // 50k dependent FMA iterations per invocation against one pass over 4096 floats.
      expect(t!.heavy).toBeGreaterThan(10 * t!.light);
      // The passes ran between submission and completion (slack: 5% and 2 ms of timer granularity).
      expect(t!.heavy + t!.light).toBeLessThanOrEqual(wall * 1.05 + 2);
    } else {
      expect(t).toBeNull();
    }
    expect([...(await y.read())].every((v) => v === 1)).toBe(true);
    acc.destroy();
    x.destroy();
    y.destroy();
  });
});

describe('engines', () => {
  it('an engine on a caller-provided device never destroys that device', async () => {
    const owner = await getEngine();
    const e = await Engine.create({ device: owner.device, adapter: owner.adapter });
    const x = e.upload([-2, 3], [2]);
    const y = await unaryForward(e, 'relu', x);
    expect([...(await y.read())]).toEqual([0, 3]);
    e.destroy(); // frees x and y, keeps the device
    expect(x.destroyed && y.destroyed).toBe(true);
    const z = owner.upload([1], [1]);
    expect([...(await z.read())]).toEqual([1]);
    z.destroy();
    expect(() => e.empty([1])).toThrow(/destroyed/);
  });
});
