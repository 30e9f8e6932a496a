import { describe, expect, it } from 'vitest';
import { unaryBackward, unaryForward } from '../../src/ops/elementwise';
import * as ref from '../../src/reference/elementwise';
import { hostTensor } from '../../src/reference/tensor';
import { CENTRAL_DIFF, EXACT, expectAllclose } from '../util/compare';
import { getEngine } from '../util/gpu';
import { numericGrad } from '../util/gradcheck';
import { randn, randnAwayFromZero } from '../util/random';

describe('relu reference', () => {
  it('backward equals central differences', () => {
    const x = hostTensor([2, 3, 5, 7], randnAwayFromZero(210, 1));
    const dy = hostTensor([2, 3, 5, 7], randn(210, 2));
    const y = ref.unaryForward('relu', x);
    const f = (t: typeof x) => ref.unaryForward('relu', t);
    expectAllclose(ref.unaryBackward('relu', dy, y).data, numericGrad(f, x, dy).data, CENTRAL_DIFF);
  });

  it('guided backward never passes a negative gradient', () => {
    const x = hostTensor([1, 4, 3, 3], randn(36, 3));
    const dy = hostTensor([1, 4, 3, 3], randn(36, 4));
    const dx = ref.unaryBackward('relu', dy, ref.unaryForward('relu', x), {}, { guided: true });
    for (let i = 0; i < 36; i++) {
      expect(dx.data[i]).toBeGreaterThanOrEqual(0);
      expect(dx.data[i]).toBe(x.data[i] > 0 && dy.data[i] > 0 ? dy.data[i] : 0);
    }
  });
});

describe('relu on the GPU equals the reference', () => {
  it.each([
    [[1, 1, 1, 1]],
    [[2, 3, 7, 5]],
    [[1, 70001]], // odd length, 274 workgroups with a partial last one
  ])('forward %j', async (shape) => {
    const e = await getEngine();
    const n = shape.reduce((a, b) => a * b, 1);
    const xs = randn(n, 10);
    const x = e.upload(xs, shape);
    const y = await unaryForward(e, 'relu', x);
    expectAllclose(await y.read(), ref.unaryForward('relu', hostTensor(shape, xs)).data, EXACT, 'relu forward');
    x.destroy();
    y.destroy();
  });

  // [2, 3, 5, 5] has 150 elements per target (the scalar kernel); [2, 4, 3, 3] has 72 (vec4s).
  it.each(
    [false, true].flatMap((guided) =>
      [
        [3, 5, 5],
        [4, 3, 3],
      ].map((chw) => ({ guided, chw })),
    ),
  )('backward with T=3 targets over N=2, guided=$guided, C×H×W=$chw', async ({ guided, chw }) => {
    const e = await getEngine();
    const n = chw.reduce((a, b) => a * b, 1);
    const xs = randn(2 * n, 11);
    const dys = randn(6 * n, 12);
    await e.scope(async () => {
      // The saved tensor is ReLU's output: y > 0 exactly where x > 0.
      const y = await unaryForward(e, 'relu', e.upload(xs, [2, ...chw]));
      const dy = e.upload(dys, [6, ...chw]);
      const dx = await unaryBackward(e, 'relu', dy, y, {}, { guided });
      const yRef = ref.unaryForward('relu', hostTensor([2, ...chw], xs));
      const want = ref.unaryBackward('relu', hostTensor([6, ...chw], dys), yRef, {}, { guided });
      expectAllclose(await dx.read(), want.data, EXACT, 'relu backward'); // dy or 0
    });
    expect(e.liveTensors).toBe(0);
  });
});
