/**
 * The CPU reference of every elementwise op against PyTorch autograd (test/fixtures/ops.json,
 * made by tools/make_op_fixtures.py from torch's own functions): forward values and gradients,
 * float64 against float64. Together with test/ops/elementwise.test.ts (reference against
 * central differences, GPU against reference) each op's definition is pinned to PyTorch's.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BINARY, UNARY, type BinaryType, type UnaryType } from '../../src/defs/elementwise';
import * as ref from '../../src/reference/elementwise';
import { hostTensor } from '../../src/reference/tensor';
import { expectAllclose, type Tol } from '../util/compare';

interface UnaryCase {
  op: UnaryType;
  params: Record<string, number>;
  x: number[];
  dy: number[];
  y: number[];
  dx: number[];
}
interface T {
  shape: number[];
  data: number[];
}
interface Doc {
  unary: UnaryCase[];
  binary: { a: T; b: T; dy: T; ops: { op: BinaryType; y: number[]; da: number[]; db: number[] }[] };
}

const doc = JSON.parse(readFileSync('test/fixtures/ops.json', 'utf8')) as Doc;

// Not a named tolerance: two float64 implementations of one function (libm's exp and tanh, our
// erf series and continued fraction against torch's erf) differ by a few ULP of values up to ~20
// (x³ at 4.7 is 104: rtol), and by ~1e-15 absolute where erf is involved.
const TWO_IMPLEMENTATIONS: Tol = { atol: 1e-14, rtol: 1e-13 };

describe('elementwise references equal PyTorch autograd', () => {
  it('the fixture covers every op of the table', () => {
    expect(new Set(doc.unary.map((c) => c.op))).toEqual(new Set(Object.keys(UNARY)));
    expect(new Set(doc.binary.ops.map((c) => c.op))).toEqual(new Set(Object.keys(BINARY)));
  });

  it.each(doc.unary.map((c) => [c.op, c.params, c] as const))('%s %j', (op, params, c) => {
    const n = c.x.length;
    const x = hostTensor([n], c.x);
    const y = ref.unaryForward(op, x, params);
    expectAllclose(y.data, c.y, TWO_IMPLEMENTATIONS, `${op} forward`);
    const saved = UNARY[op].backward.from === 'x' ? x : y;
    const dx = ref.unaryBackward(op, hostTensor([n], c.dy), saved, params);
    expectAllclose(dx.data, c.dx, TWO_IMPLEMENTATIONS, `${op} gradient`);
  });

  it.each(doc.binary.ops.map((c) => [c.op, c] as const))('%s, broadcasting [2, 3, 1] with [1, 3, 4]', (op, c) => {
    const { a, b, dy } = doc.binary;
    const ha = hostTensor(a.shape, a.data);
    const hb = hostTensor(b.shape, b.data);
    const y = ref.binaryForward(op, ha, hb);
    expectAllclose(y.data, c.y, TWO_IMPLEMENTATIONS, `${op} forward`);
    const shapes = { a: a.shape, b: b.shape };
    const hdy = hostTensor(dy.shape, dy.data);
    expectAllclose(ref.binaryBackward(op, 'a', hdy, ha, hb, shapes).data, c.da, TWO_IMPLEMENTATIONS, `${op} da`);
    // The engine never sums a gradient over the batch axis (its rows are targets × images):
    // b's gradient comes per row, [2, 3, 4]; torch's db is their sum over dim 0.
    const db = ref.binaryBackward(op, 'b', hdy, ha, hb, shapes);
    expect(db.shape).toEqual([2, 3, 4]);
    const summed = db.data.slice(0, 12).map((v, i) => v + db.data[12 + i]);
    expectAllclose(summed, c.db, TWO_IMPLEMENTATIONS, `${op} db`);
  });
});
