/**
 * Layers by name (src/model/layers.ts, Graph.layer / layers / defaultLayer): module names from
 * torch.onnx scopes on hand-written node lists and GraphSpecs — calls of a module, modules
 * whose names end in '_N', a wrapped model, folded BatchNormalizations and bias Adds, a tensor
 * name that is also a module name —, the suggestions of an unknown name, the list of layers, the
 * default layer (trailing pools skipped), and explain() taking a module name on the GPU. The
 * torchvision exports are checked in test/model/onnx.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { applicableMethods, explain } from '../../src/attribution/explain';
import { GraphError, ShapeMismatchError } from '../../src/core/errors';
import { Graph } from '../../src/model/graph';
import { closestNames, ModuleScopes, scopeOf, type NamedNode } from '../../src/model/layers';
import { Model } from '../../src/model/model';
import type { GraphSpec, NodeSpec } from '../../src/model/spec';
import { NETS } from '../cases/nets';
import { getEngine } from '../util/gpu';
import { randn } from '../util/random';

describe('scopeOf: the module path of a torch.onnx node name', () => {
  it.each([
    ['/layer4/layer4.1/relu_1/Relu', ['layer4', '1', 'relu_1']],
    ['/0/features/features.19/Relu', ['0', 'features', '19']],
    ['/features/features.1/conv/conv.0/conv.0.0/Conv', ['features', '1', 'conv', '0', '0']],
    ['/Flatten', []],
    ['Conv_0', null],
    ['conv1', null],
  ])('%s', (name, want) => {
    expect(scopeOf(name)).toEqual(want);
  });
});

describe('ModuleScopes: a module is the output of its last node', () => {
  // A resnet BasicBlock as the converter leaves it: each BatchNormalization folded into its conv.
  const resnet: NamedNode[] = [
    { name: '/layer4/layer4.1/conv1/Conv', output: 'bn1', folded: ['/layer4/layer4.1/bn1/BatchNormalization'] },
    { name: '/layer4/layer4.1/relu/Relu', output: 'relu' },
    { name: '/layer4/layer4.1/conv2/Conv', output: 'bn2', folded: ['/layer4/layer4.1/bn2/BatchNormalization'] },
    { name: '/layer4/layer4.1/Add', output: 'add' },
    { name: '/layer4/layer4.1/relu_1/Relu', output: 'relu_1' },
    { name: '/avgpool/GlobalAveragePool', output: 'gap' },
    { name: '/Flatten', output: 'flat' },
    { name: '/fc/Gemm', output: 'logits' },
  ];

  it('the last node in the scope gives the tensor; a later call of a module is that module', () => {
    const s = new ModuleScopes(resnet);
    expect(s.scoped).toBe(true);
    expect(s.tensorOf('layer4')).toBe('relu_1');
    expect(s.tensorOf('layer4.1')).toBe('relu_1');
    // 'relu_1' is the second call of 'relu': the module's output is that of its last call.
    expect(s.tensorOf('layer4.1.relu')).toBe('relu_1');
    expect(s.tensorOf('avgpool')).toBe('gap');
    expect(s.tensorOf('fc')).toBe('logits');
    expect(s.tensorOf('Flatten')).toBeNull(); // a node in the root scope belongs to no module
    expect(s.tensorOf('layer5')).toBeNull();
    expect(s.modulesOf('relu_1')).toEqual(['layer4.1.relu', 'layer4.1', 'layer4']);
    expect(s.modulesOf('relu')).toEqual([]); // the first call's output is no module's output
    expect(s.modulesOf('add')).toEqual([]);
  });

  it('a folded BatchNormalization names the conv output that replaced it; the conv itself has none left', () => {
    const s = new ModuleScopes(resnet);
    expect(s.tensorOf('layer4.1.bn1')).toBe('bn1');
    expect(s.tensorOf('layer4.1.bn2')).toBe('bn2');
    expect(() => s.tensorOf('layer4.1.conv2')).toThrow(GraphError);
    expect(() => s.tensorOf('layer4.1.conv2')).toThrow(
      /module 'layer4.1.conv2' ends in node '\/layer4\/layer4.1\/conv2\/Conv', whose output was folded away: .*'bn2', the output of module 'layer4.1.bn2'/,
    );
  });

  it('a BatchNormalization folded into a conv of another module (conv features.0, BN features.1)', () => {
    const s = new ModuleScopes([
      { name: '/features/features.0/Conv', output: 'bn', folded: ['/features/features.1/BatchNormalization'] },
      { name: '/features/features.2/Relu', output: 'r' },
    ]);
    expect(s.tensorOf('features.1')).toBe('bn');
    expect(s.tensorOf('features')).toBe('r');
    expect(() => s.tensorOf('features.0')).toThrow(/folded away.*the output of module 'features.1'/);
    expect(s.modulesOf('bn')).toEqual(['features.1']);
  });

  it('a bias Add folded into a linear layer (MatMul + Add) is the module output', () => {
    const s = new ModuleScopes([
      { name: '/head/fc/MatMul', output: 'fc', folded: ['/head/fc/Add'] },
      { name: '/head/act/Relu', output: 'act' },
    ]);
    expect(s.tensorOf('head.fc')).toBe('fc');
    expect(s.tensorOf('head')).toBe('act');
    expect(s.modulesOf('fc')).toEqual(['head.fc']);
  });

  it("a module whose own name ends in '_N' is that module when no module without the suffix exists", () => {
    const s = new ModuleScopes([
      { name: '/Mixed_5b/branch5x5_1/conv/Conv', output: 'a' },
      { name: '/Mixed_5b/branch5x5_2/conv/Conv', output: 'b' },
      { name: '/Mixed_5b/Concat', output: 'cat' },
    ]);
    expect(s.tensorOf('Mixed_5b.branch5x5_1')).toBe('a');
    expect(s.tensorOf('Mixed_5b.branch5x5_2')).toBe('b');
    expect(s.tensorOf('Mixed_5b.branch5x5')).toBeNull();
    expect(s.tensorOf('Mixed_5b')).toBe('cat');
  });

  it("a wrapped model (nn.Sequential(model, Softmax)): 'features.1' names '0.features.1'", () => {
    const s = new ModuleScopes([
      { name: '/0/features/features.0/Conv', output: 'c' },
      { name: '/0/features/features.1/Relu', output: 'r' },
      { name: '/0/features/features.2/MaxPool', output: 'p' },
      { name: '/0/Flatten', output: 'f' },
      { name: '/0/classifier/classifier.0/Gemm', output: 'l' },
      { name: '/1/Softmax', output: 's' },
    ]);
    expect(s.tensorOf('features.1')).toBe('r');
    expect(s.tensorOf('0.features.1')).toBe('r');
    expect(s.tensorOf('features')).toBe('p');
    expect(s.tensorOf('classifier')).toBe('l');
    expect(s.tensorOf('0')).toBe('l');
    expect(s.tensorOf('1')).toBe('s');
    expect(s.modulesOf('r')).toEqual(['features.1']);
    expect(s.names).toContain('features.1');
    expect(s.names).not.toContain('0.features.1');
  });

  it('two wrapped models with the same module names: the short name is ambiguous', () => {
    const s = new ModuleScopes([
      { name: '/0/features/Conv', output: 'a' },
      { name: '/1/features/Conv', output: 'b' },
    ]);
    expect(() => s.tensorOf('features')).toThrow(/module 'features' is ambiguous: '0.features', '1.features'/);
    expect(s.tensorOf('1.features')).toBe('b');
    expect(s.names).toEqual(['0', '0.features', '1', '1.features']);
  });

  it('names without scopes have no modules', () => {
    const s = new ModuleScopes([
      { name: 'conv1', output: 'conv1' },
      { name: 'Relu_1', output: 'r' },
    ]);
    expect(s.scoped).toBe(false);
    expect(s.names).toEqual([]);
    expect(s.tensorOf('conv1')).toBeNull();
  });
});

describe('closestNames: suggestions for an unknown name', () => {
  it('names starting with the query first, then containing it, then within a small edit distance', () => {
    expect(closestNames('layer', ['conv', 'xlayer', 'layer12', 'layer1'])).toEqual(['layer1', 'layer12', 'xlayer']);
    expect(closestNames('layr4', ['fc', 'layer3', 'layer4', '/layer4/layer4.1/relu_1/Relu_output_0'])).toEqual([
      'layer4',
      'layer3',
    ]);
    expect(closestNames('RELU', ['relu1', 'conv1'])).toEqual(['relu1']);
  });

  it('at most `limit` names, none when nothing is close', () => {
    const many = ['a1', 'a22', 'a333', 'a4444', 'a55555', 'a666666', 'a7777777'];
    expect(closestNames('a', many)).toEqual(many.slice(0, 5));
    expect(closestNames('a', many, 2)).toEqual(['a1', 'a22']);
    expect(closestNames('zzzzzz', ['layer4', 'fc'])).toEqual([]);
  });
});

// ---- GraphSpecs ------------------------------------------------------------------------------

let seed = 500;
const w = (shape: number[]) => ({
  shape,
  data: randn(
    shape.reduce((a, b) => a * b, 1),
    seed++,
    0.5,
  ),
});

function conv(name: string, input: string, output: string, cin: number, cout: number, k = 3, groups = 1): NodeSpec {
  const pads = (k - 1) / 2;
  return {
    op: 'conv2d',
    name,
    inputs: [input],
    output,
    attrs: { pads: [pads, pads, pads, pads], groups },
    weights: { weight: w([cout, cin / groups, k, k]), bias: w([cout]) },
  };
}
const node = (op: NodeSpec['op'], name: string, input: string, output: string, attrs?: Record<string, unknown>) =>
  ({ op, name, inputs: [input], output, ...(attrs ? { attrs } : {}) }) as NodeSpec;
const linear = (name: string, input: string, output: string, k: number, m: number): NodeSpec => ({
  op: 'linear',
  name,
  inputs: [input],
  output,
  weights: { weight: w([m, k]), bias: w([m]) },
});
const out = (name: string) => `${name}_output_0`;

/**
 * A VGG as torch.onnx names it: features (conv, ReLU, max-pool twice), an average pool that keeps
 * the size (AdaptiveAvgPool2d), flatten, classifier; plus a conv no score depends on.
 */
function vggLike(): GraphSpec {
  seed = 500;
  const f = (i: number, op: string) => `/features/features.${i}/${op}`;
  return {
    name: 'vgg-like',
    input: { name: 'input', shape: [3, 8, 8] },
    output: 'output',
    nodes: [
      conv(f(0, 'Conv'), 'input', out(f(0, 'Conv')), 3, 4),
      node('relu', f(1, 'Relu'), out(f(0, 'Conv')), out(f(1, 'Relu'))),
      node('maxpool2d', f(2, 'MaxPool'), out(f(1, 'Relu')), out(f(2, 'MaxPool')), { kernel: [2, 2] }),
      conv('/unused/Conv', out(f(1, 'Relu')), out('/unused/Conv'), 4, 2),
      conv(f(3, 'Conv'), out(f(2, 'MaxPool')), out(f(3, 'Conv')), 4, 6),
      node('relu', f(4, 'Relu'), out(f(3, 'Conv')), out(f(4, 'Relu'))),
      node('maxpool2d', f(5, 'MaxPool'), out(f(4, 'Relu')), out(f(5, 'MaxPool')), { kernel: [2, 2] }),
      node('avgpool2d', '/avgpool/AveragePool', out(f(5, 'MaxPool')), out('/avgpool/AveragePool'), { kernel: [1, 1] }),
      node('flatten', '/Flatten', out('/avgpool/AveragePool'), out('/Flatten'), { axis: 1 }),
      linear('/classifier/classifier.0/Gemm', out('/Flatten'), 'output', 24, 5),
    ],
  };
}

describe('Graph.layer: a tensor name or a module name', () => {
  it('resolves module names to their tensors and keeps tensor names', () => {
    const g = new Graph(vggLike());
    expect(g.layer('features.4')).toBe('/features/features.4/Relu_output_0');
    expect(g.layer('features')).toBe('/features/features.5/MaxPool_output_0');
    expect(g.layer('avgpool')).toBe('/avgpool/AveragePool_output_0');
    expect(g.layer('/features/features.1/Relu_output_0')).toBe('/features/features.1/Relu_output_0');
    expect(g.layer('input')).toBe('input');
  });

  it('a name that is a tensor and a module is the tensor', () => {
    const spec: GraphSpec = {
      input: { name: 'x', shape: [2, 4, 4] },
      output: 'y',
      nodes: [
        conv('/features/features.0/Conv', 'x', 'features', 2, 2),
        node('relu', '/features/features.1/Relu', 'features', 'r'),
        node('globalavgpool', '/gap/GlobalAveragePool', 'r', 'g'),
        node('flatten', '/Flatten', 'g', 'f', { axis: 1 }),
        linear('/fc/Gemm', 'f', 'y', 2, 3),
      ],
    };
    const g = new Graph(spec);
    expect(g.layer('features')).toBe('features');
    expect(g.layer('features.1')).toBe('r');
  });

  it('an unknown name: GraphError with the closest module and tensor names, not a list of every tensor', () => {
    const g = new Graph(vggLike());
    expect(() => g.layer('featurs.4')).toThrow(GraphError);
    expect(() => g.layer('featurs.4')).toThrow(
      /layer 'featurs.4' is not in the graph \(no tensor or module has that name\); closest: 'features.4' \(module\)/,
    );
    expect(() => g.layer('Relu')).toThrow(
      /closest: '\/features\/features.1\/Relu_output_0' \(tensor\), '\/features\/features.4\/Relu_output_0' \(tensor\)/,
    );
    expect(() => g.layer('qqqqqqqq')).toThrow(/no tensor or module name is close to it/);
  });

  it('a graph without scopes: tensor names, and suggestions among them', () => {
    const g = new Graph(NETS.plain());
    expect(g.layer('relu2')).toBe('relu2');
    expect(() => g.layer('relu3')).toThrow(
      /layer 'relu3' is not in the graph \(no tensor has that name\); closest: 'relu1' \(tensor\), 'relu2' \(tensor\)\./,
    );
    expect(() => g.shape('relu3')).toThrow(/^tensor 'relu3' is not in the graph; closest: 'relu1', 'relu2'$/);
  });
});

describe('Graph.layers: the layers one can explain at', () => {
  it('4-D tensors with h·w > 1 the scores depend on, in graph order, with module names and [C, H, W]', () => {
    const g = new Graph(vggLike());
    expect(g.layers()).toEqual([
      { tensor: out('/features/features.0/Conv'), module: 'features.0', modules: ['features.0'], shape: [4, 8, 8] },
      { tensor: out('/features/features.1/Relu'), module: 'features.1', modules: ['features.1'], shape: [4, 8, 8] },
      { tensor: out('/features/features.2/MaxPool'), module: 'features.2', modules: ['features.2'], shape: [4, 4, 4] },
      { tensor: out('/features/features.3/Conv'), module: 'features.3', modules: ['features.3'], shape: [6, 4, 4] },
      { tensor: out('/features/features.4/Relu'), module: 'features.4', modules: ['features.4'], shape: [6, 4, 4] },
      {
        tensor: out('/features/features.5/MaxPool'),
        module: 'features.5',
        modules: ['features.5', 'features'],
        shape: [6, 2, 2],
      },
      { tensor: out('/avgpool/AveragePool'), module: 'avgpool', modules: ['avgpool'], shape: [6, 2, 2] },
    ]);
  });

  it('without scopes every module is null', () => {
    const g = new Graph(NETS.plain());
    expect(g.layers().map((l) => [l.tensor, l.module, l.shape])).toEqual([
      ['conv1', null, [6, 11, 9]],
      ['relu1', null, [6, 11, 9]],
      ['pool1', null, [6, 5, 4]],
      ['conv2', null, [10, 5, 4]],
      ['relu2', null, [10, 5, 4]],
    ]);
  });
});

describe('Graph.defaultLayer: the last spatial activation before the collapse, trailing pools skipped', () => {
  /** input [3, 8, 8] → conv → ReLU → `tail` → flatten → linear. */
  function net(tail: (x: string) => NodeSpec[], inputPool = false): GraphSpec {
    seed = 700;
    const nodes: NodeSpec[] = inputPool
      ? [node('maxpool2d', 'pool', 'image', 'pool', { kernel: [2, 2] })]
      : [conv('conv', 'image', 'conv', 3, 4), node('relu', 'relu', 'conv', 'relu'), ...tail('relu')];
    const last = nodes[nodes.length - 1].output;
    const g = new Graph({ input: { name: 'image', shape: [3, 8, 8] }, output: last, nodes });
    const size = g
      .shape(last)
      .slice(1)
      .reduce((a, b) => a * b, 1);
    nodes.push(node('flatten', 'flat', last, 'flat', { axis: 1 }), linear('fc', 'flat', 'logits', size, 3));
    return { input: { name: 'image', shape: [3, 8, 8] }, output: 'logits', nodes };
  }
  const maxpool = (x: string, y: string) => node('maxpool2d', y, x, y, { kernel: [2, 2] });

  it('VGG-like: the last ReLU before the last max-pool and the size-keeping average pool', () => {
    expect(new Graph(vggLike()).defaultLayer()).toBe('/features/features.4/Relu_output_0');
    const g = new Graph(
      net((x) => [
        maxpool(x, 'pool'),
        node('avgpool2d', 'avg', 'pool', 'avg', { kernel: [1, 1] }),
        node('identity', 'drop', 'avg', 'drop'),
      ]),
    );
    expect(g.defaultLayer()).toBe('relu');
  });

  it('views between the ReLU and the pool are skipped too', () => {
    expect(new Graph(net((x) => [node('identity', 'id', x, 'id'), maxpool('id', 'pool')])).defaultLayer()).toBe('relu');
  });

  it('a layer after the pools ends the walk (a BatchNormalization left as a depthwise 1×1 conv)', () => {
    const g = new Graph(net((x) => [maxpool(x, 'pool'), conv('bn', 'pool', 'bn', 4, 4, 1, 4)]));
    expect(g.defaultLayer()).toBe('bn');
  });

  it('a pool of the graph input stays: the default is never the input', () => {
    expect(new Graph(net(() => [], true)).defaultLayer()).toBe('pool');
  });

  it('a ReLU before the global average pool, as before (ResNet-like); the residual net skips its trailing avg-pool', () => {
    expect(new Graph(NETS.plain()).defaultLayer()).toBe('relu2');
    expect(new Graph(NETS.branchy()).defaultLayer()).toBe('relu3');
    // relu2 → avgpool2d 2×2 → global average pool: the pool is skipped.
    expect(new Graph(NETS.residual()).defaultLayer()).toBe('relu2');
  });
});

describe('explain() and Model.layers() take module names', () => {
  it('explains at a module; the error for a 2-D module names its tensor', async () => {
    const e = await getEngine();
    const model = await Model.load(e, vggLike());
    const x = e.upload(randn(3 * 8 * 8, 9), [1, 3, 8, 8]);
    try {
      expect(model.layers()).toEqual(model.graph.layers());
      expect(applicableMethods(model.graph, 'features.4')).not.toContain('cam');
      const byModule = await explain(model, x, { methods: ['gradcam'], targets: [1], layer: 'features.4' });
      const byTensor = await explain(model, x, {
        methods: ['gradcam'],
        targets: [1],
        layer: '/features/features.4/Relu_output_0',
      });
      const byDefault = await explain(model, x, { methods: ['gradcam'], targets: [1] });
      expect(byModule.layer).toBe('/features/features.4/Relu_output_0');
      expect(byDefault.layer).toBe('/features/features.4/Relu_output_0');
      expect(byModule.activations.shape).toEqual([1, 6, 4, 4]);
      expect([...(await byModule.maps.gradcam!.raw.read())]).toEqual([...(await byTensor.maps.gradcam!.raw.read())]);
      for (const r of [byModule, byTensor, byDefault]) r.destroy();
      await expect(explain(model, x, { layer: 'features.44' })).rejects.toThrow(
        /layer 'features.44' is not in the graph .*closest: 'features.4' \(module\)/,
      );
      const flat = explain(model, x, { layer: 'classifier.0' });
      await expect(flat).rejects.toThrow(ShapeMismatchError);
      await expect(explain(model, x, { layer: 'classifier.0' })).rejects.toThrow(
        /layer 'classifier.0' \(tensor 'output'\) is \[1, 5\]/,
      );
    } finally {
      x.destroy();
      model.destroy();
    }
    expect(e.liveTensors).toBe(0);
  });
});
