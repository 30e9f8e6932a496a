/**
 * The weight arithmetic of the ONNX converter (onnx_convert.ts), as plain functions: folding a
 * per-channel affine map (BatchNormalization, a bias Add) into a conv or linear layer, and the
 * pads of auto_pad SAME. (Gemm/MatMul weights: src/defs/linear.ts.) Math in float64, results
 * stored as float32. A deferred weight (src/defs/deferred.ts) is folded when it is read.
 */
import { mapWeight } from '../defs/deferred';
import type { WeightSpec } from './spec';

export interface Affine {
  /** y = scale[c]·x + shift[c], per channel c */
  scale: Float64Array;
  shift: Float64Array;
}

/** BatchNormalization (inference) as an affine map: s = γ/√(σ² + ε), t = β − μ·s. */
export function batchNormAffine(
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  eps: number,
): Affine {
  const c = gamma.length;
  const scale = new Float64Array(c);
  const shift = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    scale[k] = gamma[k] / Math.sqrt(variance[k] + eps);
    shift[k] = beta[k] - mean[k] * scale[k];
  }
  return { scale, shift };
}

/**
 * An affine map applied after a layer whose weight's dim 0 is the output channel (conv
 * [Cout, …], linear [M, K]): w' = w·s per output row, b' = b·s + t (b = 0 when absent).
 */
export function foldAffine(weight: WeightSpec, bias: WeightSpec | undefined, a: Affine): Record<string, WeightSpec> {
  const c = weight.shape[0];
  const b = new Float32Array(c);
  for (let o = 0; o < c; o++) b[o] = (bias ? bias.data[o] : 0) * a.scale[o] + a.shift[o];
  // Row by row (the output channels), so that a deferred weight is scaled where it is read.
  const per = weight.shape.slice(1).reduce((n, d) => n * d, 1);
  const w = mapWeight(
    weight,
    [...weight.shape],
    (src, out, first) => {
      const rows = out.length / per;
      for (let o = 0; o < rows; o++) {
        const s = a.scale[first + o];
        for (let j = 0; j < per; j++) out[o * per + j] = src[o * per + j] * s;
      }
    },
    true,
  );
  return { weight: w, bias: { shape: [c], data: b } };
}

/** The affine map as its own layer: a depthwise 1×1 conv (for [N, C, H, W]). */
export function affineConv(a: Affine): Record<string, WeightSpec> {
  const c = a.scale.length;
  return {
    weight: { shape: [c, 1, 1, 1], data: Float32Array.from(a.scale) },
    bias: { shape: [c], data: Float32Array.from(a.shift) },
  };
}

/** The affine map as its own layer: a linear layer with a diagonal weight (for [N, C]). */
export function affineLinear(a: Affine): Record<string, WeightSpec> {
  const c = a.scale.length;
  const w = new Float32Array(c * c);
  for (let k = 0; k < c; k++) w[k * c + k] = a.scale[k];
  return { weight: { shape: [c, c], data: w }, bias: { shape: [c], data: Float32Array.from(a.shift) } };
}

/**
 * auto_pad SAME_UPPER / SAME_LOWER: pad so that out = ceil(in / stride), the odd cell at the end
 * (UPPER) or at the start (LOWER). Returns [top, left, bottom, right].
 */
export function samePads(
  mode: 'SAME_UPPER' | 'SAME_LOWER',
  size: [number, number],
  k: [number, number],
  stride: [number, number],
  dilation: [number, number],
): [number, number, number, number] {
  const begin: number[] = [];
  const end: number[] = [];
  for (let d = 0; d < 2; d++) {
    const n = size[d];
    const total = Math.max(0, (Math.ceil(n / stride[d]) - 1) * stride[d] + (k[d] - 1) * dilation[d] + 1 - n);
    const small = Math.floor(total / 2);
    begin.push(mode === 'SAME_UPPER' ? small : total - small);
    end.push(total - begin[d]);
  }
  return [begin[0], begin[1], end[0], end[1]];
}
