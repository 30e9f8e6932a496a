/**
 * ONNX graph → GraphSpec, node by node (ONNX stores nodes in topological order). Pure: no GPU.
 *
 * Each ONNX operator has one rule. Most live with the op they convert to (the `onnx` field of
 * its definition in src/defs/: Conv, MaxPool, Relu, Clip, Add, Gemm, MatMul, Reshape, …); the
 * rules that are about the file format rather than an op live here:
 * - Constant nodes are evaluated; rules may fold constants (Reshape of a constant, Identity of
 *   one) and turn a constant operand into weights (an Add of a per-channel constant to a conv or
 *   linear output becomes its bias).
 * - BatchNormalization is folded into the conv (or linear layer) that produces its input when
 *   that tensor has no other reader: w' = w·γ/√(σ²+ε), b' = (b − μ)·γ/√(σ²+ε) + β, and the
 *   conv then produces the BatchNormalization's output tensor (and lists its name in `folded`,
 *   as a bias Add folded into a layer is listed). Otherwise it becomes a per-channel
 *   affine map: a depthwise 1×1 conv for [N, C, H, W], a diagonal linear layer for [N, C].
 * Tensors keep their ONNX names. Anything else throws UnsupportedOperatorError (operator type,
 * node, the supported list) or ModelFormatError (naming the node and the attribute or input
 * it cannot handle).
 */
import {
  InvalidInputError,
  ModelFormatError,
  UnsupportedOperatorError,
  type UnsupportedOperator,
} from '../core/errors';
import { isOpType, onnxRules, opDef } from '../defs/index';
import { dependsOnBatch, type EmittedNode, type OnnxConst, type OnnxContext } from '../defs/op';
import { COMPOSITE_RULES } from './onnx_compose';
import { FOLD_RULES } from './onnx_fold';
import { fuseNodes } from './onnx_fuse';
import { affineConv, affineLinear, batchNormAffine, foldAffine, samePads } from './onnx_weights';
import { Attrs, dataTypeName, DataType, tensorValues, type OnnxGraph, type OnnxNode } from './onnx_proto';
import type { GraphSpec, NodeSpec } from './spec';

export interface ConvertOptions {
  /** Version of the default operator set (some defaults changed between versions). */
  opset: number;
  /** [H, W] for a model whose input height and width are dynamic. */
  inputSize?: [number, number] | null;
}

/** What a rule sees here: the context, plus the node's name and output for the format's rules. */
type RuleContext = OnnxContext & { readonly name: string; readonly out: string; readonly attrs: Attrs };

/** The rules that belong to the format, not to an op: evaluated constants, folded batch norms. */
const FORMAT_RULES = ['Constant', 'BatchNormalization'] as const;

const OP_RULES = onnxRules();
for (const [name, rule] of Object.entries({ ...FOLD_RULES, ...COMPOSITE_RULES })) {
  if (OP_RULES.has(name)) throw new Error(`ONNX operator '${name}' has an op rule and a fold or composite rule`);
  OP_RULES.set(name, rule);
}
for (const name of FORMAT_RULES) {
  if (OP_RULES.has(name)) throw new Error(`ONNX operator '${name}' has an op rule and a format rule`);
}

/** ONNX operators the importer converts (default domain), sorted. */
export const ONNX_OPS: readonly string[] = [...OP_RULES.keys(), ...FORMAT_RULES].sort();

export function convertGraph(g: OnnxGraph, opts: ConvertOptions): GraphSpec {
  return new Converter(g, opts).run();
}

class Converter {
  readonly #consts = new Map<string, OnnxConst>();
  readonly #nodes: NodeSpec[] = [];
  /** The spec node producing each computed tensor. */
  readonly #producer = new Map<string, NodeSpec>();
  /** How many ONNX nodes (and graph outputs) read each tensor. */
  readonly #uses = new Map<string, number>();
  readonly #names = new Set<string>();
  /** Every tensor name of the ONNX graph, and those made here. */
  readonly #tensors = new Set<string>();
  /** The constant node made for each (constant, rank). */
  readonly #constNodes = new Map<string, string>();
  readonly #shapes = new Map<string, number[]>();
  readonly #input: GraphSpec['input'];
  readonly #output: string;
  /** The graph's nodes after the rewrites of onnx_fuse.ts. */
  readonly #onnxNodes: OnnxNode[];

  constructor(
    private readonly g: OnnxGraph,
    private readonly opts: ConvertOptions,
  ) {
    for (const t of g.initializer) this.#consts.set(t.name ?? '', tensorValues(t));
    this.#onnxNodes = fuseNodes(g);
    for (const n of this.#onnxNodes) for (const i of n.input) if (i) this.#uses.set(i, (this.#uses.get(i) ?? 0) + 1);
    for (const n of g.node) for (const t of [...n.input, ...n.output]) this.#tensors.add(t);
    for (const v of [...g.input, ...g.output]) this.#tensors.add(v.name ?? '');
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
    this.#checkOperators();
    this.#onnxNodes.forEach((n, i) => this.#convert(n, i));
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
    return this.#uniqueName(n.name || `${n.op_type ?? 'node'}_${i}`);
  }

  /** A tensor name no ONNX tensor and no earlier one has. */
  #uniqueTensor(base: string): string {
    let name = base;
    for (let k = 1; this.#tensors.has(name); k++) name = `${base}_${k}`;
    this.#tensors.add(name);
    return name;
  }

  #uniqueName(base: string): string {
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
    const known = this.#shapes.get(name);
    if (known) return known;
    if (name === this.#input.name) return [1, ...this.#input.shape];
    const node = this.#producer.get(name);
    if (!node) throw new Error(`unreachable: the shape of '${name}', which no node produces`);
    // From the node's op definition, as Graph computes it (one node at a time: building a Graph
    // of everything so far for each new tensor was quadratic in the model's size).
    const def = opDef(node.op);
    let shape: number[];
    try {
      const weights = Object.fromEntries(Object.entries(node.weights ?? {}).map(([k, w]) => [k, w.shape]));
      shape = def.shape(
        node.inputs.map((i) => this.#shapeOf(i)),
        def.params(node.attrs ?? {}),
        weights,
      );
    } catch (e) {
      const where = `node '${node.name}' (${node.op})`;
      if (!(e instanceof InvalidInputError) || e.message.startsWith(where)) throw e;
      const Err = e.constructor as new (message: string) => InvalidInputError;
      throw new Err(`${where}: ${e.message}`);
    }
    this.#shapes.set(name, shape);
    return shape;
  }

  /** `node` absorbs the ONNX node `by` and produces its output `out`. */
  #rename(node: NodeSpec, out: string, by: string): void {
    this.#producer.delete(node.output);
    node.output = out;
    (node.folded ??= []).push(by);
    this.#producer.set(out, node);
  }

  /** The spec node producing `x` when it is a conv or linear layer read only by this node. */
  #foldTarget(x: string): NodeSpec | null {
    const prev = this.#producer.get(x);
    const ok = prev && (prev.op === 'conv2d' || prev.op === 'linear') && this.#uses.get(x) === 1 && x !== this.#output;
    return ok ? prev! : null;
  }

  /** Every operator without a rule, at once: its type, how many nodes use it, the first one. */
  #checkOperators(): void {
    const missing = new Map<string, { -readonly [K in keyof UnsupportedOperator]: UnsupportedOperator[K] }>();
    this.#onnxNodes.forEach((n, i) => {
      const op = n.op_type ?? '';
      const type = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${op}` : op;
      if (type === op && (OP_RULES.has(op) || this.#formatRule(op))) return;
      const m = missing.get(type);
      if (m) m.count++;
      else missing.set(type, { opType: type, count: 1, firstNode: n.name || `${op || 'node'}_${i}` });
    });
    if (missing.size) throw new UnsupportedOperatorError([...missing.values()], ONNX_OPS);
  }

  #convert(n: OnnxNode, i: number): void {
    const op = n.op_type ?? '';
    const name = this.#name(n, i);
    const rule = (OP_RULES.get(op) ?? this.#formatRule(op))!;
    const fail = (m: string): never => {
      throw new ModelFormatError(`node '${name}' (${op}): ${m}`);
    };
    if (!n.output[0]) fail('it has no output');
    rule(this.#context(n, name, fail));
    n.output.slice(1).forEach((o) => {
      const made = this.#producer.has(o) || this.#consts.has(o);
      if (o && (this.#uses.get(o) ?? 0) > 0 && !made)
        fail(`its output '${o}' is used; only the first output is supported`);
    });
  }

  #formatRule(op: string): ((c: RuleContext) => void) | null {
    if (op === 'Constant') return (c) => c.alias(this.#constantNode(c));
    if (op === 'BatchNormalization') return (c) => this.#batchNorm(c);
    return null;
  }

  /** What a rule sees of the converter while it converts node `n`. */
  #context(n: OnnxNode, name: string, fail: (m: string) => never): RuleContext {
    const out = n.output[0];
    const attrs = new Attrs(n);
    const inputs = [...n.input];
    const constantOrNull = (j: number) => this.#consts.get(inputs[j] ?? '') ?? null;
    let emitted = 0;
    const tensor = (j: number): string => {
      const t = inputs[j] ?? '';
      if (this.#consts.has(t)) fail(`input ${j} ('${t}') is a constant; this operator needs a computed tensor there`);
      if (t !== this.#input.name && !this.#producer.has(t)) {
        fail(`reads tensor '${t}', which no earlier node produces (ONNX nodes must be in topological order)`);
      }
      return t;
    };
    const ctx: RuleContext = {
      name,
      out,
      opset: this.opts.opset,
      attrs,
      inputs,
      fail,
      constantOrNull,
      tensor,
      constant: (j: number, what: string, kind: 'float' | 'any' = 'any'): OnnxConst => {
        const c = constantOrNull(j);
        if (!c)
          fail(`input ${j} ('${inputs[j] ?? ''}', the ${what}) must be a constant (an initializer or a Constant node)`);
        if (kind === 'float' && !c!.float)
          fail(`the ${what} '${inputs[j]}' is an integer tensor; a float tensor is needed`);
        return c!;
      },
      shape: (t: string) => this.#shapeOf(t),
      outputs: [...n.output],
      emit: (node: EmittedNode): string => {
        const { output, temp, ...rest } = node;
        if (!isOpType(rest.op)) throw new Error(`unreachable: a rule emitted unknown op '${rest.op}'`);
        if (output && !n.output.includes(output))
          throw new Error(`unreachable: '${output}' is not an output of '${name}'`);
        const tensor = temp ? this.#uniqueTensor(`${out}:${rest.op}`) : (output ?? out);
        // The first node keeps the ONNX node's name (its module scope); more get suffixes.
        const nodeName = emitted++ === 0 ? name : this.#uniqueName(`${name}:${rest.op}`);
        this.#emit({ ...rest, op: rest.op, name: nodeName, output: tensor });
        return tensor;
      },
      alias: (c: OnnxConst) => void this.#consts.set(out, c),
      pair: (attr: string): [number, number] => {
        const v = attrs.ints(attr);
        if (!v) return [1, 1];
        if (v.length !== 2) fail(`${attr} must have 2 entries, got [${v}]`);
        return [v[0], v[1]];
      },
      axis: (axis: number, rank: number): number => {
        if (!Number.isInteger(axis)) fail('the axis attribute is missing');
        const ax = axis < 0 ? axis + rank : axis;
        if (ax < 0 || ax >= rank) fail(`axis ${axis} is out of range for a ${rank}-D input`);
        return ax;
      },
      pads: (x: string, k: [number, number], stride: [number, number], dilation: [number, number]) =>
        this.#pads(attrs, x, k, stride, dilation, fail),
      foldBias: (x: string, c: OnnxConst) => this.#foldBias(x, c, out, name),
      operand: (j: number, rank: number): string => {
        const k = constantOrNull(j);
        if (!k) {
          const t = tensor(j);
          const r = this.#shapeOf(t).length;
          if (r !== rank) {
            fail(`its inputs are ${r}-D ('${t}') and ${rank}-D; broadcasting across ranks would move the batch axis`);
          }
          return t;
        }
        return this.#constTensor(k, inputs[j] ?? '', rank, fail);
      },
      constantTensor: (k: OnnxConst, rank: number) => this.#constTensor(k, '', rank, fail),
      producer: (t: string) => {
        const node = this.#producer.get(t);
        return node && this.#uses.get(t) === 1 && t !== this.#output ? node : null;
      },
      remove: (t: string) => {
        const node = this.#producer.get(t);
        if (!node) throw new Error(`unreachable: remove('${t}') of a tensor no node produces`);
        this.#nodes.splice(this.#nodes.indexOf(node), 1);
        this.#producer.delete(t);
        for (const i of node.inputs) this.#uses.set(i, (this.#uses.get(i) ?? 1) - 1);
      },
    };
    return ctx;
  }

  // ---- the format's rules and the folds --------------------------------------------------

  #constantNode(c: RuleContext): OnnxConst {
    const a = c.attrs;
    const t = a.tensor('value');
    if (t) return tensorValues(t);
    if (a.has('value_float')) return { dims: [], data: Float32Array.of(a.float('value_float', 0)), float: true };
    if (a.has('value_int')) return { dims: [], data: Float64Array.of(a.int('value_int', 0)), float: false };
    const ints = a.ints('value_ints');
    if (ints) return { dims: [ints.length], data: Float64Array.from(ints), float: false };
    return c.fail('only value, value_float, value_int and value_ints constants are supported');
  }

  /** Folds into the producing conv/linear when possible, else a per-channel affine node. */
  #batchNorm(c: RuleContext): void {
    if (c.attrs.int('training_mode', 0) !== 0)
      c.fail('training_mode = 1 is not supported (export the model in eval mode)');
    const x = c.tensor(0);
    const [gamma, beta, mean, variance] = ['scale', 'B', 'mean', 'var'].map((w, j) => c.constant(j + 1, w, 'float'));
    const ch = gamma.data.length;
    if ([beta, mean, variance].some((t) => t.data.length !== ch)) c.fail('scale, B, mean and var differ in length');
    const affine = batchNormAffine(gamma.data, beta.data, mean.data, variance.data, c.attrs.float('epsilon', 1e-5));
    const prev = this.#foldTarget(x);
    if (prev) {
      const w = prev.weights!.weight;
      if (w.shape[0] !== ch) c.fail(`${ch} channels, but '${prev.name}' produces ${w.shape[0]}`);
      prev.weights = foldAffine(w, prev.weights!.bias, affine);
      this.#rename(prev, c.out, c.name);
      return;
    }
    const rank = this.#shapeOf(x).length;
    if (rank === 4) c.emit({ op: 'conv2d', inputs: [x], attrs: { groups: ch }, weights: affineConv(affine) });
    else if (rank === 2) c.emit({ op: 'linear', inputs: [x], weights: affineLinear(affine) });
    else c.fail(`a ${rank}-D input is not supported (4-D or 2-D)`);
  }

  /**
   * x + c where x is a conv's or linear layer's output read only here and c holds one value per
   * channel (the last dim of a linear layer's output, dim 1 of a conv's): c joins the layer's
   * bias. False where that does not apply.
   */
  #foldBias(x: string, c: OnnxConst, out: string, by: string): boolean {
    const prev = this.#foldTarget(x);
    if (!prev || !c.float) return false;
    const w = prev.weights!.weight;
    const m = w.shape[0];
    const rank = this.#shapeOf(x).length;
    const axis = prev.op === 'conv2d' ? 1 : rank - 1;
    const dims = [...Array(Math.max(0, rank - c.dims.length)).fill(1), ...c.dims];
    const perChannel = dims.length === rank && dims.every((d, k) => d === 1 || (k === axis && d === m));
    if (!perChannel) return false;
    const b0 = prev.weights!.bias?.data;
    const bias = new Float32Array(m);
    for (let o = 0; o < m; o++) bias[o] = (b0 ? b0[o] : 0) + c.data[c.data.length === 1 ? 0 : o];
    prev.weights = { ...prev.weights, bias: { shape: [m], data: bias } };
    this.#rename(prev, out, by);
    return true;
  }

  /** A constant as a 'constant' node of rank `rank` (dims aligned right, dim 0 = 1); its tensor. */
  #constTensor(k: OnnxConst, input: string, rank: number, fail: (m: string) => never): string {
    if (k.dims.length > rank)
      fail(`the constant '${input}' [${k.dims}] has more dims than the ${rank}-D tensor it meets`);
    const dims = [...new Array<number>(rank - k.dims.length).fill(1), ...k.dims];
    if (dims[0] !== 1) fail(`the constant '${input}' [${k.dims}] varies along the batch axis`);
    if ([...k.data].some(dependsOnBatch)) fail(`the constant '${input}' depends on the batch size`);
    // One node per named constant and rank; an unnamed one (made by a rule) each time.
    const key = `${input}@${rank}`;
    let name = input ? this.#constNodes.get(key) : undefined;
    if (!name) {
      name = k.dims.length === rank && input ? input : this.#uniqueTensor(`${input || 'constant'}:${rank}d`);
      if (input) this.#constNodes.set(key, name);
      this.#emit({
        op: 'constant',
        name: this.#uniqueName(`${name}:constant`),
        inputs: [],
        output: name,
        weights: { value: { shape: dims, data: Float32Array.from(k.data) } },
      });
    }
    return name;
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
    return samePads(mode as 'SAME_UPPER' | 'SAME_LOWER', [shape[2], shape[3]], k, stride, dilation);
  }
}
