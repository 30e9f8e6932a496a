/**
 * The CPU reference executor: the same Graph as the GPU executor, each node run with its
 * reference implementation (src/reference/ops.ts). It keeps every activation (clarity over
 * memory) and walks the backward pass node by node: each node receives the gradient of its
 * output and hands gradients to its inputs, which add up where a tensor feeds several nodes.
 * Like the GPU executor, a node's backward sees only the forward tensors its op's definition
 * says it saves, so a wrong `saves` fails here too. No GPU, no shaders.
 */
import { opDef } from '../defs/index';
import { Graph, type GraphNode } from '../model/graph';
import type { GraphSpec } from '../model/spec';
import { accumulate } from './accumulate';
import { REF_OPS, type HostWeights, type RefOp } from './ops';
import { hostTensor, type HostTensor } from './tensor';

export class RefModel {
  readonly graph: Graph;
  /** Weights by '<node>.<key>'. */
  readonly weights = new Map<string, HostTensor>();
  readonly #nodeWeights = new Map<string, HostWeights>();

  constructor(spec: GraphSpec) {
    this.graph = new Graph(spec);
    for (const node of this.graph.nodes) {
      const w: Record<string, HostTensor> = {};
      for (const [key, spec] of Object.entries(node.weights)) {
        w[key] = hostTensor(spec.shape, spec.data);
        this.weights.set(`${node.name}.${key}`, w[key]);
      }
      this.#nodeWeights.set(node.name, w);
    }
  }

  #impl(node: GraphNode): RefOp<unknown> {
    return REF_OPS[node.op] as RefOp<unknown>;
  }

  /**
   * Run every node; returns every tensor by name (the input included). A tensor named in
   * `replace` takes the given value instead of its node's output (Ablation-CAM's edited layer),
   * for every node that reads it.
   */
  forward(x: HostTensor, replace?: ReadonlyMap<string, HostTensor>): Map<string, HostTensor> {
    const g = this.graph;
    const n = x.shape[0];
    const values = new Map<string, HostTensor>([[g.input, x]]);
    for (const node of g.nodes) {
      const given = replace?.get(node.output);
      if (given) {
        values.set(node.output, given);
        continue;
      }
      const out = this.#impl(node).forward({
        params: node.params,
        inputs: node.inputs.map((i) => values.get(i)!),
        weights: this.#nodeWeights.get(node.name)!,
        outShape: g.shape(node.output, n),
      });
      values.set(node.output, out);
    }
    return values;
  }

  /**
   * Gradient of the output (or of tensor `opts.from`), seeded with `seeds` ([T·N, K]), with
   * respect to tensor `to`; for a list of tensors, their gradients in that order from one pass
   * (every node on a path from any of them to `from`, once).
   * `values` is what forward() returned. With `guided`, ReLUs use guided backprop's rule.
   */
  backward(
    values: Map<string, HostTensor>,
    seeds: HostTensor,
    to: string,
    opts?: { guided?: boolean; from?: string },
  ): HostTensor;
  backward(
    values: Map<string, HostTensor>,
    seeds: HostTensor,
    to: readonly string[],
    opts?: { guided?: boolean; from?: string },
  ): HostTensor[];
  backward(
    values: Map<string, HostTensor>,
    seeds: HostTensor,
    to: string | readonly string[],
    opts: { guided?: boolean; from?: string } = {},
  ): HostTensor | HostTensor[] {
    const g = this.graph;
    const from = opts.from ?? g.output;
    const targets = typeof to === 'string' ? [to] : to;
    const union = new Set(targets.flatMap((t) => g.backwardNodes(t, from)));
    const nodes = g.nodes.filter((node) => union.has(node));
    const onPath = new Set<string>([...targets, ...nodes.map((n) => n.output)]);
    const n = values.get(g.input)!.shape[0];
    const grads = new Map<string, HostTensor>([[from, seeds]]);
    for (let k = nodes.length - 1; k >= 0; k--) {
      const node = nodes[k];
      const dy = grads.get(node.output);
      if (!dy) continue;
      const saves = opDef(node.op).saves;
      const dins = this.#impl(node).backward({
        params: node.params,
        dy,
        weights: this.#nodeWeights.get(node.name)!,
        saved: {
          inputs: node.inputs.map((i, j) => (saves.inputs?.includes(j) ? values.get(i)! : null)),
          output: saves.output ? values.get(node.output)! : null,
        },
        inputShapes: node.inputs.map((i) => g.shape(i, n)),
        needs: node.inputs.map((i) => onPath.has(i)),
        guided: !!opts.guided,
      });
      node.inputs.forEach((name, j) => {
        const d = dins[j];
        if (!d || !onPath.has(name)) return;
        const prev = grads.get(name);
        if (!prev) {
          grads.set(name, hostTensor(d.shape, d.data));
        } else {
          accumulate(prev, d);
        }
      });
    }
    // A tensor's gradient is complete once its consumers have run, before its producer does.
    const out = targets.map((t) => grads.get(t)!);
    return typeof to === 'string' ? out[0] : out;
  }
}
