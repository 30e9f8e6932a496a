/**
 * Clip (ONNX Clip, ReLU6 when [lo, hi] = [0, 6]) forward and backward.
 * Shaders: clip_forward.wgsl, clip_backward.wgsl.
 *
 * Guided backprop's rule applies to ReLU only; a clip's backward is always the plain one.
 */
import type { Engine } from '../gpu/engine';
import { grid1d } from '../gpu/engine';
import { InvalidInputError } from '../core/errors';
import { defineKernel } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import forwardCode from '../../shaders/clip_forward.wgsl?raw';
import backwardCode from '../../shaders/clip_backward.wgsl?raw';
import { targetsOf } from './util';

const WG = 256; // matches `override WG` in both shaders
const F32_MAX = 3.4028234663852886e38;

const FORWARD = defineKernel({
  name: 'clip_forward',
  code: forwardCode,
  params: { count: 'u32', lo: 'f32', hi: 'f32' },
  bindings: ['x', 'y'],
});
const BACKWARD = defineKernel({
  name: 'clip_backward',
  code: backwardCode,
  params: { count: 'u32', xcount: 'u32', lo: 'f32', hi: 'f32' },
  bindings: ['dy', 'x', 'dx'],
});

/** Bounds as the shaders take them: finite (±Infinity becomes ±largest float32), lo ≤ hi. */
export function clipBounds(lo: number, hi: number): [number, number] {
  if (Number.isNaN(lo) || Number.isNaN(hi) || lo > hi) {
    throw new InvalidInputError(`clip: bounds must satisfy min ≤ max, got min ${lo}, max ${hi}`);
  }
  const f = (v: number) => Math.min(Math.max(v, -F32_MAX), F32_MAX);
  return [f(lo), f(hi)];
}

/** y = min(max(x, lo), hi). `lo` may be -Infinity and `hi` +Infinity. */
export async function clipForward(e: Engine, x: Tensor, lo: number, hi: number): Promise<Tensor> {
  const [a, b] = clipBounds(lo, hi);
  const k = await e.kernel(FORWARD, { overrides: { WG } });
  const y = e.empty(x.shape, 'clip');
  e.dispatch(k, { x, y }, { count: x.size, lo: a, hi: b }, grid1d(x.size, WG));
  return y;
}

/**
 * dy: [T·N, ...] gradients of the output; x: [N, ...] the forward input (or output: the mask
 * lo < · < hi is the same). Returns dx = dy · [lo < x < hi], shaped like dy.
 */
export async function clipBackward(e: Engine, dy: Tensor, x: Tensor, lo: number, hi: number): Promise<Tensor> {
  targetsOf(dy.shape, x.shape, 'clipBackward');
  const [a, b] = clipBounds(lo, hi);
  const k = await e.kernel(BACKWARD, { overrides: { WG } });
  const dx = e.empty(dy.shape, 'clip:dx');
  e.dispatch(k, { dy, x, dx }, { count: dy.size, xcount: x.size, lo: a, hi: b }, grid1d(dy.size, WG));
  return dx;
}
