/**
 * Lifecycle and concurrency faults (issue 14, items 2 and 5): a destroyed model or engine, a
 * tensor used after destroy(), and explains whose one submission fails on the GPU — alone, 50
 * times over, or among concurrent explains. Recorder.run() is the one place where a call's
 * results are released when its flush fails; it is checked on its own too. After every failure
 * the engine holds what it held before and an explain equals the one before, bit for bit.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain } from '../../src/attribution/explain';
import { GPUExecutionError, InvalidInputError } from '../../src/core/errors';
import { Engine } from '../../src/gpu/engine';
import type { Tensor } from '../../src/gpu/tensor';
import { Model } from '../../src/model/model';
import { unaryForward } from '../../src/ops/elementwise';
import { NETS } from '../cases/nets';
import { getEngine } from '../util/gpu';
import { randn } from '../util/random';
import {
  ALL_METHODS,
  expectCleanFailure,
  expectSameValues,
  explainValues,
  held,
  readExplanation,
} from '../util/reliability';

const SHAPE = [1, 3, 11, 9];

let e: Engine;
let model: Model;
let x: Tensor;
let before: Map<string, Float32Array>;
const after = () => ({ model, x, before });

beforeAll(async () => {
  e = await getEngine();
  model = await Model.load(e, NETS.plain());
  x = e.upload(randn(297, 21), SHAPE, 'x');
  before = await explainValues(model, x);
});
afterAll(() => {
  x?.destroy();
  model?.destroy();
});

/**
 * An input whose GPU buffer is destroyed under it: recording works, the submission fails with a
 * validation error (GPUExecutionError from the flush). `restore()` hands the dead buffer back and
 * trims it out of the pool.
 */
function poisonedInput(): { bad: Tensor; restore: () => void } {
  const bad = e.upload(randn(297, 22), SHAPE, 'poisoned');
  bad.buffer.destroy();
  return {
    bad,
    restore: () => {
      bad.destroy();
      e.trim();
    },
  };
}

describe('destroyed things', () => {
  it('explain after model.destroy(): InvalidInputError naming the model; destroy() is idempotent; forward, backward and weight() refuse too', async () => {
    const m = await Model.load(e, NETS.plain());
    m.destroy();
    m.destroy();
    expect(m.destroyed).toBe(true);
    for (const call of [
      () => explain(m, x),
      () => explain(m, x, ALL_METHODS),
      () => m.forward(x),
      () => m.weight('logits.weight'),
    ]) {
      await expectCleanFailure(e, call, InvalidInputError, /model 'plain' was destroyed; load it again/, after());
    }
  });

  it('an explanation destroyed twice, a tensor used after destroy(): harmless, or InvalidInputError naming the tensor', async () => {
    const r = await explain(model, x, ALL_METHODS);
    const g = r.maps.gradcam!.input;
    r.destroy();
    r.destroy();
    await expectCleanFailure(
      e,
      () => g.read(),
      InvalidInputError,
      /gradcam:input' was used after destroy\(\)/,
      after(),
    );
    await expectCleanFailure(
      e,
      () => e.scope(() => unaryForward(e, 'relu', g)),
      InvalidInputError,
      /used after destroy\(\)/,
      after(),
    );
  });

  it('a model whose engine was destroyed: InvalidInputError, and the engine stays destroyed', async () => {
    const own = await Engine.create();
    const m = await Model.load(own, NETS.plain());
    const xo = own.upload(randn(297, 21), SHAPE);
    own.destroy();
    await expect(explain(m, xo)).rejects.toThrow(InvalidInputError);
    await expect(explain(m, xo)).rejects.toThrow(/destroyed/);
    await expect(Model.load(own, NETS.plain())).rejects.toThrow(/engine was destroyed/);
    expect(() => own.upload([1], [1])).toThrow(/engine was destroyed/);
    expect(own.liveTensors).toBe(0);
  });
});

describe('long runs', () => {
  it('a destroyed tensor is not kept alive by the engine: a run that never asks for liveTensors holds none', async () => {
    setFlagsFromString('--expose_gc');
    const gc = runInNewContext('gc') as () => void;
    const refs: WeakRef<Tensor>[] = [];
    // In a function of its own, so that no local of this test holds the last explanation.
    const once = async () => {
      const r = await explain(model, x, ALL_METHODS);
      await r.scores.read();
      refs.push(...r.tensors().map((t) => new WeakRef(t)));
      r.destroy();
    };
    for (let i = 0; i < 3; i++) await once();
    // WeakRefs keep their targets until the current job ends; then collect.
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    expect(refs.length).toBeGreaterThan(30);
    expect(refs.filter((r) => r.deref() !== undefined).length, 'destroyed tensors still reachable').toBe(0);
  });
});

describe('an explain whose submission fails', () => {
  it('rejects with GPUExecutionError and leaves nothing behind, 50 times over', async () => {
    const { bad, restore } = poisonedInput();
    try {
      const start = held(e);
      for (let i = 0; i < 50; i++) {
        const was = held(e);
        await expect(explain(model, bad, ALL_METHODS)).rejects.toThrow(GPUExecutionError);
        expect(held(e).tensors, `failure ${i}: live tensors`).toBe(was.tensors);
        expect(held(e).liveBytes, `failure ${i}: pool bytes handed out`).toBe(was.liveBytes);
      }
      expect(held(e).tensors).toBe(start.tensors);
      expect(held(e).heldBytes, 'the pool holds no more than before').toBeLessThanOrEqual(start.heldBytes);
    } finally {
      restore();
    }
    expectSameValues(await explainValues(model, x), before, 'explain after 50 failures');
  });

  it('inside an engine.scope(): the scope frees nothing twice and the error is the submission’s', async () => {
    const { bad, restore } = poisonedInput();
    try {
      await expectCleanFailure(
        e,
        () => e.scope(() => explain(model, bad, ALL_METHODS)),
        GPUExecutionError,
        /GPU validation error: .*in work recorded by 'explain'/s,
        after(),
      );
    } finally {
      restore();
    }
  });

  it('among 5 concurrent explains: it alone rejects, the others equal their sequential runs, nothing is left', async () => {
    const inputs = Array.from({ length: 4 }, (_, i) => e.upload(randn(297, 30 + i), SHAPE, `x${i}`));
    const sequential = [];
    for (const xi of inputs) sequential.push(await explainValues(model, xi));
    const { bad, restore } = poisonedInput();
    const was = held(e);
    try {
      const calls = [inputs[0], inputs[1], bad, inputs[2], inputs[3]].map((xi) => explain(model, xi, ALL_METHODS));
      const settled = await Promise.allSettled(calls);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      expect((settled[2] as PromiseRejectedResult).reason).toBeInstanceOf(GPUExecutionError);
      const ok = settled.filter((s) => s.status === 'fulfilled').map((s) => s.value);
      for (const [i, r] of ok.entries()) {
        expectSameValues(await readExplanation(r), sequential[i], `concurrent call ${i}`);
        r.destroy();
      }
      expect(held(e).tensors).toBe(was.tensors);
      expect(held(e).liveBytes).toBe(was.liveBytes);
    } finally {
      restore();
      for (const xi of inputs) xi.destroy();
    }
    expectSameValues(await explainValues(model, x), before, 'explain afterwards');
  });

  it('Model.load whose submission fails: GPUExecutionError, none of its weights stay', async () => {
    const queue = e.device.queue;
    const submit = queue.submit.bind(queue);
    let fail = true;
    // One failed submission, as a device that runs out of memory at submit time would give.
    queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
      if (!fail) return submit(buffers);
      fail = false;
      throw new Error('injected submission failure');
    };
    try {
      await expectCleanFailure(
        e,
        () => Model.load(e, NETS.residual()),
        GPUExecutionError,
        /submission failed: injected submission failure, in work recorded by 'Model.load'/,
        after(),
      );
    } finally {
      queue.submit = submit;
    }
  });
});

describe('Recorder.run: the one place a failed call releases its results', () => {
  it('fn throws: its tensors destroyed, its recorded work dropped; the flush fails: its result destroyed too; its inputs untouched', async () => {
    const r = e.recorder('run-test');
    const input = e.upload([1, -2, 3], [3], 'run-input');
    const was = held(e);
    let made: Tensor[] = [];
    await expect(
      r.run(async () => {
        made = [await unaryForward(r, 'relu', input), r.upload([1, 2], [2], 'extra')];
        throw new InvalidInputError('stop');
      }),
    ).rejects.toThrow('stop');
    expect(made.every((t) => t.destroyed)).toBe(true);
    expect(r.recording).toBe(false);
    expect(held(e).tensors).toBe(was.tensors);

    // A flush that fails (the input's buffer destroyed under it): the result is destroyed, the
    // input returned in the result is not (run() did not make it).
    const { bad, restore } = poisonedInput();
    const was2 = held(e);
    let result: { y: Tensor; input: Tensor } | null = null;
    await expect(r.run(async () => (result = { y: await unaryForward(r, 'relu', bad), input: bad }))).rejects.toThrow(
      GPUExecutionError,
    );
    expect(result!.y.destroyed).toBe(true);
    expect(bad.destroyed).toBe(false);
    expect(held(e).tensors).toBe(was2.tensors);
    restore();

    // And a run that works hands its result out, and nothing else.
    const ok = await r.run(async () => {
      const y = await unaryForward(r, 'relu', input);
      await unaryForward(r, 'relu', y); // made and not returned: destroyed
      return y;
    });
    expect(Array.from(await ok.read())).toEqual([1, 0, 3]);
    expect(held(e).tensors).toBe(was.tensors + 1);
    ok.destroy();
    input.destroy();
  });
});
