/**
 * Device loss (issue 14, item 1 and "Device loss"), provoked with device.destroy() under an
 * engine, as a driver reset would: engine.lost resolves with the reason; from then on every call
 * rejects (or throws) DeviceLostError, reads and explains in flight included; no rejection is
 * left unhandled (vitest fails the run on one); timing readbacks resolve null; a new
 * Engine.create() works, and the model loaded on it explains exactly as before.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { explain, type ExplainOptions } from '../../src/attribution/explain';
import { DeviceLostError } from '../../src/core/errors';
import { Engine } from '../../src/gpu/engine';
import { Model } from '../../src/model/model';
import { loadOnnx } from '../../src/model/onnx';
import { unaryForward } from '../../src/ops/elementwise';
import { preprocessImage } from '../../src/ops/preprocess';
import { overlay } from '../../src/render/overlay';
import { NETS } from '../cases/nets';
import { randn } from '../util/random';
import { ALL_METHODS, expectSameValues, explainValues } from '../util/reliability';

const SHAPE = [1, 3, 11, 9];
const ONNX = new Uint8Array(readFileSync(fileURLToPath(new URL('../../weights/fashion_cam.onnx', import.meta.url))));
const tick = () => new Promise((r) => setTimeout(r, 50));

/**
 * An engine of its own (a device to lose), the plain net on it, an input and its explain (Grad-CAM
 * alone unless `opts` says otherwise: each new engine compiles the kernels it uses).
 */
async function setup(opts: ExplainOptions = {}) {
  const e = await Engine.create();
  const model = await Model.load(e, NETS.plain());
  const x = e.upload(randn(297, 41), SHAPE, 'x');
  const before = await explainValues(model, x, opts);
  return { e, model, x, before };
}

describe('a lost device', () => {
  it('read() after device.destroy(): DeviceLostError with the reason, engine.lost resolves with it', async () => {
    const { e, x } = await setup();
    e.device.destroy();
    const err = await x.read().catch((er: unknown) => er);
    expect(err).toBeInstanceOf(DeviceLostError);
    expect((err as DeviceLostError).reason).toBe('destroyed');
    expect((err as Error).message).toMatch(
      /the GPU device was lost \(destroyed.*make a new engine with Engine.create\(\)/,
    );
    const loss = await e.lost;
    expect(loss.reason).toBe('destroyed');
    expect(loss.error).toBeInstanceOf(DeviceLostError);
    expect(e.isLost).toBe(true);
    e.destroy();
  });

  it('every call afterwards rejects or throws DeviceLostError; nothing is left unhandled', async () => {
    const { e, model, x } = await setup();
    const r = e.recorder('before-loss');
    const y = await unaryForward(r, 'relu', x); // recorded, not submitted
    e.device.destroy();
    await e.lost;
    const image = { data: new Uint8ClampedArray(16 * 16 * 4).fill(128), width: 16, height: 16 };
    const calls: [string, () => unknown][] = [
      ['read', () => x.read()],
      ['flush of recorded work', () => r.flush()],
      ['flush', () => e.flush()],
      ['sync', () => e.sync()],
      ['upload', () => e.upload([1, 2], [2])],
      ['empty', () => e.empty([4])],
      ['uploadBytes', () => e.uploadBytes(new Uint8Array(8))],
      ['recorder', () => e.recorder()],
      ['scope', () => e.scope(async () => 1)],
      ['an op', () => unaryForward(e, 'relu', x)],
      ['explain', () => explain(model, x, ALL_METHODS)],
      ['Model.load', () => Model.load(e, NETS.plain())],
      ['loadOnnx', () => loadOnnx(e, ONNX)],
      ['preprocessImage', () => preprocessImage(e, image, { size: [8, 8] })],
      ['overlay', () => overlay(e, y.reshape([1, 3, 99]), null, { colormap: 'turbo', opacity: 1 })],
    ];
    for (const [what, call] of calls) {
      let error: unknown = null;
      try {
        await call();
      } catch (err) {
        error = err;
      }
      expect(error, what).toBeInstanceOf(DeviceLostError);
    }
    expect(r.recording, 'the lost work was dropped').toBe(false);
    expect(await e.stageTimings()).toBeNull();
    await tick(); // an unhandled rejection would surface here and fail the run
    e.destroy();
  });

  it('a loss while explains and reads are in flight rejects them with DeviceLostError; none hangs', async () => {
    const { e, model, x } = await setup();
    const inflight = [
      explain(model, x, ALL_METHODS),
      explain(model, x, ALL_METHODS).then((r) => r.scores.read()),
      x.read(),
    ];
    e.device.destroy();
    const settled = await Promise.allSettled(inflight);
    for (const [i, s] of settled.entries()) {
      // A call may have finished before the loss; one that did not rejects with DeviceLostError.
      if (s.status === 'rejected') expect(s.reason, `call ${i}`).toBeInstanceOf(DeviceLostError);
    }
    expect(settled.some((s) => s.status === 'rejected')).toBe(true);
    await tick();
    e.destroy();
  });

  it('a timing readback cut short by the loss resolves null, never rejects', async () => {
    const { e, x } = await setup();
    const r = e.recorder('timed');
    r.stage('work');
    const y = await unaryForward(r, 'relu', x);
    const flushed = r.flush();
    e.device.destroy();
    await flushed.catch(() => undefined);
    expect(e.hasTimestamps, 'the adapter offers timestamp queries (else there is no readback to cut)').toBe(true);
    await expect(r.stageTimings()).resolves.toBeNull();
    y.destroy();
    await tick();
    e.destroy();
  });

  it('afterwards Engine.create() works: the model loaded again explains exactly as before', async () => {
    const first = await setup(ALL_METHODS);
    first.e.device.destroy();
    await first.e.lost;
    await expect(explain(first.model, first.x)).rejects.toThrow(DeviceLostError);
    first.e.destroy();

    const e = await Engine.create();
    const model = await Model.load(e, NETS.plain());
    const x = e.upload(randn(297, 41), SHAPE, 'x');
    expectSameValues(await explainValues(model, x, ALL_METHODS), first.before, 'explain on the new engine');
    x.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
    e.destroy();
  });
});
