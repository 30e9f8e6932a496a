/**
 * Ops that only reshape: flatten, reshape and identity. Their output is a view of their input
 * (no kernel, no copy) and so is their gradient. Shapes here exclude nothing: dim 0 is the batch.
 */
import { InvalidInputError, ShapeMismatchError } from '../core/errors';
import { shapeStr, sizeOf } from '../core/shape';
import { BATCH, defineOp, dependsOnBatch, NCHW, type OnnxContext } from './op';

export const FLATTEN = defineOp<Record<string, never>>({
  inputs: 1,
  params(a) {
    if (a.axis !== undefined && a.axis !== 1) {
      throw new InvalidInputError(`flatten: only axis 1 is supported, got ${JSON.stringify(a.axis)}`);
    }
    return {};
  },
  shape: ([x]) => [x[0], sizeOf(x.slice(1))],
  layout: 'none',
  saves: {},
  view: true,
  onnx: {
    Flatten(c) {
      const x = c.tensor(0);
      const axis = c.axis(c.attrs.int('axis', 1), c.shape(x).length);
      if (axis !== 1) c.fail(`only axis 1 is supported (keep the batch, flatten the rest), got ${axis}`);
      c.emit({ op: 'flatten', inputs: [x], attrs: { axis: 1 } });
    },
  },
});

export interface ReshapeParams {
  /** The target shape without the batch dim; one entry may be -1. */
  shape: number[];
}

export const RESHAPE = defineOp<ReshapeParams>({
  inputs: 1,
  params(a) {
    const shape = a.shape ?? [];
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d > 0 || d === -1))) {
      throw new InvalidInputError(
        `reshape: shape must be a list of positive integers or -1, got ${JSON.stringify(a.shape)}`,
      );
    }
    return { shape: [...shape] };
  },
  shape([x], p) {
    const total = sizeOf(x.slice(1));
    const known = sizeOf(p.shape.filter((d) => d !== -1));
    const resolved = p.shape.map((d) => (d === -1 ? total / known : d));
    if (sizeOf(resolved) !== total || !resolved.every((d) => Number.isInteger(d) && d > 0)) {
      throw new ShapeMismatchError(`cannot reshape ${shapeStr(x)} to [N, ${p.shape.join(', ')}]`);
    }
    return [x[0], ...resolved];
  },
  // Dims after the last one the reshape changes keep their labels (ShuffleNet's [N, g, C/g, H, W]
  // → [N, C, H, W] keeps H, W); a 4-D result whose last two are H, W is an image batch again.
  layout([x], _p, { inputs: [sx], output }) {
    if (!x) return null;
    let k = 0;
    while (k < Math.min(sx.length, output.length) - 1 && sx[sx.length - 1 - k] === output[output.length - 1 - k]) k++;
    const tail = x.slice(x.length - k);
    if (output.length === 4 && tail.length >= 2 && tail[tail.length - 2] === 'H' && tail[tail.length - 1] === 'W') {
      return NCHW;
    }
    return null;
  },
  saves: {},
  view: true,
  onnx: {
    // Dim 0 is the batch: the target shape's first entry must be 0 (copy), 1 (a model exported
    // with batch 1) or -1 with the other dims giving one image's size. A constant reshaped (a
    // weight) is folded here.
    Reshape(c) {
      let target: number[];
      if (c.opset < 5) target = c.attrs.ints('shape') ?? c.fail('no shape attribute');
      else {
        const t = c.constant(1, 'target shape');
        if (t.float || t.dims.length !== 1)
          c.fail(`the target shape must be a 1-D integer tensor, got dims [${t.dims}]`);
        target = [...t.data];
      }
      // Dims folded from a Shape: dim 0 may be the batch size itself, no dim a value computed from it.
      const shown = () => `[${target.map((d) => (d === BATCH ? 'N' : dependsOnBatch(d) ? 'f(N)' : d)).join(', ')}]`;
      if (target.some((d, k) => dependsOnBatch(d) && !(k === 0 && d === BATCH))) {
        c.fail(`the target shape ${shown()} depends on the batch size other than as dim 0`);
      }
      if (target[0] === BATCH) target[0] = 0;
      const allowzero = c.attrs.int('allowzero', 0) === 1;
      if (allowzero && target.includes(0)) c.fail('allowzero = 1 with a 0 in the target shape is not supported');
      if (target.filter((d) => d === -1).length > 1 || target.some((d) => d < -1)) {
        c.fail(`invalid target shape [${target}]`);
      }
      const src = c.constantOrNull(0);
      if (src) {
        const dims = target.map((d, k) => (d === 0 ? src.dims[k] : d));
        const known = sizeOf(dims.filter((d) => d !== -1));
        const full = dims.map((d) => (d === -1 ? src.data.length / known : d));
        if (sizeOf(full) !== src.data.length || full.some((d) => !Number.isInteger(d))) {
          c.fail(`cannot reshape a constant of dims [${src.dims}] to [${target}]`);
        }
        return c.alias({ ...src, dims: full });
      }
      const x = c.tensor(0);
      const shape = c.shape(x);
      const dims = target.map((d, k) => (d === 0 ? shape[k] : d));
      const rest = dims.slice(1);
      if (dims[0] === -1) {
        if (sizeOf(rest) !== sizeOf(shape.slice(1)) || rest.includes(-1)) {
          c.fail(`target shape [${target}] does not keep dim 0 as the batch for input [N, ${shape.slice(1)}]`);
        }
      } else if (dims[0] !== 1) {
        c.fail(`target shape [${target}]: dim 0 must be the batch (0, 1 or -1)`);
      }
      c.emit({ op: 'reshape', inputs: [x], attrs: { shape: rest } });
    },
  },
});

/** Identity and Dropout (inference): of a constant, the constant; of a computed tensor, a view. */
function identityRule(c: OnnxContext): void {
  const k = c.constantOrNull(0);
  if (k) return c.alias(k);
  c.emit({ op: 'identity', inputs: [c.tensor(0)] });
}

export const IDENTITY = defineOp<Record<string, never>>({
  inputs: 1,
  params: () => ({}),
  shape: ([x]) => [...x],
  layout: 'first',
  saves: {},
  view: true,
  onnx: { Identity: identityRule, Dropout: identityRule },
});
