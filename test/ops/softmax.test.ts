import { describe, expect, it } from 'vitest';
import { ShapeMismatchError } from '../../src/core/errors';
import { softmaxBackward, softmaxForward } from '../../src/ops/softmax';
import * as ref from '../../src/reference/softmax';
import { hostTensor } from '../../src/reference/tensor';
import { CENTRAL_DIFF, expectAllclose, F64, type Tol } from '../util/compare';
import { getEngine } from '../util/gpu';
import { numericGrad } from '../util/gradcheck';
import { randn } from '../util/random';

describe('softmax reference', () => {
  it('backward equals central differences, T=2 over N=3', () => {
    const x = hostTensor([3, 7], randn(21, 1, 2));
    const y = ref.softmaxForward(x);
    const dy = hostTensor([6, 7], randn(42, 2));
    const dx = ref.softmaxBackward(dy, y);
    // Target t's gradient is the VJP of softmax with dy rows t·N .. t·N + N − 1.
    for (let t = 0; t < 2; t++) {
      const dyt = hostTensor([3, 7], dy.data.subarray(t * 21, (t + 1) * 21));
      const want = numericGrad(ref.softmaxForward, x, dyt);
      expectAllclose(dx.data.subarray(t * 21, (t + 1) * 21), want.data, CENTRAL_DIFF, `dx target ${t}`);
    }
  });

  it('forward is stable for large logits', () => {
    const y = ref.softmaxForward(hostTensor([1, 2], [1000, 1001]));
    expectAllclose(y.data, [1 / (1 + Math.E), Math.E / (1 + Math.E)], F64);
  });
});

// Not a named tolerance: WGSL's exp() is accurate to 3 + 2·|x| ULP, not to a rounding, and the
// probabilities divide by a K-term sum; these tests have always held to 1e-5 relative.
const SOFTMAX: Tol = { atol: 1e-7, rtol: 1e-5 };
// The backward also sums K products with the GPU's probabilities (each off by SOFTMAX).
const SOFTMAX_BACKWARD: Tol = { atol: 1e-5, rtol: 1e-4 };

describe('softmax on the GPU equals the reference', () => {
  it.each([
    ['one class', [2, 1], 1],
    ['odd K', [3, 7], 1],
    ['K=1000', [2, 1000], 3],
    ['many rows, K above the workgroup', [5, 300], 4],
  ] as [string, number[], number][])('forward: %s %j', async (_, shape, scale) => {
    const e = await getEngine();
    const xs = randn(shape[0] * shape[1], 10, scale);
    await e.scope(async () => {
      const y = await softmaxForward(e, e.upload(xs, shape));
      const got = await y.read();
      expectAllclose(got, ref.softmaxForward(hostTensor(shape, xs)).data, SOFTMAX, 'softmax');
    });
    expect(e.liveTensors).toBe(0);
  });

  it('forward with large logits does not overflow', async () => {
    const e = await getEngine();
    const xs = [1000, 1001, -1000, 999.5, 88.8, 89.5, 3e38, 3e38];
    await e.scope(async () => {
      const y = await softmaxForward(e, e.upload(xs, [4, 2]));
      const got = await y.read();
      for (const v of got) expect(Number.isFinite(v)).toBe(true);
      expectAllclose(got, ref.softmaxForward(hostTensor([4, 2], xs)).data, SOFTMAX, 'large logits');
    });
    expect(e.liveTensors).toBe(0);
  });

  it.each([[[2, 9]], [[2, 1000]]])('backward with T=3 targets over %j', async (shape) => {
    const e = await getEngine();
    const [n, k] = shape;
    const xs = randn(n * k, 20, 2);
    const dys = randn(3 * n * k, 21);
    await e.scope(async () => {
      const y = await softmaxForward(e, e.upload(xs, shape));
      const dx = await softmaxBackward(e, e.upload(dys, [3 * n, k]), y);
      const yref = ref.softmaxForward(hostTensor(shape, xs));
      const want = ref.softmaxBackward(hostTensor([3 * n, k], dys), yref);
      expectAllclose(await dx.read(), want.data, SOFTMAX_BACKWARD, 'softmax backward');
    });
    expect(e.liveTensors).toBe(0);
  });

  it('typed errors for bad shapes; the engine still works after', async () => {
    const e = await getEngine();
    await e.scope(async () => {
      const x4 = e.upload(randn(12, 30), [2, 6, 1, 1]);
      await expect(softmaxForward(e, x4)).rejects.toThrow(ShapeMismatchError);
      const y = await softmaxForward(e, e.upload([0, 0, 0, 0], [2, 2]));
      await expect(softmaxBackward(e, e.upload(randn(15, 31), [3, 5]), y)).rejects.toThrow(ShapeMismatchError);
      await expect(softmaxBackward(e, e.upload(randn(6, 32), [3, 2]), y)).rejects.toThrow(ShapeMismatchError);
      expect(Array.from(await y.read())).toEqual([0.5, 0.5, 0.5, 0.5]);
    });
    expect(e.liveTensors).toBe(0);
  });
});
