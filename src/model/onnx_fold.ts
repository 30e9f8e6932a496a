/**
 * Shape arithmetic of ONNX graphs, folded to constants at import: `x.view(x.size(0), -1)` and
 * ShuffleNet's channel shuffle compute their target shapes with Shape → Gather → Unsqueeze →
 * Concat chains (and Div, Mul, Cast on the way). The batch size is not known at import: Shape
 * gives NaN for dim 0, NaN propagates through the arithmetic, and Reshape reads a NaN at dim 0
 * as "the batch" (anywhere else it fails: the shape would depend on the batch size).
 *
 * Rules here produce constants only; the op rules fold their own constant cases (Unsqueeze,
 * Squeeze, Slice, Concat, the binary ops, Reshape, Identity in src/defs/).
 */
import { DataType } from './onnx_proto';
import { BATCH, dependsOnBatch, type OnnxConst, type OnnxContext } from '../defs/op';

export type FoldRule = (c: OnnxContext) => void;

/** An integer constant (shapes, indices). */
const ints = (dims: number[], values: number[]): OnnxConst => ({ dims, data: Float64Array.from(values), float: false });

export const FOLD_RULES: Readonly<Record<string, FoldRule>> = {
  /** The dims of a computed tensor (BATCH for the batch), optionally a start..end range of them. */
  Shape(c) {
    const k = c.constantOrNull(0);
    const dims = k ? [...k.dims] : [BATCH, ...c.shape(c.tensor(0)).slice(1)];
    const r = dims.length;
    const at = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
    const [start, end] = [at(c.attrs.int('start', 0)), at(c.attrs.int('end', r))];
    const out = dims.slice(start, Math.max(start, end));
    c.alias(ints([out.length], out));
  },

  /** Gather of a constant (e.g. one dim of a Shape) along an axis. */
  Gather(c) {
    const data = c.constantOrNull(0);
    if (!data) c.fail('gathering from a computed tensor is not supported (only from constants such as shapes)');
    const idx = c.constant(1, 'indices');
    const k = data!;
    const ax = c.axis(c.attrs.int('axis', 0), k.dims.length);
    const n = k.dims[ax];
    const outer = k.dims.slice(0, ax).reduce((a, b) => a * b, 1);
    const inner = k.dims.slice(ax + 1).reduce((a, b) => a * b, 1);
    const picks = [...idx.data].map((i) => {
      const j = i < 0 ? i + n : i;
      if (!Number.isInteger(j) || j < 0 || j >= n) c.fail(`index ${i} is out of range for dim ${ax} of size ${n}`);
      return j;
    });
    const out: number[] = [];
    for (let o = 0; o < outer; o++)
      for (const j of picks) for (let i = 0; i < inner; i++) out.push(k.data[(o * n + j) * inner + i]);
    const dims = [...k.dims.slice(0, ax), ...idx.dims, ...k.dims.slice(ax + 1)];
    c.alias({ dims, data: k.float ? Float32Array.from(out) : Float64Array.from(out), float: k.float });
  },

  /** Cast of a constant: to an integer type truncates, to a float type keeps the value. */
  Cast(c) {
    const k = c.constantOrNull(0);
    if (!k) {
      // A cast of a computed tensor to float is the identity (the engine computes in float32).
      const to = c.attrs.int('to', DataType.FLOAT);
      if (to !== DataType.FLOAT && to !== DataType.DOUBLE)
        c.fail('casting a computed tensor to a non-float type is not supported');
      return void c.emit({ op: 'identity', inputs: [c.tensor(0)] });
    }
    const to = c.attrs.int('to', DataType.FLOAT);
    const float = to === DataType.FLOAT || to === DataType.DOUBLE || to === DataType.FLOAT16;
    const data = float ? Float32Array.from(k.data) : Float64Array.from(k.data, Math.trunc);
    c.alias({ dims: k.dims, data, float });
  },

  /** A constant of a given (constant) shape filled with one value (default 0.0). */
  ConstantOfShape(c) {
    const shape = c.constant(0, 'shape');
    if ([...shape.data].some((d) => dependsOnBatch(d) || !Number.isInteger(d) || d < 0)) {
      c.fail(`the shape [${[...shape.data]}] is not constant (it depends on the batch size) or not valid`);
    }
    const dims = [...shape.data];
    const t = c.attrs.tensorValue('value');
    const v = t ? t.data[0] : 0;
    const n = dims.reduce((a, b) => a * b, 1);
    const float = t ? t.float : true;
    c.alias({ dims, data: float ? new Float32Array(n).fill(v) : new Float64Array(n).fill(v), float });
  },
};
