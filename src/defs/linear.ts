/**
 * Linear (fully connected) layer, PyTorch layout y = x·Wᵀ + b: x [N, …, K], W [M, K], b [M],
 * y [N, …, M] (over the last axis). Its shape rule and its ONNX rules (Gemm, MatMul with a
 * constant right-hand side; MatMul of two computed tensors is the matmul op).
 * CPU reference: src/reference/linear.ts; GPU dispatcher: src/ops/linear.ts.
 */
import { ShapeMismatchError } from '../core/errors';
import { shapeStr, type Shape } from '../core/shape';
import { isDeferred, mapWeight } from './deferred';
import { constWeight, defineOp, type WeightSpec } from './op';

/**
 * [..., M] for x [..., K] (any rank ≥ 2: the layer applies to the last axis, as nn.Linear on
 * an NHWC tensor), w [M, K], b [M] or null. Throws ShapeMismatchError naming the shapes.
 */
export function linearOutputShape(x: Shape, w: Shape, b: Shape | null): number[] {
  if (x.length < 2) throw new ShapeMismatchError(`linear input: expected at least 2 dims, got ${shapeStr(x)}`);
  if (w.length !== 2)
    throw new ShapeMismatchError(`linear weight: expected a 2-D tensor, got ${w.length}-D ${shapeStr(w)}`);
  const k = x[x.length - 1];
  if (k !== w[1]) {
    throw new ShapeMismatchError(
      `linear: input ${shapeStr(x)} has ${k} features but weight ${shapeStr(w)} expects ${w[1]} ([M, K] layout)`,
    );
  }
  if (b && (b.length !== 1 || b[0] !== w[0])) {
    throw new ShapeMismatchError(
      `linear: bias ${shapeStr(b)} does not match weight ${shapeStr(w)}: expected [${w[0]}]`,
    );
  }
  return [...x.slice(0, -1), w[0]];
}

/**
 * A [K, M] matrix (MatMul's B, Gemm's B with transB = 0) as an [M, K] linear weight, times
 * `scale` (a deferred matrix when it is read: src/defs/deferred.ts).
 */
export function transposedWeight(b: WeightSpec, scale: number): WeightSpec {
  const [k, m] = b.shape;
  return mapWeight(
    b,
    [m, k],
    (data, out) => {
      for (let i = 0; i < k; i++) for (let j = 0; j < m; j++) out[j * k + i] = scale * data[i * m + j];
    },
    false,
  );
}

/** An [M, K] matrix (Gemm's B with transB = 1) as a linear weight, times `scale` (not copied for 1). */
export function scaledWeight(b: WeightSpec, scale: number): WeightSpec {
  if (scale === 1 && (isDeferred(b) || b.data instanceof Float32Array)) return b;
  return mapWeight(
    b,
    [...b.shape],
    (data, out) => {
      for (let i = 0; i < out.length; i++) out[i] = scale * data[i];
    },
    true,
  );
}

export const LINEAR = defineOp<Record<string, never>>({
  inputs: 1,
  weights: { weight: 'required', bias: 'optional' },
  params: () => ({}),
  shape: ([x], _p, w) => linearOutputShape(x, w.weight, w.bias ?? null),
  // Over the last axis: the dims keep their meaning (NHWC stays NHWC with other channels).
  layout: 'first',
  // The input gradient needs only the weight.
  saves: {},
  onnx: {
    // B (transB = 1: [M, K]; transB = 0: [K, M], transposed here) scaled by alpha, C (scalar,
    // [M] or [1, M]) by beta; transA must be 0.
    Gemm(c) {
      if (c.attrs.int('transA', 0) !== 0) c.fail('transA = 1 is not supported');
      const x = c.tensor(0);
      const b = c.constant(1, 'weight B', 'float');
      if (b.dims.length !== 2) c.fail(`B must be 2-D, got dims [${b.dims}]`);
      const alpha = c.attrs.float('alpha', 1);
      const bw = constWeight(b);
      const weight = c.attrs.int('transB', 0) === 1 ? scaledWeight(bw, alpha) : transposedWeight(bw, alpha);
      const m = weight.shape[0];
      const weights: Record<string, WeightSpec> = { weight };
      if (c.inputs[2]) {
        const bias = c.constant(2, 'bias C', 'float');
        if (!(bias.data.length === 1 || (bias.data.length === m && bias.dims[bias.dims.length - 1] === m))) {
          c.fail(`C must be a scalar, [${m}] or [1, ${m}], got dims [${bias.dims}]`);
        }
        const beta = c.attrs.float('beta', 1);
        const data = new Float32Array(m);
        for (let o = 0; o < m; o++) data[o] = beta * bias.data[bias.data.length === 1 ? 0 : o];
        weights.bias = { shape: [m], data };
      }
      c.emit({ op: 'linear', inputs: [x], weights });
    },
  },
});
