/**
 * Concatenation along one axis (default 1, channels) of tensors whose other dims are equal, and
 * its backward (each input's gradient is its slice of dy). Shaders: concat_forward.wgsl,
 * concat_backward.wgsl, one dispatch per input. The batch axis 0 is refused: with T targets
 * stacked on it in the backward, a batch concat has no meaning.
 */
import type { Recorder } from '../gpu/recorder';
import { grid1d } from '../gpu/engine';
import { InvalidInputError } from '../core/errors';
import { defineKernel, type ParamValues } from '../gpu/kernel';
import { type Tensor } from '../gpu/tensor';
import { sizeOf, type Shape } from '../core/shape';
import forwardCode from '../../shaders/concat_forward.wgsl?raw';
import backwardCode from '../../shaders/concat_backward.wgsl?raw';
import { concatAxis, concatShape } from '../defs/concat';
import { targetsOf } from './util';

const WG = 256; // matches `override WG` in both shaders

const SLICE = { count: 'u32', cinner: 'u32', ctinner: 'u32', offinner: 'u32' } as const;
const FORWARD = defineKernel({ name: 'concat_forward', code: forwardCode, params: SLICE, bindings: ['x', 'y'] });
const BACKWARD = defineKernel({ name: 'concat_backward', code: backwardCode, params: SLICE, bindings: ['dy', 'dx'] });

/** Per input: uniforms count, C·inner, Ctot·inner, Coff·inner (see the shaders' comments). */
function slices(shapes: readonly Shape[], ax: number, outer: number): ParamValues<typeof SLICE>[] {
  const inner = sizeOf(shapes[0].slice(ax + 1));
  const ctot = shapes.reduce((n, s) => n + s[ax], 0);
  let coff = 0;
  return shapes.map((s) => {
    const u = { count: outer * s[ax] * inner, cinner: s[ax] * inner, ctinner: ctot * inner, offinner: coff * inner };
    coff += s[ax];
    return u;
  });
}

/** xs: tensors equal in every dim but `axis`. Returns their concatenation along `axis`. */
export async function concatForward(e: Recorder, xs: Tensor[], axis = 1): Promise<Tensor> {
  if (xs.length === 0) throw new InvalidInputError('concatForward: no inputs');
  const ax = concatAxis(axis, xs[0].rank, 'concatForward');
  const shapes = xs.map((x) => x.shape);
  const shape = concatShape(shapes, ax, 'concatForward');
  const k = await e.kernel(FORWARD, { overrides: { WG } });
  const y = e.empty(shape, 'concat');
  const outer = sizeOf(shape.slice(0, ax));
  slices(shapes, ax, outer).forEach((u, i) => {
    e.dispatch(k, { x: xs[i], y }, u, grid1d(xs[i].size, WG));
  });
  return y;
}

/**
 * dy: [T·N, ΣC, ...] gradient of the output for T targets; inputShapes: the forward inputs'
 * shapes (leading dim N). Returns each input's gradient [T·N, Ci, ...].
 */
export async function concatBackward(e: Recorder, dy: Tensor, inputShapes: Shape[], axis = 1): Promise<Tensor[]> {
  if (inputShapes.length === 0) throw new InvalidInputError('concatBackward: no input shapes');
  const ax = concatAxis(axis, inputShapes[0].length, 'concatBackward');
  const fwd = concatShape(inputShapes, ax, 'concatBackward');
  targetsOf(dy.shape, fwd, 'concatBackward');
  const k = await e.kernel(BACKWARD, { overrides: { WG } });
  const outer = sizeOf(dy.shape.slice(0, ax));
  return slices(inputShapes, ax, outer).map((u, i) => {
    const shape = [...dy.shape];
    shape[ax] = inputShapes[i][ax];
    const dx = e.empty(shape, `concat:dx${i}`);
    e.dispatch(k, { dy, dx }, u, grid1d(dx.size, WG));
    return dx;
  });
}
