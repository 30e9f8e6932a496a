/**
 * Networks for the end-to-end benchmark, as GraphSpecs with seeded random weights, and their
 * FLOP counts (2 per multiply-add of convs and linear layers; everything else is not counted).
 *
 *   gap4       the design document's comparison point: four 3×3 convs (3→32→64→128→256) with
 *              ReLU and 2×2 max-pools between them on a 3×96×96 input, global average pool,
 *              linear 256→10; about 0.27 GFLOP forward.
 *   resnet18   ResNet-18's shape (BatchNorm folded into the convs) on 3×224×224, 1000 classes;
 *              about 1.8 GFLOP forward. Used when the ONNX export (tools/export_bench_resnet18.py)
 *              is missing.
 *   tiny       a 3×16×16 two-conv network for the smoke run.
 */
import type { GraphSpec, NodeSpec, WeightSpec } from '../src/model/spec';
import { conv2dOutputShape } from '../src/defs/conv2d';
import { Graph } from '../src/model/graph';

/** mulberry32 + Box–Muller: the same data in Node and in the page. */
function randn(n: number, seed: number, scale: number): Float32Array {
  let a = seed >>> 0;
  const r = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  }
  return out;
}

export { randn as benchRandn };

class Builder {
  nodes: NodeSpec[] = [];
  #seed: number;
  constructor(seed: number) {
    this.#seed = seed;
  }
  w(shape: number[], fanIn: number): WeightSpec {
    const n = shape.reduce((p, q) => p * q, 1);
    return { shape, data: randn(n, this.#seed++, Math.sqrt(2 / fanIn)) };
  }
  conv(name: string, input: string, cin: number, cout: number, k: number, stride = 1, pad = (k - 1) / 2): string {
    this.nodes.push({
      op: 'conv2d',
      name,
      inputs: [input],
      output: name,
      attrs: { stride: [stride, stride], pads: [pad, pad, pad, pad] },
      weights: { weight: this.w([cout, cin, k, k], cin * k * k), bias: this.w([cout], 50) },
    });
    return name;
  }
  op(op: NodeSpec['op'], name: string, inputs: string[], attrs?: Record<string, unknown>): string {
    this.nodes.push({ op, name, inputs, output: name, ...(attrs ? { attrs } : {}) });
    return name;
  }
  linear(name: string, input: string, k: number, m: number): string {
    this.nodes.push({
      op: 'linear',
      name,
      inputs: [input],
      output: name,
      weights: { weight: this.w([m, k], k), bias: this.w([m], 50) },
    });
    return name;
  }
}

/** Four 3×3 convs with ReLU and max-pools, GAP, linear: the 96×96 comparison network. */
export function gap4(): GraphSpec {
  const b = new Builder(100);
  let t = 'image';
  const widths = [3, 32, 64, 128, 256];
  for (let i = 1; i <= 4; i++) {
    t = b.op('relu', `relu${i}`, [b.conv(`conv${i}`, t, widths[i - 1], widths[i], 3)]);
    if (i < 4) t = b.op('maxpool2d', `pool${i}`, [t], { kernel: [2, 2], stride: [2, 2] });
  }
  b.linear('fc', b.op('flatten', 'flat', [b.op('globalavgpool', 'gap', [t])]), 256, 10);
  return { name: 'gap4', input: { name: 'image', shape: [3, 96, 96] }, output: 'fc', nodes: b.nodes };
}

/** ResNet-18 (BatchNorm folded into the convs), random weights. */
export function resnet18(size = 224, classes = 1000): GraphSpec {
  const b = new Builder(200);
  let t = b.op('relu', 'stem_relu', [b.conv('stem', 'image', 3, 64, 7, 2, 3)]);
  t = b.op('maxpool2d', 'stem_pool', [t], { kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1] });
  let cin = 64;
  for (const [stage, cout] of [64, 128, 256, 512].entries()) {
    for (let blk = 0; blk < 2; blk++) {
      const s = blk === 0 && stage > 0 ? 2 : 1;
      const n = `layer${stage + 1}.${blk}`;
      const a = b.op('relu', `${n}.relu1`, [b.conv(`${n}.conv1`, t, cin, cout, 3, s)]);
      const c2 = b.conv(`${n}.conv2`, a, cout, cout, 3);
      const skip = s !== 1 || cin !== cout ? b.conv(`${n}.down`, t, cin, cout, 1, s, 0) : t;
      t = b.op('relu', `${n}.relu2`, [b.op('add', `${n}.add`, [c2, skip])]);
      cin = cout;
    }
  }
  b.linear('fc', b.op('flatten', 'flat', [b.op('globalavgpool', 'gap', [t])]), 512, classes);
  return { name: 'resnet18', input: { name: 'image', shape: [3, size, size] }, output: 'fc', nodes: b.nodes };
}

/** Smoke: two small convs, GAP, linear. */
export function tiny(): GraphSpec {
  const b = new Builder(300);
  const t = b.op('relu', 'relu1', [b.conv('conv1', 'image', 3, 8, 3)]);
  const u = b.op('relu', 'relu2', [b.conv('conv2', t, 8, 8, 3)]);
  b.linear('fc', b.op('flatten', 'flat', [b.op('globalavgpool', 'gap', [u])]), 8, 6);
  return { name: 'tiny', input: { name: 'image', shape: [3, 16, 16] }, output: 'fc', nodes: b.nodes };
}

/** Forward FLOPs of one image: 2 per multiply-add of every conv and linear layer. */
export function forwardFlops(spec: GraphSpec): number {
  const g = new Graph(spec);
  let f = 0;
  for (const node of g.nodes) {
    if (node.op === 'conv2d') {
      const w = node.weights!.weight.shape;
      const out = conv2dOutputShape(g.shape(node.inputs[0]), w, node.params);
      f += 2 * out[1] * out[2] * out[3] * w[1] * w[2] * w[3];
    } else if (node.op === 'linear') {
      const w = node.weights!.weight.shape;
      f += 2 * w[0] * w[1];
    }
  }
  return f;
}

/** A seeded input image [1, C, H, W] in about [−2, 2] (like a normalised photo). */
export function inputFor(spec: GraphSpec): Float32Array {
  const [c, h, w] = spec.input.shape;
  return randn(c * h * w, 7, 1);
}
