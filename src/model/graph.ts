/**
 * Graph analysis shared by the GPU executor, the CPU reference executor and the ONNX importer:
 * validation, topological order, each node's checked parameters and shape (from the op registry,
 * src/defs/index.ts), and which nodes a backward pass must visit and what it must keep. Pure: no
 * GPU. The Graph holds its own node objects; the GraphSpec it is given is left untouched.
 * Shapes here include the batch dim with N = 1; executors substitute the run's N.
 * Layers are named by tensor or by module (layer(), layers(); the rules are in layers.ts).
 */
import { GraphError, InvalidInputError, ShapeMismatchError } from '../core/errors';
import { checkFinite } from '../core/finite';
import { isDeferred } from '../defs/deferred';
import { shapeStr, sizeOf } from '../core/shape';
import { BINARY } from '../defs/elementwise';
import { isOpType, OP_TYPES, opDef, type OpParams, type OpType } from '../defs/index';
import { layoutOf, NCHW, type Axes, type WeightSpec } from '../defs/op';
import { closestNames, ModuleScopes } from './layers';
import type { GraphSpec, NodeSpec } from './spec';

/** One layer attribution can use: a 4-D tensor with h·w > 1 that the scores depend on. */
export interface Layer {
  /** Its tensor name. */
  tensor: string;
  /** The deepest module whose output it is (torch.onnx scopes, src/model/layers.ts), or null. */
  module: string | null;
  /** Every module whose output it is, deepest first: ['layer4.1.relu', 'layer4.1', 'layer4']. */
  modules: string[];
  /** [C, H, W] */
  shape: [number, number, number];
}

/** The pools that defaultLayer() skips when they end the spatial part of the network. */
const POOLS: ReadonlySet<OpType> = new Set<OpType>(['maxpool2d', 'avgpool2d']);

/** One node of a Graph: the spec's node with its checked parameters and topological index. */
export interface OpNode<K extends OpType> {
  readonly op: K;
  readonly name: string;
  readonly inputs: readonly string[];
  readonly output: string;
  /** Position in topological order. */
  readonly index: number;
  readonly params: OpParams[K];
  readonly weights: Readonly<Record<string, WeightSpec>>;
  /** Names of the nodes folded into this one (NodeSpec.folded). */
  readonly folded: readonly string[];
}

/** A node of any op; testing `op` narrows `params` (e.g. node.op === 'conv2d' gives Conv2dParams). */
export type GraphNode = { [K in OpType]: OpNode<K> }[OpType];

export class Graph {
  readonly nodes: readonly GraphNode[];
  /** Producer node of each tensor (the graph input has none). */
  readonly producer = new Map<string, GraphNode>();
  /** Consumer nodes of each tensor. */
  readonly consumers = new Map<string, GraphNode[]>();
  /** Shape of every tensor for batch N = 1. */
  readonly shapes = new Map<string, number[]>();
  /**
   * What each tensor's dims mean ('N', 'C', 'H', 'W'; null where unknown), by the ops' layout
   * rules from the input's [N, C, H, W]: tells NCHW activations from NHWC ones (ConvNeXt).
   */
  readonly layouts = new Map<string, Axes | null>();
  /** Tensors of 'constant' nodes: not batched (their dim 0 is 1 whatever the batch). */
  readonly constants = new Set<string>();
  readonly input: string;
  readonly output: string;
  #scopes: ModuleScopes | null = null;
  #explainable: Set<string> | null = null;

  constructor(readonly spec: GraphSpec) {
    this.input = spec.input?.name;
    this.output = spec.output;
    const inShape = spec.input?.shape;
    if (!Array.isArray(inShape) || inShape.length !== 3) {
      throw new InvalidInputError(
        `graph input '${this.input}' must have shape [C, H, W], got ${JSON.stringify(inShape)}`,
      );
    }
    if (!Array.isArray(spec.nodes)) throw new GraphError('the graph has no node list');
    const byOutput = new Map<string, NodeSpec>();
    for (const n of spec.nodes) {
      if (!isOpType(n.op)) {
        throw new GraphError(`node '${n.name}': unknown op '${n.op}'; supported: ${OP_TYPES.join(', ')}`);
      }
      if (n.output === this.input || byOutput.has(n.output)) {
        throw new GraphError(`tensor '${n.output}' is produced twice (node '${n.name}')`);
      }
      byOutput.set(n.output, n);
    }
    if (!byOutput.has(this.output)) {
      throw new GraphError(`graph output '${this.output}' is not produced by any node`);
    }
    this.shapes.set(this.input, [1, ...inShape]);
    this.layouts.set(this.input, NCHW);
    const nodes: GraphNode[] = [];
    for (const n of this.#toposort(spec.nodes, byOutput)) {
      const node = this.#node(n, nodes.length);
      this.#checkConstants(node);
      // Weights must be finite (src/core/finite.ts): a NaN in a weight would spread through
      // every map silently. A deferred weight (src/defs/deferred.ts) is checked where it is read.
      for (const [key, w] of Object.entries(node.weights)) {
        if (!isDeferred(w))
          checkFinite(w.data, w.shape, `weight '${node.name}.${key}' of node '${node.name}' (${node.op})`);
      }
      nodes.push(node);
      this.producer.set(node.output, node);
      for (const i of node.inputs) {
        let list = this.consumers.get(i);
        if (!list) this.consumers.set(i, (list = []));
        list.push(node);
      }
    }
    this.nodes = nodes;
  }

  /** Names of all tensors, in topological order (input first). */
  get tensorNames(): string[] {
    return [this.input, ...this.nodes.map((n) => n.output)];
  }

  has(name: string): boolean {
    return name === this.input || this.producer.has(name);
  }

  /** Shape of tensor `name` for batch `n` (a constant's shape whatever `n`). */
  shape(name: string, n = 1): number[] {
    const s = this.shapes.get(name);
    if (!s) throw this.notFound(name);
    return this.constants.has(name) ? [...s] : [n, ...s.slice(1)];
  }

  /** The error for a tensor name the graph lacks, with the closest tensor names. */
  notFound(name: string): GraphError {
    const near = closestNames(name, this.tensorNames);
    return new GraphError(
      `tensor '${name}' is not in the graph; ` +
        (near.length ? `closest: ${near.map((n) => `'${n}'`).join(', ')}` : 'no tensor name is close to it'),
    );
  }

  /** The module scopes of the node names (empty for a graph not exported by torch.onnx). */
  get modules(): ModuleScopes {
    return (this.#scopes ??= new ModuleScopes(this.nodes));
  }

  /**
   * The tensor a layer name means: a tensor name, or else a module name ('layer4',
   * 'features.28'; src/model/layers.ts). Throws GraphError naming the closest module and tensor
   * names when neither exists.
   */
  layer(name: string): string {
    if (this.has(name)) return name;
    const scopes = this.modules;
    const t = scopes.tensorOf(name);
    if (t !== null) return t;
    const modules = new Set(scopes.names);
    const near = closestNames(name, [...modules, ...this.tensorNames]);
    const what = scopes.scoped ? 'tensor or module' : 'tensor';
    throw new GraphError(
      `layer '${name}' is not in the graph (no ${what} has that name); ` +
        (near.length
          ? `closest: ${near.map((n) => `'${n}' (${modules.has(n) ? 'module' : 'tensor'})`).join(', ')}`
          : `no ${what} name is close to it`) +
        '. layers() lists the layers one can explain at.',
    );
  }

  /**
   * The layers attribution can use, in graph order: every 4-D tensor with h·w > 1 that the
   * scores depend on (the input excepted), with its module names and shape.
   */
  layers(): Layer[] {
    const ok = this.#explainableSet();
    return this.tensorNames
      .filter((t) => t !== this.input && ok.has(t))
      .map((tensor) => {
        const [, c, h, w] = this.shapes.get(tensor)!;
        const modules = this.modules.modulesOf(tensor);
        return { tensor, module: modules[0] ?? null, modules, shape: [c, h, w] };
      });
  }

  /**
   * The nodes a backward pass from tensor `from` (default: the output) down to `target` must
   * visit, in forward order: those on a path from `target` to `from`.
   */
  backwardNodes(target: string, from: string = this.output): GraphNode[] {
    if (!this.has(target)) throw this.notFound(target);
    if (!this.has(from)) throw this.notFound(from);
    const dependsOnTarget = new Set<string>([target]);
    for (const n of this.nodes) if (n.inputs.some((i) => dependsOnTarget.has(i))) dependsOnTarget.add(n.output);
    if (!dependsOnTarget.has(from)) {
      throw new GraphError(`tensor '${from}' does not depend on tensor '${target}'`);
    }
    const reaches = new Set<string>([from]);
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i];
      if (reaches.has(n.output)) for (const x of n.inputs) reaches.add(x);
    }
    return this.nodes.filter((n) => n.output !== target && reaches.has(n.output) && dependsOnTarget.has(n.output));
  }

  /** The forward tensors the backward passes to `targets` (from `from`) read: what each op saves. */
  savedFor(targets: readonly string[], from: string = this.output): Set<string> {
    const saved = new Set<string>();
    for (const target of targets) {
      for (const node of this.backwardNodes(target, from)) {
        const s = opDef(node.op).saves;
        for (const j of s.inputs ?? []) saved.add(node.inputs[j]);
        if (s.output) saved.add(node.output);
      }
    }
    return saved;
  }

  /**
   * The class scores y^c that attribution differentiates: the output, or the input of a
   * softmax that ends the graph (the methods use pre-softmax logits).
   */
  get scores(): string {
    const last = this.producer.get(this.output)!;
    return last.op === 'softmax' ? last.inputs[0] : this.output;
  }

  /**
   * The default layer for CAM and Grad-CAM: the last spatial activation before the spatial
   * collapse, skipping trailing pools. Take the last tensor in graph order that is 4-D with
   * h·w > 1 and that the scores depend on; while it is the output of a max- or average-pool
   * (maxpool2d, avgpool2d) or of a view (identity, reshape, flatten) whose input is such a tensor
   * too (and not the graph input), step back to that input. So a VGG's or AlexNet's default is
   * the last ReLU before its last max-pool (and adaptive average pool), a ResNet's the last
   * block's output before the global average pool. Any other op ends the walk: a ReLU, a conv
   * (a BatchNormalization that could not be folded is a depthwise 1×1 conv), an add, a concat.
   */
  defaultLayer(): string {
    const ok = this.#explainableSet();
    const names = this.tensorNames.filter((t) => ok.has(t));
    if (!names.length) {
      throw new GraphError('the graph has no 4-D tensor with spatial extent > 1 on the path to the output');
    }
    let best = names[names.length - 1];
    for (;;) {
      const node = this.producer.get(best);
      if (!node || !(POOLS.has(node.op) || opDef(node.op).view)) break;
      const x = node.inputs[0];
      if (x === this.input || !ok.has(x)) break;
      best = x;
    }
    return best;
  }

  /** The [N, C, H, W] tensors with h·w > 1 that the scores depend on (the input included). */
  #explainableSet(): Set<string> {
    if (!this.#explainable) {
      const reaches = new Set<string>([this.scores]);
      for (let i = this.nodes.length - 1; i >= 0; i--) {
        const n = this.nodes[i];
        if (reaches.has(n.output)) for (const x of n.inputs) reaches.add(x);
      }
      this.#explainable = new Set(
        [...reaches].filter((t) => {
          const s = this.shapes.get(t)!;
          const axes = this.layouts.get(t);
          return s.length === 4 && s[2] * s[3] > 1 && !!axes && axes.join() === NCHW.join();
        }),
      );
    }
    return this.#explainable;
  }

  /**
   * CAM needs y^c = Σ_k w^c_k · GAP(A^k) + b_c: the layer feeds only a global average pool,
   * whose result reaches the scores through views (flatten, reshape, identity) and one linear
   * layer. Returns that linear node, or the reason CAM cannot apply.
   */
  camHead(layer: string): { linear: GraphNode } | { reason: string } {
    const scores = this.scores;
    const cons = this.consumers.get(layer) ?? [];
    if (cons.length !== 1 || cons[0].op !== 'globalavgpool') {
      return { reason: `tensor '${layer}' does not feed a global average pool alone` };
    }
    let node: GraphNode = cons[0];
    for (;;) {
      const next: GraphNode[] = this.consumers.get(node.output) ?? [];
      if (next.length !== 1) {
        return { reason: `the global average pool's result is used by ${next.length} nodes, not one linear layer` };
      }
      node = next[0];
      if (opDef(node.op).view) continue;
      if (node.op === 'linear' && node.output === scores) return { linear: node };
      return {
        reason:
          node.op === 'linear'
            ? `the linear layer '${node.name}' after the pool is followed by more layers before the scores`
            : `the pool is followed by '${node.name}' (${node.op}), not by the linear layer that gives the scores`,
      };
    }
  }

  /**
   * Constants feed only binary elementwise ops (they broadcast there), and no op but 'constant'
   * computes from constants alone (its output would not be batched: fold it instead).
   */
  #checkConstants(node: GraphNode): void {
    if (node.op === 'constant') {
      this.constants.add(node.output);
      return;
    }
    const fromConst = node.inputs.filter((i) => this.constants.has(i));
    if (!fromConst.length) return;
    if (!Object.hasOwn(BINARY, node.op)) {
      throw new GraphError(
        `node '${node.name}' (${node.op}) reads constant '${fromConst[0]}'; constants may only feed binary elementwise ops`,
      );
    }
    if (fromConst.length === node.inputs.length) {
      throw new GraphError(`node '${node.name}' (${node.op}) computes from constants only; fold it into a constant`);
    }
  }

  /** A checked copy of a spec node: weights, parameters and output shape. */
  #node(spec: NodeSpec, index: number): GraphNode {
    const def = opDef(spec.op);
    const where = `node '${spec.name}' (${spec.op})`;
    try {
      const inputs = [...spec.inputs];
      const want = def.inputs;
      if (want === 'variadic' ? inputs.length < 1 : inputs.length !== want) {
        if (want === 0) throw new GraphError(`takes no inputs, got ${inputs.length}`);
        throw new GraphError(`takes ${want === 'variadic' ? 'one or more' : want} input(s), got ${inputs.length}`);
      }
      const weights = spec.weights ?? {};
      const weightShapes: Record<string, number[]> = {};
      for (const key of Object.keys(weights)) {
        if (!def.weights?.[key]) throw new ShapeMismatchError(`has a weight '${key}' that ${spec.op} does not take`);
      }
      for (const [key, need] of Object.entries(def.weights ?? {})) {
        const w = weights[key];
        if (!w) {
          if (need === 'required') throw new ShapeMismatchError(`has no '${key}' weight`);
          continue;
        }
        // A deferred weight's values are read at Model.load, as many as its shape has.
        const length = isDeferred(w) ? sizeOf(w.shape) : w.data?.length;
        if (!Array.isArray(w.shape) || length !== sizeOf(w.shape)) {
          throw new ShapeMismatchError(
            `weight '${key}' has ${w.data?.length} values for shape ${shapeStr(w.shape ?? [])}`,
          );
        }
        weightShapes[key] = [...w.shape];
      }
      const params = def.params(spec.attrs ?? {});
      const shape = def.shape(
        inputs.map((i) => this.shapes.get(i)!),
        params,
        weightShapes,
      );
      this.shapes.set(spec.output, shape);
      const shapes = { inputs: inputs.map((i) => this.shapes.get(i)!), output: shape };
      this.layouts.set(
        spec.output,
        layoutOf(
          def.layout,
          inputs.map((i) => this.layouts.get(i) ?? null),
          params,
          shapes,
        ),
      );
      const folded = [...(spec.folded ?? [])];
      return { op: spec.op, name: spec.name, inputs, output: spec.output, index, params, weights, folded } as GraphNode;
    } catch (e) {
      // Name the node, keeping the error's class.
      if (!(e instanceof InvalidInputError) || e.message.startsWith(where)) throw e;
      const Err = e.constructor as new (message: string) => InvalidInputError;
      throw new Err(`${where}: ${e.message}`);
    }
  }

  #toposort(nodes: readonly NodeSpec[], byOutput: ReadonlyMap<string, NodeSpec>): NodeSpec[] {
    const known = new Set<string>([this.input]);
    const out: NodeSpec[] = [];
    const pending = [...nodes];
    while (pending.length) {
      const i = pending.findIndex((n) => n.inputs.every((x) => known.has(x)));
      if (i < 0) {
        const n = pending[0];
        const missing = n.inputs.filter((x) => !known.has(x) && !byOutput.has(x));
        throw new GraphError(
          missing.length
            ? `node '${n.name}' reads tensor '${missing[0]}', which no node produces`
            : `the graph has a cycle through node '${n.name}'`,
        );
      }
      const n = pending.splice(i, 1)[0];
      out.push(n);
      known.add(n.output);
    }
    return out;
  }
}
