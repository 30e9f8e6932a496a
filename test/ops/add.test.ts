import { describe, expect, it } from 'vitest';
import { ShapeMismatchError, InvalidInputError } from '../../src/core/errors';
import { accumulate } from '../../src/ops/accumulate';
import { binaryForward } from '../../src/ops/elementwise';
import * as ref from '../../src/reference/elementwise';
import { accumulate as refAccumulate } from '../../src/reference/accumulate';
import { hostTensor, type HostTensor } from '../../src/reference/tensor';
import { CENTRAL_DIFF, expectAllclose, F32, f32Reduction, maxAbs } from '../util/compare';
import { getEngine } from '../util/gpu';
import { numericGrad } from '../util/gradcheck';
import { randn } from '../util/random';

describe('add reference', () => {
  it('backward equals central differences for both inputs', () => {
    const shape = [2, 3, 4, 5];
    const a = hostTensor(shape, randn(120, 1));
    const b = hostTensor(shape, randn(120, 2));
    const dy = hostTensor(shape, randn(120, 3));
    const shapes = { a: shape, b: shape };
    const da = ref.binaryBackward('add', 'a', dy, null, null, shapes);
    const db = ref.binaryBackward('add', 'b', dy, null, null, shapes);
    const grad = (f: (x: HostTensor) => HostTensor, x: HostTensor) => numericGrad(f, x, dy).data;
    expectAllclose(
      da.data,
      grad((x) => ref.binaryForward('add', x, b), a),
      CENTRAL_DIFF,
      'da',
    );
    expectAllclose(
      db.data,
      grad((x) => ref.binaryForward('add', a, x), b),
      CENTRAL_DIFF,
      'db',
    );
  });

  it('accumulate adds in place', () => {
    const acc = hostTensor([3], [1, 2, 3]);
    refAccumulate(acc, hostTensor([3], [10, 20, 30]));
    expect(Array.from(acc.data)).toEqual([11, 22, 33]);
  });
});

describe('add on the GPU equals the reference', () => {
  it.each([[[1]], [[2, 3, 7, 5]], [[1, 70001]]])('forward %j', async (shape) => {
    const e = await getEngine();
    const n = shape.reduce((p, d) => p * d, 1);
    const as = randn(n, 10);
    const bs = randn(n, 11);
    await e.scope(async () => {
      const y = await binaryForward(e, 'add', e.upload(as, shape), e.upload(bs, shape));
      const want = ref.binaryForward('add', hostTensor(shape, as), hostTensor(shape, bs));
      expectAllclose(await y.read(), want.data, F32, 'add');
    });
    expect(e.liveTensors).toBe(0);
  });

  it('accumulate of three gradients (fan-out) into one, odd size', async () => {
    const e = await getEngine();
    const shape = [3, 5, 3, 7];
    const gs = [randn(315, 20), randn(315, 21), randn(315, 22)];
    await e.scope(async () => {
      const acc = e.upload(gs[0], shape);
      await accumulate(e, acc, e.upload(gs[1], shape));
      await accumulate(e, acc, e.upload(gs[2], shape));
      const want = hostTensor(shape, gs[0]);
      refAccumulate(want, hostTensor(shape, gs[1]));
      refAccumulate(want, hostTensor(shape, gs[2]));
      // a sum of 3 terms: partial sums up to Σ|g| of an element
      const sumAbs = gs[0].map((v, i) => Math.abs(v) + Math.abs(gs[1][i]) + Math.abs(gs[2][i]));
      expectAllclose(await acc.read(), want.data, f32Reduction(3, maxAbs(sumAbs)), 'accumulate');
    });
    expect(e.liveTensors).toBe(0);
  });

  it('typed errors for mismatched shapes and aliasing; the engine still works after', async () => {
    const e = await getEngine();
    await e.scope(async () => {
      const a = e.upload([1, 2, 3, 4, 5, 6], [2, 3]);
      const b = e.upload([1, 2, 3, 4, 5, 6], [3, 2]);
      await expect(binaryForward(e, 'add', a, b)).rejects.toThrow(ShapeMismatchError);
      await expect(binaryForward(e, 'add', a, b)).rejects.toThrow(/\[2, 3\].*\[3, 2\]/);
      await expect(accumulate(e, a, b)).rejects.toThrow(ShapeMismatchError);
      await expect(accumulate(e, a, a.reshape([2, 3]))).rejects.toThrow(InvalidInputError);
      const y = await binaryForward(e, 'add', a, a);
      expect(Array.from(await y.read())).toEqual([2, 4, 6, 8, 10, 12]);
    });
    expect(e.liveTensors).toBe(0);
  });
});
