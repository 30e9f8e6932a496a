/**
 * Hand-built ONNX models shared by the Node tests and the browser harness (pure data and
 * protobufjs, no test-runner imports).
 */
import { floatTensor, node, onnxModel } from '../util/onnx_builder';
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
