/**
 * ONNX graph → GraphSpec, node by node (ONNX stores nodes in topological order).
 *
 * Each supported ONNX operator becomes one GraphSpec node, keeping the ONNX tensor names, except:
 * - BatchNormalization is folded into the conv (or Gemm/MatMul) that produces its input when
 *   that tensor has no other reader: w' = w·γ/√(σ²+ε), b' = (b − μ)·γ/√(σ²+ε) + β, and the
 *   conv then produces the BatchNormalization's output tensor. Otherwise it becomes a per-channel
 *   affine map: a depthwise 1×1 conv for [N, C, H, W], a diagonal linear layer for [N, C].
 * - An Add of a constant to the output of a conv or linear layer (read by nothing else) becomes
 *   that layer's bias; MatMul with a constant right-hand side is a linear layer.
 * - Gemm is a linear layer: B (transB = 1: [M, K]; transB = 0: [K, M], transposed here) scaled
 *   by alpha, C (scalar, [M] or [1, M]) by beta; transA must be 0.
 * - Clip(0, +∞) is a ReLU (fusable into the conv before it, subject to guided backprop); any
 *   other range is a 'clip' node (ReLU6 included).
 * - Constant nodes, Identity/Dropout of constants and Reshape of constants are evaluated here;
 *   Identity and Dropout (inference) of a computed tensor are 'identity' nodes.
 * - Reshape's dim 0 is the batch: the target shape's first entry must be 0 (copy), 1 (a model
 *   exported with batch 1) or -1 with the other dims giving one image's size.
 * Anything else throws UnsupportedOperatorError (operator type, node, the supported list) or
 * ModelFormatError (naming the node and the attribute or input it cannot handle).
 */
import { ModelFormatError, UnsupportedOperatorError } from '../core/errors';
import { Graph } from './graph';
import type { GraphSpec, NodeSpec, WeightSpec } from './spec';
import {
  affineConv,
  affineLinear,
  batchNormAffine,
  foldAffine,
  samePads,
  scaledWeight,
  transposedWeight,
} from './onnx_weights';
import { sizeOf } from '../core/shape';
import { Attrs, dataTypeName, DataType, tensorValues, type OnnxGraph, type OnnxNode } from './onnx_proto';

/** ONNX operators the importer converts (default domain). */
export const ONNX_OPS: readonly string[] = [
  'Add',
  'AveragePool',
  'BatchNormalization',
  'Clip',
  'Concat',
  'Constant',
  'Conv',
  'Dropout',
  'Flatten',
  'Gemm',
  'GlobalAveragePool',
  'Identity',
  'MatMul',
  'MaxPool',
  'Relu',
  'Reshape',
  'Softmax',
];

interface Const {
  dims: number[];
  data: Float32Array | Float64Array;
  /** false: integer values (shapes, axes) */
  float: boolean;
}

export interface ConvertOptions {
  /** Version of the default operator set (some defaults changed between versions). */
  opset: number;
  /** [H, W] for a model whose input height and width are dynamic. */
  inputSize?: [number, number] | null;
}

const F32_MAX = 3.4028234663852886e38;

export function convertGraph(g: OnnxGraph, opts: ConvertOptions): GraphSpec {
  return new Converter(g, opts).run();
}

class Converter {
  readonly #consts = new Map<string, Const>();
  readonly #nodes: NodeSpec[] = [];
  /** The spec node producing each computed tensor. */
  readonly #producer = new Map<string, NodeSpec>();
  /** How many ONNX nodes (and graph outputs) read each tensor. */
  readonly #uses = new Map<string, number>();
  readonly #names = new Set<string>();
  #shapes = new Map<string, number[]>();
  readonly #input: GraphSpec['input'];
  readonly #output: string;

  constructor(
    private readonly g: OnnxGraph,
    private readonly opts: ConvertOptions,
  ) {
    for (const t of g.initializer) {
      const v = tensorValues(t);
      this.#consts.set(t.name ?? '', v);
    }
    for (const n of g.node) for (const i of n.input) if (i) this.#uses.set(i, (this.#uses.get(i) ?? 0) + 1);
    if (g.output.length !== 1) {
      throw new ModelFormatError(
        `the graph has ${g.output.length} outputs (${g.output.map((o) => `'${o.name ?? ''}'`).join(', ')}); ` +
          'webgpu-cam needs exactly one: the class scores',
      );
    }
    this.#output = g.output[0].name ?? '';
    this.#uses.set(this.#output, (this.#uses.get(this.#output) ?? 0) + 1);
    this.#input = this.#graphInput();
  }

  run(): GraphSpec {
    this.g.node.forEach((n, i) => this.#convert(n, i));
    if (this.#consts.has(this.#output)) {
      throw new ModelFormatError(`the graph output '${this.#output}' is a constant, not computed from the input`);
    }
    if (!this.#producer.has(this.#output)) {
      throw new ModelFormatError(`the graph output '${this.#output}' is not produced by any node`);
    }
    const spec: GraphSpec = { input: this.#input, output: this.#output, nodes: this.#nodes };
    if (this.g.name) spec.name = this.g.name;
    return spec;
  }

  /** The one graph input that is not an initializer: [N, C, H, W] with N dynamic or 1. */
  #graphInput(): GraphSpec['input'] {
    const inputs = this.g.input.filter((v) => !this.#consts.has(v.name ?? ''));
    if (inputs.length !== 1) {
      throw new ModelFormatError(
        `the graph has ${inputs.length} inputs besides its initializers (${inputs.map((v) => `'${v.name ?? ''}'`).join(', ')}); ` +
          'webgpu-cam needs exactly one: the image batch [N, C, H, W]',
      );
    }
    const v = inputs[0];
    const name = v.name ?? '';
    const tt = v.type?.tensor_type;
    if (tt?.elem_type !== undefined && tt.elem_type !== DataType.FLOAT) {
      throw new ModelFormatError(`input '${name}' has element type ${dataTypeName(tt.elem_type)}; FLOAT is needed`);
    }
    const dims = tt?.shape?.dim ?? [];
    if (dims.length !== 4) {
      throw new ModelFormatError(
        `input '${name}' must be 4-D [N, C, H, W], but its shape has ${dims.length} dims` +
          (tt?.shape ? '' : ' (the model gives no shape)'),
      );
    }
    const fixed = dims.map((d) => (d.dim_value !== undefined && d.dim_value > 0 ? Number(d.dim_value) : null));
    if (fixed[0] !== null && fixed[0] !== 1) {
      throw new ModelFormatError(
        `input '${name}' has a fixed batch of ${fixed[0]}; export with batch 1 or a dynamic batch`,
      );
    }
    if (fixed[1] === null) throw new ModelFormatError(`input '${name}' has a dynamic channel count`);
    let [h, w] = [fixed[2], fixed[3]];
    const size = this.opts.inputSize;
    if (size && ((h !== null && h !== size[0]) || (w !== null && w !== size[1]))) {
      throw new ModelFormatError(
        `input '${name}' is ${h ?? '?'}×${w ?? '?'}, but inputSize (sidecar or metadata) is ${size[0]}×${size[1]}`,
      );
    }
    if (h === null || w === null) {
      if (!size) {
        throw new ModelFormatError(
          `input '${name}' has a dynamic height or width; give inputSize [H, W] in the sidecar or the metadata`,
        );
      }
      [h, w] = size;
    }
    return { name, shape: [fixed[1], h, w] };
  }

  // ---- helpers ---------------------------------------------------------------------------

  #name(n: OnnxNode, i: number): string {
    const base = n.name || `${n.op_type ?? 'node'}_${i}`;
    let name = base;
    for (let k = 1; this.#names.has(name); k++) name = `${base}_${k}`;
    this.#names.add(name);
    return name;
  }

  #emit(spec: NodeSpec): void {
    this.#nodes.push(spec);
    this.#producer.set(spec.output, spec);
  }

  /** Shape of a computed tensor for batch 1, from the graph built so far. */
  #shapeOf(name: string): number[] {
    if (!this.#shapes.has(name)) {
      if (name === this.#input.name) return [1, ...this.#input.shape];
      const nodes = this.#nodes.map((n) => ({ ...n }));
      this.#shapes = new Graph({ input: this.#input, output: name, nodes }).shapes;
    }
    return this.#shapes.get(name)!;
  }

  #float32(c: Const): Float32Array {
    return Float32Array.from(c.data);
  }

  /** The single output tensor of a node, checking that other outputs (masks, indices) go unused. */
  #output1(n: OnnxNode, fail: (m: string) => never): string {
    n.output.slice(1).forEach((o) => {
      if (o && (this.#uses.get(o) ?? 0) > 0) fail(`its output '${o}' is used; only the first output is supported`);
    });
    return n.output[0];
  }

  #convert(n: OnnxNode, i: number): void {
    const op = n.op_type ?? '';
    const name = this.#name(n, i);
    const fail = (m: string): never => {
      throw new ModelFormatError(`node '${name}' (${op}): ${m}`);
    };
    if (n.domain && n.domain !== 'ai.onnx') throw new UnsupportedOperatorError(`${n.domain}.${op}`, name, ONNX_OPS);
    if (!ONNX_OPS.includes(op)) throw new UnsupportedOperatorError(op, name, ONNX_OPS);
    if (!n.output[0]) fail('it has no output');
    const out = this.#output1(n, fail);
    const a = new Attrs(n);

    const constIn = (j: number, what: string): Const => {
      const c = this.#consts.get(n.input[j] ?? '');
      if (!c)
        fail(`input ${j} ('${n.input[j] ?? ''}', the ${what}) must be a constant (an initializer or a Constant node)`);
      return c!;
    };
    const floatIn = (j: number, what: string): Const => {
      const c = constIn(j, what);
      if (!c.float) fail(`the ${what} '${n.input[j]}' is an integer tensor; a float tensor is needed`);
      return c;
    };
    const tensorIn = (j: number): string => {
      const t = n.input[j] ?? '';
      if (this.#consts.has(t)) fail(`input ${j} ('${t}') is a constant; this operator needs a computed tensor there`);
      if (t !== this.#input.name && !this.#producer.has(t)) {
        fail(`reads tensor '${t}', which no earlier node produces (ONNX nodes must be in topological order)`);
      }
      return t;
    };
    const emit = (spec: Omit<NodeSpec, 'name' | 'output'>) => this.#emit({ ...spec, name, output: out } as NodeSpec);
    const alias = (c: Const): void => void this.#consts.set(out, c);

    switch (op) {
      case 'Constant':
        return alias(this.#constantNode(a, fail));
      case 'Identity':
      case 'Dropout': {
        const c = this.#consts.get(n.input[0]);
        if (c) return alias(c);
        return emit({ op: 'identity', inputs: [tensorIn(0)] });
      }
      case 'Relu':
        return emit({ op: 'relu', inputs: [tensorIn(0)] });
      case 'Clip':
        return this.#clip(n, a, emit, tensorIn(0), constIn, fail);
      case 'Conv': {
        const x = tensorIn(0);
        const w = floatIn(1, 'weight');
        if (w.dims.length !== 4)
          fail(`only 2-D convolutions are supported (a 4-D weight), got weight dims [${w.dims}]`);
        const k: [number, number] = [w.dims[2], w.dims[3]];
        const ks = a.ints('kernel_shape');
        if (ks && (ks.length !== 2 || ks[0] !== k[0] || ks[1] !== k[1])) {
          fail(`kernel_shape [${ks}] does not match the weight's dims [${w.dims}]`);
        }
        const stride = this.#pair(a.ints('strides'), 'strides', fail);
        const dilation = this.#pair(a.ints('dilations'), 'dilations', fail);
        const weights: Record<string, WeightSpec> = { weight: { shape: w.dims, data: this.#float32(w) } };
        if (n.input[2]) {
          const b = floatIn(2, 'bias');
          weights.bias = { shape: [b.data.length], data: this.#float32(b) };
        }
        const pads = this.#pads(a, x, k, stride, dilation, fail);
        return emit({
          op: 'conv2d',
          inputs: [x],
          attrs: { stride, pads, dilation, groups: a.int('group', 1) },
          weights,
        });
      }
      case 'BatchNormalization':
        return this.#batchNorm(n, a, name, out, tensorIn(0), floatIn, fail);
      case 'MaxPool':
      case 'AveragePool': {
        const x = tensorIn(0);
        const kernel = a.ints('kernel_shape');
        if (!kernel || kernel.length !== 2)
          fail(`kernel_shape must have 2 entries (2-D pooling), got [${kernel ?? ''}]`);
        const k: [number, number] = [kernel![0], kernel![1]];
        const dil = a.ints('dilations');
        if (dil && dil.some((d) => d !== 1)) fail(`dilations [${dil}] are not supported (only 1)`);
        const stride = this.#pair(a.ints('strides'), 'strides', fail);
        const attrs: Record<string, unknown> = {
          kernel: k,
          stride,
          pads: this.#pads(a, x, k, stride, [1, 1], fail),
          ceilMode: a.int('ceil_mode', 0) === 1,
        };
        if (op === 'AveragePool') attrs.countIncludePad = a.int('count_include_pad', 0) === 1;
        return emit({ op: op === 'MaxPool' ? 'maxpool2d' : 'avgpool2d', inputs: [x], attrs });
      }
      case 'GlobalAveragePool':
        return emit({ op: 'globalavgpool', inputs: [tensorIn(0)] });
      case 'Add': {
        const [p, q] = n.input;
        const cp = this.#consts.get(p);
        const cq = this.#consts.get(q);
        if (!cp && !cq) return emit({ op: 'add', inputs: [tensorIn(0), tensorIn(1)] });
        if (cp && cq) fail('both inputs are constants (constant folding is not supported)');
        return this.#biasAdd(cp ? tensorIn(1) : tensorIn(0), (cp ?? cq)!, out, fail);
      }
      case 'Concat': {
        const inputs = n.input.map((_, j) => tensorIn(j));
        const rank = this.#shapeOf(inputs[0]).length;
        const axis = this.#axis(a.int('axis', NaN), rank, fail);
        if (axis === 0) fail('concatenation along the batch axis is not supported');
        return emit({ op: 'concat', inputs, attrs: { axis } });
      }
      case 'Flatten': {
        const x = tensorIn(0);
        const axis = this.#axis(a.int('axis', 1), this.#shapeOf(x).length, fail);
        if (axis !== 1) fail(`only axis 1 is supported (keep the batch, flatten the rest), got ${axis}`);
        return emit({ op: 'flatten', inputs: [x], attrs: { axis: 1 } });
      }
      case 'Reshape':
        return this.#reshape(n, a, out, emit, tensorIn, constIn, fail);
      case 'Gemm': {
        if (a.int('transA', 0) !== 0) fail('transA = 1 is not supported');
        const x = tensorIn(0);
        const b = floatIn(1, 'weight B');
        if (b.dims.length !== 2) fail(`B must be 2-D, got dims [${b.dims}]`);
        const transB = a.int('transB', 0) === 1;
        const alpha = a.float('alpha', 1);
        const weight = transB ? scaledWeight(b.data, b.dims, alpha) : transposedWeight(b.data, b.dims, alpha);
        const m = weight.shape[0];
        const weights: Record<string, WeightSpec> = { weight };
        if (n.input[2]) {
          const c = floatIn(2, 'bias C');
          if (!(c.data.length === 1 || (c.data.length === m && c.dims[c.dims.length - 1] === m))) {
            fail(`C must be a scalar, [${m}] or [1, ${m}], got dims [${c.dims}]`);
          }
          const beta = a.float('beta', 1);
          const bias = new Float32Array(m);
          for (let o = 0; o < m; o++) bias[o] = beta * c.data[c.data.length === 1 ? 0 : o];
          weights.bias = { shape: [m], data: bias };
        }
        return emit({ op: 'linear', inputs: [x], weights });
      }
      case 'MatMul': {
        const x = tensorIn(0);
        const b = floatIn(1, 'weight');
        if (b.dims.length !== 2) fail(`the weight must be 2-D [K, M], got dims [${b.dims}]`);
        return emit({ op: 'linear', inputs: [x], weights: { weight: transposedWeight(b.data, b.dims, 1) } });
      }
      case 'Softmax': {
        const x = tensorIn(0);
        const rank = this.#shapeOf(x).length;
        const axis = this.#axis(a.int('axis', this.opts.opset >= 13 ? -1 : 1), rank, fail);
        if (rank !== 2 || axis !== 1) fail(`only a softmax over the classes of [N, K] scores is supported`);
        return emit({ op: 'softmax', inputs: [x] });
      }
    }
  }

  // ---- operators with more to them -------------------------------------------------------

  #constantNode(a: Attrs, fail: (m: string) => never): Const {
    const t = a.tensor('value');
    if (t) return tensorValues(t);
    if (a.has('value_float')) return { dims: [], data: Float32Array.of(a.float('value_float', 0)), float: true };
    if (a.has('value_int')) return { dims: [], data: Float64Array.of(a.int('value_int', 0)), float: false };
    const ints = a.ints('value_ints');
    if (ints) return { dims: [ints.length], data: Float64Array.from(ints), float: false };
    return fail('only value, value_float, value_int and value_ints constants are supported');
  }

  #clip(
    n: OnnxNode,
    a: Attrs,
    emit: (s: Omit<NodeSpec, 'name' | 'output'>) => void,
    x: string,
    constIn: (j: number, what: string) => Const,
    fail: (m: string) => never,
  ): void {
    let lo = -Infinity;
    let hi = Infinity;
    if (this.opts.opset < 11) {
      lo = a.float('min', -Infinity);
      hi = a.float('max', Infinity);
    } else {
      const scalar = (j: number, what: string) => {
        const c = constIn(j, what);
        if (c.data.length !== 1) fail(`${what} must be a scalar, got dims [${c.dims}]`);
        return c.data[0];
      };
      if (n.input[1]) lo = scalar(1, 'min');
      if (n.input[2]) hi = scalar(2, 'max');
    }
    if (lo <= -F32_MAX) lo = -Infinity;
    if (hi >= F32_MAX) hi = Infinity;
    if (!(lo <= hi)) fail(`min ${lo} > max ${hi}`);
    if (lo === 0 && hi === Infinity) return emit({ op: 'relu', inputs: [x] });
    const attrs: Record<string, number> = {};
    if (lo > -Infinity) attrs.min = lo;
    if (hi < Infinity) attrs.max = hi;
    emit({ op: 'clip', inputs: [x], attrs });
  }

  /** Folds into the producing conv/linear when possible, else a per-channel affine node. */
  #batchNorm(
    n: OnnxNode,
    a: Attrs,
    name: string,
    out: string,
    x: string,
    floatIn: (j: number, what: string) => Const,
    fail: (m: string) => never,
  ): void {
    if (a.int('training_mode', 0) !== 0) fail('training_mode = 1 is not supported (export the model in eval mode)');
    const [gamma, beta, mean, variance] = ['scale', 'B', 'mean', 'var'].map((w, j) => floatIn(j + 1, w));
    const c = gamma.data.length;
    if ([beta, mean, variance].some((t) => t.data.length !== c)) fail('scale, B, mean and var differ in length');
    const affine = batchNormAffine(gamma.data, beta.data, mean.data, variance.data, a.float('epsilon', 1e-5));
    const prev = this.#producer.get(x);
    if (prev && (prev.op === 'conv2d' || prev.op === 'linear') && this.#uses.get(x) === 1 && x !== this.#output) {
      const w = prev.weights!.weight;
      if (w.shape[0] !== c) fail(`${c} channels, but '${prev.name}' produces ${w.shape[0]}`);
      prev.weights = foldAffine(w, prev.weights!.bias, affine);
      this.#rename(prev, out);
      return;
    }
    const rank = this.#shapeOf(x).length;
    if (rank === 4) {
      this.#emit({ op: 'conv2d', name, inputs: [x], output: out, attrs: { groups: c }, weights: affineConv(affine) });
    } else if (rank === 2) {
      this.#emit({ op: 'linear', name, inputs: [x], output: out, weights: affineLinear(affine) });
    } else {
      fail(`a ${rank}-D input is not supported (4-D or 2-D)`);
    }
  }

  /** x + c where x is a conv's or linear layer's output and c holds one value per channel. */
  #biasAdd(x: string, c: Const, out: string, fail: (m: string) => never): void {
    const prev = this.#producer.get(x);
    const foldable = prev && (prev.op === 'conv2d' || prev.op === 'linear') && this.#uses.get(x) === 1;
    if (!foldable || x === this.#output) {
      fail(
        `adds a constant to '${x}', which is not the output of a conv or linear layer read only here; ` +
          'only such bias additions are supported',
      );
    }
    const w = prev!.weights!.weight;
    const m = w.shape[0];
    const rank = prev!.op === 'conv2d' ? 4 : 2;
    const dims = [...Array(Math.max(0, rank - c.dims.length)).fill(1), ...c.dims];
    const perChannel = dims.length === rank && dims.every((d, k) => d === 1 || (k === 1 && d === m));
    if (!perChannel || !c.float)
      fail(`the constant [${c.dims}] is not one value per channel of '${x}' (${m} channels)`);
    const b0 = prev!.weights!.bias?.data;
    const bias = new Float32Array(m);
    for (let o = 0; o < m; o++) bias[o] = (b0 ? b0[o] : 0) + c.data[c.data.length === 1 ? 0 : o];
    prev!.weights = { ...prev!.weights, bias: { shape: [m], data: bias } };
    this.#rename(prev!, out);
  }

  #rename(node: NodeSpec, out: string): void {
    this.#producer.delete(node.output);
    node.output = out;
    this.#producer.set(out, node);
  }

  #reshape(
    n: OnnxNode,
    a: Attrs,
    out: string,
    emit: (s: Omit<NodeSpec, 'name' | 'output'>) => void,
    tensorIn: (j: number) => string,
    constIn: (j: number, what: string) => Const,
    fail: (m: string) => never,
  ): void {
    let target: number[];
    if (this.opts.opset < 5) target = a.ints('shape') ?? fail('no shape attribute');
    else {
      const c = constIn(1, 'target shape');
      if (c.float || c.dims.length !== 1) fail(`the target shape must be a 1-D integer tensor, got dims [${c.dims}]`);
      target = [...c.data];
    }
    const allowzero = a.int('allowzero', 0) === 1;
    if (allowzero && target.includes(0)) fail('allowzero = 1 with a 0 in the target shape is not supported');
    if (target.filter((d) => d === -1).length > 1 || target.some((d) => d < -1))
      fail(`invalid target shape [${target}]`);
    const src = this.#consts.get(n.input[0]);
    if (src) {
      // A constant reshaped (e.g. a weight): resolve 0 and -1 against the constant's dims.
      const dims = target.map((d, k) => (d === 0 ? src.dims[k] : d));
      const known = sizeOf(dims.filter((d) => d !== -1));
      const full = dims.map((d) => (d === -1 ? src.data.length / known : d));
      if (sizeOf(full) !== src.data.length || full.some((d) => !Number.isInteger(d))) {
        fail(`cannot reshape a constant of dims [${src.dims}] to [${target}]`);
      }
      this.#consts.set(out, { ...src, dims: full });
      return;
    }
    const x = tensorIn(0);
    const shape = this.#shapeOf(x);
    const dims = target.map((d, k) => (d === 0 ? shape[k] : d));
    const rest = dims.slice(1);
    if (dims[0] === -1) {
      if (sizeOf(rest) !== sizeOf(shape.slice(1)) || rest.includes(-1)) {
        fail(`target shape [${target}] does not keep dim 0 as the batch for input [N, ${shape.slice(1)}]`);
      }
    } else if (dims[0] !== 1) {
      fail(`target shape [${target}]: dim 0 must be the batch (0, 1 or -1)`);
    }
    emit({ op: 'reshape', inputs: [x], attrs: { shape: rest } });
  }

  // ---- attribute helpers -----------------------------------------------------------------

  #pair(v: number[] | null, what: string, fail: (m: string) => never): [number, number] {
    if (!v) return [1, 1];
    if (v.length !== 2) fail(`${what} must have 2 entries, got [${v}]`);
    return [v[0], v[1]];
  }

  #axis(axis: number, rank: number, fail: (m: string) => never): number {
    if (!Number.isInteger(axis)) fail('the axis attribute is missing');
    const ax = axis < 0 ? axis + rank : axis;
    if (ax < 0 || ax >= rank) fail(`axis ${axis} is out of range for a ${rank}-D input`);
    return ax;
  }

  /** [top, left, bottom, right] from pads or auto_pad (SAME_UPPER: the extra cell at the end). */
  #pads(
    a: Attrs,
    x: string,
    k: [number, number],
    stride: [number, number],
    dilation: [number, number],
    fail: (m: string) => never,
  ): [number, number, number, number] {
    const mode = a.string('auto_pad', 'NOTSET');
    if (mode === 'NOTSET') {
      const p = a.ints('pads');
      if (!p) return [0, 0, 0, 0];
      if (p.length !== 4) fail(`pads must have 4 entries, got [${p}]`);
      return [p[0], p[1], p[2], p[3]];
    }
    if (mode === 'VALID') return [0, 0, 0, 0];
    if (mode !== 'SAME_UPPER' && mode !== 'SAME_LOWER') fail(`auto_pad '${mode}' is not supported`);
    const shape = this.#shapeOf(x);
    return samePads(mode, [shape[2], shape[3]], k, stride, dilation);
  }
}
