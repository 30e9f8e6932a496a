/**
 * Elementwise add (residual connections) and in-place gradient accumulation (fan-out).
 * Shaders: add.wgsl, accumulate.wgsl. Add's backward is the identity to both inputs, so it has
 * no kernel: both inputs receive dy unchanged.
 */
import type { Recorder } from '../gpu/engine';
import { grid1d } from '../gpu/engine';
import { InvalidInputError, ShapeMismatchError } from '../core/errors';
import { Uniforms } from '../gpu/kernel';
import { type Tensor } from '../gpu/tensor';
import { shapeStr, type Shape } from '../core/shape';
import addCode from '../../shaders/add.wgsl?raw';
import accumulateCode from '../../shaders/accumulate.wgsl?raw';

const WG = 256; // matches `override WG` in add.wgsl and accumulate.wgsl

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** y = a + b; a and b must have the same shape (no broadcasting). */
export async function addForward(e: Recorder, a: Tensor, b: Tensor): Promise<Tensor> {
  if (!sameShape(a.shape, b.shape)) {
    throw new ShapeMismatchError(
      `addForward: '${a.label}' ${shapeStr(a.shape)} and '${b.label}' ${shapeStr(b.shape)} must have the same shape`,
    );
  }
  const k = await e.kernel({ name: 'add', code: addCode, overrides: { WG } });
  const y = e.empty(a.shape, 'add');
  e.dispatch(k, [a, b, y], new Uniforms().u32(a.size), grid1d(a.size, WG));
  return y;
}

/** acc += g in place (same shape; acc and g must not share storage). */
export async function accumulate(e: Recorder, acc: Tensor, g: Tensor): Promise<void> {
  if (!sameShape(acc.shape, g.shape)) {
    throw new ShapeMismatchError(
      `accumulate: '${acc.label}' ${shapeStr(acc.shape)} and '${g.label}' ${shapeStr(g.shape)} must have the same shape`,
    );
  }
  if (acc.storage === g.storage) {
    throw new InvalidInputError(
      `accumulate: '${acc.label}' and '${g.label}' share one buffer; accumulating a tensor into itself needs a copy first`,
    );
  }
  const k = await e.kernel({ name: 'accumulate', code: accumulateCode, overrides: { WG } });
  e.dispatch(k, [acc, g], new Uniforms().u32(acc.size), grid1d(acc.size, WG));
}
