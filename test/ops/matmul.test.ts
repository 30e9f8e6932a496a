/**
 * matmul of two computed tensors: the reference's gradients of both operands against central
 * differences, and the GPU forward and backward (T = 3 targets) against the reference.
 */
import { describe, expect, it } from 'vitest';
import { ShapeMismatchError } from '../../src/core/errors';
import { matmulShape } from '../../src/defs/matmul';
import { matmulBackwardA, matmulBackwardB, matmulForward } from '../../src/ops/matmul';
import * as ref from '../../src/reference/matmul';
import { hostTensor } from '../../src/reference/tensor';
import { CENTRAL_DIFF, expectAllclose, f32Reduction } from '../util/compare';
import { getEngine } from '../util/gpu';
import { numericGrad } from '../util/gradcheck';
import { randn } from '../util/random';

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

// [N, …, M, K] · [N, …, K, P]: one stack dim besides the batch, and none.
const CASES: [number[], number[]][] = [
  [
    [2, 3, 4, 5],
    [2, 3, 5, 6],
  ],
  [
    [2, 7, 3],
    [2, 3, 1],
  ],
];

describe.each(CASES)('matmul %j · %j', (sa, sb) => {
  const out = matmulShape(sa, sb);

  it('reference gradients of both operands equal central differences', () => {
    const a = hostTensor(sa, randn(size(sa), 1));
    const b = hostTensor(sb, randn(size(sb), 2));
    const dc = hostTensor(out, randn(size(out), 3));
    const da = ref.matmulBackwardA(dc, b);
    const db = ref.matmulBackwardB(dc, a);
    expectAllclose(da.data, numericGrad((t) => ref.matmulForward(t, b), a, dc).data, CENTRAL_DIFF, 'da');
    expectAllclose(db.data, numericGrad((t) => ref.matmulForward(a, t), b, dc).data, CENTRAL_DIFF, 'db');
  });

  it('GPU forward and backward (T = 3) equal the reference', async () => {
    const e = await getEngine();
    const [as, bs] = [randn(size(sa), 4), randn(size(sb), 5)];
    const rows = [3 * out[0], ...out.slice(1)];
    const dcs = randn(size(rows), 6);
    const [a, b, dc] = [hostTensor(sa, as), hostTensor(sb, bs), hostTensor(rows, dcs)];
    const k = sa[sa.length - 1];
    await e.scope(async () => {
      const [ga, gb, gdc] = [e.upload(as, sa), e.upload(bs, sb), e.upload(dcs, rows)];
      const c = await matmulForward(e, ga, gb);
      expect(c.shape).toEqual(out);
      // Sums of products of order-1 values: K terms (forward), P (dA), M (dB).
      expectAllclose(await c.read(), ref.matmulForward(a, b).data, f32Reduction(k, Math.sqrt(k)), 'forward');
      const da = await matmulBackwardA(e, gdc, gb);
      const db = await matmulBackwardB(e, gdc, ga);
      const [p, m] = [out[out.length - 1], out[out.length - 2]];
      expectAllclose(await da.read(), ref.matmulBackwardA(dc, b).data, f32Reduction(p, Math.sqrt(p)), 'da');
      expectAllclose(await db.read(), ref.matmulBackwardB(dc, a).data, f32Reduction(m, Math.sqrt(m)), 'db');
    });
    expect(e.liveTensors).toBe(0);
  });
});

it('matmul refuses operands whose leading or inner dims differ, or of rank < 3', () => {
  expect(() => matmulShape([2, 3, 4], [2, 5, 6])).toThrow(ShapeMismatchError);
  expect(() => matmulShape([2, 3, 4, 5], [2, 4, 5, 6])).toThrow(ShapeMismatchError);
  expect(() => matmulShape([2, 3], [3, 4])).toThrow(ShapeMismatchError);
});
