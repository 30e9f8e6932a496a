/**
 * The GPU executor. A Model holds a validated Graph and its weights on the GPU.
 *
 * forward() runs the DAG for a batch of N images and keeps exactly what later work needs: the
 * tensors named in `keep`, and for every planned backward target the tensors that the backward
 * ops on its path read (ReLU, clip and softmax outputs, max-pool inputs). Everything else is freed as
 * soon as its last consumer has run. A conv followed only by a ReLU runs as one fused kernel.
 *
 * backward() takes T seed gradients at the output, stacked as one [T·N, K] batch, and runs one
 * backward pass down to a named tensor (or the input), accumulating where a tensor fans out.
 */
import type { Engine } from '../gpu/engine';
import { GraphError, ShapeMismatchError } from '../core/errors';
import { type Tensor } from '../gpu/tensor';
import { shapeStr } from '../core/shape';
import { accumulate, addForward } from '../ops/add';
import { clipBackward, clipForward } from '../ops/clip';
import { concatBackward, concatForward } from '../ops/concat';
import { conv2dBackward, conv2dConfig, conv2dForward, conv2dPackWeights, type Conv2dWeights } from '../ops/conv2d';
import { linearBackward, linearForward } from '../ops/linear';
import {
  avgPool2dBackward,
  avgPool2dForward,
  globalAvgPoolBackward,
  globalAvgPoolForward,
  maxPool2dBackward,
  maxPool2dForward,
} from '../ops/pool';
import { reluBackward, reluForward } from '../ops/relu';
import { softmaxBackward, softmaxForward } from '../ops/softmax';
import { explain, type ExplainOptions, type Explanation } from '../attribution/explain';
import { clipAttrs, Graph, type GraphNode } from './graph';
import type { GraphSpec } from './spec';

export interface ForwardOptions {
  /** Tensors to keep after the forward (e.g. the attribution layer, the logits). */
  keep?: readonly string[];
  /** Tensors a later backward() will run down to (the input's name for input gradients). */
  backwardTo?: readonly string[];
  /** Tensor those backward passes start from (default: the output). */
  backwardFrom?: string;
}

export interface BackwardOptions {
  /** Tensor to compute the gradient of: a tensor name, or the input's name. */
  to: string;
  /** Tensor the seeds are the gradient of (default: the output). */
  from?: string;
  /** Guided backprop: every ReLU's backward also blocks negative gradients. */
  guided?: boolean;
}

/** What a forward run leaves: the output and the kept tensors. Dispose when done. */
export class Activations {
  constructor(
    readonly n: number,
    private readonly values: Map<string, Tensor>,
    readonly output: Tensor,
    private readonly input: Tensor,
    readonly plannedTargets: ReadonlySet<string>,
  ) {}

  has(name: string): boolean {
    return this.values.has(name);
  }

  get(name: string): Tensor {
    const t = this.values.get(name);
    if (!t) throw new GraphError(`tensor '${name}' was not kept by this forward run; pass it in 'keep'`);
    return t;
  }

  /** Free every kept tensor except the caller's input. */
  dispose(): void {
    for (const t of this.values.values()) if (t !== this.input) t.destroy();
    this.values.clear();
  }
}

interface Grad {
  t: Tensor;
  /** Shares storage with another live tensor (a view): accumulate out of place. */
  shared: boolean;
}

export class Model {
  private constructor(
    readonly engine: Engine,
    readonly graph: Graph,
    private readonly weights: Map<string, Tensor>,
    private readonly convs: Map<string, Conv2dWeights>,
  ) {}

  /**
   * Validate the spec (shapes, wiring) and upload its weights. Throws typed errors. Conv weights
   * that the tiled conv kernels will read are packed once here (conv2dPackWeights) and kept only
   * in that layout.
   */
  static async load(engine: Engine, spec: GraphSpec): Promise<Model> {
    const graph = new Graph(spec);
    const weights = new Map<string, Tensor>();
    const convs = new Map<string, Conv2dWeights>();
    const tiled = conv2dConfig(engine).tiled;
    try {
      for (const node of graph.nodes) {
        for (const [key, w] of Object.entries(node.weights ?? {})) {
          const name = `${node.name}.${key}`;
          let t = engine.upload(w.data, w.shape, name);
          engine.keep(t);
          weights.set(name, t);
          if (node.op === 'conv2d' && key === 'weight') {
            const groups = node.conv!.groups;
            if (tiled && w.shape[0] / groups >= 4) {
              const packed = await conv2dPackWeights(engine, t, groups);
              engine.keep(packed.data);
              weights.set(name, packed.data);
              t.destroy();
              t = packed.data;
              convs.set(node.name, packed);
            } else {
              convs.set(node.name, t);
            }
          }
        }
      }
    } catch (e) {
      for (const t of weights.values()) t.destroy();
      throw e;
    }
    return new Model(engine, graph, weights, convs);
  }

  get spec(): GraphSpec {
    return this.graph.spec;
  }

  /** [C, H, W] of one input image. */
  get inputShape(): [number, number, number] {
    return this.graph.spec.input.shape;
  }

  get weightBytes(): number {
    let b = 0;
    for (const t of this.weights.values()) b += t.size * 4;
    return b;
  }

  destroy(): void {
    for (const t of this.weights.values()) t.destroy();
    this.weights.clear();
    this.convs.clear();
  }

  #weight(node: GraphNode, key: string): Tensor | null {
    return this.weights.get(`${node.name}.${key}`) ?? null;
  }

  /**
   * A weight by '<node>.<key>' (e.g. 'fc.weight'). A conv's weight may be held packed for the
   * tiled kernels ([G, Cin/G, KH, KW, Cout/G rounded up to 4], see conv2dPackWeights).
   */
  weight(name: string): Tensor {
    const t = this.weights.get(name);
    if (!t) throw new GraphError(`the model has no weight '${name}'`);
    return t;
  }

  /** Explain the input for a set of targets and methods; see src/attribution/explain.ts. */
  explain(input: Tensor, opts?: ExplainOptions): Promise<Explanation> {
    return explain(this, input, opts);
  }

  /** Check an input batch: [N, C, H, W] with C, H, W those of the model. Returns N. */
  checkInput(x: Tensor): number {
    const [c, h, w] = this.inputShape;
    if (x.rank !== 4 || x.shape[1] !== c || x.shape[2] !== h || x.shape[3] !== w) {
      throw new ShapeMismatchError(
        `model input '${this.graph.input}' must be [N, ${c}, ${h}, ${w}], got ${shapeStr(x.shape)}`,
      );
    }
    return x.shape[0];
  }

  async forward(x: Tensor, opts: ForwardOptions = {}): Promise<Activations> {
    const g = this.graph;
    const n = this.checkInput(x);
    for (const k of opts.keep ?? []) if (!g.has(k)) throw g.notFound(k);
    const retained = new Set<string>([g.output, ...(opts.keep ?? [])]);
    if (opts.backwardFrom && !g.has(opts.backwardFrom)) throw g.notFound(opts.backwardFrom);
    for (const target of opts.backwardTo ?? []) {
      for (const node of g.backwardNodes(target, opts.backwardFrom)) {
        if (node.op === 'relu' || node.op === 'clip' || node.op === 'softmax') retained.add(node.output);
        if (node.op === 'maxpool2d') retained.add(node.inputs[0]);
      }
    }
    const uses = new Map<string, number>();
    for (const node of g.nodes) for (const i of node.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);

    const values = new Map<string, Tensor>([[g.input, x]]);
    const skip = new Set<GraphNode>();
    const e = this.engine;
    try {
      for (const node of g.nodes) {
        if (skip.has(node)) continue;
        const ins = node.inputs.map((i) => values.get(i)!);
        let outName = node.output;
        let out: Tensor;
        const fusedRelu = node.op === 'conv2d' ? this.#fusableRelu(node, retained) : null;
        if (node.op === 'conv2d') {
          out = await conv2dForward(e, ins[0], this.convs.get(node.name)!, this.#weight(node, 'bias'), node.conv!, {
            relu: !!fusedRelu,
          });
          if (fusedRelu) {
            skip.add(fusedRelu);
            outName = fusedRelu.output;
          }
        } else {
          out = await this.#forwardNode(node, ins);
        }
        values.set(outName, out);
        for (const i of node.inputs) {
          const left = uses.get(i)! - 1;
          uses.set(i, left);
          if (left === 0 && !retained.has(i) && i !== g.input) {
            values.get(i)?.destroy();
            values.delete(i);
          }
        }
      }
    } catch (err) {
      for (const [k, t] of values) if (k !== g.input) t.destroy();
      throw err;
    }
    for (const [k, t] of values) {
      if (!retained.has(k) && k !== g.input) {
        t.destroy();
        values.delete(k);
      }
    }
    return new Activations(n, values, values.get(g.output)!, x, new Set(opts.backwardTo ?? []));
  }

  /** The ReLU that alone consumes a conv's output, when the pre-activation is not needed. */
  #fusableRelu(conv: GraphNode, retained: Set<string>): GraphNode | null {
    const cons = this.graph.consumers.get(conv.output) ?? [];
    if (cons.length !== 1 || cons[0].op !== 'relu' || retained.has(conv.output)) return null;
    return cons[0];
  }

  async #forwardNode(node: GraphNode, ins: Tensor[]): Promise<Tensor> {
    const e = this.engine;
    const x = ins[0];
    switch (node.op) {
      case 'relu':
        return reluForward(e, x);
      case 'clip':
        return clipForward(e, x, ...clipAttrs(node.attrs));
      case 'maxpool2d':
        return maxPool2dForward(e, x, node.pool!);
      case 'avgpool2d':
        return avgPool2dForward(e, x, node.pool!);
      case 'globalavgpool':
        return globalAvgPoolForward(e, x);
      case 'linear':
        return linearForward(e, x, this.#weight(node, 'weight')!, this.#weight(node, 'bias'));
      case 'flatten':
      case 'reshape':
      case 'identity':
        return x.reshape(this.graph.shape(node.output, x.shape[0]), node.output);
      case 'add':
        return addForward(e, ins[0], ins[1]);
      case 'concat':
        return concatForward(e, ins, (node.attrs?.axis as number | undefined) ?? 1);
      case 'softmax':
        return softmaxForward(e, x);
      case 'conv2d':
        throw new Error('unreachable: conv2d is run by forward()');
    }
  }

  /**
   * One backward pass for T targets. `seeds` is [T·N, K] (row t·N + i: target t, image i).
   * Returns the gradient at `opts.to`, [T·N, ...shape of that tensor]. The caller owns it.
   */
  async backward(acts: Activations, seeds: Tensor, opts: BackwardOptions): Promise<Tensor> {
    const g = this.graph;
    const e = this.engine;
    if (!g.has(opts.to)) throw g.notFound(opts.to);
    if (!acts.plannedTargets.has(opts.to)) {
      throw new GraphError(`backward to '${opts.to}' was not planned: pass it in forward()'s 'backwardTo'`);
    }
    const n = acts.n;
    const from = opts.from ?? g.output;
    if (!g.has(from)) throw g.notFound(from);
    const outShape = g.shape(from, n);
    if (
      seeds.rank !== outShape.length ||
      seeds.shape[0] % n !== 0 ||
      seeds.shape.slice(1).join() !== outShape.slice(1).join()
    ) {
      throw new ShapeMismatchError(
        `seed gradients must be [T·${n}, ${outShape.slice(1).join(', ')}], got ${shapeStr(seeds.shape)}`,
      );
    }
    const tn = seeds.shape[0];
    const nodes = g.backwardNodes(opts.to, from);
    const onPath = new Set<string>([opts.to, ...nodes.map((x) => x.output)]);
    const grads = new Map<string, Grad>([[from, { t: seeds.reshape(seeds.shape), shared: true }]]);
    try {
      for (let k = nodes.length - 1; k >= 0; k--) {
        const node = nodes[k];
        const dy = grads.get(node.output);
        if (!dy) continue;
        grads.delete(node.output);
        const dins = await this.#backwardNode(node, dy.t, acts, tn, opts.guided ?? false, onPath);
        dy.t.destroy();
        for (let j = 0; j < node.inputs.length; j++) {
          const d = dins[j];
          if (!d) continue;
          const name = node.inputs[j];
          const prev = grads.get(name);
          if (!prev) {
            grads.set(name, d);
          } else if (prev.shared) {
            const sum = await addForward(e, prev.t, d.t);
            prev.t.destroy();
            d.t.destroy();
            grads.set(name, { t: sum, shared: false });
          } else {
            await accumulate(e, prev.t, d.t);
            d.t.destroy();
          }
        }
      }
    } catch (err) {
      for (const d of grads.values()) d.t.destroy();
      throw err;
    }
    const result = grads.get(opts.to);
    grads.delete(opts.to);
    for (const d of grads.values()) d.t.destroy();
    if (!result) throw new GraphError(`no gradient reached '${opts.to}'`);
    return result.t;
  }

  async #backwardNode(
    node: GraphNode,
    dy: Tensor,
    acts: Activations,
    tn: number,
    guided: boolean,
    onPath: Set<string>,
  ): Promise<(Grad | null)[]> {
    const e = this.engine;
    const g = this.graph;
    const n = acts.n;
    const needs = node.inputs.map((i) => onPath.has(i));
    const own = (t: Tensor): Grad => ({ t, shared: false });
    const view = (t: Tensor): Grad => ({ t, shared: true });
    const inShape = (j: number) => g.shape(node.inputs[j], n);
    const gradShape = (j: number) => [tn, ...inShape(j).slice(1)];
    switch (node.op) {
      case 'conv2d':
        return [own(await conv2dBackward(e, dy, this.convs.get(node.name)!, node.conv!, inShape(0)))];
      case 'relu':
        // The mask [x > 0] is read from the saved output: y > 0 exactly where x > 0.
        return [own(await reluBackward(e, dy, acts.get(node.output), { guided }))];
      case 'clip':
        // The mask lo < x < hi is read from the saved output; guided backprop changes ReLUs only.
        return [own(await clipBackward(e, dy, acts.get(node.output), ...clipAttrs(node.attrs)))];
      case 'maxpool2d':
        return [own(await maxPool2dBackward(e, dy, acts.get(node.inputs[0]), node.pool!))];
      case 'avgpool2d':
        return [own(await avgPool2dBackward(e, dy, node.pool!, inShape(0)))];
      case 'globalavgpool':
        return [own(await globalAvgPoolBackward(e, dy, inShape(0)))];
      case 'linear':
        return [own(await linearBackward(e, dy, this.#weight(node, 'weight')!))];
      case 'flatten':
      case 'reshape':
      case 'identity':
        return [view(dy.reshape(gradShape(0)))];
      case 'add':
        return node.inputs.map((_, j) => (needs[j] ? view(dy.reshape(dy.shape)) : null));
      case 'concat': {
        const parts = await concatBackward(
          e,
          dy,
          node.inputs.map((_, j) => inShape(j)),
          (node.attrs?.axis as number | undefined) ?? 1,
        );
        return parts.map((t, j) => {
          if (needs[j]) return own(t);
          t.destroy();
          return null;
        });
      }
      case 'softmax':
        return [own(await softmaxBackward(e, dy, acts.get(node.output)))];
    }
  }
}
