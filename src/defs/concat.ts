/**
 * Concatenation along one axis (default 1, channels) of tensors equal in every other dim. The
 * batch axis 0 is refused: with T targets stacked on it in the backward, a batch concat has no
 * meaning. CPU reference: src/reference/concat.ts; GPU dispatcher: src/ops/concat.ts.
 */
import { InvalidInputError, ShapeMismatchError } from '../core/errors';
import { shapeStr, type Shape } from '../core/shape';
import { defineOp, type OnnxConst } from './op';

/** Constants concatenated (shape arithmetic: the target shape of a Reshape). */
function concatConsts(ks: OnnxConst[], axis: number, fail: (m: string) => never): OnnxConst {
  const rank = ks[0].dims.length;
  const ax = axis < 0 ? axis + rank : axis;
  if (ax < 0 || ax >= rank) fail(`axis ${axis} is out of range for ${rank}-D constants`);
  const dims = concatShape(
    ks.map((k) => k.dims),
    ax,
    'Concat of constants',
  );
  const outer = dims.slice(0, ax).reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const k of ks) {
      const chunk = k.data.length / outer;
      for (let i = 0; i < chunk; i++) out.push(k.data[o * chunk + i]);
    }
  }
  const float = ks.some((k) => k.float);
  return { dims, data: float ? Float32Array.from(out) : Float64Array.from(out), float };
}

export interface ConcatParams {
  axis: number;
}

/** Axis in [1, rank) (negative counts from the end, as in ONNX). */
export function concatAxis(axis: number, rank: number, what: string): number {
  const ax = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || ax < 1 || ax >= rank) {
    throw new InvalidInputError(`${what}: axis ${axis} is not a non-batch axis of a ${rank}-D tensor`);
  }
  return ax;
}

/** The shape of `shapes` concatenated along `ax`; ShapeMismatchError if other dims differ. */
export function concatShape(shapes: readonly Shape[], ax: number, what: string): number[] {
  const first = shapes[0];
  for (const s of shapes) {
    const ok = s.length === first.length && s.every((d, i) => i === ax || d === first[i]);
    if (!ok) {
      throw new ShapeMismatchError(
        `${what}: along axis ${ax}, inputs must agree in every other dim; got ${shapes.map(shapeStr).join(', ')}`,
      );
    }
  }
  const out = [...first];
  out[ax] = shapes.reduce((n, s) => n + s[ax], 0);
  return out;
}

export const CONCAT = defineOp<ConcatParams>({
  inputs: 'variadic',
  params(a) {
    const axis = a.axis ?? 1;
    if (typeof axis !== 'number')
      throw new InvalidInputError(`concat: axis must be a number, got ${JSON.stringify(axis)}`);
    return { axis };
  },
  shape: (ins, p) => concatShape(ins, concatAxis(p.axis, ins[0].length, 'concat'), 'concat'),
  layout: 'first',
  saves: {},
  onnx: {
    Concat(c) {
      const ks = c.inputs.map((_, j) => c.constantOrNull(j));
      if (ks.every((k) => k)) return c.alias(concatConsts(ks as OnnxConst[], c.attrs.int('axis', 0), c.fail));
      const inputs = c.inputs.map((_, j) => c.tensor(j));
      const axis = c.axis(c.attrs.int('axis', NaN), c.shape(inputs[0]).length);
      if (axis === 0) c.fail('concatenation along the batch axis is not supported');
      c.emit({ op: 'concat', inputs, attrs: { axis } });
    },
  },
});
