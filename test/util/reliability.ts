/**
 * Helpers of the reliability catalogue (test/reliability/): what an engine holds, an
 * explanation read back whole, the check that a failure left the engine as it was, and tensors
 * holding any float bits (NaN and ±Infinity included, which upload() refuses).
 */
import { expect } from 'vitest';
import { explain, METHODS, type Explanation, type ExplainOptions } from '../../src/attribution/explain';
import { WebGpuCamError } from '../../src/core/errors';
import type { Engine } from '../../src/gpu/engine';
import type { Recorder } from '../../src/gpu/recorder';
import type { Tensor } from '../../src/gpu/tensor';
import type { Model } from '../../src/model/model';

/** Every method, and the options of the explains the catalogue compares. */
export const ALL_METHODS: ExplainOptions = { methods: METHODS, targets: { topK: 2 } };

/** What an engine holds: live tensors, pool bytes handed out and held. */
export interface Held {
  tensors: number;
  liveBytes: number;
  heldBytes: number;
}

export function held(e: Engine): Held {
  return { tensors: e.liveTensors, liveBytes: e.pool.liveBytes, heldBytes: e.pool.heldBytes };
}

/** Every tensor of an explanation read back, by a stable key (scores, classes, <method>.<map>). */
export async function readExplanation(r: Explanation): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  out.set('scores', await r.scores.read());
  out.set('probabilities', await r.probabilities.read());
  out.set('classes', await r.classes.read());
  out.set('activations', await r.activations.read());
  if (r.gradients) out.set('gradients', await r.gradients.read());
  for (const [m, maps] of Object.entries(r.maps)) {
    for (const [k, t] of Object.entries(maps as unknown as Record<string, Tensor>))
      out.set(`${m}.${k}`, await t.read());
  }
  return out;
}

/** explain(), read back whole, destroyed. */
export async function explainValues(
  model: Model,
  x: Tensor,
  opts: ExplainOptions = ALL_METHODS,
): Promise<Map<string, Float32Array>> {
  const r = await explain(model, x, opts);
  try {
    return await readExplanation(r);
  } finally {
    r.destroy();
  }
}

/** Two explanations of the same call: the same tensors, bit for bit. */
export function expectSameValues(got: Map<string, Float32Array>, want: Map<string, Float32Array>, what = ''): void {
  expect([...got.keys()].sort(), what).toEqual([...want.keys()].sort());
  for (const [k, v] of want) expect(Array.from(got.get(k)!), `${what} ${k}`).toEqual(Array.from(v));
}

/**
 * `fail()` rejects (or throws) with `Err`, whose message matches `message`; afterwards the
 * engine holds what it held before (no tensor, no pool byte handed out), and an explain of
 * `model` on `x` equals `before` bit for bit. Returns the error.
 */
export async function expectCleanFailure<E extends WebGpuCamError>(
  e: Engine,
  fail: () => unknown,
  Err: abstract new (...args: never[]) => E,
  message: RegExp,
  after: { model: Model; x: Tensor; before: Map<string, Float32Array>; opts?: ExplainOptions },
): Promise<E> {
  const was = held(e);
  let error: unknown = null;
  try {
    await fail();
  } catch (err) {
    error = err;
  }
  expect(error, 'the call failed').toBeInstanceOf(Err);
  expect((error as Error).message).toMatch(message);
  const now = held(e);
  expect(now.tensors, 'live tensors after the failure').toBe(was.tensors);
  expect(now.liveBytes, 'pool bytes handed out after the failure').toBe(was.liveBytes);
  expect(now.heldBytes, 'pool bytes held after the failure').toBeLessThanOrEqual(was.heldBytes);
  expectSameValues(await explainValues(after.model, after.x, after.opts), after.before, 'explain after the failure');
  return error as E;
}

/**
 * A tensor holding exactly these float32 bits, NaN and ±Infinity included (upload() refuses
 * them): uploaded as raw words, viewed with `shape`. Destroy the result.
 */
export function uploadBits(r: Recorder, values: ArrayLike<number>, shape: number[], label = 'bits'): Tensor {
  const f = Float32Array.from(values);
  const words = r.uploadBytes(new Uint8Array(f.buffer), label);
  const t = words.reshape(shape, label);
  words.destroy();
  return t;
}

/** Every value finite. */
export function expectFinite(values: ArrayLike<number>, what: string): void {
  let bad = -1;
  for (let i = 0; i < values.length && bad < 0; i++) if (!Number.isFinite(values[i])) bad = i;
  expect(bad, `${what}: the first non-finite value (${values[bad]}) is at index ${bad}`).toBe(-1);
}
