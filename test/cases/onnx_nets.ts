/**
 * Hand-built ONNX models shared by the Node tests and the browser harness (pure data and
 * protobufjs, no test-runner imports).
 */
import { f, floatTensor, node, onnxModel } from '../util/onnx_builder';
import { randn, rng } from '../util/random';

/** n values in [0.5, 1.5) (BatchNorm scales and variances). */
export function positive(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => 0.5 + r());
}

/** conv+BN → ReLU6 → two branches (max-pool ceil / conv) → concat → avg-pool → GAP → Gemm → softmax */
export function smallNet(): Uint8Array {
  const c = 4;
  return onnxModel({
    input: ['image', ['batch', 3, 9, 9]],
    output: 'probs',
    initializers: [
      floatTensor('w1', [c, 3, 3, 3], randn(c * 27, 70, 0.4), true),
      floatTensor('g', [c], positive(c, 71)),
      floatTensor('b', [c], randn(c, 72)),
      floatTensor('m', [c], randn(c, 73)),
      floatTensor('v', [c], positive(c, 74)),
      floatTensor('w2', [c, c, 1, 1], randn(c * c, 75, 0.5)),
      floatTensor('fc', [3, 2 * c], randn(6 * c, 76)),
      floatTensor('fcb', [3], randn(3, 77)),
    ],
    nodes: [
      node('Conv', ['image', 'w1'], ['c1'], { pads: [1, 1, 1, 1] }, 'conv1'),
      node('BatchNormalization', ['c1', 'g', 'b', 'm', 'v'], ['bn1'], {}, 'bn1'),
      node('Constant', [], ['zero'], { value: floatTensor('z', [], [0]) }),
      node('Constant', [], ['six'], { value: floatTensor('s', [], [6]) }),
      node('Clip', ['bn1', 'zero', 'six'], ['act1'], {}, 'relu6'),
      node('MaxPool', ['act1'], ['mp'], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }, 'pool'),
      node('Conv', ['act1', 'w2'], ['c2'], { strides: [2, 2], pads: [0, 0, 1, 1] }, 'conv2'),
      node('Relu', ['c2'], ['act2'], {}, 'relu2'),
      node('Concat', ['mp', 'act2'], ['cat'], { axis: 1 }, 'cat'),
      node('AveragePool', ['cat'], ['avg'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1 }, 'avg'),
      node('GlobalAveragePool', ['avg'], ['gap'], {}, 'gap'),
      node('Flatten', ['gap'], ['flat'], {}, 'flat'),
      node('Gemm', ['flat', 'fc', 'fcb'], ['logits'], { transB: 1 }, 'fc'),
      node('Softmax', ['logits'], ['probs'], { axis: 1 }, 'softmax'),
    ],
    metadata: { labels: '["a", "b", "c"]' },
  });
}

/**
 * A net whose weights exercise every transformation the converter applies to a weight, the large
 * ones in raw_data (deferred by loadOnnx of a path: w2 and fc1 hold at least 1 MiB), the others
 * in float_data or small: conv (float_data) + BN → ReLU → conv w2 (raw, 1.18 MB) + BN (folded
 * into w2) → ReLU → max-pool → flatten → Gemm fc1 (raw [K, M], transB = 0, alpha 0.5: transposed
 * and scaled, 1.31 MB) → ReLU → Gemm fc2 (raw, transB = 1, alpha 2: scaled) → ReLU → MatMul by
 * a raw constant [K, M] (transposed) → logits [N, 10].
 */
export function deferNet(): Uint8Array {
  const [c1, c2, h1, h2, k] = [256, 128, 160, 64, 10];
  const flat = c2 * 4 * 4;
  return onnxModel({
    input: ['image', ['batch', 3, 8, 8]],
    output: 'logits',
    initializers: [
      floatTensor('w1', [c1, 3, 3, 3], randn(c1 * 27, 80, 0.2)),
      floatTensor('b1', [c1], randn(c1, 81, 0.1)),
      floatTensor('g1', [c1], positive(c1, 82)),
      floatTensor('be1', [c1], randn(c1, 83, 0.1)),
      floatTensor('m1', [c1], randn(c1, 84, 0.1)),
      floatTensor('v1', [c1], positive(c1, 85)),
      floatTensor('w2', [c2, c1, 3, 3], randn(c2 * c1 * 9, 86, 0.02), true),
      floatTensor('g2', [c2], positive(c2, 87)),
      floatTensor('be2', [c2], randn(c2, 88, 0.1)),
      floatTensor('m2', [c2], randn(c2, 89, 0.1)),
      floatTensor('v2', [c2], positive(c2, 90)),
      floatTensor('fc1', [flat, h1], randn(flat * h1, 91, 0.03), true),
      floatTensor('fc1b', [h1], randn(h1, 92, 0.1)),
      floatTensor('fc2', [h2, h1], randn(h2 * h1, 93, 0.08), true),
      floatTensor('mm', [h2, k], randn(h2 * k, 94, 0.1), true),
    ],
    nodes: [
      node('Conv', ['image', 'w1', 'b1'], ['x1'], { pads: [1, 1, 1, 1] }, 'conv1'),
      node('BatchNormalization', ['x1', 'g1', 'be1', 'm1', 'v1'], ['n1'], {}, 'bn1'),
      node('Relu', ['n1'], ['r1'], {}, 'relu1'),
      node('Conv', ['r1', 'w2'], ['x2'], { pads: [1, 1, 1, 1] }, 'conv2'),
      node('BatchNormalization', ['x2', 'g2', 'be2', 'm2', 'v2'], ['n2'], { epsilon: f(1e-3) }, 'bn2'),
      node('Relu', ['n2'], ['r2'], {}, 'relu2'),
      node('MaxPool', ['r2'], ['p2'], { kernel_shape: [2, 2], strides: [2, 2] }, 'pool'),
      node('Flatten', ['p2'], ['flat'], {}, 'flatten'),
      node('Gemm', ['flat', 'fc1', 'fc1b'], ['h1'], { alpha: f(0.5) }, 'fc1'),
      node('Relu', ['h1'], ['r3'], {}, 'relu3'),
      node('Gemm', ['r3', 'fc2'], ['h2'], { transB: 1, alpha: f(2) }, 'fc2'),
      node('Relu', ['h2'], ['r4'], {}, 'relu4'),
      node('MatMul', ['r4', 'mm'], ['logits'], {}, 'head'),
    ],
  });
}

/**
 * A net with a large raw constant (1 MiB) that a rule reads value by value (the constant operand
 * of an Add becomes a constant node): conv → Add(·, K [1, 256, 32, 32]) → GAP → flatten → Gemm.
 */
export function constantOperandNet(): Uint8Array {
  const c = 256;
  return onnxModel({
    input: ['image', ['batch', 3, 32, 32]],
    output: 'logits',
    initializers: [
      floatTensor('w', [c, 3, 1, 1], randn(c * 3, 95, 0.3)),
      floatTensor('k', [1, c, 32, 32], randn(c * 32 * 32, 96, 0.5), true),
      floatTensor('fc', [4, c], randn(4 * c, 97, 0.1)),
    ],
    nodes: [
      node('Conv', ['image', 'w'], ['x'], {}, 'conv'),
      node('Add', ['x', 'k'], ['y'], {}, 'add'),
      node('GlobalAveragePool', ['y'], ['g'], {}, 'gap'),
      node('Flatten', ['g'], ['flat'], {}, 'flatten'),
      node('Gemm', ['flat', 'fc'], ['logits'], { transB: 1 }, 'fc'),
    ],
  });
}
