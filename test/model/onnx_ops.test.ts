/**
 * The ONNX rules the torchvision zoo needs, on hand-built models (test/util/onnx_builder.ts):
 * each converted graph has the ops it should (fusions and folds done, nothing left over) and,
 * run by the CPU reference executor, equals the ONNX operators' definitions computed here in
 * float64 from the original inputs. One block (ConvNeXt's) also runs on the GPU, forward and
 * backward, against the reference. Malformed uses give ModelFormatError naming the node.
 */
import { describe, expect, it } from 'vitest';
import { ModelFormatError } from '../../src/core/errors';
import { erf } from '../../src/core/erf';
import { Graph } from '../../src/model/graph';
import { explain } from '../../src/attribution/explain';
import { loadOnnx, onnxToGraphSpec } from '../../src/model/onnx';
import type { GraphSpec } from '../../src/model/spec';
import { RefModel } from '../../src/reference/model';
import { hostTensor, type HostTensor } from '../../src/reference/tensor';
import { EXACT, expectAllclose, F64, NETWORK, type Tol } from '../util/compare';
import { getEngine } from '../util/gpu';
import { floatTensor, intTensor, node, onnxModel, f, type ModelDef } from '../util/onnx_builder';
import { randn } from '../util/random';

const ops = (spec: GraphSpec) => spec.nodes.map((n) => n.op);

// Not a named tolerance: float64 reference against a float64 formula evaluated in another order
// (means, square roots): a few float64 roundings of order-1 values, magnified by 1/σ in a
// normalisation.
const REORDERED: Tol = { atol: 1e-12, rtol: 1e-12 };

function convert(def: ModelDef): GraphSpec {
  return onnxToGraphSpec(onnxModel(def)).spec;
}

function run(spec: GraphSpec, x: ArrayLike<number>, n = 1): HostTensor {
  const m = new RefModel(spec);
  return m.forward(hostTensor([n, ...spec.input.shape], x)).get(spec.output)!;
}

/** Row-major index of coordinates in dims. */
const at = (dims: number[], ...c: number[]) => c.reduce((i, v, d) => i * dims[d] + v, 0);

const i64 = (name: string, values: number[], dims = [values.length]) => intTensor(name, dims, values);

describe('shape arithmetic folds to constants', () => {
  it("ShuffleNet's channel shuffle: Shape → Gather → Div → Cast → Unsqueeze → Concat → Reshape → Transpose → Reshape", () => {
    const [C, H, W, G] = [6, 2, 3, 2];
    const dims = ['n', 'c', 'h', 'w'];
    const nodes = [
      node('Shape', ['x'], ['s']),
      ...dims.map((d, i) => node('Gather', ['s', `i${i}`], [d], { axis: 0 })),
      node('Div', ['c', 'groups'], ['cpg']),
      node('Cast', ['cpg'], ['cpg64'], { to: 7 }),
      ...['n', 'cpg64', 'h', 'w'].map((d) => node('Unsqueeze', [d, 'ax0'], [`${d}_u`])),
      node('Concat', ['n_u', 'groups_1d', 'cpg64_u', 'h_u', 'w_u'], ['shape5'], { axis: 0 }),
      node('Reshape', ['x', 'shape5'], ['r5']),
      node('Transpose', ['r5'], ['t5'], { perm: [0, 2, 1, 3, 4] }),
      node('Concat', ['n_u', 'minus1', 'h_u', 'w_u'], ['shape4'], { axis: 0 }),
      node('Reshape', ['t5', 'shape4'], ['y']),
    ];
    const spec = convert({
      input: ['x', ['N', C, H, W]],
      output: 'y',
      initializers: [
        ...dims.map((_, i) => i64(`i${i}`, [i], [])),
        i64('groups', [G], []),
        i64('groups_1d', [G]),
        i64('ax0', [0]),
        i64('minus1', [-1]),
      ],
      nodes,
    });
    expect(ops(spec)).toEqual(['reshape', 'transpose', 'reshape']);
    const x = randn(2 * C * H * W, 1);
    const y = run(spec, x, 2);
    // Channel j of the output is channel (j mod G)·(C/G) + ⌊j/G⌋ of the input.
    const want = new Float64Array(x.length);
    for (let n = 0; n < 2; n++)
      for (let j = 0; j < C; j++)
        for (let s = 0; s < H * W; s++) {
          const src = (j % G) * (C / G) + Math.floor(j / G);
          want[(n * C + j) * H * W + s] = x[(n * C + src) * H * W + s];
        }
    expectAllclose(y.data, want, EXACT, 'shuffled');
  });

  it('x.view(x.size(0), -1) is one reshape; a shape that needs the batch beyond dim 0 is refused', () => {
    const base = {
      input: ['x', ['N', 2, 3, 3]] as ModelDef['input'],
      output: 'y',
      initializers: [i64('zero', [0], []), i64('one', [1], []), i64('ax0', [0]), i64('minus1', [-1])],
    };
    const shapeOf = [node('Shape', ['x'], ['s']), node('Gather', ['s', 'zero'], ['n'], { axis: 0 })];
    const spec = convert({
      ...base,
      nodes: [
        ...shapeOf,
        node('Unsqueeze', ['n', 'ax0'], ['nu']),
        node('Concat', ['nu', 'minus1'], ['shape'], { axis: 0 }),
        node('Reshape', ['x', 'shape'], ['y']),
      ],
    });
    expect(spec.nodes).toMatchObject([{ op: 'reshape', attrs: { shape: [-1] } }]);
    expect(new Graph(spec).shape('y', 4)).toEqual([4, 18]);
    expect(() =>
      convert({
        ...base,
        nodes: [
          ...shapeOf,
          node('Gather', ['s', 'one'], ['c'], { axis: 0 }),
          node('Mul', ['n', 'c'], ['nc']),
          node('Unsqueeze', ['nc', 'ax0'], ['ncu']),
          node('Concat', ['ncu', 'minus1'], ['shape'], { axis: 0 }),
          node('Reshape', ['x', 'shape'], ['y'], {}, 'view'),
        ],
      }),
    ).toThrow(/node 'view' \(Reshape\): the target shape \[f\(N\), -1\] depends on the batch size other than as dim 0/);
  });

  it('Gather of a computed tensor, a Transpose moving the batch, a Pad of the batch: ModelFormatError', () => {
    const base = { input: ['x', [1, 2, 3, 3]] as ModelDef['input'], output: 'y', initializers: [i64('k', [0], [])] };
    const bad: [ModelDef['nodes'], RegExp][] = [
      [[node('Gather', ['x', 'k'], ['y'], { axis: 1 }, 'g')], /node 'g' \(Gather\): gathering from a computed tensor/],
      [
        [node('Transpose', ['x'], ['y'], { perm: [1, 0, 2, 3] }, 't')],
        /node 't' \(Transpose\): .*moves the batch axis/,
      ],
      [[node('Pad', ['x', 'p'], ['y'], {}, 'p')], /node 'p' \(Pad\): padding the batch axis/],
    ];
    for (const [nodes, msg] of bad) {
      const def = { ...base, nodes, initializers: [...base.initializers, i64('p', [1, 0, 0, 0, 0, 0, 0, 0])] };
      expect(() => convert(def)).toThrow(ModelFormatError);
      expect(() => convert(def)).toThrow(msg);
    }
  });
});

describe('slices, splits and pads', () => {
  const [C, H, W] = [4, 3, 5];
  const x = randn(C * H * W, 2);
  const dims = [1, C, H, W];

  it('Split into channel groups (both outputs used) becomes two slices; Slice with step −1 flips W', () => {
    const spec = convert({
      input: ['x', dims],
      output: 'y',
      initializers: [i64('split', [1, 3]), i64('st', [-1]), i64('en', [-(2 ** 62)]), i64('ax', [3]), i64('step', [-1])],
      nodes: [
        node('Split', ['x', 'split'], ['a', 'b'], { axis: 1 }, 'split'),
        node('Concat', ['b', 'a'], ['ba'], { axis: 1 }),
        node('Slice', ['ba', 'st', 'en', 'ax', 'step'], ['y'], {}, 'flip'),
      ],
    });
    expect(ops(spec)).toEqual(['slice', 'slice', 'concat', 'slice']);
    const want = new Float64Array(x.length);
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) want[at(dims, 0, c, h, w)] = x[at(dims, 0, (c + 1) % C, h, W - 1 - w)];
    expectAllclose(run(spec, x).data, want, EXACT, 'split, concat, flip');
  });

  it('a zero Pad before AveragePool and Conv is folded into them; a Pad of 0.5 stays a pad node', () => {
    const pads = i64('pads', [0, 0, 1, 1, 0, 0, 1, 1]);
    const w = randn(2 * C * 9, 3, 0.3);
    const spec = convert({
      input: ['x', dims],
      output: 'y',
      initializers: [pads, floatTensor('w', [2, C, 3, 3], w), floatTensor('half', [], [0.5])],
      nodes: [
        node('Pad', ['x', 'pads'], ['p1']),
        node('AveragePool', ['p1'], ['a'], { kernel_shape: [3, 3], strides: [1, 1] }),
        node('Pad', ['a', 'pads'], ['p2']),
        node('Conv', ['p2', 'w'], ['c']),
        node('Pad', ['c', 'pads', 'half'], ['y']),
      ],
    });
    expect(ops(spec)).toEqual(['avgpool2d', 'conv2d', 'pad']);
    expect(spec.nodes[0].attrs).toMatchObject({ pads: [1, 1, 1, 1], countIncludePad: true });
    expect(spec.nodes[1].attrs).toMatchObject({ pads: [1, 1, 1, 1] });
    // The definitions: zero-pad, then a 3×3 mean (÷ 9); zero-pad, then a 3×3 conv; pad with 0.5.
    const xp = (v: Float64Array | Float32Array, c: number, h: number, ww: number, hh: number, wd: number) =>
      h < 0 || h >= hh || ww < 0 || ww >= wd ? 0 : v[(c * hh + h) * wd + ww];
    const avg = new Float64Array(C * H * W);
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let q = 0; q < W; q++) {
          let s = 0;
          for (let i = -1; i <= 1; i++) for (let j = -1; j <= 1; j++) s += xp(x, c, h + i, q + j, H, W);
          avg[(c * H + h) * W + q] = s / 9;
        }
    const want = new Float64Array(2 * (H + 2) * (W + 2)).fill(0.5);
    for (let o = 0; o < 2; o++)
      for (let h = 0; h < H; h++)
        for (let q = 0; q < W; q++) {
          let s = 0;
          for (let c = 0; c < C; c++)
            for (let i = 0; i < 3; i++)
              for (let j = 0; j < 3; j++)
                s += w[((o * C + c) * 3 + i) * 3 + j] * xp(avg, c, h + i - 1, q + j - 1, H, W);
          want[(o * (H + 2) + h + 1) * (W + 2) + q + 1] = s;
        }
    expectAllclose(run(spec, x).data, want, REORDERED, 'pool, conv, pad');
  });
});

describe('reductions and normalisation', () => {
  const [C, H, W] = [3, 4, 5];
  const dims = [1, C, H, W];
  const x = randn(C * H * W, 4);

  it('ReduceMean over H, W without keepdims is a global average pool and a reshape, and CAM sees the head', () => {
    const spec = convert({
      input: ['x', dims],
      output: 'y',
      initializers: [floatTensor('fc', [2, C], randn(2 * C, 5))],
      nodes: [
        node('Relu', ['x'], ['r'], {}, 'relu'),
        node('ReduceMean', ['r'], ['m'], { axes: [2, 3], keepdims: 0 }, 'mean'),
        node('Gemm', ['m', 'fc'], ['y'], { transB: 1 }, 'fc'),
      ],
    });
    expect(ops(spec)).toEqual(['relu', 'globalavgpool', 'reshape', 'linear']);
    expect(new Graph(spec).camHead('r')).toHaveProperty('linear');
  });

  it('ReduceMean (attribute axes) and ReduceSum (axes input, opset 13) over other axes', () => {
    const spec = convert({
      input: ['x', dims],
      output: 'y',
      initializers: [i64('axes', [1])],
      nodes: [
        node('ReduceMean', ['x'], ['m'], { axes: [-1] }),
        node('ReduceSum', ['m', 'axes'], ['y'], { keepdims: 0 }),
      ],
    });
    expect(spec.nodes).toMatchObject([
      { op: 'reducemean', attrs: { axes: [3], keepdims: true } },
      { op: 'reducesum', attrs: { axes: [1], keepdims: false } },
    ]);
    const want = new Float64Array(H);
    for (let h = 0; h < H; h++) {
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let q = 0; q < W; q++) s += x[at(dims, 0, c, h, q)];
        want[h] += s / W;
      }
    }
    const y = run(spec, x);
    expect(y.shape).toEqual([1, H, 1]);
    expectAllclose(y.data, want, REORDERED, 'mean over W, sum over C');
  });

  // ConvNeXt's LayerNorm on NHWC: LayerNormalization (opset 17) and the decomposed export
  // (opset 13) of y = (x − μ)/√(σ² + ε)·γ + β over C.
  const gamma = randn(C, 6);
  const beta = randn(C, 7);
  const eps = 1e-6;
  const layerNorm = () => {
    const want = new Float64Array(x.length);
    for (let h = 0; h < H; h++)
      for (let q = 0; q < W; q++) {
        const v = [...Array(C).keys()].map((c) => x[at(dims, 0, c, h, q)]);
        const mu = v.reduce((a, b) => a + b, 0) / C;
        const s2 = v.reduce((a, b) => a + (b - mu) ** 2, 0) / C;
        v.forEach(
          (vc, c) => (want[at([1, H, W, C], 0, h, q, c)] = ((vc - mu) / Math.sqrt(s2 + eps)) * gamma[c] + beta[c]),
        );
      }
    return want;
  };
  const lnInits = [floatTensor('g', [C], gamma), floatTensor('b', [C], beta)];
  const toNhwc = node('Transpose', ['x'], ['t'], { perm: [0, 2, 3, 1] });

  it('LayerNormalization (opset 17) over the last axis of NHWC', () => {
    const spec = convert({
      input: ['x', dims],
      output: 'y',
      opset: 17,
      initializers: lnInits,
      nodes: [toNhwc, node('LayerNormalization', ['t', 'g', 'b'], ['y'], { axis: -1, epsilon: f(eps) }, '/norm/LN')],
    });
    expect(ops(spec)).toEqual([
      'transpose',
      'reducemean',
      'sub',
      'mul',
      'reducemean',
      'constant',
      'add',
      'sqrt',
      'div',
      'constant',
      'mul',
      'constant',
      'add',
    ]);
    // Every node the one ONNX node became keeps its name as a prefix (its module scope).
    expect(
      spec.nodes
        .slice(1)
        .filter((n) => n.op !== 'constant')
        .every((n) => n.name.startsWith('/norm/LN')),
    ).toBe(true);
    // ε is stored as float32 like every constant: that rounding (≤ 3e-14 here) is all that differs.
    expectAllclose(run(spec, x).data, layerNorm(), { atol: 1e-9, rtol: 1e-9 }, 'LayerNormalization');
  });

  it('the decomposed LayerNorm of opset 13 (ReduceMean, Sub, Pow, Add, Sqrt, Div, Mul, Add)', () => {
    const spec = convert({
      input: ['x', dims],
      output: 'y',
      initializers: [...lnInits, floatTensor('two', [], [2]), floatTensor('eps', [], [eps])],
      nodes: [
        toNhwc,
        node('ReduceMean', ['t'], ['mu'], { axes: [-1] }),
        node('Sub', ['t', 'mu'], ['d']),
        node('Pow', ['d', 'two'], ['d2']),
        node('ReduceMean', ['d2'], ['var'], { axes: [-1] }),
        node('Add', ['var', 'eps'], ['ve']),
        node('Sqrt', ['ve'], ['sd']),
        node('Div', ['d', 'sd'], ['n']),
        node('Mul', ['n', 'g'], ['ng']),
        node('Add', ['ng', 'b'], ['y']),
      ],
    });
    expect(ops(spec)).toEqual([
      'transpose',
      'reducemean',
      'sub',
      'pow',
      'reducemean',
      'constant',
      'add',
      'sqrt',
      'div',
      'constant',
      'mul',
      'constant',
      'add',
    ]);
    expectAllclose(run(spec, x).data, layerNorm(), { atol: 1e-9, rtol: 1e-9 }, 'decomposed LayerNorm');
  });
});

describe('activations: fused forms and their ONNX spellings', () => {
  const dims = [1, 2, 3, 4];
  const x = randn(24, 8, 2);
  const sig = (v: number) => 1 / (1 + Math.exp(-v));

  const cases: [string, ModelDef['nodes'], ModelDef['initializers'], number, string[], (v: number) => number][] = [
    [
      'SiLU as x·Sigmoid(x)',
      [node('Sigmoid', ['x'], ['s']), node('Mul', ['x', 's'], ['y'])],
      [],
      13,
      ['silu'],
      (v) => v * sig(v),
    ],
    [
      'HardSwish as HardSigmoid(x)·x (α = 1/6)',
      [node('HardSigmoid', ['x'], ['s'], { alpha: f(1 / 6) }), node('Mul', ['s', 'x'], ['y'])],
      [],
      13,
      ['hardswish'],
      (v) => v * Math.min(Math.max(v / 6 + 0.5, 0), 1),
    ],
    [
      'x·HardSigmoid(x) with ONNX default α = 0.2 is not HardSwish',
      [node('HardSigmoid', ['x'], ['s']), node('Mul', ['x', 's'], ['y'])],
      [],
      13,
      ['hardsigmoid', 'mul'],
      (v) => v * Math.min(Math.max(0.2 * v + 0.5, 0), 1),
    ],
    [
      "GELU's five nodes (opset 13)",
      [
        node('Div', ['x', 'sqrt2'], ['d']),
        node('Erf', ['d'], ['e']),
        node('Add', ['e', 'one'], ['a']),
        node('Mul', ['x', 'a'], ['m']),
        node('Mul', ['m', 'half'], ['y'], {}, '/act/Mul_1'),
      ],
      [floatTensor('sqrt2', [], [Math.SQRT2]), floatTensor('one', [], [1]), floatTensor('half', [], [0.5])],
      13,
      ['gelu'],
      (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
    ],
    ['Gelu (opset 20)', [node('Gelu', ['x'], ['y'])], [], 20, ['gelu'], (v) => 0.5 * v * (1 + erf(v / Math.SQRT2))],
    [
      "Gelu approximate 'tanh'",
      [node('Gelu', ['x'], ['y'], { approximate: 'tanh' })],
      [],
      20,
      ['gelu_tanh'],
      (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))),
    ],
    [
      'PRelu with a per-channel slope',
      [node('PRelu', ['x', 'slope'], ['y'])],
      [floatTensor('slope', [2, 1, 1], [0.25, -0.5])],
      13,
      ['constant', 'prelu'],
      (v) => v,
    ],
  ];

  it.each(cases)('%s', (_what, nodes, initializers, opset, want, fn) => {
    const spec = convert({ input: ['x', dims], output: 'y', nodes, initializers, opset });
    expect(ops(spec)).toEqual(want);
    const y = run(spec, x);
    const expected = Float64Array.from(x, (v, i) => {
      if (want.includes('prelu')) return v > 0 ? v : [0.25, -0.5][Math.floor(i / 12)] * v;
      return fn(v);
    });
    // erf and tanh in float64 against the same functions: a few roundings.
    expectAllclose(y.data, expected, { atol: 1e-15, rtol: 1e-14 }, _what);
  });

  it('the fused GELU takes the name of the chain’s last node (its module scope)', () => {
    const spec = convert({ input: ['x', dims], output: 'y', nodes: cases[3][1], initializers: cases[3][2] });
    expect(spec.nodes).toMatchObject([{ op: 'gelu', name: '/act/Mul_1', inputs: ['x'], output: 'y' }]);
  });
});

describe('binary ops with constant operands, MatMul', () => {
  const [C, H, W] = [3, 2, 4];
  const dims = [1, C, H, W];
  const x = randn(C * H * W, 9);
  const scale = randn(C, 10);

  it('Mul by a per-channel constant, Div by a scalar, Sub from a scalar: constant nodes broadcast', () => {
    const spec = convert({
      input: ['x', dims],
      output: 'y',
      initializers: [floatTensor('scale', [C, 1, 1], scale), floatTensor('two', [], [2]), floatTensor('one', [], [1])],
      nodes: [node('Mul', ['x', 'scale'], ['m']), node('Div', ['m', 'two'], ['d']), node('Sub', ['one', 'd'], ['y'])],
    });
    expect(ops(spec)).toEqual(['constant', 'mul', 'constant', 'div', 'constant', 'sub']);
    const g = new Graph(spec);
    expect([...g.constants].map((t) => g.shape(t, 5))).toEqual([
      [1, C, 1, 1],
      [1, 1, 1, 1],
      [1, 1, 1, 1],
    ]);
    const want = Float64Array.from(x, (v, i) => 1 - (v * scale[Math.floor(i / (H * W))]) / 2);
    expectAllclose(run(spec, x).data, want, F64, 'mul, div, sub');
  });

  it('MatMul by a constant matrix on NHWC is a linear layer over C, its bias Add folded; of two tensors, a matmul', () => {
    const M = 5;
    const wm = randn(C * M, 11);
    const bias = randn(M, 12);
    const spec = convert({
      input: ['x', dims],
      output: 'y',
      initializers: [floatTensor('w', [C, M], wm), floatTensor('bias', [M], bias)],
      nodes: [
        node('Transpose', ['x'], ['t'], { perm: [0, 2, 3, 1] }),
        node('MatMul', ['t', 'w'], ['mm']),
        node('Add', ['mm', 'bias'], ['lin']),
        node('Transpose', ['lin'], ['lt'], { perm: [0, 1, 3, 2] }),
        node('MatMul', ['lin', 'lt'], ['y']),
      ],
    });
    expect(ops(spec)).toEqual(['transpose', 'linear', 'transpose', 'matmul']);
    // lin[h, w, m] = Σ_c x[c, h, w]·W[c, m] + b[m]; y[h, i, j] = Σ_m lin[h, i, m]·lin[h, j, m].
    const lin = (h: number, q: number, m: number) => {
      let s = bias[m];
      for (let c = 0; c < C; c++) s += x[at(dims, 0, c, h, q)] * wm[c * M + m];
      return s;
    };
    const want = new Float64Array(H * W * W);
    for (let h = 0; h < H; h++)
      for (let i = 0; i < W; i++)
        for (let j = 0; j < W; j++) {
          let s = 0;
          for (let m = 0; m < M; m++) s += lin(h, i, m) * lin(h, j, m);
          want[(h * W + i) * W + j] = s;
        }
    expectAllclose(run(spec, x).data, want, REORDERED, 'linear, matmul');
  });
});

it('a ConvNeXt block (depthwise conv, NHWC LayerNorm, linear, GELU, linear, layer scale, residual) on the GPU equals the reference, forward and backward', async () => {
  const [C, H, W] = [4, 5, 5];
  const dims = [1, C, H, W];
  const inits = [
    floatTensor('dw', [C, 1, 3, 3], randn(C * 9, 20, 0.3)),
    floatTensor('dwb', [C], randn(C, 21, 0.1)),
    floatTensor(
      'g',
      [C],
      randn(C, 22, 0.2).map((v) => v + 1),
    ),
    floatTensor('b', [C], randn(C, 23, 0.1)),
    floatTensor('w1', [C, 4 * C], randn(4 * C * C, 24, 0.5)),
    floatTensor('b1', [4 * C], randn(4 * C, 25, 0.1)),
    floatTensor('w2', [4 * C, C], randn(4 * C * C, 26, 0.25)),
    floatTensor('b2', [C], randn(C, 27, 0.1)),
    floatTensor('ls', [C, 1, 1], randn(C, 28, 0.5)),
    floatTensor('fc', [3, C], randn(3 * C, 29)),
  ];
  const bytes = onnxModel({
    input: ['x', ['N', C, H, W]],
    output: 'y',
    opset: 17,
    initializers: inits,
    nodes: [
      node('Conv', ['x', 'dw', 'dwb'], ['c'], { group: C, pads: [1, 1, 1, 1] }, '/block/0/Conv'),
      node('Transpose', ['c'], ['t'], { perm: [0, 2, 3, 1] }, '/block/1/Transpose'),
      node('LayerNormalization', ['t', 'g', 'b'], ['n'], { epsilon: f(1e-6) }, '/block/2/LN'),
      node('MatMul', ['n', 'w1'], ['m1'], {}, '/block/3/MatMul'),
      node('Add', ['m1', 'b1'], ['l1'], {}, '/block/3/Add'),
      node('Gelu', ['l1'], ['a'], {}, '/block/4/Gelu'),
      node('MatMul', ['a', 'w2'], ['m2'], {}, '/block/5/MatMul'),
      node('Add', ['m2', 'b2'], ['l2'], {}, '/block/5/Add'),
      node('Transpose', ['l2'], ['t2'], { perm: [0, 3, 1, 2] }, '/block/6/Transpose'),
      node('Mul', ['ls', 't2'], ['s'], {}, '/Mul'),
      node('Add', ['s', 'x'], ['out'], {}, '/Add'),
      node('GlobalAveragePool', ['out'], ['gap']),
      node('Flatten', ['gap'], ['flat']),
      node('Gemm', ['flat', 'fc'], ['y'], { transB: 1 }),
    ],
  });
  const e = await getEngine();
  const { model, spec } = await loadOnnx(e, bytes);
  try {
    // The NHWC tensors inside the block are 4-D with h·w > 1 too, but not layers to explain:
    // the layout labels tell them apart; the default is the block's NCHW output.
    const g = new Graph(spec);
    expect(g.layouts.get('t')).toEqual(['N', 'H', 'W', 'C']);
    expect(g.layouts.get('t2')).toEqual(['N', 'C', 'H', 'W']);
    expect(g.layers().map((l) => l.tensor)).toEqual(['c', 't2', 's', 'out']);
    expect(g.defaultLayer()).toBe('out');
    const xs = randn(2 * C * H * W, 30);
    const ref = new RefModel(spec);
    const values = ref.forward(hostTensor([2, ...dims.slice(1)], xs));
    const seeds = hostTensor([6, 3], [1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1]);
    const dx = ref.backward(values, seeds, 'x');
    await e.scope(async () => {
      const x = e.upload(xs, [2, C, H, W]);
      const acts = await model.forward(x, { backwardTo: ['x'] });
      expectAllclose(await acts.output.read(), values.get('y')!.data, NETWORK, 'logits');
      const g = await model.backward(acts, e.upload(seeds.data, [6, 3]), { to: 'x' });
      expectAllclose(await g.read(), dx.data, NETWORK, 'input gradient');
      acts.destroy();
      // explain() frees what its scope made, the constant nodes' views of their weights included.
      const r = await explain(model, x, { methods: ['gradcam', 'guided-backprop'], layer: 'out' });
      r.destroy();
    });
  } finally {
    model.destroy();
  }
  expect(e.liveTensors).toBe(0);
});
