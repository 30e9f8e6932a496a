/**
 * The ops that move or reduce elements (transpose, slice, pad, reducemean, reducesum), through
 * the two executors' registries (src/reference/ops.ts, src/ops/registry.ts) as a model runs
 * them: the CPU reference's backward against central differences, and the GPU forward and
 * backward (T = 3 targets stacked on the batch) against the reference.
 */
import { describe, expect, it } from 'vitest';
import { opDef, type OpType } from '../../src/defs/index';
import type { Attrs } from '../../src/defs/op';
import type { Recorder } from '../../src/gpu/recorder';
import type { Tensor } from '../../src/gpu/tensor';
import { GPU_OPS, type GpuOp } from '../../src/ops/registry';
import { REF_OPS, type RefOp } from '../../src/reference/ops';
import { hostTensor, type HostTensor } from '../../src/reference/tensor';
import { CENTRAL_DIFF, EXACT, expectAllclose, F32, f32Reduction } from '../util/compare';
import { getEngine } from '../util/gpu';
import { numericGrad } from '../util/gradcheck';
import { randn } from '../util/random';

interface Case {
  op: OpType;
  shape: number[];
  attrs: Attrs;
  what: string;
}

const CASES: Case[] = [
  { op: 'transpose', shape: [2, 3, 4, 5], attrs: { perm: [0, 2, 3, 1] }, what: 'NCHW → NHWC' },
  { op: 'transpose', shape: [2, 3, 5, 4], attrs: { perm: [0, 3, 1, 2] }, what: 'NHWC → NCHW' },
  { op: 'transpose', shape: [2, 2, 3, 2, 3], attrs: { perm: [0, 2, 1, 3, 4] }, what: 'channel shuffle' },
  {
    op: 'slice',
    shape: [2, 6, 5, 4],
    attrs: { starts: [1, 0, -1], ends: [5, 5, -5], steps: [2, 1, -1] },
    what: 'steps 2 and −1',
  },
  {
    op: 'slice',
    shape: [2, 8, 3, 3],
    attrs: { starts: [4, 0, 0], ends: [2 ** 31 - 1, 3, 3] },
    what: 'second half of C',
  },
  {
    op: 'slice',
    shape: [2, 7, 6],
    attrs: { starts: [1, -4], ends: [6, 100], steps: [3, 2] },
    what: '3-D, ends clamped',
  },
  { op: 'pad', shape: [2, 3, 4, 5], attrs: { pads: [0, 1, 2, 1, 0, 3], value: 0.5 }, what: 'H and W and C, value 0.5' },
  { op: 'pad', shape: [2, 3, 4, 4], attrs: { pads: [0, 0, 0, 0, 1, 1] }, what: 'zeros after H, W' },
  { op: 'reducemean', shape: [2, 3, 4, 6], attrs: { axes: [3], keepdims: true }, what: 'last axis, keepdims' },
  { op: 'reducemean', shape: [2, 3, 4, 6], attrs: { axes: [1, 3], keepdims: false }, what: 'two axes, no keepdims' },
  { op: 'reducesum', shape: [2, 5, 4, 3], attrs: { axes: [2] }, what: 'H' },
  {
    op: 'reducesum',
    shape: [2, 4, 30],
    attrs: { axes: [1, 2], keepdims: false },
    what: '3-D, everything but the batch',
  },
];

/** Number of terms each output element sums (1 for the ops that move elements). */
function termsOf(c: Case): number {
  if (c.op !== 'reducemean' && c.op !== 'reducesum') return 1;
  return (c.attrs.axes as number[]).reduce((n, a) => n * c.shape[a], 1);
}

function refOp(c: Case) {
  const def = opDef(c.op);
  const params = def.params(c.attrs);
  const impl = REF_OPS[c.op] as RefOp<unknown>;
  const outOf = (shape: readonly number[]) => def.shape([shape], params, {});
  const forward = (x: HostTensor) => impl.forward({ params, inputs: [x], weights: {}, outShape: outOf(x.shape) });
  const backward = (dy: HostTensor, inShape: readonly number[]) =>
    impl.backward({
      params,
      dy,
      weights: {},
      saved: { inputs: [null], output: null },
      inputShapes: [inShape],
      needs: [true],
      guided: false,
    })[0]!;
  return { params, forward, backward, outOf };
}

async function gpuOp(e: Recorder, c: Case, x: Tensor, dy: (out: readonly number[]) => Tensor) {
  const { params, outOf } = refOp(c);
  const impl = GPU_OPS[c.op] as GpuOp<unknown>;
  const y = await impl.forward(e, {
    params,
    inputs: [x],
    weights: {},
    weightShapes: {},
    outShape: outOf(x.shape),
    relu: false,
  });
  const [dx] = await impl.backward(e, {
    params,
    dy: dy(y.shape),
    weights: {},
    weightShapes: {},
    saved: { inputs: [null], output: null },
    inputShapes: [x.shape],
    needs: [true],
    guided: false,
  });
  return { y, dx: dx!.t };
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

describe.each(CASES)('$op ($what) $shape', (c) => {
  it('reference backward equals central differences', () => {
    const { forward, backward, outOf } = refOp(c);
    const x = hostTensor(c.shape, randn(size(c.shape), 1));
    const out = outOf(c.shape);
    const dy = hostTensor(out, randn(size(out), 2));
    expectAllclose(backward(dy, c.shape).data, numericGrad(forward, x, dy).data, CENTRAL_DIFF, c.op);
  });

  it('GPU forward and backward (T = 3) equal the reference', async () => {
    const e = await getEngine();
    const { forward, backward, outOf } = refOp(c);
    const xs = randn(size(c.shape), 3);
    const out = outOf(c.shape);
    const rows = [3 * out[0], ...out.slice(1)];
    const dys = randn(size(rows), 4);
    const k = termsOf(c);
    await e.scope(async () => {
      const x = e.upload(xs, c.shape);
      const { y, dx } = await gpuOp(e, c, x, (o) => {
        expect(o).toEqual(out);
        return e.upload(dys, rows);
      });
      const yr = forward(hostTensor(c.shape, xs));
      // Moving elements is exact; a reduction is a float32 sum of k terms.
      expectAllclose(await y.read(), yr.data, k === 1 ? EXACT : f32Reduction(k), `${c.op} forward`);
      const want = backward(hostTensor(rows, dys), [3 * c.shape[0], ...c.shape.slice(1)]);
      expect(dx.shape).toEqual(want.shape);
      // The gradients only move dy (times 1/R for a mean: one rounding).
      expectAllclose(await dx.read(), want.data, c.op === 'reducemean' ? F32 : EXACT, `${c.op} backward`);
    });
    expect(e.liveTensors).toBe(0);
  });
});
