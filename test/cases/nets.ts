/**
 * Small test networks with seeded random weights, as GraphSpecs. Pure data and no test-runner
 * imports, so the Node tests and the browser harness build the very same networks.
 */
import type { GraphSpec, NodeSpec, WeightSpec } from '../../src/model/spec';
import { randn } from '../util/random';

let seedCounter = 1000;

function w(shape: number[], fanIn: number): WeightSpec {
  return {
    shape,
    data: randn(
      shape.reduce((a, b) => a * b, 1),
      seedCounter++,
      Math.sqrt(2 / fanIn),
    ),
  };
}

function conv(
  name: string,
  input: string,
  cin: number,
  cout: number,
  k: number,
  attrs: Record<string, unknown> = {},
): NodeSpec {
  const groups = (attrs.groups as number | undefined) ?? 1;
  return {
    op: 'conv2d',
    name,
    inputs: [input],
    output: name,
    attrs,
    weights: { weight: w([cout, cin / groups, k, k], (cin / groups) * k * k), bias: w([cout], 4) },
  };
}

function op(opName: NodeSpec['op'], name: string, inputs: string[], attrs?: Record<string, unknown>): NodeSpec {
  return { op: opName, name, inputs, output: name, ...(attrs ? { attrs } : {}) };
}

function linear(name: string, input: string, k: number, m: number): NodeSpec {
  return { op: 'linear', name, inputs: [input], output: name, weights: { weight: w([m, k], k), bias: w([m], 4) } };
}

/** conv → ReLU → max-pool → conv → ReLU → GAP → linear, on a 3×11×9 input. */
export function plainNet(): GraphSpec {
  seedCounter = 1000;
  return {
    name: 'plain',
    input: { name: 'image', shape: [3, 11, 9] },
    output: 'logits',
    nodes: [
      conv('conv1', 'image', 3, 6, 3, { pads: [1, 1, 1, 1] }),
      op('relu', 'relu1', ['conv1']),
      op('maxpool2d', 'pool1', ['relu1'], { kernel: [2, 2], stride: [2, 2] }),
      conv('conv2', 'pool1', 6, 10, 3, { pads: [1, 1, 1, 1] }),
      op('relu', 'relu2', ['conv2']),
      op('globalavgpool', 'gap', ['relu2']),
      op('flatten', 'flat', ['gap']),
      linear('logits', 'flat', 10, 5),
    ],
  };
}

/**
 * A residual block and a fan-out: relu1 feeds both the block and the skip connection, so its
 * gradient is the sum of two paths. Strided conv, 1×1 conv, avg-pool on the way.
 */
export function residualNet(): GraphSpec {
  seedCounter = 2000;
  return {
    name: 'residual',
    input: { name: 'image', shape: [3, 10, 10] },
    output: 'logits',
    nodes: [
      conv('stem', 'image', 3, 6, 3, { pads: [1, 1, 1, 1], stride: [2, 2] }),
      op('relu', 'relu1', ['stem']),
      conv('block_a', 'relu1', 6, 6, 3, { pads: [1, 1, 1, 1] }),
      op('relu', 'block_relu', ['block_a']),
      conv('block_b', 'block_relu', 6, 6, 1),
      op('add', 'sum', ['block_b', 'relu1']),
      op('relu', 'relu2', ['sum']),
      op('avgpool2d', 'avg', ['relu2'], { kernel: [2, 2], stride: [1, 1] }),
      op('globalavgpool', 'gap', ['avg']),
      op('flatten', 'flat', ['gap']),
      linear('logits', 'flat', 6, 4),
    ],
  };
}

/** Branches joined by concat, a depthwise conv, and a softmax at the output. */
export function branchyNet(): GraphSpec {
  seedCounter = 3000;
  return {
    name: 'branchy',
    input: { name: 'image', shape: [3, 9, 7] },
    output: 'probs',
    nodes: [
      conv('stem', 'image', 3, 4, 3, { pads: [0, 1, 2, 1] }),
      op('relu', 'relu1', ['stem']),
      conv('dw', 'relu1', 4, 4, 3, { pads: [1, 1, 1, 1], groups: 4 }),
      conv('pw', 'relu1', 4, 3, 1),
      op('concat', 'cat', ['dw', 'pw'], { axis: 1 }),
      op('relu', 'relu2', ['cat']),
      conv('dil', 'relu2', 7, 5, 3, { pads: [2, 2, 2, 2], dilation: [2, 2] }),
      op('relu', 'relu3', ['dil']),
      op('globalavgpool', 'gap', ['relu3']),
      op('flatten', 'flat', ['gap']),
      linear('logits', 'flat', 5, 6),
      op('softmax', 'probs', ['logits']),
    ],
  };
}

export const NETS = { plain: plainNet, residual: residualNet, branchy: branchyNet };
