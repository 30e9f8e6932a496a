/**
 * Tolerance check |actual − expected| ≤ atol + rtol·|expected|, element by element. On failure
 * the message names the worst element (by error / allowed), both values and the counts.
 */
import { expect } from 'vitest';

export interface Tol {
  atol: number;
  rtol: number;
}

// Named tolerances: every comparison in test/ uses one of these, or says next to it why not.
// A check allows |actual − expected| ≤ atol + rtol·|expected|: rtol covers errors relative to
// the result, atol errors relative to something else (the terms of a sum, the range of a map)
// that stay when the result itself is near 0.

/** float32 unit roundoff: rounding a real number to float32 changes it by at most this factor. */
export const U32 = 2 ** -24;
/** float64 unit roundoff. */
export const U64 = 2 ** -53;

/** Bit-equal: values only moved, selected (ReLU, clip, max) or negated, or the same arithmetic. */
export const EXACT: Tol = { atol: 0, rtol: 0 };

/**
 * float64 against float64 or a closed form: a few (≤ 4) float64 roundings of values of order 1
 * (atol: a result that cancels keeps the rounding of its operands).
 */
export const F64: Tol = { atol: 4 * U64, rtol: 4 * U64 };

/**
 * float32 elementwise against the float64 reference on the same float32 inputs: a few (≤ 4)
 * float32 roundings of the result (rtol 4u); where a result comes from order-1 operands that
 * cancel (x − min, v + 0.5) it keeps the one rounding of those operands (atol u).
 */
export const F32: Tol = { atol: U32, rtol: 4 * U32 };

/**
 * A float32 sum or dot product of k terms (conv, linear, pooling, a reduction over a map)
 * against float64. Summed in float32, fl(Σ t_i) − Σ t_i = Σ_j δ_j·S_j with |δ_j| ≤ u = 2^-24
 * and S_j the partial sums (each product and a final scaling add one more δ). In the worst
 * case the errors add up: |err| ≤ (k − 1)·u·Σ|t_i|, growing like k·u. Rounding errors of
 * either sign add up like a random walk instead: a standard deviation ≤ u/√3·√k·max|S_j|,
 * growing like √k·u. The bound used is 3·√k·u times
 *   - `magnitude`, the size of the partial sums (atol): the error belongs to the summed terms,
 *     so a sum that cancels to near 0 keeps it. For k terms of random sign and rms σ the
 *     partial sums are about √k·σ; terms of one sign (an average, Σ a·ReLU(g)) reach the result;
 *     with many outputs or heavy tails take the largest from the data;
 *   - |result| (rtol), for sums whose partial sums are as large as the result.
 * 3·√k·u·M is 3·√3 > 5 standard deviations of the random-walk error, so the worst of thousands
 * of elements stays inside, while a wrong index or a dropped term (an error of the size of a
 * term, σ ≫ √k·u·M) does not.
 */
export function f32Reduction(k: number, magnitude = 1): Tol {
  const s = 3 * Math.sqrt(k) * U32;
  return { atol: s * magnitude, rtol: s };
}

/**
 * A float64 backward pass against central differences (test/util/gradcheck.ts, step h = 1e-6).
 * The ops are piecewise linear or smooth at the sampled points, so the truncation error
 * h²·|f‴|/6 is ≤ 1e-12; what remains is the rounding of the two float64 dot products
 * ⟨dy, f(x ± h·e_i)⟩, about U64·Σ|dy·f|/h: with at most a few hundred order-1 terms in these
 * tests (Σ|dy·f| ≲ 500) that is ≤ 5.5e-8, hence atol 1e-7; rtol 1e-6 for large gradients.
 */
export const CENTRAL_DIFF: Tol = { atol: 1e-7, rtol: 1e-6 };

/**
 * A small network on the GPU (the test networks and the demo's: up to ~6 conv / linear layers,
 * reductions of up to a few hundred terms), or attribution kernels applied to its float32
 * tensors, against the float64 reference. Each layer adds about f32Reduction(200).rtol
 * (≈ 2.5e-6) relative to its activations, and ~4 such layers compound to 1e-5 (rtol). Elements
 * that cancel keep the error of their terms: the activations, gradients and maps of these
 * networks are of order 0.2, so atol 1e-5·0.2 = 2e-6.
 */
export const NETWORK: Tol = { atol: 2e-6, rtol: 1e-5 };

/**
 * Ablation-CAM's weights w = (y − y_k)/y = 1 − y_k/y of a small network, and its maps Σ_k w_k A^k
 * before normalisation. The ratio r = y_k/y of two outputs each within NETWORK (rtol 1e-5) is
 * within 2e-5 of r relatively, and w's error is that times |r| = |1 − w| ≤ 1 + |w|: 4e-5 (twice,
 * for margin) absolute for order-1 weights, relative for large ones (y near 0). A map is a sum of
 * such terms times activations of order 0.2–1, so the same bounds hold for it.
 */
export const ABLATION: Tol = { atol: 4e-5, rtol: 4e-5 };

/**
 * Normalised (and upsampled) attribution maps of a network, values in [0, 1]. Min–max
 * normalisation (m − min)/(max − min) divides the raw map's error (NETWORK: 1e-5 of its scale)
 * by the range, which can be several times smaller than the map's largest terms: an
 * amplification of up to 5 gives 5e-5, absolute since the values lie in [0, 1]. Bilinear
 * upsampling takes convex combinations and does not amplify.
 */
export const MAPS: Tol = { atol: 5e-5, rtol: 0 };

/**
 * Normalised attribution maps of a deep network (the torchvision zoo), values in [0, 1]. The
 * raw map is held to deepNetwork(): 1e-4 of its largest |value|; min–max normalisation divides
 * that error by the range, which can be several times smaller than the largest value (the
 * same amplification of up to 5 as MAPS): 5e-4, absolute. MAPS (5e-5) is ten times tighter
 * because it starts from NETWORK's 1e-5; applied to a deep network it is tighter than the raw
 * map it is computed from.
 */
export const DEEP_MAPS: Tol = { atol: 5e-4, rtol: 0 };

/**
 * A deep network (torchvision models: 11 to 50 layers, reductions of up to 4608 terms) against
 * a float64 oracle: errors compound through the layers to about 1e-4 relative (rtol); since a
 * cancelling element keeps the error of the whole computation, atol is 1e-4 of the largest
 * |value| of the compared tensor.
 */
export function deepNetwork(expected: ArrayLike<number>): Tol {
  return { atol: 1e-4 * maxAbs(expected), rtol: 1e-4 };
}

/**
 * An input gradient through a deep network's gates (guided backprop of a torchvision model)
 * against a float64 oracle, as a bound on the relative L2 error ‖actual − expected‖ / ‖expected‖.
 * Not elementwise: the gradient is piecewise constant in the activations and jumps where a
 * gate's input (a ReLU's x, a max-pool window's two largest values) lies within float32
 * rounding of its threshold. Every zoo model has tens of gate inputs that close, so whether any
 * flips depends on the adapter's rounding; a flip moves one unit's contribution, a blob of
 * 1e-4 to 8e-3 of the largest |value|. The oracle's own float64 gradient jumps the same way
 * when its input moves by 1e-6 (noise of N(0, 1e-12) variance on N(0, 1) pixels): relative L2
 * changes of 3e-5 to 6e-3 on resnet50, resnext50_32x4d, mobilenet_v2, vgg11_bn and googlenet.
 * A wrong gate or op (a gate not guided, a wrong derivative, a misrouted pool) changes the
 * gradient by 1e-1 and more. Hence 2e-2: three times the largest jump seen, five times below
 * the effect of such a bug. The elementwise error is still reported beside it.
 */
export const GATE_FLIPS = 2e-2;

/** ‖actual − expected‖₂ / ‖expected‖₂ (the error itself when expected is all zeros). */
export function relativeL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < expected.length; i++) {
    d += (actual[i] - expected[i]) ** 2;
    n += expected[i] ** 2;
  }
  return n > 0 ? Math.sqrt(d / n) : Math.sqrt(d);
}

/** The largest |value| (a magnitude for f32Reduction, the scale for deepNetwork). */
export function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

export function allcloseReport(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tol,
): { ok: boolean; message: string } {
  if (actual.length !== expected.length) {
    return { ok: false, message: `length ${actual.length} != expected length ${expected.length}` };
  }
  let worst = -1;
  let worstRatio = 0;
  let bad = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const b = expected[i];
    const allowed = tol.atol + tol.rtol * Math.abs(b);
    const err = Math.abs(a - b);
    const ratio = Number.isNaN(err) ? Infinity : err / allowed;
    if (ratio > 1) bad++;
    if (ratio > worstRatio || worst < 0) {
      worstRatio = ratio;
      worst = i;
    }
  }
  const message =
    `${bad} of ${actual.length} elements outside atol=${tol.atol} + rtol=${tol.rtol}·|ref|; ` +
    `worst at index ${worst}: got ${actual[worst]}, expected ${expected[worst]} ` +
    `(error ${Math.abs(actual[worst] - expected[worst]).toExponential(3)}, ${worstRatio.toFixed(2)}× allowed)`;
  return { ok: bad === 0 && actual.length > 0, message };
}

export function expectAllclose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tol,
  what = 'values',
): void {
  const r = allcloseReport(actual, expected, tol);
  expect(r.ok, `${what}: ${r.message}`).toBe(true);
}
