/**
 * Recorders: concurrent recording on one engine (interleaved at every await), the buffer
 * pool's hold-back across recorders, cross-recorder ordering, per-recorder GPU error capture,
 * per-recorder stage timings, and teardown with work still recorded.
 */
import { describe, expect, it } from 'vitest';
import { Engine, type Recorder } from '../../src/gpu/engine';
import { GPUExecutionError } from '../../src/core/errors';
import { defineKernel } from '../../src/gpu/kernel';
import type { Tensor } from '../../src/gpu/tensor';
import { conv2dParams } from '../../src/defs/conv2d';
import { conv2dForward } from '../../src/ops/conv2d';
import { binaryForward, unaryBackward, unaryForward } from '../../src/ops/elementwise';
import * as ref from '../../src/reference/elementwise';
import { conv2dForward as refConv } from '../../src/reference/conv2d';
import { hostTensor } from '../../src/reference/tensor';
import { expectAllclose, F32, f32Reduction, maxAbs } from '../util/compare';
import { randn } from '../util/random';
import { getEngine, toHost } from '../util/gpu';

/** Let every other task run (timers included) before going on. */
const tick = () => new Promise<void>((r) => setTimeout(r, 0));

// y = x · S, with S an override: every new S is a new pipeline, compiled asynchronously.
const SCALE = `
struct Params { count: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
override WG: u32 = 64;
override S: f32 = 1.0;
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < p.count) { y[gid.x] = x[gid.x] * S; }
}`;

const SCALE_KERNEL = defineKernel({ name: 'test_scale', code: SCALE, params: { count: 'u32' }, bindings: ['x', 'y'] });

async function scale(r: Recorder, x: Tensor, s: number): Promise<Tensor> {
  const k = await r.kernel(SCALE_KERNEL, { overrides: { WG: 64, S: s } });
  const y = r.empty(x.shape, 'scaled');
  r.dispatch(k, { x, y }, { count: x.size }, [Math.ceil(x.size / 64), 1, 1]);
  return y;
}

const N = 1024;

/**
 * One "call": a chain of ops with an await (and a timer turn) between every two, a nested
 * scope, views, and an early destroy so that the recorder reuses its own buffer at once.
 * `log` records the order in which the calls' steps ran.
 */
async function job(r: Recorder, seed: number, log: number[]) {
  const step = async () => {
    log.push(seed);
    await tick();
  };
  return r.scope(async () => {
    r.stage(`job${seed}`);
    const x = r.upload(randn(N, seed), [N], 'x');
    await step();
    const y = await scale(r, x, 1 + seed / 8); // a new pipeline per seed: a real compile await
    await step();
    x.destroy(); // released while the scale still has to read it
    const z = await unaryForward(r, 'relu', y);
    await step();
    const w = await binaryForward(r, 'add', z, y);
    await step();
    const g = await r.scope(async () => {
      // ReLU's mask [y > 0] read from its input y: the same mask as from its output.
      const gx = await unaryBackward(r, 'relu', w, y, {}, { guided: seed % 2 === 0 });
      await step();
      return gx.reshape([N / 4, 4], 'g');
    });
    await step();
    return { w, g };
  });
}

function expected(seed: number) {
  const x = hostTensor([N], randn(N, seed));
  const y = hostTensor(
    [N],
    Float32Array.from(x.data, (v) => v * Math.fround(1 + seed / 8)),
  );
  const w = ref.binaryForward('add', ref.unaryForward('relu', y), y);
  const g = ref.unaryBackward('relu', w, y, {}, { guided: seed % 2 === 0 });
  return { w: w.data, g: g.data };
}

describe('recorders', () => {
  it('several recorders interleaved at every await give what the same calls give one by one', async () => {
    const e = await getEngine();
    const before = e.liveTensors;
    const liveBytes = e.pool.liveBytes;
    const seeds = [1, 2, 3, 4];
    // A conv on the engine's default recorder runs alongside (it is a recorder like the others).
    const p = conv2dParams({ pads: [1, 1, 1, 1] });
    const cx = randn(2 * 3 * 9 * 9, 7);
    const cw = randn(8 * 3 * 3 * 3, 8, 0.3);
    const convJob = async (log: number[]) =>
      e.scope(async () => {
        const x = e.upload(cx, [2, 3, 9, 9]);
        log.push(0);
        await tick();
        const w = e.upload(cw, [8, 3, 3, 3]);
        const y = await conv2dForward(e, x, w, null, p, { relu: true });
        log.push(0);
        await tick();
        return y;
      });

    const log: number[] = [];
    const recorders = seeds.map((s) => e.recorder(`job${s}`));
    const [conv, ...results] = await Promise.all([convJob(log), ...seeds.map((s, i) => job(recorders[i], s, log))]);
    // The calls really interleaved: most consecutive steps belong to different calls.
    const switches = log.filter((id, i) => i > 0 && id !== log[i - 1]).length;
    expect(switches).toBeGreaterThan(log.length / 2);
    await Promise.all(recorders.map((r) => r.flush()));
    await e.flush();

    // The same calls, one after the other, each on a fresh recorder.
    const sequential = [];
    for (const s of seeds) {
      const r = e.recorder();
      sequential.push(await job(r, s, []));
      await r.flush();
    }
    const seqConv = await convJob([]);

    for (let i = 0; i < seeds.length; i++) {
      const want = expected(seeds[i]);
      const w = await results[i].w.read();
      const g = await results[i].g.read();
      // relu(y) + y: one float32 rounding; g is that w or 0.
      expectAllclose(w, want.w, F32, `w of job ${seeds[i]}`);
      expectAllclose(g, want.g, F32, `g of job ${seeds[i]}`);
      expect(w).toEqual(await sequential[i].w.read());
      expect(g).toEqual(await sequential[i].g.read());
    }
    const convRef = refConv(hostTensor([2, 3, 9, 9], cx), hostTensor([8, 3, 3, 3], cw), null, p, { relu: true });
    // 27 taps (3 channels × 3×3) per output; partial sums up to the largest output.
    expectAllclose((await toHost(conv)).data, convRef.data, f32Reduction(27, maxAbs(convRef.data)), 'conv');
    expect(await conv.read()).toEqual(await seqConv.read());

    for (const r of [...results, ...sequential]) {
      r.w.destroy();
      r.g.destroy();
    }
    conv.destroy();
    seqConv.destroy();
    expect(e.liveTensors).toBe(before);
    expect(e.pool.liveBytes).toBe(liveBytes);
    expect(recorders.some((r) => r.recording)).toBe(false);
  });

  it("a view joins the scope of the recorder that made its tensor, not another recorder's open scope", async () => {
    const e = await getEngine();
    const a = e.recorder('a');
    const b = e.recorder('b');
    let t: Tensor | null = null;
    let v: Tensor | null = null;
    await a.scope(async () => {
      t = a.upload([1, 2, 3, 4], [4]);
      await b.scope(async () => {
        v = t!.reshape([2, 2]);
        await tick();
      });
      expect(v!.destroyed).toBe(false); // b's scope did not take it
      expect([...(await v!.read())]).toEqual([1, 2, 3, 4]);
    });
    expect(t!.destroyed && v!.destroyed).toBe(true); // a's scope did
  });

  it('a tensor reads back through any recorder, also after the recorder that made it has flushed', async () => {
    const e = await getEngine();
    const a = e.recorder('a');
    const x = a.upload([-1, 2, -3, 4], [4]);
    const y = await unaryForward(a, 'relu', x);
    await a.flush();
    expect([...(await y.read())]).toEqual([0, 2, 0, 4]);
    expect([...(await e.recorder('other').read(y))]).toEqual([0, 2, 0, 4]);
    x.destroy();
    y.destroy();
  });
});

describe('buffer reuse across recorders', () => {
  const xs = Float32Array.from({ length: 256 }, (_, i) => (i % 2 ? i : -i));
  const other = new Float32Array(256).fill(9);
  const reluOf = (v: Float32Array) => Array.from(v, (x) => Math.max(x, 0));

  it("a buffer freed while recorder A's unsubmitted work reads it is not handed to B, even if B submits first", async () => {
    const e = await getEngine();
    const a = e.recorder('A');
    const b = e.recorder('B');
    const x = a.upload(xs, [256]);
    const y = await unaryForward(a, 'relu', x); // recorded, not submitted: reads x's buffer
    x.destroy();
    const z = b.upload(other, [256]); // same size class
    const w = await unaryForward(b, 'relu', z);
    expect([...(await w.read())]).toEqual([...other]); // B submits first
    expect([...(await y.read())]).toEqual(reluOf(xs)); // then A: its input is intact
    y.destroy();
    z.destroy();
    w.destroy();
  });

  it('within one recorder the freed buffer is reused at once (peak memory), by others only after it submits', async () => {
    const e = await getEngine();
    const a = e.recorder('A');
    const b = e.recorder('B');
    const x = a.upload(xs, [256]);
    const xBuffer = x.buffer;
    const y = await unaryForward(a, 'relu', x);
    x.destroy();
    const again = a.empty([256]);
    expect(again.buffer).toBe(xBuffer); // A's own unsubmitted work may reuse it: one queue order
    again.destroy();
    const fromB = b.empty([256]);
    expect(fromB.buffer).not.toBe(xBuffer);
    fromB.destroy();
    await a.flush();
    expect(e.pool.referenced(xBuffer)).toBe(false);
    const b1 = b.empty([256]);
    const b2 = b.empty([256]);
    expect([b1.buffer, b2.buffer]).toContain(xBuffer); // back in the shared list
    expect([...(await y.read())]).toEqual(reluOf(xs));
    for (const t of [b1, b2, y]) t.destroy();
  });

  it('a buffer read by two recorders is free only once both have submitted', async () => {
    const e = await getEngine();
    const a = e.recorder('A');
    const b = e.recorder('B');
    const c = e.recorder('C');
    const x = e.upload(xs, [256]);
    const ya = await unaryForward(a, 'relu', x);
    const yb = await binaryForward(b, 'add', x, x);
    x.destroy();
    const z1 = c.upload(other, [256]);
    const w1 = await unaryForward(c, 'relu', z1);
    await c.flush(); // C runs before A and B
    await a.flush();
    const z2 = c.upload(other, [256]);
    const w2 = await unaryForward(c, 'relu', z2);
    await c.flush(); // C runs between A and B
    expect([...(await ya.read())]).toEqual(reluOf(xs));
    expect([...(await yb.read())]).toEqual(Array.from(xs, (v) => 2 * v));
    expect([...(await w1.read())]).toEqual([...other]);
    expect([...(await w2.read())]).toEqual([...other]);
    for (const t of [ya, yb, z1, w1, z2, w2]) t.destroy();
  });

  it('discard() drops the recorded work and frees what it held back', async () => {
    const e = await getEngine();
    const before = e.liveTensors;
    const a = e.recorder('A');
    const x = a.upload(xs, [256]);
    const xBuffer = x.buffer;
    const y = await unaryForward(a, 'relu', x);
    x.destroy();
    y.destroy();
    expect(a.recording).toBe(true);
    expect(e.pool.referenced(xBuffer)).toBe(true);
    a.discard();
    expect(a.recording).toBe(false);
    expect(e.pool.referenced(xBuffer)).toBe(false);
    const stats = { ...e.stats };
    await a.flush(); // nothing left to submit
    expect(e.stats.submits).toBe(stats.submits);
    expect(e.liveTensors).toBe(before);
  });
});

describe('ordering across recorders', () => {
  it("a recorder's flush first submits another recorder's pending work that made a tensor it uses", async () => {
    const e = await getEngine();
    const a = e.recorder('A');
    const b = e.recorder('B');
    const x = a.upload([-1.5, 2.5, -3.5, 4.5], [4]);
    const y = await unaryForward(a, 'relu', x); // A: not submitted
    const z = await binaryForward(b, 'add', y, y);
    y.destroy(); // the consumer still needs A's write of it
    x.destroy();
    expect([...(await z.read())]).toEqual([0, 5, 0, 9]); // B flushes first…
    expect(a.recording).toBe(false); // …which submitted A's work before B's
    await a.flush();
    z.destroy();
  });

  it("an upload staged in the engine's pending work is ready for a recorder that reads it", async () => {
    const e = await getEngine();
    const t = e.upload([5, -6, 7, -8], [4]);
    const tBuffer = t.buffer;
    const u = await unaryForward(e, 'relu', t); // the engine's recorder reads t's buffer, unsubmitted
    t.destroy();
    const input = e.upload([11, -12, 13, -14], [4]);
    expect(input.buffer).toBe(tBuffer); // reused at once: the data is staged in the engine's encoder
    expect(e.recording).toBe(true);
    const r = e.recorder('call');
    const y = await unaryForward(r, 'relu', input);
    expect([...(await y.read())]).toEqual([11, 0, 13, 0]);
    expect([...(await u.read())]).toEqual([5, 0, 7, 0]);
    for (const v of [input, u, y]) v.destroy();
  });
});

describe('GPU errors per recorder', () => {
  it("a bad dispatch rejects its own recorder's flush with GPUExecutionError; concurrent work elsewhere is right", async () => {
    const e = await getEngine();
    const bad = e.recorder('bad-call');
    const good = e.recorder('good-call');
    const k = await bad.kernel(SCALE_KERNEL, { overrides: { WG: 64, S: 2 } });
    const run = async () => {
      const x = good.upload([-1, 2, -3, 4], [4]);
      await tick();
      const y = await unaryForward(good, 'relu', x);
      await tick();
      const z = await scale(good, y, 3);
      await tick();
      x.destroy();
      y.destroy();
      return z;
    };
    const wrong = async () => {
      const x = bad.upload([1, 2, 3, 4], [4]);
      await tick();
      // x bound read-only and writable in one dispatch: a usage conflict the GPU validation reports.
      bad.dispatch(k, { x, y: x }, { count: 4 }, [1, 1, 1]);
      await tick();
      x.destroy();
    };
    const [z] = await Promise.all([run(), wrong()]);
    const [badFlush, goodFlush] = await Promise.allSettled([bad.flush(), good.flush()]);
    expect(goodFlush.status).toBe('fulfilled');
    expect(badFlush.status).toBe('rejected');
    const err = (badFlush as PromiseRejectedResult).reason;
    expect(err).toBeInstanceOf(GPUExecutionError);
    expect(String(err.message)).toMatch(/validation error: .*in work recorded by 'bad-call'/s);
    expect([...(await z.read())]).toEqual([0, 6, 0, 12]);
    z.destroy();
    // The failing recorder and the engine stay usable.
    const again = bad.upload([-5, 5], [2]);
    const ok = await unaryForward(bad, 'relu', again);
    expect([...(await ok.read())]).toEqual([0, 5]);
    again.destroy();
    ok.destroy();
    await expect(e.flush()).resolves.toBeUndefined();
  });
});

describe('stage timings', () => {
  it("each recorder's stageTimings are those of its own last flush, summed over early submissions", async () => {
    const e = await getEngine();
    const a = e.recorder('a');
    const b = e.recorder('b');
    a.stage('a-first');
    const x = a.upload(new Float32Array(4096).fill(2), [4096]);
    const y = await scale(a, x, 0.5);
    b.stage('b-only');
    const z = await unaryForward(b, 'relu', y);
    await b.flush(); // submits a's pending work first (b reads y)
    expect(a.recording).toBe(false);
    a.stage('a-second');
    const w = await unaryForward(a, 'relu', y);
    await a.flush();
    const ta = await a.stageTimings();
    const tb = await b.stageTimings();
    if (e.hasTimestamps) {
      expect(Object.keys(ta!).sort()).toEqual(['a-first', 'a-second']);
      expect(Object.keys(tb!)).toEqual(['b-only']);
    } else {
      expect([ta, tb]).toEqual([null, null]);
    }
    // A flush with no compute passes (a readback) keeps the last run's timings.
    expect((await w.read())[0]).toBe(1);
    expect(await a.stageTimings()).toEqual(ta);
    for (const t of [x, y, z, w]) t.destroy();
  });

  it('a timestamp readback cut short by destroying the engine yields null timings, not an unhandled rejection', async () => {
    const own = await Engine.create();
    const r = own.recorder('cut');
    const x = r.upload(new Float32Array(1024).fill(-1), [1024]);
    r.stage('work');
    await unaryForward(r, 'relu', x);
    const flushed = r.flush(); // submits and starts the readback…
    own.destroy(); // …which the destroyed device aborts
    await flushed.catch(() => undefined);
    expect(own.hasTimestamps).toBe(true);
    await expect(r.stageTimings()).resolves.toBeNull();
    await tick(); // an unhandled rejection would surface here and fail the run
  });
});

describe('engine teardown', () => {
  it('destroying the engine drops every recorder’s pending work and frees its tensors', async () => {
    const owner = await getEngine();
    const e = await Engine.create({ device: owner.device, adapter: owner.adapter });
    const a = e.recorder('a');
    const x = a.upload([1, 2], [2]);
    const y = await unaryForward(a, 'relu', x);
    x.destroy();
    expect(a.recording).toBe(true);
    e.destroy();
    expect(a.recording).toBe(false);
    expect(y.destroyed).toBe(true);
    expect(e.pool.heldBytes).toBe(0);
    expect(() => a.empty([1])).toThrow(/destroyed/);
    expect(() => e.recorder()).toThrow(/destroyed/);
    // The device (the test engine's) is intact.
    const z = owner.upload([3], [1]);
    expect([...(await z.read())]).toEqual([3]);
    z.destroy();
  });
});
