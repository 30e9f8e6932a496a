/**
 * Graph analysis shared by the GPU executor and the CPU reference executor: validation,
 * topological order, shape inference, and which nodes a backward pass must visit.
 * Shapes here include the batch dim with N = 1; executors substitute the run's N.
 */
import { GraphError, InvalidInputError, ShapeMismatchError, WebGpuCamError } from '../core/errors';
import { shapeStr, sizeOf } from '../core/shape';
import { clipBounds } from '../ops/clip';
import { conv2dOutputShape, conv2dParams, type Conv2dParams } from '../ops/conv2d';
import { linearOutputShape } from '../ops/linear';
import { pool2dOutputShape, pool2dParams, type Pool2dParams } from '../ops/pool';
import type { GraphSpec, NodeSpec, OpType } from './spec';

export const SUPPORTED_OPS: readonly OpType[] = [
  'conv2d',
  'relu',
  'clip',
  'maxpool2d',
  'avgpool2d',
  'globalavgpool',
  'linear',
  'flatten',
  'reshape',
  'add',
  'concat',
  'softmax',
  'identity',
];

/** Ops whose backward needs a forward tensor: the node's input ('input') or its output ('output'). */
export const SAVES: Partial<Record<OpType, 'input' | 'output'>> = {
  relu: 'input',
  clip: 'output',
  maxpool2d: 'input',
  softmax: 'output',
};

export interface GraphNode extends NodeSpec {
  /** Position in topological order. */
  index: number;
  conv?: Conv2dParams;
  pool?: Pool2dParams;
}

export class Graph {
  readonly nodes: GraphNode[];
  /** Producer node of each tensor (the graph input has none). */
  readonly producer = new Map<string, GraphNode>();
  /** Consumer nodes of each tensor. */
  readonly consumers = new Map<string, GraphNode[]>();
  /** Shape of every tensor for batch N = 1. */
  readonly shapes = new Map<string, number[]>();
  readonly input: string;
  readonly output: string;

  constructor(readonly spec: GraphSpec) {
    this.input = spec.input.name;
    this.output = spec.output;
    const inShape = spec.input.shape;
    if (!Array.isArray(inShape) || inShape.length !== 3) {
      throw new InvalidInputError(
        `graph input '${this.input}' must have shape [C, H, W], got ${JSON.stringify(inShape)}`,
      );
    }
    for (const n of spec.nodes) {
      if (!SUPPORTED_OPS.includes(n.op)) {
        throw new GraphError(`node '${n.name}': unknown op '${n.op}'; supported: ${SUPPORTED_OPS.join(', ')}`);
      }
      if (n.output === this.input || this.producer.has(n.output)) {
        throw new GraphError(`tensor '${n.output}' is produced twice (node '${n.name}')`);
      }
      this.producer.set(n.output, n as GraphNode);
    }
    this.nodes = this.#toposort(spec.nodes);
    if (!this.producer.has(this.output)) {
      throw new GraphError(`graph output '${this.output}' is not produced by any node`);
    }
    this.shapes.set(this.input, [1, ...inShape]);
    for (const node of this.nodes) {
      for (const i of node.inputs) {
        let list = this.consumers.get(i);
        if (!list) this.consumers.set(i, (list = []));
        list.push(node);
      }
      try {
        this.shapes.set(node.output, this.#inferShape(node));
      } catch (e) {
        if (e instanceof WebGpuCamError && e.message.startsWith(`node '${node.name}'`)) throw e;
        if (e instanceof ShapeMismatchError)
          throw new ShapeMismatchError(`node '${node.name}' (${node.op}): ${e.message}`);
        if (e instanceof InvalidInputError)
          throw new InvalidInputError(`node '${node.name}' (${node.op}): ${e.message}`);
        throw e;
      }
    }
  }

  /** Names of all tensors, in topological order (input first). */
  get tensorNames(): string[] {
    return [this.input, ...this.nodes.map((n) => n.output)];
  }

  has(name: string): boolean {
    return name === this.input || this.producer.has(name);
  }

  /** Shape of tensor `name` for batch `n`. */
  shape(name: string, n = 1): number[] {
    const s = this.shapes.get(name);
    if (!s) throw this.notFound(name);
    return [n, ...s.slice(1)];
  }

  notFound(name: string): GraphError {
    const names = this.tensorNames;
    const shown = names.length > 40 ? [...names.slice(0, 40), '…'] : names;
    return new GraphError(`tensor '${name}' is not in the graph; its tensors are: ${shown.join(', ')}`);
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

  /**
   * The class scores y^c that attribution differentiates: the output, or the input of a
   * softmax that ends the graph (the methods use pre-softmax logits).
   */
  get scores(): string {
    const last = this.producer.get(this.output)!;
    return last.op === 'softmax' ? last.inputs[0] : this.output;
  }

  /**
   * The last 4-D tensor with H·W > 1 before the spatial collapse, taking the output of a
   * trailing ReLU: the default layer for CAM and Grad-CAM.
   */
  defaultLayer(): string {
    let best: string | null = null;
    for (const name of this.tensorNames) {
      const s = this.shapes.get(name)!;
      if (s.length === 4 && s[2] * s[3] > 1 && this.backwardNodesSafe(name)) best = name;
    }
    if (!best) throw new GraphError('the graph has no 4-D tensor with spatial extent > 1 on the path to the output');
    return best;
  }

  private backwardNodesSafe(name: string): boolean {
    try {
      this.backwardNodes(name, this.scores);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * CAM needs y^c = Σ_k w^c_k · GAP(A^k) + b_c: the layer feeds only a global average pool,
   * whose result reaches the scores through reshapes and one linear layer. Returns that linear
   * node, or the reason CAM cannot apply.
   */
  camHead(layer: string): { linear: GraphNode } | { reason: string } {
    const scores = this.scores;
    const cons = this.consumers.get(layer) ?? [];
    if (cons.length !== 1 || cons[0].op !== 'globalavgpool') {
      return { reason: `tensor '${layer}' does not feed a global average pool alone` };
    }
    let node = cons[0];
    for (;;) {
      const next = this.consumers.get(node.output) ?? [];
      if (next.length !== 1) {
        return { reason: `the global average pool's result is used by ${next.length} nodes, not one linear layer` };
      }
      node = next[0];
      if (node.op === 'flatten' || node.op === 'reshape' || node.op === 'identity') continue;
      if (node.op === 'linear' && node.output === scores) return { linear: node };
      return {
        reason:
          node.op === 'linear'
            ? `the linear layer '${node.name}' after the pool is followed by more layers before the scores`
            : `the pool is followed by '${node.name}' (${node.op}), not by the linear layer that gives the scores`,
      };
    }
  }

  weightShape(node: NodeSpec, key: string, required: boolean): number[] | null {
    const w = node.weights?.[key];
    if (!w) {
      if (required) throw new ShapeMismatchError(`node '${node.name}' (${node.op}) has no '${key}' weight`);
      return null;
    }
    const n = sizeOf(w.shape);
    if (w.data.length !== n) {
      throw new ShapeMismatchError(
        `node '${node.name}': weight '${key}' has ${w.data.length} values for shape ${shapeStr(w.shape)}`,
      );
    }
    return w.shape;
  }

  #toposort(nodes: NodeSpec[]): GraphNode[] {
    const known = new Set<string>([this.input]);
    const out: GraphNode[] = [];
    const pending = [...nodes];
    while (pending.length) {
      const i = pending.findIndex((n) => n.inputs.every((x) => known.has(x)));
      if (i < 0) {
        const n = pending[0];
        const missing = n.inputs.filter((x) => !known.has(x) && !this.producer.has(x));
        throw new GraphError(
          missing.length
            ? `node '${n.name}' reads tensor '${missing[0]}', which no node produces`
            : `the graph has a cycle through node '${n.name}'`,
        );
      }
      const n = pending.splice(i, 1)[0] as GraphNode;
      n.index = out.length;
      out.push(n);
      known.add(n.output);
    }
    return out;
  }

  #inferShape(node: GraphNode): number[] {
    const ins = node.inputs.map((i) => this.shapes.get(i)!);
    const arity: Partial<Record<OpType, number>> = { add: 2 };
    const want = arity[node.op] ?? (node.op === 'concat' ? -1 : 1);
    if (want > 0 && ins.length !== want) {
      throw new GraphError(`node '${node.name}' (${node.op}) takes ${want} input(s), got ${ins.length}`);
    }
    const x = ins[0];
    const a = node.attrs ?? {};
    switch (node.op) {
      case 'conv2d': {
        node.conv = conv2dParams(a as Partial<Conv2dParams>);
        const w = this.weightShape(node, 'weight', true)!;
        const b = this.weightShape(node, 'bias', false);
        if (b && (b.length !== 1 || b[0] !== w[0])) {
          throw new ShapeMismatchError(`bias ${shapeStr(b)} does not match weight ${shapeStr(w)} (expected [${w[0]}])`);
        }
        return conv2dOutputShape(x, w, node.conv);
      }
      case 'maxpool2d':
      case 'avgpool2d':
        node.pool = pool2dParams(a as Parameters<typeof pool2dParams>[0]);
        return pool2dOutputShape(x, node.pool);
      case 'globalavgpool':
        if (x.length !== 4) throw new ShapeMismatchError(`expects a 4-D input, got ${shapeStr(x)}`);
        return [x[0], x[1], 1, 1];
      case 'linear':
        return linearOutputShape(x, this.weightShape(node, 'weight', true)!, this.weightShape(node, 'bias', false));
      case 'flatten':
        return [x[0], sizeOf(x.slice(1))];
      case 'reshape': {
        const target = (a.shape as number[] | undefined) ?? [];
        const total = sizeOf(x.slice(1));
        const known = sizeOf(target.filter((d) => d !== -1));
        const resolved = target.map((d) => (d === -1 ? total / known : d));
        if (sizeOf(resolved) !== total || !resolved.every((d) => Number.isInteger(d) && d > 0)) {
          throw new ShapeMismatchError(`cannot reshape ${shapeStr(x)} to [N, ${target.join(', ')}]`);
        }
        return [x[0], ...resolved];
      }
      case 'add':
        if (shapeStr(ins[0]) !== shapeStr(ins[1])) {
          throw new ShapeMismatchError(`inputs ${shapeStr(ins[0])} and ${shapeStr(ins[1])} differ`);
        }
        return [...x];
      case 'concat': {
        const axis = (a.axis as number | undefined) ?? 1;
        if (ins.length < 1) throw new GraphError(`node '${node.name}' (concat) has no inputs`);
        const out = [...x];
        out[axis] = 0;
        for (const s of ins) {
          if (s.length !== x.length || s.some((d, i) => i !== axis && d !== x[i])) {
            throw new ShapeMismatchError(`inputs ${ins.map(shapeStr).join(', ')} differ outside axis ${axis}`);
          }
          out[axis] += s[axis];
        }
        return out;
      }
      case 'softmax':
        if (x.length !== 2) throw new ShapeMismatchError(`expects a 2-D input [N, K], got ${shapeStr(x)}`);
        return [...x];
      case 'clip':
        clipBounds(...clipAttrs(a));
        return [...x];
      case 'relu':
      case 'identity':
        return [...x];
    }
  }
}

/** A clip node's bounds [min, max] from its attrs (absent: -Infinity, +Infinity). */
export function clipAttrs(attrs: Record<string, unknown> | undefined): [number, number] {
  const lo = attrs?.min ?? -Infinity;
  const hi = attrs?.max ?? Infinity;
  if (typeof lo !== 'number' || typeof hi !== 'number') {
    throw new InvalidInputError(`clip: min and max must be numbers, got ${JSON.stringify(attrs)}`);
  }
  return [lo, hi];
}
