/**
 * The ONNX importer on hand-built models (test/util/onnx_builder.ts), no PyTorch needed: each
 * converted graph, run by the CPU reference executor, must equal the ONNX operator's definition
 * computed here from the original parameters (reference ops + explicit formulas), and every
 * malformed or unsupported input must give a typed error that names the offending thing.
 */
import { describe, expect, it } from 'vitest';
import {
  InvalidInputError,
  ModelFormatError,
  ShapeMismatchError,
  UnsupportedOperatorError,
} from '../../src/core/errors';
import { Graph } from '../../src/model/graph';
import { loadOnnx, onnxToGraphSpec, type OnnxSidecar } from '../../src/model/onnx';
import type { GraphSpec } from '../../src/model/spec';
import { conv2dParams } from '../../src/defs/conv2d';
import { conv2dForward } from '../../src/reference/conv2d';
import { RefModel } from '../../src/reference/model';
import { maxPool2dForward } from '../../src/reference/pool';
import { pool2dParams } from '../../src/defs/pool';
import { hostTensor, type HostTensor } from '../../src/reference/tensor';
import {
  encodeModel,
  f,
  floatTensor,
  intTensor,
  modelObject,
  node,
  onnxModel,
  TensorProto,
  type AttrValue,
  type ModelDef,
} from '../util/onnx_builder';
import { positive, smallNet } from '../cases/onnx_nets';
import { EXACT, expectAllclose, F64, NETWORK, type Tol } from '../util/compare';
import { getEngine } from '../util/gpu';
import { randn, rng } from '../util/random';
import { explain } from '../../src/attribution/explain';

// Not a named tolerance: the importer stores folded parameters (BatchNormalization, Gemm's
// alpha and beta) as float32, one rounding per weight, which the float64 check then sees.
const FOLDED: Tol = { atol: 1e-5, rtol: 1e-5 };

function run(spec: GraphSpec, x: Float32Array, name = spec.output): HostTensor {
  const m = new RefModel(spec);
  return m.forward(hostTensor([1, ...spec.input.shape], x)).get(name)!;
}

/** ONNX BatchNormalization (inference), per channel of an NCHW tensor. */
function batchNorm(v: HostTensor, g: Float32Array, b: Float32Array, mean: Float32Array, vr: Float32Array, eps: number) {
  const out = hostTensor(v.shape);
  const [, c, h, w] = v.shape;
  for (let i = 0; i < v.data.length; i++) {
    const k = Math.floor(i / (h * w)) % c;
    out.data[i] = ((v.data[i] - mean[k]) / Math.sqrt(vr[k] + eps)) * g[k] + b[k];
  }
  return out;
}

const ops = (spec: GraphSpec) => spec.nodes.map((n) => n.op);

describe('BatchNormalization', () => {
  const x = randn(3 * 6 * 6, 1);
  const w = randn(4 * 3 * 3 * 3, 2, 0.3);
  const cb = randn(4, 3);
  const [gamma, beta, mean, variance] = [positive(4, 4), randn(4, 5), randn(4, 6), positive(4, 7)];
  const bnInits = (p: string) => [
    floatTensor(`${p}.g`, [4], gamma),
    floatTensor(`${p}.b`, [4], beta),
    floatTensor(`${p}.m`, [4], mean),
    floatTensor(`${p}.v`, [4], variance),
  ];
  const bnIn = (p: string) => [`${p}.g`, `${p}.b`, `${p}.m`, `${p}.v`];

  it.each([false, true])('folds into the conv before it (conv has a bias: %s)', (withBias) => {
    const bytes = onnxModel({
      input: ['x', [1, 3, 6, 6]],
      output: 'y',
      initializers: [floatTensor('w', [4, 3, 3, 3], w), floatTensor('cb', [4], cb), ...bnInits('bn')],
      nodes: [
        node('Conv', withBias ? ['x', 'w', 'cb'] : ['x', 'w'], ['c'], { pads: [1, 1, 1, 1] }, 'conv'),
        node('BatchNormalization', ['c', ...bnIn('bn')], ['y'], { epsilon: f(1e-3) }, 'bn'),
      ],
    });
    const { spec } = onnxToGraphSpec(bytes);
    expect(ops(spec)).toEqual(['conv2d']);
    expect(spec.nodes[0]).toMatchObject({ name: 'conv', output: 'y' });
    const conv = conv2dForward(
      hostTensor([1, 3, 6, 6], x),
      hostTensor([4, 3, 3, 3], w),
      withBias ? hostTensor([4], cb) : null,
      conv2dParams({ pads: [1, 1, 1, 1] }),
    );
    expectAllclose(run(spec, x).data, batchNorm(conv, gamma, beta, mean, variance, 1e-3).data, FOLDED, 'conv + BN');
  });

  it('is a per-channel affine node where it cannot fold (after the input; after a conv read twice)', () => {
    const bytes = onnxModel({
      input: ['x', [1, 3, 6, 6]],
      output: 'y',
      initializers: [
        floatTensor('w', [4, 3, 3, 3], w),
        ...bnInits('bn2'),
        floatTensor('g0', [3], gamma.slice(0, 3)),
        floatTensor('b0', [3], beta.slice(0, 3)),
        floatTensor('m0', [3], mean.slice(0, 3)),
        floatTensor('v0', [3], variance.slice(0, 3)),
      ],
      nodes: [
        node('BatchNormalization', ['x', 'g0', 'b0', 'm0', 'v0'], ['xn'], {}, 'bn0'),
        node('Conv', ['xn', 'w'], ['c'], { pads: [1, 1, 1, 1] }, 'conv'),
        node('BatchNormalization', ['c', ...bnIn('bn2')], ['d'], {}, 'bn2'),
        node('Add', ['c', 'd'], ['y'], {}, 'sum'),
      ],
    });
    const { spec } = onnxToGraphSpec(bytes);
    expect(ops(spec)).toEqual(['conv2d', 'conv2d', 'conv2d', 'add']);
    expect(spec.nodes.map((n) => n.attrs?.groups)).toEqual([3, 1, 4, undefined]);
    const xn = batchNorm(hostTensor([1, 3, 6, 6], x), gamma, beta, mean, variance, 1e-5); // channels 0..2
    const c = conv2dForward(xn, hostTensor([4, 3, 3, 3], w), null, conv2dParams({ pads: [1, 1, 1, 1] }));
    const d = batchNorm(c, gamma, beta, mean, variance, 1e-5);
    const want = c.data.map((v, i) => v + d.data[i]);
    expectAllclose(run(spec, x).data, want, FOLDED, 'BN as affine');
  });
});

describe('Gemm and MatMul become linear layers', () => {
  const x = randn(2 * 3 * 3, 10);
  const K = 18;
  const M = 5;
  const b = randn(K * M, 11); // row-major [M, K] for transB = 1, [K, M] for transB = 0
  const c = randn(M, 12);
  const at = (transB: number, k: number, m: number) => (transB ? b[m * K + k] : b[k * M + m]);

  it.each([
    [1, [M], 0.5, 2],
    [0, [1, M], 1, 1],
    [0, [1], 1.5, -1],
    [1, null, 2, 1],
  ] as const)('Gemm transB=%s, C dims %j, alpha %s, beta %s', (transB, cDims, alpha, beta) => {
    const cData = cDims && cDims[cDims.length - 1] === 1 ? c.slice(0, 1) : c;
    const bytes = onnxModel({
      input: ['x', ['N', 2, 3, 3]],
      output: 'y',
      initializers: [
        floatTensor('B', transB ? [M, K] : [K, M], b),
        ...(cDims ? [floatTensor('C', [...cDims], cData)] : []),
      ],
      nodes: [
        node('Flatten', ['x'], ['f']),
        node('Gemm', cDims ? ['f', 'B', 'C'] : ['f', 'B'], ['y'], { alpha: f(alpha), beta: f(beta), transB }),
      ],
    });
    const { spec } = onnxToGraphSpec(bytes);
    expect(ops(spec)).toEqual(['flatten', 'linear']);
    expect(spec.nodes[1].weights!.weight.shape).toEqual([M, K]);
    const want = Array.from({ length: M }, (_, m) => {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[k] * at(transB, k, m);
      return alpha * s + (cDims ? beta * cData[cData.length === 1 ? 0 : m] : 0);
    });
    expectAllclose(run(spec, x).data, want, FOLDED, 'Gemm');
  });

  it.each([false, true])('MatMul + Add of a bias is one linear layer (constant first: %s)', (constFirst) => {
    const bytes = onnxModel({
      input: ['x', [1, 2, 3, 3]],
      output: 'y',
      initializers: [floatTensor('B', [K, M], b), floatTensor('c', [M], c)],
      nodes: [
        node('Flatten', ['x'], ['f']),
        node('MatMul', ['f', 'B'], ['mm']),
        node('Add', constFirst ? ['c', 'mm'] : ['mm', 'c'], ['y']),
      ],
    });
    const { spec } = onnxToGraphSpec(bytes);
    expect(ops(spec)).toEqual(['flatten', 'linear']);
    expect(spec.nodes[1].output).toBe('y');
    const want = Array.from({ length: M }, (_, m) => {
      let s = c[m];
      for (let k = 0; k < K; k++) s += x[k] * b[k * M + m];
      return s;
    });
    expectAllclose(run(spec, x).data, want, F64, 'MatMul + Add');
  });

  it('rejects transA = 1, and a MatMul of two computed 2-D tensors (the batch would mix)', () => {
    const base = {
      input: ['x', [1, 2, 3, 3]] as ModelDef['input'],
      output: 'y',
      initializers: [floatTensor('B', [M, K], b)],
    };
    expect(() =>
      onnxToGraphSpec(
        onnxModel({
          ...base,
          nodes: [node('Flatten', ['x'], ['f']), node('Gemm', ['f', 'B'], ['y'], { transA: 1 }, 'g')],
        }),
      ),
    ).toThrow(/node 'g' \(Gemm\): transA = 1/);
    expect(() =>
      onnxToGraphSpec(
        onnxModel({ ...base, nodes: [node('Flatten', ['x'], ['f']), node('MatMul', ['f', 'f'], ['y'], {}, 'mm')] }),
      ),
    ).toThrow(/node 'mm' \(MatMul\): two computed tensors \[1, 18\] · \[1, 18\]/);
  });
});

describe('Flatten and Reshape', () => {
  const x = randn(2 * 3 * 4, 20);
  const reshape = (shape: number[], raw = false, viaConstant = false): Uint8Array =>
    onnxModel({
      input: ['x', ['N', 2, 3, 4]],
      output: 'y',
      initializers: viaConstant ? [] : [intTensor('s', [shape.length], shape, raw)],
      nodes: [
        ...(viaConstant ? [node('Constant', [], ['s'], { value: intTensor('v', [shape.length], shape) })] : []),
        node('Reshape', ['x', 's'], ['y'], {}, 'r'),
      ],
    });

  it.each([
    [[0, -1], [24]],
    [[-1, 24], [24]],
    [
      [1, 6, 4],
      [6, 4],
    ],
    [
      [0, 2, 0, -1],
      [2, 3, 4],
    ],
  ])('Reshape to %j keeps the batch and the data', (target, perImage) => {
    for (const [raw, viaConstant] of [
      [false, false],
      [true, false],
      [false, true],
    ]) {
      const { spec } = onnxToGraphSpec(reshape(target, raw, viaConstant));
      expect(ops(spec)).toEqual(['reshape']);
      expect(new Graph(spec).shape('y', 3)).toEqual([3, ...perImage]);
      expect([...run(spec, x).data]).toEqual([...x]);
    }
  });

  it.each([
    [[-1], ModelFormatError, /node 'r' \(Reshape\): target shape \[-1\] does not keep dim 0 as the batch/],
    [[2, 12], ModelFormatError, /node 'r' \(Reshape\): target shape \[2,12\]: dim 0 must be the batch/],
    [[0, 5, -1], ShapeMismatchError, /node 'r' \(reshape\): cannot reshape \[1, 2, 3, 4\]/],
  ])('Reshape to %j is rejected with a typed error', (t, type, msg) => {
    expect(() => onnxToGraphSpec(reshape(t))).toThrow(type);
    expect(() => onnxToGraphSpec(reshape(t))).toThrow(msg);
  });

  it('Flatten keeps the batch; an axis other than 1 is rejected', () => {
    const flat = (axis: number) =>
      onnxModel({ input: ['x', [1, 2, 3, 4]], output: 'y', nodes: [node('Flatten', ['x'], ['y'], { axis }, 'fl')] });
    const { spec } = onnxToGraphSpec(flat(1));
    expect(new Graph(spec).shape('y', 2)).toEqual([2, 24]);
    expect(onnxToGraphSpec(flat(-3)).spec.nodes[0].attrs).toEqual({ axis: 1 });
    expect(() => onnxToGraphSpec(flat(2))).toThrow(/node 'fl' \(Flatten\): only axis 1/);
  });
});

describe('Clip', () => {
  const x = randn(2 * 4 * 4, 30, 5);
  const clip = (opset: number, inputs: string[], attrs = {}) =>
    onnxModel({
      opset,
      input: ['x', [1, 2, 4, 4]],
      output: 'y',
      initializers: [floatTensor('six', [], [6]), floatTensor('minus1', [], [-1])],
      nodes: [node('Constant', [], ['zero'], { value: floatTensor('z', [], [0]) }), node('Clip', inputs, ['y'], attrs)],
    });
  const clamp = (lo: number, hi: number) => [...x].map((v) => Math.min(Math.max(v, lo), hi));

  it.each([
    ['ReLU6, bounds from a Constant node and an initializer', 13, ['x', 'zero', 'six'], {}, 'clip', 0, 6],
    ['min only', 13, ['x', 'minus1'], {}, 'clip', -1, Infinity],
    ['max only (empty min input)', 12, ['x', '', 'six'], {}, 'clip', -Infinity, 6],
    ['Clip(0, ∞) is a ReLU', 11, ['x', 'zero'], {}, 'relu', 0, Infinity],
    ['opset 6 attributes', 6, ['x'], { min: f(0), max: f(6) }, 'clip', 0, 6],
  ] as const)('%s', (_, opset, inputs, attrs, op, lo, hi) => {
    const { spec } = onnxToGraphSpec(clip(opset, [...inputs], attrs));
    expect(ops(spec)).toEqual([op]);
    expectAllclose(run(spec, x).data, clamp(lo, hi), EXACT, 'clip');
  });

  it('rejects min > max', () => {
    expect(() => onnxToGraphSpec(clip(13, ['x', 'six', 'zero']))).toThrow(/min 6 > max 0/);
  });
});

describe('convolution and pooling attributes', () => {
  const x = randn(36, 40);
  const w = randn(9, 41);
  it.each([
    ['SAME_UPPER', [0, 0, 1, 1]],
    ['SAME_LOWER', [1, 1, 0, 0]],
    ['VALID', [0, 0, 0, 0]],
  ] as const)('Conv auto_pad %s (6×6, kernel 3, stride 2) pads %j', (mode, pads) => {
    const bytes = onnxModel({
      input: ['x', [1, 1, 6, 6]],
      output: 'y',
      initializers: [floatTensor('w', [1, 1, 3, 3], w)],
      nodes: [node('Conv', ['x', 'w'], ['y'], { auto_pad: mode, strides: [2, 2] })],
    });
    const { spec } = onnxToGraphSpec(bytes);
    expect(spec.nodes[0].attrs?.pads).toEqual(pads);
    const p = conv2dParams({ pads: [...pads], stride: [2, 2] });
    const want = conv2dForward(hostTensor([1, 1, 6, 6], x), hostTensor([1, 1, 3, 3], w), null, p);
    expectAllclose(run(spec, x).data, want.data, F64, mode);
  });

  it('MaxPool: ONNX strides default to 1, ceil_mode; a used Indices output is rejected', () => {
    const pool = (attrs: Record<string, AttrValue>, outputs = ['y']) =>
      onnxModel({ input: ['x', [1, 1, 6, 6]], output: 'y', nodes: [node('MaxPool', ['x'], outputs, attrs, 'mp')] });
    const s1 = onnxToGraphSpec(pool({ kernel_shape: [3, 3] })).spec;
    expect(s1.nodes[0].attrs).toMatchObject({ stride: [1, 1], ceilMode: false });
    const want = maxPool2dForward(hostTensor([1, 1, 6, 6], x), pool2dParams({ kernel: [3, 3], stride: [1, 1] }));
    expectAllclose(run(s1, x).data, want.data, EXACT, 'maxpool');
    const s2 = onnxToGraphSpec(pool({ kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 })).spec;
    expect(new Graph(s2).shape('y')).toEqual([1, 1, 3, 3]); // floor mode would give 2×2
    const indices = onnxModel({
      input: ['x', [1, 1, 6, 6]],
      output: 'y',
      nodes: [node('MaxPool', ['x'], ['p', 'idx'], { kernel_shape: [2, 2] }, 'mp'), node('Add', ['p', 'idx'], ['y'])],
    });
    expect(() => onnxToGraphSpec(indices)).toThrow(/node 'mp' \(MaxPool\): its output 'idx' is used/);
  });
});

describe('unsupported and malformed models give typed errors', () => {
  const good = onnxModel({
    input: ['x', [1, 1, 4, 4]],
    output: 'y',
    initializers: [floatTensor('w', [2, 1, 3, 3], randn(18, 50))],
    nodes: [node('Conv', ['x', 'w'], ['c'], {}, 'conv'), node('Relu', ['c'], ['y'], {}, 'relu')],
  });

  it('every unsupported operator is named at once: type, count, first node; the supported ones listed', () => {
    const bytes = onnxModel({
      input: ['x', [1, 1, 4, 4]],
      output: 'y',
      nodes: [
        node('Relu', ['x'], ['r'], {}, 'relu'),
        node('Hardmax', ['r'], ['h1'], {}, 'act1'),
        node('LpNormalization', ['h1'], ['l1'], {}, 'norm1'),
        node('Hardmax', ['l1'], ['h2'], {}, 'act2'),
        node('LpNormalization', ['h2'], ['l2'], {}, 'norm2'),
        node('Hardmax', ['l2'], ['y'], {}, 'act3'),
      ],
    });
    let err: unknown;
    try {
      onnxToGraphSpec(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsupportedOperatorError);
    const u = err as UnsupportedOperatorError;
    expect(u.operators).toEqual([
      { opType: 'Hardmax', count: 3, firstNode: 'act1' },
      { opType: 'LpNormalization', count: 2, firstNode: 'norm1' },
    ]);
    expect(u.opType).toBe('Hardmax');
    expect(u.nodeName).toBe('act1');
    expect(u.message).toMatch(/'Hardmax' ×3 \(first: node 'act1'\), 'LpNormalization' ×2 \(first: node 'norm1'\)/);
    for (const op of ['Conv', 'BatchNormalization', 'Clip', 'Gemm', 'Softmax', 'Sigmoid', 'Transpose']) {
      expect(u.supported).toContain(op);
    }
    // an unnamed node gets its op type and position; another domain is part of the type
    const custom = onnxModel({
      input: ['x', [1, 1, 4, 4]],
      output: 'y',
      nodes: [node('Relu', ['x'], ['r']), { ...node('FusedConv', ['r'], ['y']), domain: 'com.microsoft' }],
    });
    expect(() => onnxToGraphSpec(custom)).toThrow(/'com\.microsoft\.FusedConv' ×1 \(first: node 'FusedConv_1'\)/);
  });

  it('malformed bytes fail fast with ModelFormatError', () => {
    const r = rng(51);
    const random = Uint8Array.from({ length: 1 << 16 }, () => Math.floor(r() * 256));
    const tensor = TensorProto.encode(TensorProto.fromObject(floatTensor('t', [2], [1, 2]))).finish();
    const noGraph = modelObject({ input: ['x', [1, 1, 4, 4]], output: 'y', nodes: [] });
    delete noGraph.graph;
    const cases: [string, Uint8Array, RegExp][] = [
      ['empty', new Uint8Array(0), /empty/],
      ['random bytes', random, /not an ONNX model/],
      ['truncated', good.slice(0, Math.floor(good.length / 2)), /not an ONNX model/],
      ['a TensorProto', tensor, /not an ONNX model/],
      ['JSON text', new TextEncoder().encode('{"labels": ["a", "b"]}'), /not an ONNX model/],
      ['a ModelProto without a graph', encodeModel(noGraph), /no graph/],
    ];
    for (const [what, bytes, msg] of cases) {
      const t0 = performance.now();
      expect(() => onnxToGraphSpec(bytes), what).toThrow(ModelFormatError);
      expect(() => onnxToGraphSpec(bytes), what).toThrow(msg);
      expect(performance.now() - t0, what).toBeLessThan(500);
    }
    expect(onnxToGraphSpec(good).spec.nodes.length).toBe(2); // the untruncated file is fine
  });

  it('bad tensors, inputs and outputs are named', () => {
    const def = (over: Partial<ModelDef>): Uint8Array =>
      onnxModel({
        input: ['x', [1, 1, 4, 4]],
        output: 'y',
        initializers: [floatTensor('w', [2, 1, 3, 3], randn(18, 52))],
        nodes: [node('Conv', ['x', 'w'], ['y'], {}, 'conv')],
        ...over,
      });
    const cases: [string, Uint8Array, RegExp][] = [
      [
        'too few values',
        def({ initializers: [floatTensor('w', [2, 1, 3, 3], randn(17, 1))] }),
        /tensor 'w': 17 values/,
      ],
      [
        'raw_data too short',
        def({ initializers: [{ ...floatTensor('w', [2, 1, 3, 3], randn(18, 1), true), dims: [2, 1, 3, 4] }] }),
        /tensor 'w': raw_data has 72 bytes, expected 96/,
      ],
      [
        'weight from the input',
        def({ nodes: [node('Conv', ['x', 'x'], ['y'], {}, 'conv')] }),
        /node 'conv' \(Conv\): input 1/,
      ],
      ['fixed batch 2', def({ input: ['x', [2, 1, 4, 4]] }), /fixed batch of 2/],
      ['3-D input', def({ input: ['x', [1, 4, 4]] }), /input 'x' must be 4-D/],
      ['integer input', def({ inputType: 7 }), /element type INT64/],
      ['dynamic size', def({ input: ['x', [1, 1, 'H', 'W']] }), /inputSize/],
      ['two outputs', def({ output: ['y', 'x'] }), /2 outputs/],
      [
        'nodes out of order',
        def({ nodes: [node('Relu', ['c'], ['y'], {}, 'relu'), node('Conv', ['x', 'w'], ['c'], {}, 'conv')] }),
        /node 'relu' \(Relu\): reads tensor 'c', which no earlier node produces/,
      ],
      [
        'a used Dropout mask',
        def({
          nodes: [
            node('Conv', ['x', 'w'], ['c'], {}, 'conv'),
            node('Dropout', ['c'], ['d', 'mask'], {}, 'drop'),
            node('Add', ['d', 'mask'], ['y']),
          ],
        }),
        /node 'drop' \(Dropout\): its output 'mask' is used/,
      ],
    ];
    for (const [what, bytes, msg] of cases) {
      expect(() => onnxToGraphSpec(bytes), what).toThrow(InvalidInputError);
      expect(() => onnxToGraphSpec(bytes), what).toThrow(msg);
    }
    // the dynamic size works once the sidecar gives it
    const dyn = def({ input: ['x', [1, 1, 'H', 'W']] });
    expect(onnxToGraphSpec(dyn, { sidecar: { inputSize: [4, 4] } }).spec.input.shape).toEqual([1, 4, 4]);
    const dynMeta = def({ input: ['x', [1, 1, 'H', 'W']], metadata: { inputSize: '[5, 6]' } });
    expect(onnxToGraphSpec(dynMeta).spec.input.shape).toEqual([1, 5, 6]);
    expect(() => onnxToGraphSpec(def({}), { sidecar: { inputSize: [5, 4] } })).toThrow(/4×4.*5×4/);
  });

  it('Identity of an initializer (as PyTorch writes shared weights) and Dropout are transparent', () => {
    const bytes = onnxModel({
      input: ['x', [1, 1, 4, 4]],
      output: 'y',
      initializers: [floatTensor('w', [2, 1, 3, 3], randn(18, 53))],
      nodes: [
        node('Identity', ['w'], ['w2']),
        node('Conv', ['x', 'w2'], ['c'], { pads: [1, 1, 1, 1] }, 'conv'),
        node('Dropout', ['c'], ['d']),
        node('Identity', ['d'], ['y']),
      ],
    });
    const { spec } = onnxToGraphSpec(bytes);
    expect(ops(spec)).toEqual(['conv2d', 'identity', 'identity']);
    expect(spec.output).toBe('y');
  });
});

describe('labels and normalisation', () => {
  const def = (metadata?: Record<string, string>) =>
    onnxModel({
      input: ['x', ['N', 3, 2, 2]],
      output: 'y',
      initializers: [floatTensor('B', [3, 12], randn(36, 60))],
      nodes: [node('Flatten', ['x'], ['f']), node('Gemm', ['f', 'B'], ['y'], { transB: 1 })],
      metadata,
    });
  const meta = { labels: '["cat", "dog", "fox"]', mean: '[0.5, 0.4, 0.3]', std: '[0.2, 0.25, 0.3]' };

  it('come from metadata_props, and the sidecar overrides them key by key', () => {
    const a = onnxToGraphSpec(def(meta));
    expect(a.labels).toEqual(['cat', 'dog', 'fox']);
    expect(a.spec.labels).toEqual(['cat', 'dog', 'fox']);
    expect(a.preprocessing).toEqual({ inputSize: [2, 2], mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3] });
    expect(a.opset).toBe(13);
    const sidecar: OnnxSidecar = { labels: ['a', 'b', 'c'], mean: [0, 0, 0] };
    const b = onnxToGraphSpec(def(meta), { sidecar });
    expect(b.labels).toEqual(['a', 'b', 'c']);
    expect(b.preprocessing).toEqual({ inputSize: [2, 2], mean: [0, 0, 0], std: [0.2, 0.25, 0.3] });
    const c = onnxToGraphSpec(def(), { sidecar: ['x', 'y', 'z'] }); // a plain labels array
    expect(c.labels).toEqual(['x', 'y', 'z']);
    expect(c.preprocessing).toBeNull();
    const none = onnxToGraphSpec(def());
    expect(none.labels).toBeNull();
    expect(none.spec.labels).toBeUndefined();
  });

  it('bad labels, mean or std are rejected with the key named', () => {
    const cases: [Record<string, string> | undefined, OnnxSidecar | string[] | undefined, RegExp][] = [
      [{ labels: '["a", "b"]' }, undefined, /2 labels given, but the model's output 'y' is \[N, 3\]/],
      [{ labels: 'cat, dog, fox' }, undefined, /metadata 'labels' is not JSON/],
      [{ mean: '[0.5, 0.5, 0.5]' }, undefined, /'mean' is given without 'std'/],
      [undefined, { mean: [0.5, 0.5], std: [1, 1] }, /3 values \(one per input channel\)/],
      [undefined, { std: [1, 0, 1], mean: [0, 0, 0] }, /'std' must be an array of numbers > 0/],
      [undefined, { labels: 'cat' as unknown as string[] }, /'labels' must be a non-empty array of strings/],
    ];
    for (const [m, s, msg] of cases) expect(() => onnxToGraphSpec(def(m), { sidecar: s })).toThrow(msg);
  });
});

describe('loadOnnx on the GPU', () => {
  const dataUrl = (bytes: Uint8Array, type: string) => `data:${type};base64,${Buffer.from(bytes).toString('base64')}`;

  it('loads from URLs (model and sidecar) and runs forward and Grad-CAM like the CPU reference', async () => {
    const e = await getEngine();
    const bytes = smallNet();
    const sidecar = new TextEncoder().encode(JSON.stringify({ mean: [0.4, 0.5, 0.6], std: [0.2, 0.2, 0.2] }));
    const loaded = await loadOnnx(e, dataUrl(bytes, 'application/octet-stream'), {
      sidecar: dataUrl(sidecar, 'application/json'),
      name: 'small',
    });
    const { model, spec } = loaded;
    try {
      expect(spec.name).toBe('small');
      expect(loaded.labels).toEqual(['a', 'b', 'c']);
      expect(loaded.preprocessing).toEqual({ inputSize: [9, 9], mean: [0.4, 0.5, 0.6], std: [0.2, 0.2, 0.2] });
      expect(ops(spec)).toEqual([
        'conv2d',
        'clip',
        'maxpool2d',
        'conv2d',
        'relu',
        'concat',
        'avgpool2d',
        'globalavgpool',
        'flatten',
        'linear',
        'softmax',
      ]);
      const xs = randn(2 * 3 * 9 * 9, 78);
      const ref = new RefModel(spec).forward(hostTensor([2, 3, 9, 9], xs));
      await e.scope(async () => {
        const x = e.upload(xs, [2, 3, 9, 9]);
        const acts = await model.forward(x);
        expectAllclose(await acts.output.read(), ref.get('probs')!.data, NETWORK, 'probabilities');
        acts.destroy();
        const r = await explain(model, x, { methods: ['gradcam'], targets: [1], layer: 'act1' });
        expectAllclose(await r.scores.read(), ref.get('logits')!.data, NETWORK, 'scores');
        expectAllclose(await r.activations.read(), ref.get('act1')!.data, NETWORK, 'ReLU6 activations');
      });
    } finally {
      model.destroy();
    }
    expect(e.liveTensors).toBe(0);
  });

  it('a URL that cannot be fetched is an InvalidInputError naming it', async () => {
    const e = await getEngine();
    await expect(loadOnnx(e, 'http://127.0.0.1:9/missing.onnx')).rejects.toThrow(
      /could not fetch the model 'http:\/\/127\.0\.0\.1:9\/missing\.onnx'/,
    );
    await expect(loadOnnx(e, smallNet(), { sidecar: 'data:application/json,{oops' })).rejects.toThrow(
      /the sidecar 'data:application\/json,\{oops' is not JSON/,
    );
    expect(e.liveTensors).toBe(0);
  });
});
