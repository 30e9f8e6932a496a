/**
 * Bad ONNX files through loadOnnx on the GPU (issue 14, item 4's weights and the cases the
 * report found to hold): a NaN or ±Infinity in a weight, in float_data, raw_data or after a
 * BatchNormalization is folded, is refused with NonFiniteError naming the weight, the count and
 * the first position — by onnxToGraphSpec, before any GPU work, and by Model.load for a GraphSpec;
 * truncations, external data, a cycle, an unknown operator and huge claimed dimensions give their
 * typed errors. After each, the engine holds what it held before and an explain of a loaded
 * model equals the one before, bit for bit. (500 mutated files: onnx-fuzz.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelFormatError, NonFiniteError, UnsupportedOperatorError, type WebGpuCamError } from '../../src/core/errors';
import type { Engine } from '../../src/gpu/engine';
import type { Tensor } from '../../src/gpu/tensor';
import { Model } from '../../src/model/model';
import { loadOnnx, onnxToGraphSpec } from '../../src/model/onnx';
import type { GraphSpec } from '../../src/model/spec';
import { positive, smallNet } from '../cases/onnx_nets';
import { NETS } from '../cases/nets';
import { getEngine } from '../util/gpu';
import { floatTensor, node, onnxModel, type TensorObj } from '../util/onnx_builder';
import { randn } from '../util/random';
import { ALL_METHODS, expectCleanFailure, explainValues } from '../util/reliability';

const FASHION = new Uint8Array(readFileSync(fileURLToPath(new URL('../../weights/fashion_cam.onnx', import.meta.url))));

let e: Engine;
let model: Model;
let x: Tensor;
let before: Map<string, Float32Array>;
const after = () => ({ model, x, before, opts: { ...ALL_METHODS, methods: ['gradcam', 'guided-gradcam'] as const } });

beforeAll(async () => {
  e = await getEngine();
  ({ model } = await loadOnnx(e, smallNet()));
  x = e.upload(randn(3 * 9 * 9, 61), [1, 3, 9, 9], 'x');
  before = await explainValues(model, x, after().opts);
});
afterAll(() => {
  x?.destroy();
  model?.destroy();
});

/** A conv + GAP + Gemm net whose conv weight (or, with bn, the BatchNormalization's variance) is given. */
function net(w: TensorObj, bn?: TensorObj): Uint8Array {
  const c = 4;
  const initializers = [
    w,
    floatTensor('fc', [3, c], randn(3 * c, 63)),
    ...(bn
      ? [
          floatTensor('g', [c], positive(c, 64)),
          floatTensor('b', [c], randn(c, 65)),
          floatTensor('m', [c], randn(c, 66)),
          bn,
        ]
      : []),
  ];
  return onnxModel({
    input: ['image', ['batch', 3, 9, 9]],
    output: 'logits',
    initializers,
    nodes: [
      node('Conv', ['image', 'w1'], ['c1'], { pads: [1, 1, 1, 1] }, 'conv1'),
      ...(bn ? [node('BatchNormalization', ['c1', 'g', 'b', 'm', 'v'], ['bn1'], {}, 'bn1')] : []),
      node('Relu', [bn ? 'bn1' : 'c1'], ['r1'], {}, 'relu1'),
      node('GlobalAveragePool', ['r1'], ['gap'], {}, 'gap'),
      node('Flatten', ['gap'], ['flat'], {}, 'flat'),
      node('Gemm', ['flat', 'fc'], ['logits'], { transB: 1 }, 'fc'),
    ],
  });
}

/** loadOnnx(bytes) fails with Err (message `re`) and leaves the engine as it was. */
async function refused<E extends WebGpuCamError>(
  bytes: Uint8Array,
  Err: abstract new (...args: never[]) => E,
  re: RegExp,
): Promise<E> {
  // Without the GPU first: the converter alone gives the same error.
  expect(() => onnxToGraphSpec(bytes)).toThrow(Err);
  return expectCleanFailure(e, () => loadOnnx(e, bytes), Err, re, after());
}

describe('non-finite weights', () => {
  it('a NaN or ±Infinity in a conv weight (float_data or raw_data): NonFiniteError naming the weight, the count and the first position', async () => {
    for (const raw of [false, true]) {
      for (const [v, shown] of [
        [NaN, 'NaN'],
        [Infinity, 'Infinity'],
        [-Infinity, '-Infinity'],
      ] as const) {
        const data = randn(4 * 27, 62, 0.4);
        data[31] = v; // output channel 1, input channel 0, row 1, column 1
        const err = await refused(
          net(floatTensor('w1', [4, 3, 3, 3], data, raw)),
          NonFiniteError,
          new RegExp(
            `weight 'conv1\\.weight' of node 'conv1' \\(conv2d\\): 1 value is not finite \\(the first, ${shown}, at \\[1, 0, 1, 1\\]\\)`,
          ),
        );
        expect([err.count, err.index]).toEqual([1, 31]);
      }
    }
  });

  it('a negative variance makes a folded BatchNormalization NaN: refused, naming the conv it was folded into', async () => {
    const v = Float32Array.from([1, -1, 0.5, -2]);
    const err = await refused(
      net(floatTensor('w1', [4, 3, 3, 3], randn(4 * 27, 62, 0.4)), floatTensor('v', [4], v)),
      NonFiniteError,
      /weight 'conv1\.(weight|bias)' of node 'conv1' \(conv2d\): \d+ values are not finite/,
    );
    expect(err.count).toBeGreaterThan(1);
  });

  it('a GraphSpec with a NaN weight: Model.load refuses it before uploading anything', async () => {
    const spec: GraphSpec = NETS.plain();
    const conv2 = spec.nodes.find((n) => n.name === 'conv2')!;
    const data = Float32Array.from(conv2.weights!.weight.data);
    data[data.length - 1] = NaN;
    data[7] = NaN;
    conv2.weights!.weight = { ...conv2.weights!.weight, data };
    const uploads = e.stats.uploads;
    // (The explain afterwards uploads nothing: its classes come from the GPU's top-k.)
    const err = await expectCleanFailure(
      e,
      () => Model.load(e, spec),
      NonFiniteError,
      /weight 'conv2\.weight' of node 'conv2' \(conv2d\): 2 values are not finite \(the first, NaN, at \[0, 0, 2, 1\]\)/,
      after(),
    );
    expect(err.index).toBe(7);
    expect(e.stats.uploads - uploads, 'uploads').toBe(0);
  });
});

describe('malformed files', () => {
  it('truncated at every tenth of the file, and the shipped model cut short: ModelFormatError', async () => {
    for (const bytes of [smallNet(), FASHION]) {
      for (let k = 1; k < 10; k++) {
        await refused(bytes.slice(0, Math.floor((bytes.length * k) / 10)), ModelFormatError, /./);
      }
    }
  });

  it('external data, a cycle, an unknown operator, huge claimed dimensions', async () => {
    const w = floatTensor('w1', [4, 3, 3, 3], randn(4 * 27, 62, 0.4));
    const external = net({ ...w, float_data: undefined, data_location: 1 } as TensorObj);
    await refused(external, ModelFormatError, /w1.*external/i);

    const huge = net({ name: 'w1', dims: [4e9, 3e9, 3, 3], data_type: 1, raw_data: new Uint8Array(16) });
    await refused(huge, ModelFormatError, /w1/);

    // a = image + b, b = relu(a): b is read before any node has made it.
    const cyclic = onnxModel({
      input: ['image', ['batch', 3, 9, 9]],
      output: 'y',
      nodes: [
        node('Add', ['image', 'b'], ['a'], {}, 'one'),
        node('Relu', ['a'], ['b'], {}, 'two'),
        node('Relu', ['b'], ['y'], {}, 'out'),
      ],
    });
    await refused(cyclic, ModelFormatError, /node 'one' \(Add\): reads tensor 'b', which no earlier node produces/);

    const unknown = onnxModel({
      input: ['image', ['batch', 3, 9, 9]],
      output: 'y',
      nodes: [node('Relu', ['image'], ['r'], {}, 'relu'), node('Celu', ['r'], ['y'], {}, 'celu')],
    });
    const u = await refused(unknown, UnsupportedOperatorError, /unsupported operator 'Celu' ×1 \(first: node 'celu'\)/);
    expect(u.opType).toBe('Celu');
  });
});
