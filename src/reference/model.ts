/**
 * The CPU reference executor: the same Graph as the GPU executor, run with the reference ops.
 * It keeps every activation (clarity over memory) and walks the backward pass node by node:
 * each node receives the gradient of its output and hands gradients to its inputs, which add
 * up where a tensor feeds several nodes.
 */
import { clipAttrs, Graph, type GraphNode } from '../model/graph';
import type { GraphSpec } from '../model/spec';
import { addForward } from './add';
import { clipBackward, clipForward } from './clip';
import { concatBackward, concatForward } from './concat';
import { conv2dBackward, conv2dForward } from './conv2d';
import { linearBackward, linearForward } from './linear';
import {
  avgPool2dBackward,
  avgPool2dForward,
  globalAvgPoolBackward,
  globalAvgPoolForward,
  maxPool2dBackward,
  maxPool2dForward,
} from './pool';
import { reluBackward, reluForward } from './relu';
import { softmaxBackward, softmaxForward } from './softmax';
import { hostTensor, type HostTensor } from './tensor';

export class RefModel {
  readonly graph: Graph;
  readonly weights = new Map<string, HostTensor>();

  constructor(spec: GraphSpec) {
    this.graph = new Graph(spec);
    for (const node of this.graph.nodes) {
      for (const [key, w] of Object.entries(node.weights ?? {})) {
        this.weights.set(`${node.name}.${key}`, hostTensor(w.shape, w.data));
      }
    }
  }

  #w(node: GraphNode, key: string): HostTensor | null {
    return this.weights.get(`${node.name}.${key}`) ?? null;
  }

  /** Run every node; returns every tensor by name (the input included). */
  forward(x: HostTensor): Map<string, HostTensor> {
    const values = new Map<string, HostTensor>([[this.graph.input, x]]);
    for (const node of this.graph.nodes) {
      const ins = node.inputs.map((i) => values.get(i)!);
      values.set(node.output, this.#forwardNode(node, ins));
    }
    return values;
  }

  #forwardNode(node: GraphNode, ins: HostTensor[]): HostTensor {
    const x = ins[0];
    switch (node.op) {
      case 'conv2d':
        return conv2dForward(x, this.#w(node, 'weight')!, this.#w(node, 'bias'), node.conv!);
      case 'relu':
        return reluForward(x);
      case 'clip':
        return clipForward(x, ...clipAttrs(node.attrs));
      case 'maxpool2d':
        return maxPool2dForward(x, node.pool!);
      case 'avgpool2d':
        return avgPool2dForward(x, node.pool!);
      case 'globalavgpool':
        return globalAvgPoolForward(x);
      case 'linear':
        return linearForward(x, this.#w(node, 'weight')!, this.#w(node, 'bias'));
      case 'flatten':
      case 'reshape':
      case 'identity':
        return hostTensor(this.graph.shape(node.output, x.shape[0]), x.data);
      case 'add':
        return addForward(ins[0], ins[1]);
      case 'concat':
        return concatForward(ins, (node.attrs?.axis as number | undefined) ?? 1);
      case 'softmax':
        return softmaxForward(x);
    }
  }

  /**
   * Gradient of the output (or of tensor `opts.from`), seeded with `seeds` ([T·N, K]), with
   * respect to tensor `to`.
   * `values` is what forward() returned. With `guided`, ReLUs use guided backprop's rule.
   */
  backward(
    values: Map<string, HostTensor>,
    seeds: HostTensor,
    to: string,
    opts: { guided?: boolean; from?: string } = {},
  ): HostTensor {
    const g = this.graph;
    const from = opts.from ?? g.output;
    const nodes = g.backwardNodes(to, from);
    const onPath = new Set<string>([to, ...nodes.map((n) => n.output)]);
    const n = values.get(g.input)!.shape[0];
    const tn = seeds.shape[0];
    const grads = new Map<string, HostTensor>([[from, seeds]]);
    const add = (name: string, d: HostTensor) => {
      const prev = grads.get(name);
      grads.set(name, prev ? addForward(prev, d) : d);
    };
    for (let k = nodes.length - 1; k >= 0; k--) {
      const node = nodes[k];
      const dy = grads.get(node.output);
      if (!dy) continue;
      const inShape = (j: number) => g.shape(node.inputs[j], n);
      const x = values.get(node.inputs[0])!;
      switch (node.op) {
        case 'conv2d':
          add(node.inputs[0], conv2dBackward(dy, this.#w(node, 'weight')!, node.conv!, inShape(0)));
          break;
        case 'relu':
          add(node.inputs[0], reluBackward(dy, x, { guided: opts.guided }));
          break;
        case 'clip':
          add(node.inputs[0], clipBackward(dy, x, ...clipAttrs(node.attrs)));
          break;
        case 'maxpool2d':
          add(node.inputs[0], maxPool2dBackward(dy, x, node.pool!));
          break;
        case 'avgpool2d':
          add(node.inputs[0], avgPool2dBackward(dy, node.pool!, inShape(0)));
          break;
        case 'globalavgpool':
          add(node.inputs[0], globalAvgPoolBackward(dy, inShape(0)));
          break;
        case 'linear':
          add(node.inputs[0], linearBackward(dy, this.#w(node, 'weight')!));
          break;
        case 'flatten':
        case 'reshape':
        case 'identity':
          add(node.inputs[0], hostTensor([tn, ...inShape(0).slice(1)], dy.data));
          break;
        case 'add':
          node.inputs.forEach((i) => onPath.has(i) && add(i, dy));
          break;
        case 'concat': {
          const parts = concatBackward(
            dy,
            node.inputs.map((_, j) => inShape(j)),
            (node.attrs?.axis as number | undefined) ?? 1,
          );
          node.inputs.forEach((i, j) => onPath.has(i) && add(i, parts[j]));
          break;
        }
        case 'softmax':
          add(node.inputs[0], softmaxBackward(dy, values.get(node.output)!));
          break;
      }
    }
    return grads.get(to)!;
  }
}
