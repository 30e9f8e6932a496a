/**
 * Every entry of the elementwise table (src/defs/elementwise.ts), table-driven, so an op added
 * there is tested here without a line more: the CPU reference's gradient against central
 * differences, the GPU forward and backward (T targets stacked on the batch) against the
 * reference, on the scalar and the vec4 kernels; binary ops with broadcasting along every
 * kind of dim.
 */
import { describe, expect, it } from 'vitest';
import { BINARY, UNARY, type Accuracy, type BinaryType, type UnaryType } from '../../src/defs/elementwise';
import type { Attrs } from '../../src/defs/op';
import { binaryBackward, binaryForward, unaryBackward, unaryForward } from '../../src/ops/elementwise';
import * as ref from '../../src/reference/elementwise';
import { hostTensor, type HostTensor } from '../../src/reference/tensor';
import { CENTRAL_DIFF, expectAllclose, F32, f32Reduction, maxAbs, type Tol } from '../util/compare';
import { getEngine } from '../util/gpu';
import { numericGrad } from '../util/gradcheck';
import { randn } from '../util/random';

/**
 * Parameters to test an op with, where its defaults would hide what they do (clip's ±∞, pow's
 * x² that the kernel computes as x·x: 3 takes the general path with its sign rule). All are
 * float32 numbers, so the float32 uniforms hold exactly what the reference uses.
 */
const ATTRS: Partial<Record<UnaryType, Attrs[]>> = {
  clip: [{ min: -0.5, max: 0.75 }],
  pow: [{ exponent: 3 }, { exponent: 2 }, { exponent: 0.5 }],
  leakyrelu: [{ alpha: 0.25 }],
  elu: [{ alpha: 0.75 }],
};

/** Where an op has kinks (central differences do not apply there), besides 0 and its parameters. */
const KINKS: Partial<Record<UnaryType, number[]>> = { hardsigmoid: [-2.5, 2.5], hardswish: [-3, 3] };

/** Ops defined on positive inputs only (sqrt, pow with a fractional exponent): fed |x| + 0.1. */
const positiveOnly = (op: UnaryType, attrs: Attrs) =>
  op === 'sqrt' || (op === 'pow' && !Number.isInteger(attrs.exponent));

/**
 * Inputs at least `gap` away from 0 and from every parameter value and kink: the ops may have
 * kinks there (ReLU at 0, clip at its bounds), where central differences do not apply.
 */
function inputs(op: UnaryType, n: number, seed: number, attrs: Attrs, gap = 0.02): Float32Array {
  const kinks = [0, ...(KINKS[op] ?? []), ...Object.values(attrs).filter((v): v is number => typeof v === 'number')];
  const x = randn(n, seed);
  // Spread to |x| up to ~6 so the saturating ops (hardswish, hardsigmoid, tanh) are seen flat too.
  for (let i = 0; i < n; i++) x[i] *= 2;
  for (let i = 0; i < n; i++) for (const k of kinks) if (Math.abs(x[i] - k) < gap) x[i] = k + gap;
  if (positiveOnly(op, attrs)) for (let i = 0; i < n; i++) x[i] = Math.abs(x[i]) + 0.1;
  return x;
}

/** F32 plus what the op's definition says its WGSL builtins or approximations may add. */
function tolOf(acc: Accuracy | undefined): Tol {
  return acc ? { atol: F32.atol + acc.atol, rtol: F32.rtol + acc.rtol } : F32;
}

const product = (s: number[]) => s.reduce((a, b) => a * b, 1);

const UNARY_CASES = (Object.keys(UNARY) as UnaryType[]).flatMap((op) =>
  (ATTRS[op] ?? [{}]).map((attrs) => [op, attrs] as const),
);

describe.each(UNARY_CASES)('unary %s %j', (op, attrs) => {
  const saved = UNARY[op].backward.from;
  const tol = tolOf(UNARY[op].accuracy);

  it('reference backward equals central differences', () => {
    const shape = [2, 3, 4, 5];
    const x = hostTensor(shape, inputs(op, 120, 1, attrs));
    const dy = hostTensor(shape, randn(120, 2));
    const f = (t: HostTensor) => ref.unaryForward(op, t, attrs);
    const s = saved === 'x' ? x : f(x);
    expectAllclose(ref.unaryBackward(op, dy, s, attrs).data, numericGrad(f, x, dy).data, CENTRAL_DIFF, op);
  });

  // [2, 3, 5, 5]: 150 elements per image (scalar kernel); [2, 4, 3, 3]: 72 (vec4 kernel).
  it.each([
    [3, 5, 5],
    [4, 3, 3],
  ])('GPU forward and backward (T = 3 over N = 2) equal the reference, C×H×W = %j', async (...chw) => {
    const e = await getEngine();
    const n = product(chw);
    const xs = inputs(op, 2 * n, 3, attrs);
    const dys = randn(6 * n, 4);
    await e.scope(async () => {
      const x = e.upload(xs, [2, ...chw]);
      const y = await unaryForward(e, op, x, attrs);
      const xr = hostTensor([2, ...chw], xs);
      const yr = ref.unaryForward(op, xr, attrs);
      // One op on float32 inputs against float64: a few roundings of the result.
      const yf = await y.read();
      expectAllclose(yf, yr.data, tol, `${op} forward`);
      // The backward kernel gets the float32 y: the reference does too (1 − y² of tanh near
      // |y| = 1 inherits y's rounding, which is the forward's error, checked above).
      const ys = hostTensor([2, ...chw], yf);
      const dy = e.upload(dys, [6, ...chw]);
      for (const guided of UNARY[op].guided ? [false, true] : [false]) {
        const dx = await unaryBackward(e, op, dy, saved === 'x' ? x : y, attrs, { guided });
        const want = ref.unaryBackward(op, hostTensor([6, ...chw], dys), saved === 'x' ? xr : ys, attrs, { guided });
        expectAllclose(await dx.read(), want.data, tol, `${op} backward, guided ${guided}`);
      }
    });
    expect(e.liveTensors).toBe(0);
  });
});

/** Shape pairs that broadcast along inner dims, outer dims, both inputs at once, and not at all. */
const BROADCASTS: [number[], number[]][] = [
  [
    [2, 3, 4, 5],
    [2, 3, 4, 5],
  ],
  [
    [2, 3, 4, 5],
    [2, 3, 1, 1],
  ],
  [
    [2, 1, 4, 5],
    [2, 3, 4, 1],
  ],
  [
    [2, 3, 1, 5],
    [2, 1, 4, 5],
  ],
];

/** b for op: a divisor kept at |b| ≥ 0.5, so a/b and its gradients stay of order 1. */
function operandB(op: BinaryType, n: number, seed: number): Float32Array {
  const b = randn(n, seed);
  if (op === 'div') for (let i = 0; i < n; i++) b[i] = Math.sign(b[i] || 1) * (Math.abs(b[i]) + 0.5);
  return b;
}

describe.each(Object.keys(BINARY) as BinaryType[])('binary %s', (op) => {
  it.each(BROADCASTS)('reference backward equals central differences, %j with %j', (sa, sb) => {
    const a = hostTensor(sa, randn(product(sa), 5));
    const b = hostTensor(sb, operandB(op, product(sb), 6));
    const out = ref.binaryForward(op, a, b);
    const dy = hostTensor(out.shape, randn(product(out.shape), 7));
    const shapes = { a: sa, b: sb };
    const da = ref.binaryBackward(op, 'a', dy, a, b, shapes);
    const db = ref.binaryBackward(op, 'b', dy, a, b, shapes);
    expectAllclose(da.data, numericGrad((t) => ref.binaryForward(op, t, b), a, dy).data, CENTRAL_DIFF, 'da');
    expectAllclose(db.data, numericGrad((t) => ref.binaryForward(op, a, t), b, dy).data, CENTRAL_DIFF, 'db');
  });

  it.each(BROADCASTS)('GPU forward and backward (T = 3) equal the reference, %j with %j', async (sa, sb) => {
    const e = await getEngine();
    const as = randn(product(sa), 8);
    const bs = operandB(op, product(sb), 9);
    await e.scope(async () => {
      const a = e.upload(as, sa);
      const b = e.upload(bs, sb);
      const y = await binaryForward(e, op, a, b);
      const ar = hostTensor(sa, as);
      const br = hostTensor(sb, bs);
      const yr = ref.binaryForward(op, ar, br);
      expect(y.shape).toEqual(yr.shape);
      expectAllclose(await y.read(), yr.data, F32, `${op} forward`);
      const rows = [3 * yr.shape[0], ...yr.shape.slice(1)];
      const dys = randn(product(rows), 10);
      const dy = e.upload(dys, rows);
      const shapes = { a: sa, b: sb };
      for (const which of ['a', 'b'] as const) {
        const dx = await binaryBackward(e, op, which, dy, a, b, shapes);
        const want = ref.binaryBackward(op, which, hostTensor(rows, dys), ar, br, shapes);
        expect(dx.shape).toEqual(want.shape);
        // Summed over the dims the input was broadcast along (k terms): a float32 reduction whose
        // partial sums reach the largest result.
        const k = product(yr.shape) / product(shapes[which]);
        const tol = k === 1 ? F32 : f32Reduction(k, maxAbs(want.data));
        expectAllclose(await dx.read(), want.data, tol, `${op} d${which}`);
      }
    });
    expect(e.liveTensors).toBe(0);
  });
});
