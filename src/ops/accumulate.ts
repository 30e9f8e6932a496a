/**
 * In-place gradient accumulation: where a tensor fans out to several nodes, the backward pass
 * adds their gradients up (acc += g). Shader: accumulate.wgsl. (The out-of-place sum is the
 * elementwise 'add' op, src/ops/elementwise.ts.)
 */
import type { Recorder } from '../gpu/recorder';
import { grid1d } from '../gpu/engine';
import { InvalidInputError, ShapeMismatchError } from '../core/errors';
import { defineKernel } from '../gpu/kernel';
import { type Tensor } from '../gpu/tensor';
import { shapeStr } from '../core/shape';
import accumulateCode from '../../shaders/accumulate.wgsl?raw';

const WG = 256; // matches `override WG` in accumulate.wgsl

const ACCUMULATE = defineKernel({
  name: 'accumulate',
  code: accumulateCode,
  params: { count: 'u32' },
  bindings: ['acc', 'g'],
});

/** acc += g in place (same shape; acc and g must not share storage). */
export async function accumulate(e: Recorder, acc: Tensor, g: Tensor): Promise<void> {
  if (acc.shape.length !== g.shape.length || acc.shape.some((d, i) => d !== g.shape[i])) {
    throw new ShapeMismatchError(
      `accumulate: '${acc.label}' ${shapeStr(acc.shape)} and '${g.label}' ${shapeStr(g.shape)} must have the same shape`,
    );
  }
  if (acc.storage === g.storage) {
    throw new InvalidInputError(
      `accumulate: '${acc.label}' and '${g.label}' share one buffer; accumulating a tensor into itself needs a copy first`,
    );
  }
  const k = await e.kernel(ACCUMULATE, { overrides: { WG } });
  e.dispatch(k, { acc, g }, { count: acc.size }, grid1d(acc.size, WG));
}
