/**
 * The same end-to-end work in TF.js on its WebGPU backend, written the way TF.js users write it:
 * the network as tf.conv2d / tf.relu / tf.maxPool / tf.matMul calls on NHWC tensors (TF.js's
 * conv layout), built from the same GraphSpec weights; Grad-CAM as tf.grad of the class score
 * with respect to the layer's activation; guided backprop as tf.grad with respect to the input
 * through ReLUs given a guided gradient with tf.customGrad; one tf.grad call per target class.
 */
import type * as TF from '@tensorflow/tfjs';
import { Graph, type GraphNode } from '../src/model/graph';
import type { GraphSpec } from '../src/model/spec';
import type { Method } from '../src/methods/registry';

type Tf = typeof TF;
type T = TF.Tensor;

/** Load TF.js and select its WebGPU backend (navigator.gpu must exist before this runs). */
export async function loadTfjs(): Promise<Tf> {
  const tf = (await import('@tensorflow/tfjs')) as unknown as Tf;
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not start its WebGPU backend');
  await tf.ready();
  return tf;
}

export class TfNet {
  readonly graph: Graph;
  readonly #w = new Map<string, T>();
  readonly #guidedRelu: (x: T) => T;

  constructor(
    readonly tf: Tf,
    spec: GraphSpec,
  ) {
    this.graph = new Graph(spec);
    for (const node of this.graph.nodes) {
      const ws = node.weights;
      if (!ws) continue;
      if (node.op === 'conv2d') {
        const [cout, cinG, kh, kw] = ws.weight.shape;
        const g = node.params.groups;
        const w = tf.tensor4d(Float32Array.from(ws.weight.data), [cout, cinG, kh, kw]);
        if (g === 1) {
          this.#w.set(`${node.name}.filter`, tf.keep(w.transpose([2, 3, 1, 0]))); // HWIO
        } else if (cinG === 1) {
          const cin = g;
          const mult = cout / cin;
          this.#w.set(`${node.name}.filter`, tf.keep(w.reshape([cin, mult, kh, kw]).transpose([2, 3, 0, 1])));
        } else {
          throw new Error(`TF.js comparison: grouped conv '${node.name}' (groups ${g}) is not supported`);
        }
        w.dispose();
      } else if (node.op === 'linear') {
        this.#w.set(
          `${node.name}.weight`,
          tf.keep(tf.tensor2d(Float32Array.from(ws.weight.data), ws.weight.shape as [number, number])),
        );
      }
      if (ws.bias) this.#w.set(`${node.name}.bias`, tf.keep(tf.tensor1d(Float32Array.from(ws.bias.data))));
    }
    this.#guidedRelu = tf.customGrad(((x: T, save: (ts: T[]) => void) => {
      save([x]);
      return {
        value: tf.relu(x as T),
        gradFunc: (dy: T, saved: T[]) =>
          tf.mul(tf.mul(dy, tf.cast(tf.greater(saved[0], 0), 'float32')), tf.cast(tf.greater(dy, 0), 'float32')),
      };
    }) as never) as unknown as (x: T) => T;
  }

  /** A converted weight: '<node>.filter' (conv, HWIO), '<node>.weight' (linear, [M, K]), '<node>.bias'. */
  weight(key: string): T {
    const t = this.#w.get(key);
    if (!t) throw new Error(`TF.js comparison: no weight '${key}'`);
    return t;
  }

  dispose(): void {
    for (const t of this.#w.values()) t.dispose();
    this.#w.clear();
  }

  /** NCHW float data of one image → an NHWC tensor [1, H, W, C]. */
  input(data: Float32Array): T {
    const [c, h, w] = this.graph.spec.input.shape;
    return this.tf.tidy(() => this.tf.tensor4d(data, [1, c, h, w]).transpose([0, 2, 3, 1]));
  }

  /** Run `nodes` (in order) over `values`, adding their outputs. */
  run(values: Map<string, T>, nodes: readonly GraphNode[], guided = false): Map<string, T> {
    const tf = this.tf;
    for (const node of nodes) {
      const x = values.get(node.inputs[0])!;
      let y: T;
      switch (node.op) {
        case 'conv2d': {
          const p = node.params;
          const pad: [[number, number], [number, number], [number, number], [number, number]] = [
            [0, 0],
            [p.pads[0], p.pads[2]],
            [p.pads[1], p.pads[3]],
            [0, 0],
          ];
          const f = this.#w.get(`${node.name}.filter`)!;
          y =
            p.groups === 1
              ? tf.conv2d(x as TF.Tensor4D, f as TF.Tensor4D, p.stride, pad, 'NHWC', p.dilation)
              : tf.depthwiseConv2d(x as TF.Tensor4D, f as TF.Tensor4D, p.stride, pad, 'NHWC', p.dilation);
          const b = this.#w.get(`${node.name}.bias`);
          if (b) y = tf.add(y, b);
          break;
        }
        case 'relu':
          y = guided ? this.#guidedRelu(x) : tf.relu(x);
          break;
        case 'maxpool2d': {
          const p = node.params;
          if (p.ceilMode || new Set(p.pads).size > 1)
            throw new Error(`TF.js comparison: pool '${node.name}' attributes`);
          y = tf.maxPool(x as TF.Tensor4D, p.kernel, p.stride, p.pads[0]);
          break;
        }
        case 'globalavgpool':
          y = tf.mean(x, [1, 2], true);
          break;
        case 'flatten':
        case 'reshape': {
          const [n, h, w, c] = x.shape;
          const flat = h === 1 && w === 1 ? x : tf.transpose(x, [0, 3, 1, 2]);
          y = tf.reshape(flat, [n, c * h * w]);
          break;
        }
        case 'linear': {
          y = tf.matMul(x, this.#w.get(`${node.name}.weight`)!, false, true);
          const b = this.#w.get(`${node.name}.bias`);
          if (b) y = tf.add(y, b);
          break;
        }
        case 'add':
          y = tf.add(x, values.get(node.inputs[1])!);
          break;
        case 'concat':
          y = tf.concat(
            node.inputs.map((i) => values.get(i)!),
            3,
          );
          break;
        case 'softmax':
          y = tf.softmax(x);
          break;
        case 'identity':
          y = x;
          break;
        default:
          throw new Error(`TF.js comparison: op '${node.op}' (node '${node.name}') is not supported`);
      }
      values.set(node.output, y);
    }
    return values;
  }

  /** The whole forward from x: every tensor by name. */
  forward(x: T, guided = false): Map<string, T> {
    return this.run(new Map([[this.graph.input, x]]), this.graph.nodes, guided);
  }

  /** The nodes after `layer` that lead to `scores` (the head, given the layer's activation). */
  headNodes(layer: string): GraphNode[] {
    return this.graph.backwardNodes(layer, this.graph.scores);
  }

  /** Score y^c (summed over the one-hot) as a function of the layer's activation. */
  scoreOfLayer(values: Map<string, T>, layer: string, onehot: T): (a: T) => T {
    const head = this.headNodes(layer);
    return (a: T) => {
      const v = new Map(values);
      v.set(layer, a);
      this.run(v, head);
      return this.tf.sum(this.tf.mul(v.get(this.graph.scores)!, onehot));
    };
  }

  /** (m − min)/(max − min) per image of [1, h, w]; a constant map becomes zeros. */
  normalize(m: T): T {
    const tf = this.tf;
    const lo = tf.min(m);
    const range = tf.sub(tf.max(m), lo);
    return tf.where(tf.greater(range, 0), tf.div(tf.sub(m, lo), tf.maximum(range, 1e-30)), tf.zerosLike(m));
  }

  upsample(m: T): T {
    const [, H, W] = this.graph.spec.input.shape;
    return this.tf.image.resizeBilinear(this.tf.expandDims(m, 3) as TF.Tensor4D, [H, W], false, true).squeeze([3]);
  }
}

export interface TfMaps {
  classes: number[];
  logits: Float32Array;
  /** Per method, [T, H, W] maps at the input (guided ones [T, H, W, C]), read back. */
  maps: Record<string, Float32Array>;
}

/** Forward alone: the logits, read back. */
export async function tfForward(net: TfNet, x: T): Promise<Float32Array> {
  const logits = net.tf.tidy(() => net.forward(x).get(net.graph.scores)!);
  const d = (await logits.data()) as Float32Array;
  logits.dispose();
  return d;
}

/** Forward + Grad-CAM of the top class at `layer`; returns the upsampled map [H, W], read back. */
export async function tfGradcam(net: TfNet, x: T, layer: string): Promise<Float32Array> {
  const tf = net.tf;
  const map = tf.tidy(() => {
    const v = net.forward(x);
    const logits = v.get(net.graph.scores)!;
    const onehot = tf.oneHot(tf.argMax(logits, 1), logits.shape[1]!);
    const A = v.get(layer)!;
    const g = tf.grad(net.scoreOfLayer(v, layer, onehot))(A);
    const alpha = tf.mean(g, [1, 2], true);
    const cam = tf.relu(tf.sum(tf.mul(A, alpha), 3));
    return net.upsample(net.normalize(cam));
  });
  const d = (await map.data()) as Float32Array;
  map.dispose();
  return d;
}

/** The registry's methods this TF.js implementation computes (allMethods below), for comparison. */
export const TF_METHODS: readonly Method[] = [
  'cam',
  'gradcam',
  'gradcam++',
  'counterfactual',
  'guided-backprop',
  'guided-gradcam',
];

/**
 * All six methods (CAM when `camLinear` names the linear layer of a GAP head) for the top `t`
 * classes, one tf.grad call per class and method family, as tensors [T, H, W] (guided ones
 * [T, H, W, C]). Call inside tf.tidy.
 */
function allMethods(net: TfNet, x: T, layer: string, t: number, camLinear: string | null) {
  const tf = net.tf;
  const v = net.forward(x);
  const logits = v.get(net.graph.scores)!;
  const K = logits.shape[1]!;
  const { indices } = tf.topk(logits, t);
  const A = v.get(layer)!;
  const sumA = tf.sum(A, [1, 2], true);
  const maps: Record<string, T[]> = {};
  const add = (k: string, m: T) => (maps[k] ??= []).push(m);
  for (let i = 0; i < t; i++) {
    const onehot = tf.oneHot(tf.reshape(tf.slice(indices, [0, i], [1, 1]), [1]), K);
    const g = tf.grad(net.scoreOfLayer(v, layer, onehot))(A);
    const alpha = tf.mean(g, [1, 2], true);
    const gradcam = net.upsample(net.normalize(tf.relu(tf.sum(tf.mul(A, alpha), 3))));
    add('gradcam', gradcam);
    add('counterfactual', net.upsample(net.normalize(tf.relu(tf.sum(tf.mul(A, tf.neg(alpha)), 3)))));
    // Grad-CAM++: a = g² / (2g² + Σ_ab A·g³), 0 where the denominator is 0; w = Σ_ij a·ReLU(g)
    const g2 = tf.square(g);
    const denom = tf.add(tf.mul(g2, 2), tf.mul(sumA, tf.mul(g2, g)));
    const nz = tf.notEqual(denom, 0);
    const a = tf.where(nz, tf.div(g2, tf.where(nz, denom, tf.onesLike(denom))), tf.zerosLike(denom));
    const wpp = tf.sum(tf.mul(a, tf.relu(g)), [1, 2], true);
    add('gradcam++', net.upsample(net.normalize(tf.relu(tf.sum(tf.mul(A, wpp), 3)))));
    if (camLinear) {
      const wc = tf.matMul(onehot, net.weight(`${camLinear}.weight`)); // row c of [M, K]
      add('cam', net.upsample(net.normalize(tf.sum(tf.mul(A, tf.reshape(wc, [1, 1, 1, -1])), 3))));
    }
    const gb = tf.grad((xx: T) => tf.sum(tf.mul(net.forward(xx, true).get(net.graph.scores)!, onehot)))(x);
    add('guided-backprop', gb);
    add('guided-gradcam', tf.mul(gb, tf.expandDims(gradcam, 3)));
  }
  const stacked: Record<string, T> = {};
  for (const [k, list] of Object.entries(maps)) stacked[k] = tf.concat(list, 0);
  return { logits, indices, stacked };
}

/** All TF_METHODS for the top `t` classes, every map read back (for the equality check). */
export async function tfAllMethods(
  net: TfNet,
  x: T,
  layer: string,
  t: number,
  camLinear: string | null,
): Promise<TfMaps> {
  const tf = net.tf;
  const out = tf.tidy(() => allMethods(net, x, layer, t, camLinear));
  const classes = Array.from((await out.indices.data()) as Int32Array);
  const logits = (await out.logits.data()) as Float32Array;
  const maps: Record<string, Float32Array> = {};
  for (const [k, m] of Object.entries(out.stacked)) maps[k] = (await m.data()) as Float32Array;
  tf.dispose([out.logits, out.indices, ...Object.values(out.stacked)]);
  return { classes, logits, maps };
}

/** The same work, reading back one number that depends on every map (what a timed run waits for). */
export async function tfAllMethodsTimed(
  net: TfNet,
  x: T,
  layer: string,
  t: number,
  camLinear: string | null,
): Promise<void> {
  const tf = net.tf;
  const last = tf.tidy(() => {
    const { stacked } = allMethods(net, x, layer, t, camLinear);
    return tf.addN(Object.values(stacked).map((m) => tf.sum(m)));
  });
  await last.data();
  last.dispose();
}
