/**
 * Elementwise ops as a table: each entry is the op's WGSL expressions (value and gradient) next
 * to its CPU reference of the same formula. One templated kernel per arity and direction
 * (shaders/elementwise_unary.wgsl, elementwise_unary_backward.wgsl, elementwise_binary.wgsl,
 * elementwise_binary_backward.wgsl) runs every entry on the GPU (src/ops/elementwise.ts); the CPU
 * reference runs the `ref` functions (src/reference/elementwise.ts). Adding an elementwise op is
 * one entry here.
 *
 * WGSL expressions see the type `T` (f32, or vec4f when the dispatcher packs 4 elements per
 * invocation): write literals as `T(0.0)`, and use builtins that work on both (max, select,
 * clamp, exp, …; comparisons give bool or vec4<bool>, combine them with & and |, not && or ||).
 * An op's scalar parameters are float32 uniforms `p.<name>`.
 *
 * Unary:  y = f(x);        the gradient dx from dy and the saved `x` (input) or `y` (output).
 * Binary: y = f(a, b) with broadcasting (same rank; each dim equal or 1 in one of them); the
 *         gradient of each input from dy, a and b, summed over the dims that input was
 *         broadcast along. PASS marks a gradient that is dy itself (no kernel: a view of dy).
 */
import { InvalidInputError, ShapeMismatchError } from '../core/errors';
import { shapeStr, type Shape } from '../core/shape';
import { defineOp, type Attrs, type OnnxContext, type OnnxRule, type OpDef } from './op';

type Scalars = Record<string, number>;

export interface UnaryOp<P extends Scalars = Scalars> extends OpDef<P> {
  readonly arity: 1;
  /** Parameter names in uniform order (the keys of P). */
  readonly scalars: readonly string[];
  readonly forward: { readonly wgsl: string; ref(x: number, p: P): number };
  readonly backward: {
    /** The tensor the gradient reads: the forward input x or output y. */
    readonly from: 'x' | 'y';
    readonly wgsl: string;
    ref(dy: number, saved: number, p: P): number;
  };
  /** Guided backprop changes this op's backward: the gradient is also zeroed where dy ≤ 0. */
  readonly guided: boolean;
}

/** A gradient that is dy unchanged. */
export const PASS = 'pass';

export interface BinaryGrad {
  readonly wgsl: string;
  ref(dy: number, a: number, b: number): number;
}

export interface BinaryOp extends OpDef<Scalars> {
  readonly arity: 2;
  readonly scalars: readonly string[];
  readonly forward: { readonly wgsl: string; ref(a: number, b: number): number };
  readonly backward: { readonly a: BinaryGrad | typeof PASS; readonly b: BinaryGrad | typeof PASS };
}

export type ElementwiseOp = UnaryOp | BinaryOp;

/** Parameters: attribute name → default, read as numbers (e.g. { alpha: 0.01 }). */
function scalarParams<P extends Scalars>(defaults: P, check?: (p: P) => P): (a: Attrs) => P {
  return (a) => {
    const p = { ...defaults };
    for (const k of Object.keys(defaults) as (keyof P & string)[]) {
      const v = a[k];
      if (v === undefined) continue;
      if (typeof v !== 'number' || Number.isNaN(v)) {
        throw new InvalidInputError(`attribute '${k}' must be a number, got ${JSON.stringify(v)}`);
      }
      (p as Scalars)[k] = v;
    }
    return check ? check(p) : p;
  };
}

function unary<P extends Scalars = Record<string, never>>(spec: {
  params?: P;
  check?: (p: P) => P;
  forward: UnaryOp<P>['forward'];
  backward: UnaryOp<P>['backward'];
  guided?: boolean;
  onnx?: Record<string, OnnxRule>;
}): UnaryOp<P> {
  const defaults = spec.params ?? ({} as P);
  return {
    ...defineOp<P>({
      inputs: 1,
      params: scalarParams(defaults, spec.check),
      shape: ([x]) => [...x],
      saves: spec.backward.from === 'x' ? { inputs: [0] } : { output: true },
      onnx: spec.onnx,
    }),
    arity: 1,
    scalars: Object.keys(defaults),
    forward: spec.forward,
    backward: spec.backward,
    guided: spec.guided ?? false,
  };
}

/** NumPy broadcasting of two shapes of the same rank (each dim equal, or 1 in one of them). */
export function broadcastShape(a: Shape, b: Shape): number[] {
  if (a.length !== b.length) {
    throw new ShapeMismatchError(
      `inputs ${shapeStr(a)} and ${shapeStr(b)} differ in rank (broadcasting needs equal ranks)`,
    );
  }
  return a.map((d, i) => {
    const e = b[i];
    if (d !== e && d !== 1 && e !== 1) {
      throw new ShapeMismatchError(
        `inputs ${shapeStr(a)} and ${shapeStr(b)} do not broadcast (dim ${i}: ${d} vs ${e})`,
      );
    }
    return Math.max(d, e);
  });
}

function binary(spec: {
  forward: BinaryOp['forward'];
  backward: BinaryOp['backward'];
  onnx?: Record<string, OnnxRule>;
}): BinaryOp {
  const reads = [spec.backward.a, spec.backward.b].some((g) => g !== PASS);
  return {
    ...defineOp<Scalars>({
      inputs: 2,
      params: () => ({}),
      shape: ([a, b]) => broadcastShape(a, b),
      saves: reads ? { inputs: [0, 1] } : {},
      onnx: spec.onnx,
    }),
    arity: 2,
    scalars: [],
    forward: spec.forward,
    backward: spec.backward,
  };
}

const F32_MAX = 3.4028234663852886e38;

/** Clip bounds as the kernels take them: finite (±Infinity becomes ±largest float32), min ≤ max. */
export function clipBounds(lo: number, hi: number): [number, number] {
  if (Number.isNaN(lo) || Number.isNaN(hi) || lo > hi) {
    throw new InvalidInputError(`clip: bounds must satisfy min ≤ max, got min ${lo}, max ${hi}`);
  }
  const f = (v: number) => Math.min(Math.max(v, -F32_MAX), F32_MAX);
  return [f(lo), f(hi)];
}

/**
 * ONNX Clip: bounds from attributes (opset < 11) or constant inputs. Clip(0, +∞) is a ReLU
 * (fusable into the conv before it, and subject to guided backprop); any other range, ReLU6
 * included, a 'clip' node.
 */
function clipRule(c: OnnxContext): void {
  const x = c.tensor(0);
  let lo = -Infinity;
  let hi = Infinity;
  if (c.opset < 11) {
    lo = c.attrs.float('min', -Infinity);
    hi = c.attrs.float('max', Infinity);
  } else {
    const scalar = (j: number, what: string) => {
      const k = c.constant(j, what);
      if (k.data.length !== 1) c.fail(`${what} must be a scalar, got dims [${k.dims}]`);
      return k.data[0];
    };
    if (c.inputs[1]) lo = scalar(1, 'min');
    if (c.inputs[2]) hi = scalar(2, 'max');
  }
  if (lo <= -F32_MAX) lo = -Infinity;
  if (hi >= F32_MAX) hi = Infinity;
  if (!(lo <= hi)) c.fail(`min ${lo} > max ${hi}`);
  if (lo === 0 && hi === Infinity) return c.emit({ op: 'relu', inputs: [x] });
  const attrs: Record<string, number> = {};
  if (lo > -Infinity) attrs.min = lo;
  if (hi < Infinity) attrs.max = hi;
  c.emit({ op: 'clip', inputs: [x], attrs });
}

/** ONNX Add: of two computed tensors, an add node; of a computed tensor and a constant, a bias. */
function addRule(c: OnnxContext): void {
  const [p, q] = [c.constantOrNull(0), c.constantOrNull(1)];
  if (!p && !q) return c.emit({ op: 'add', inputs: [c.tensor(0), c.tensor(1)] });
  if (p && q) c.fail('both inputs are constants (constant folding is not supported)');
  c.foldBias(p ? c.tensor(1) : c.tensor(0), (p ?? q)!);
}

export const UNARY = {
  relu: unary({
    forward: { wgsl: 'max(x, T(0.0))', ref: (x) => Math.max(x, 0) },
    // The mask [x > 0] is read from the saved output: y > 0 exactly where x > 0.
    backward: { from: 'y', wgsl: 'select(T(0.0), dy, y > T(0.0))', ref: (dy, y) => (y > 0 ? dy : 0) },
    guided: true,
    onnx: { Relu: (c) => c.emit({ op: 'relu', inputs: [c.tensor(0)] }) },
  }),
  clip: unary({
    params: { min: -Infinity, max: Infinity },
    check: (p) => {
      const [min, max] = clipBounds(p.min, p.max);
      return { min, max };
    },
    forward: { wgsl: 'clamp(x, T(p.min), T(p.max))', ref: (x, p) => Math.min(Math.max(x, p.min), p.max) },
    // min < x < max exactly where min < y < max: the mask is read from the saved output.
    backward: {
      from: 'y',
      wgsl: 'select(T(0.0), dy, (y > T(p.min)) & (y < T(p.max)))',
      ref: (dy, y, p) => (y > p.min && y < p.max ? dy : 0),
    },
    onnx: { Clip: clipRule },
  }),
} as const;

export const BINARY = {
  add: binary({
    forward: { wgsl: 'a + b', ref: (a, b) => a + b },
    backward: { a: PASS, b: PASS },
    onnx: { Add: addRule },
  }),
} as const;

export type UnaryType = keyof typeof UNARY;
export type BinaryType = keyof typeof BINARY;
