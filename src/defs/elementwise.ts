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
 * An op's scalar parameters are float32 uniforms `p.<name>`. `includes` names WGSL snippets of
 * shaders/include/ that the expressions call (erf_t() of erf.wgsl). `accuracy` states how far
 * the float32 GPU result may be from the float64 reference where the WGSL builtins it uses are
 * not correctly rounded (exp, tanh, pow: WGSL allows several ULP) or an approximation stands in
 * for a function WGSL lacks (erf): the tests allow that, plus a few float32 roundings.
 *
 * Unary:  y = f(x);        the gradient dx from dy and the saved `x` (input) or `y` (output).
 * Binary: y = f(a, b) with broadcasting (same rank; each dim equal or 1 in one of them); the
 *         gradient of each input from dy, a and b, summed over the dims that input was
 *         broadcast along. PASS marks a gradient that is dy itself (no kernel: a view of dy).
 */
import { InvalidInputError, ShapeMismatchError } from '../core/errors';
import { broadcastStrides, shapeStr, type Shape } from '../core/shape';
import { erf } from '../core/erf';
import { defineOp, type Attrs, type OnnxConst, type OnnxContext, type OnnxRule, type OpDef } from './op';

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
  readonly includes: readonly string[];
  readonly accuracy?: Accuracy;
}

/** Error allowed beyond float32 rounding: |gpu − ref| ≤ atol + rtol·|ref|. */
export interface Accuracy {
  readonly atol: number;
  readonly rtol: number;
}

/** A gradient that is dy unchanged. */
export const PASS = 'pass';

export interface BinaryGrad {
  readonly wgsl: string;
  ref(dy: number, a: number, b: number): number;
  /** False for a gradient that does not read a or b (Sub's −dy): then neither needs saving. */
  readonly reads?: boolean;
}

export interface BinaryOp extends OpDef<Scalars> {
  readonly arity: 2;
  readonly scalars: readonly string[];
  readonly forward: { readonly wgsl: string; ref(a: number, b: number): number };
  readonly backward: { readonly a: BinaryGrad | typeof PASS; readonly b: BinaryGrad | typeof PASS };
  readonly accuracy?: Accuracy;
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
  includes?: readonly string[];
  accuracy?: Accuracy;
  onnx?: Record<string, OnnxRule>;
}): UnaryOp<P> {
  const defaults = spec.params ?? ({} as P);
  return {
    ...defineOp<P>({
      layout: 'first',
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
    includes: spec.includes ?? [],
    accuracy: spec.accuracy,
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
  accuracy?: Accuracy;
  onnx?: Record<string, OnnxRule>;
}): BinaryOp {
  const reads = [spec.backward.a, spec.backward.b].some((g) => g !== PASS && g.reads !== false);
  return {
    ...defineOp<Scalars>({
      layout: 'first',
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
    accuracy: spec.accuracy,
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
  if (lo === 0 && hi === Infinity) return void c.emit({ op: 'relu', inputs: [x] });
  const attrs: Record<string, number> = {};
  if (lo > -Infinity) attrs.min = lo;
  if (hi < Infinity) attrs.max = hi;
  c.emit({ op: 'clip', inputs: [x], attrs });
}

/** The value of a binary op on two constants, broadcast as ONNX does (dims aligned to the right). */
function foldBinary(op: string, p: OnnxConst, q: OnnxConst): OnnxConst {
  const rank = Math.max(p.dims.length, q.dims.length);
  const pad = (d: number[]) => [...new Array<number>(rank - d.length).fill(1), ...d];
  const [dp, dq] = [pad(p.dims), pad(q.dims)];
  const out = dp.map((d, k) => {
    if (d !== dq[k] && d !== 1 && dq[k] !== 1) {
      throw new ShapeMismatchError(`${op}: constants of dims [${p.dims}] and [${q.dims}] do not broadcast`);
    }
    return Math.max(d, dq[k]);
  });
  const [sp, sq] = [broadcastStrides(dp, out), broadcastStrides(dq, out)];
  const f = (BINARY as Readonly<Record<string, BinaryOp>>)[op].forward.ref;
  const data = new Float64Array(out.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) {
    let [ip, iq, r] = [0, 0, i];
    for (let k = rank - 1; k >= 0; k--) {
      const x = r % out[k];
      r = Math.floor(r / out[k]);
      ip += x * sp[k];
      iq += x * sq[k];
    }
    data[i] = f(p.data[ip], q.data[iq]);
  }
  const float = p.float || q.float;
  // Integer division truncates (ONNX Div on int64: shape arithmetic such as C // groups).
  if (!float && op === 'div') for (let i = 0; i < data.length; i++) data[i] = Math.trunc(data[i]);
  return { dims: out, data: float ? Float32Array.from(data) : data, float };
}

/**
 * An ONNX rule for a binary op: of two constants, the folded constant (shape arithmetic, with
 * the batch size unknown: BATCH of src/defs/op.ts); otherwise the op, a constant operand
 * becoming a constant node.
 */
function onnxBinary(op: string): OnnxRule {
  return (c) => {
    const [p, q] = [c.constantOrNull(0), c.constantOrNull(1)];
    if (p && q) return c.alias(foldBinary(op, p, q));
    const rank = c.shape(c.tensor(p ? 1 : 0)).length;
    c.emit({ op, inputs: [c.operand(0, rank), c.operand(1, rank)] });
  };
}

/** ONNX Add: a per-channel constant added to a conv or linear output becomes its bias. */
function addRule(c: OnnxContext): void {
  const [p, q] = [c.constantOrNull(0), c.constantOrNull(1)];
  if (p && q) return c.alias(foldBinary('add', p, q));
  if ((p || q) && c.foldBias(p ? c.tensor(1) : c.tensor(0), (p ?? q)!)) return;
  onnxBinary('add')(c);
}

/**
 * ONNX Mul. x·Sigmoid(x) is SiLU and x·HardSigmoid(x) with α = 1/6, β = 1/2 is HardSwish (how
 * torch exports them before opset 14): each becomes one op, a gate for guided backprop.
 */
function mulRule(c: OnnxContext): void {
  if (!c.constantOrNull(0) && !c.constantOrNull(1)) {
    for (const [j, k] of [
      [0, 1],
      [1, 0],
    ]) {
      const [x, s] = [c.tensor(j), c.tensor(k)];
      const gate = c.producer(s);
      if (!gate || gate.inputs[0] !== x) continue;
      const a = gate.attrs ?? {};
      const hard = gate.op === 'hardsigmoid' && Math.abs((a.alpha as number) - 1 / 6) < 1e-7 && a.beta === 0.5;
      if (gate.op !== 'sigmoid' && !hard) continue;
      c.remove(s);
      return void c.emit({ op: hard ? 'hardswish' : 'silu', inputs: [x] });
    }
  }
  onnxBinary('mul')(c);
}

/** An ONNX rule for a unary op: the op on the node's one computed input, float attributes copied. */
function onnxUnary(op: string, floats: Record<string, number> = {}): OnnxRule {
  return (c) => {
    const attrs: Record<string, number> = {};
    for (const [name, dflt] of Object.entries(floats)) attrs[name] = c.attrs.float(name, dflt);
    c.emit({ op, inputs: [c.tensor(0)], ...(Object.keys(attrs).length ? { attrs } : {}) });
  };
}

const SQRT_2 = Math.SQRT2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
/** A few ULP of WGSL's exp / tanh / pow on the values these ops see (|x| up to ~10). */
const BUILTIN: Accuracy = { atol: 1e-7, rtol: 2e-6 };

/** Gelu's tanh approximation and its derivative (float64). */
function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
}
function geluTanhGrad(x: number): number {
  const u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
  const t = Math.tanh(u);
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
}

/** ONNX Pow with a constant scalar exponent (the only kind CNNs use: LayerNorm's x²). */
function powRule(c: OnnxContext): void {
  const e = c.constantOrNull(1);
  if (!e) c.fail('the exponent must be a constant (an initializer or a Constant node)');
  if (e!.data.length !== 1) c.fail(`the exponent must be a scalar, got dims [${e!.dims}]`);
  c.emit({ op: 'pow', inputs: [c.tensor(0)], attrs: { exponent: e!.data[0] } });
}

/** ONNX Gelu (opset 20): approximate 'none' (erf) or 'tanh'. */
function geluRule(c: OnnxContext): void {
  const approx = c.attrs.string('approximate', 'none');
  if (approx !== 'none' && approx !== 'tanh') c.fail(`approximate '${approx}' is not 'none' or 'tanh'`);
  c.emit({ op: approx === 'tanh' ? 'gelu_tanh' : 'gelu', inputs: [c.tensor(0)] });
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
    // ReLU6 and other clips gate the gradient like a ReLU: guided backprop treats them as gates.
    guided: true,
    onnx: { Clip: clipRule },
  }),
  leakyrelu: unary({
    params: { alpha: 0.01 },
    forward: { wgsl: 'select(T(p.alpha) * x, x, x > T(0.0))', ref: (x, p) => (x > 0 ? x : p.alpha * x) },
    backward: {
      from: 'x',
      wgsl: 'select(T(p.alpha) * dy, dy, x > T(0.0))',
      ref: (dy, x, p) => (x > 0 ? dy : p.alpha * dy),
    },
    guided: true,
    onnx: { LeakyRelu: onnxUnary('leakyrelu', { alpha: 0.01 }) },
  }),
  elu: unary({
    params: { alpha: 1 },
    forward: {
      wgsl: 'select(T(p.alpha) * (exp(x) - T(1.0)), x, x > T(0.0))',
      ref: (x, p) => (x > 0 ? x : p.alpha * Math.expm1(x)),
    },
    backward: {
      from: 'x',
      wgsl: 'select(T(p.alpha) * exp(x) * dy, dy, x > T(0.0))',
      ref: (dy, x, p) => (x > 0 ? dy : p.alpha * Math.exp(x) * dy),
    },
    guided: true,
    // exp(x) − 1 in float32 near 0: an absolute error of a few float32 ULP of 1.
    accuracy: { atol: 4e-7, rtol: 2e-6 },
    onnx: { Elu: onnxUnary('elu', { alpha: 1 }) },
  }),
  sigmoid: unary({
    forward: { wgsl: 'T(1.0) / (T(1.0) + exp(-x))', ref: sigmoid },
    backward: { from: 'y', wgsl: 'dy * y * (T(1.0) - y)', ref: (dy, y) => dy * y * (1 - y) },
    accuracy: BUILTIN,
    onnx: { Sigmoid: onnxUnary('sigmoid') },
  }),
  silu: unary({
    // x·σ(x) (Swish). ONNX has no SiLU operator: the importer fuses Mul(x, Sigmoid(x)) into this.
    forward: { wgsl: 'x / (T(1.0) + exp(-x))', ref: (x) => x * sigmoid(x) },
    backward: {
      from: 'x',
      wgsl: 'dy * (T(1.0) + x / (T(1.0) + exp(x))) / (T(1.0) + exp(-x))',
      ref: (dy, x) => dy * sigmoid(x) * (1 + x * (1 - sigmoid(x))),
    },
    guided: true,
    accuracy: BUILTIN,
  }),
  tanh: unary({
    forward: { wgsl: 'tanh(x)', ref: Math.tanh },
    backward: { from: 'y', wgsl: 'dy * (T(1.0) - y * y)', ref: (dy, y) => dy * (1 - y * y) },
    accuracy: BUILTIN,
    onnx: { Tanh: onnxUnary('tanh') },
  }),
  hardsigmoid: unary({
    params: { alpha: 0.2, beta: 0.5 },
    forward: {
      wgsl: 'clamp(T(p.alpha) * x + T(p.beta), T(0.0), T(1.0))',
      ref: (x, p) => Math.min(Math.max(p.alpha * x + p.beta, 0), 1),
    },
    backward: {
      from: 'x',
      wgsl: 'select(T(0.0), T(p.alpha) * dy, (T(p.alpha) * x + T(p.beta) > T(0.0)) & (T(p.alpha) * x + T(p.beta) < T(1.0)))',
      ref: (dy, x, p) => (p.alpha * x + p.beta > 0 && p.alpha * x + p.beta < 1 ? p.alpha * dy : 0),
    },
    onnx: { HardSigmoid: onnxUnary('hardsigmoid', { alpha: 0.2, beta: 0.5 }) },
  }),
  hardswish: unary({
    // ONNX HardSwish: x · max(0, min(1, x/6 + 1/2)).
    forward: {
      wgsl: 'x * clamp(x / T(6.0) + T(0.5), T(0.0), T(1.0))',
      ref: (x) => x * Math.min(Math.max(x / 6 + 0.5, 0), 1),
    },
    backward: {
      from: 'x',
      wgsl: 'select(select(dy * (x / T(3.0) + T(0.5)), dy, x >= T(3.0)), T(0.0), x <= T(-3.0))',
      ref: (dy, x) => (x <= -3 ? 0 : x >= 3 ? dy : dy * (x / 3 + 0.5)),
    },
    guided: true,
    onnx: { HardSwish: onnxUnary('hardswish') },
  }),
  erf: unary({
    forward: { wgsl: 'erf_t(x)', ref: erf },
    backward: {
      from: 'x',
      wgsl: 'dy * T(1.1283791671) * exp(-x * x)',
      ref: (dy, x) => (dy * 2 * Math.exp(-x * x)) / Math.sqrt(Math.PI),
    },
    includes: ['erf'],
    accuracy: { atol: 2e-7, rtol: 2e-6 },
    onnx: { Erf: onnxUnary('erf') },
  }),
  gelu: unary({
    // x·Φ(x) with Φ the standard normal CDF, 0.5·(1 + erf(x/√2)).
    forward: { wgsl: 'T(0.5) * x * (T(1.0) + erf_t(x * T(0.70710678)))', ref: (x) => 0.5 * x * (1 + erf(x / SQRT_2)) },
    backward: {
      from: 'x',
      wgsl: 'dy * (T(0.5) * (T(1.0) + erf_t(x * T(0.70710678))) + x * T(0.39894228) * exp(T(-0.5) * x * x))',
      ref: (dy, x) => dy * (0.5 * (1 + erf(x / SQRT_2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x)),
    },
    guided: true,
    includes: ['erf'],
    accuracy: { atol: 1e-6, rtol: 2e-6 },
    onnx: { Gelu: geluRule },
  }),
  gelu_tanh: unary({
    // 0.5·x·(1 + tanh u), u = √(2/π)·(x + 0.044715·x³), written with s = σ(2u) = (1 + tanh u)/2
    // and s̄ = σ(−2u) = 1 − s so that neither 1 + tanh u nor 1 − tanh²u cancels in float32:
    // y = x·s, dy/dx = s + 2·x·s·s̄·√(2/π)·(1 + 3·0.044715·x²).
    forward: {
      wgsl: 'x / (T(1.0) + exp(T(-1.5957691216) * (x + T(0.044715) * x * x * x)))',
      ref: geluTanh,
    },
    backward: {
      from: 'x',
      wgsl:
        'dy * (T(1.0) / (T(1.0) + exp(T(-1.5957691216) * (x + T(0.044715) * x * x * x)))) * ' +
        '(T(1.0) + T(1.5957691216) * x * (T(1.0) + T(0.134145) * x * x) / ' +
        '(T(1.0) + exp(T(1.5957691216) * (x + T(0.044715) * x * x * x))))',
      ref: (dy, x) => dy * geluTanhGrad(x),
    },
    guided: true,
    accuracy: BUILTIN,
  }),
  sqrt: unary({
    forward: { wgsl: 'sqrt(x)', ref: Math.sqrt },
    backward: { from: 'y', wgsl: 'dy * T(0.5) / y', ref: (dy, y) => (dy * 0.5) / y },
    onnx: { Sqrt: onnxUnary('sqrt') },
  }),
  neg: unary({
    forward: { wgsl: '-x', ref: (x) => -x },
    backward: { from: 'x', wgsl: '-dy', ref: (dy) => -dy },
    onnx: { Neg: onnxUnary('neg') },
  }),
  pow: unary({
    // x^e for a constant e; a negative x with an integer e keeps its sign rule (WGSL's pow alone is
    // undefined for x < 0), e = 2 is x·x exactly.
    params: { exponent: 2 },
    forward: {
      wgsl:
        'select(select(pow(abs(x), T(p.exponent)), -pow(abs(x), T(p.exponent)), (x < T(0.0)) & (T(abs(p.exponent) % 2.0) == T(1.0))), ' +
        'x * x, p.exponent == 2.0)',
      ref: (x, p) => Math.pow(x, p.exponent),
    },
    backward: {
      from: 'x',
      wgsl:
        'select(dy * T(p.exponent) * select(pow(abs(x), T(p.exponent - 1.0)), -pow(abs(x), T(p.exponent - 1.0)), ' +
        '(x < T(0.0)) & (T(abs(p.exponent - 1.0) % 2.0) == T(1.0))), dy * T(2.0) * x, p.exponent == 2.0)',
      ref: (dy, x, p) => dy * p.exponent * Math.pow(x, p.exponent - 1),
    },
    accuracy: BUILTIN,
    onnx: { Pow: powRule },
  }),
} as const;

export const BINARY = {
  add: binary({
    forward: { wgsl: 'a + b', ref: (a, b) => a + b },
    backward: { a: PASS, b: PASS },
    onnx: { Add: addRule },
  }),
  sub: binary({
    forward: { wgsl: 'a - b', ref: (a, b) => a - b },
    backward: { a: PASS, b: { wgsl: '-dy', ref: (dy) => -dy, reads: false } },
    onnx: { Sub: onnxBinary('sub') },
  }),
  mul: binary({
    forward: { wgsl: 'a * b', ref: (a, b) => a * b },
    backward: { a: { wgsl: 'dy * b', ref: (dy, _a, b) => dy * b }, b: { wgsl: 'dy * a', ref: (dy, a) => dy * a } },
    onnx: { Mul: mulRule },
  }),
  div: binary({
    forward: { wgsl: 'a / b', ref: (a, b) => a / b },
    backward: {
      a: { wgsl: 'dy / b', ref: (dy, _a, b) => dy / b },
      b: { wgsl: '-dy * a / (b * b)', ref: (dy, a, b) => (-dy * a) / (b * b) },
    },
    onnx: { Div: onnxBinary('div') },
  }),
  // PRelu: y = a where a > 0, else b·a (b the slope, usually a per-channel constant).
  prelu: binary({
    forward: { wgsl: 'select(b * a, a, a > T(0.0))', ref: (a, b) => (a > 0 ? a : b * a) },
    backward: {
      a: { wgsl: 'select(b * dy, dy, a > 0.0)', ref: (dy, a, b) => (a > 0 ? dy : b * dy) },
      b: { wgsl: 'select(a * dy, 0.0, a > 0.0)', ref: (dy, a) => (a > 0 ? 0 : a * dy) },
    },
    onnx: { PRelu: onnxBinary('prelu') },
  }),
} as const;

export type UnaryType = keyof typeof UNARY;
export type BinaryType = keyof typeof BINARY;
