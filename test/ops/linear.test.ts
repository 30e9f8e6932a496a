import { describe, expect, it } from 'vitest';
import { ShapeMismatchError } from '../../src/core/errors';
import { linearOutputShape } from '../../src/defs/linear';
import { linearBackward, linearForward } from '../../src/ops/linear';
import * as ref from '../../src/reference/linear';
import { hostTensor, type HostTensor } from '../../src/reference/tensor';
import { CENTRAL_DIFF, expectAllclose, f32Reduction } from '../util/compare';
import { getEngine } from '../util/gpu';
import { numericGrad } from '../util/gradcheck';
import { randn } from '../util/random';

describe('linear reference', () => {
  it.each([true, false])('backward equals central differences (bias=%s)', (withBias) => {
    const [N, K, M] = [2, 7, 5];
    const x = hostTensor([N, K], randn(N * K, 1));
    const w = hostTensor([M, K], randn(M * K, 2));
    const b = withBias ? hostTensor([M], randn(M, 3)) : null;
    const dy = hostTensor([N, M], randn(N * M, 4));
    const f = (t: HostTensor) => ref.linearForward(t, w, b);
    expectAllclose(ref.linearBackward(dy, w).data, numericGrad(f, x, dy).data, CENTRAL_DIFF);
  });

  it('forward matches a hand-computed example', () => {
    // x = [[1, 2]], W = [[1, 0], [0, 1], [1, 1]], b = [0.5, -1, 0] → [1.5, 1, 3]
    const y = ref.linearForward(
      hostTensor([1, 2], [1, 2]),
      hostTensor([3, 2], [1, 0, 0, 1, 1, 1]),
      hostTensor([3], [0.5, -1, 0]),
    );
    expect(Array.from(y.data)).toEqual([1.5, 1, 3]);
  });
});

describe('linear on the GPU equals the reference', () => {
  const T = 3;

  // K and M not divisible by 4 exercise the scalar tails after the vec4 loops; K=1, M=1 the
  // loops that never run. K divisible by 4 runs the forward's COLS4 kernel (4 columns per
  // invocation): M = 8 fills its column groups, M = 37 and M = 2 leave the last one partial.
  it.each([
    [2, 13, 5, true],
    [2, 13, 5, false],
    [1, 4, 8, true],
    [3, 1, 1, false],
    [2, 70, 37, true],
    [3, 64, 37, true],
    [2, 12, 2, false],
  ])('N=%i K=%i M=%i bias=%s: forward, and backward with T=3', async (N, K, M, withBias) => {
    const e = await getEngine();
    const xs = randn(N * K, 10);
    const ws = randn(M * K, 11, 0.5);
    const bs = randn(M, 12);
    const dys = randn(T * N * M, 13);
    await e.scope(async () => {
      const w = e.upload(ws, [M, K]);
      const y = await linearForward(e, e.upload(xs, [N, K]), w, withBias ? e.upload(bs, [M]) : null);
      const dx = await linearBackward(e, e.upload(dys, [T * N, M]), w);
      expect(y.shape).toEqual([N, M]);
      expect(dx.shape).toEqual([T * N, K]);
      const hw = hostTensor([M, K], ws);
      const want = ref.linearForward(hostTensor([N, K], xs), hw, withBias ? hostTensor([M], bs) : null);
      // K products x·w (rms 0.5) plus the bias; backward: M products dy·w (rms 0.5)
      const fwdTol = f32Reduction(K + 1, Math.sqrt(K * 0.25 + (withBias ? 1 : 0)));
      const bwdTol = f32Reduction(M, Math.sqrt(M * 0.25));
      expectAllclose(await y.read(), want.data, fwdTol, 'linear forward');
      expectAllclose(
        await dx.read(),
        ref.linearBackward(hostTensor([T * N, M], dys), hw).data,
        bwdTol,
        'linear backward',
      );
    });
    expect(e.liveTensors).toBe(0);
  });

  it('x [N, H, W, K] (nn.Linear on NHWC): over the last axis, as the rows of [N·H·W, K]', async () => {
    const [N, H, W, K, M] = [2, 3, 2, 6, 5];
    const e = await getEngine();
    const xs = randn(N * H * W * K, 20);
    const ws = randn(M * K, 21, 0.5);
    const bs = randn(M, 22);
    const dys = randn(T * N * H * W * M, 23);
    const hw = hostTensor([M, K], ws);
    const hb = hostTensor([M], bs);
    // The reference on the 4-D tensor equals the 2-D layer on its rows.
    const want = ref.linearForward(hostTensor([N, H, W, K], xs), hw, hb);
    expect(want.shape).toEqual([N, H, W, M]);
    expect(want.data).toEqual(ref.linearForward(hostTensor([N * H * W, K], xs), hw, hb).data);
    const wantDx = ref.linearBackward(hostTensor([T * N, H, W, M], dys), hw);
    expect(wantDx.shape).toEqual([T * N, H, W, K]);
    expect(wantDx.data).toEqual(ref.linearBackward(hostTensor([T * N * H * W, M], dys), hw).data);
    await e.scope(async () => {
      const w = e.upload(ws, [M, K]);
      const y = await linearForward(e, e.upload(xs, [N, H, W, K]), w, e.upload(bs, [M]));
      const dx = await linearBackward(e, e.upload(dys, [T * N, H, W, M]), w);
      expect(y.shape).toEqual([N, H, W, M]);
      expect(dx.shape).toEqual([T * N, H, W, K]);
      expectAllclose(await y.read(), want.data, f32Reduction(K + 1, Math.sqrt(K * 0.25 + 1)), 'linear forward');
      expectAllclose(await dx.read(), wantDx.data, f32Reduction(M, Math.sqrt(M * 0.25)), 'linear backward');
    });
    expect(e.liveTensors).toBe(0);
  });

  it('throws ShapeMismatchError for a mismatched weight, bias or gradient, before allocating', async () => {
    expect(() => linearOutputShape([2, 5], [3, 4], null)).toThrow(ShapeMismatchError);
    expect(() => linearOutputShape([2, 5], [3, 5], [4])).toThrow(ShapeMismatchError);
    expect(() => linearOutputShape([2, 5, 1], [3, 5], null)).toThrow(ShapeMismatchError);
    expect(linearOutputShape([2, 5], [3, 5], [3])).toEqual([2, 3]);
    const e = await getEngine();
    await e.scope(async () => {
      const x = e.upload(randn(10, 1), [2, 5]);
      const w = e.upload(randn(12, 2), [3, 4]); // K = 4, x has 5 features
      const w5 = e.upload(randn(15, 3), [3, 5]);
      const b4 = e.upload(randn(4, 4), [4]);
      const dy = e.upload(randn(8, 5), [2, 4]); // M = 4, weight has 3 outputs
      const live = e.liveTensors;
      await expect(linearForward(e, x, w, null)).rejects.toThrow(ShapeMismatchError);
      await expect(linearForward(e, x, w5, b4)).rejects.toThrow(/bias \[4\]/);
      await expect(linearBackward(e, dy, w5)).rejects.toThrow(ShapeMismatchError);
      expect(e.liveTensors).toBe(live);
    });
    expect(e.liveTensors).toBe(0);
  });
});
