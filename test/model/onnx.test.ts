/**
 * torchvision architectures (random weights) exported to ONNX by PyTorch, imported with
 * loadOnnx and run on the GPU engine: logits and Grad-CAM must equal PyTorch's (float64 oracle).
 *
 * The models and the oracle's results are made by tools/export_torchvision.py into
 * test/.cache/onnx/ (git-ignored, about 105 MB) when missing or written by another version of the
 * script. That needs Debian's /usr/bin/python3 with PyTorch; without it this file fails, saying
 * what to install.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraphError } from '../../src/core/errors';
import { Graph } from '../../src/model/graph';
import { loadOnnx, onnxToGraphSpec } from '../../src/model/onnx';
import { deepNetwork, expectAllclose, MAPS } from '../util/compare';
import { getEngine } from '../util/gpu';
import { explain } from '../../src/attribution/explain';

const PYTHON = '/usr/bin/python3';
const SCRIPT = resolve('tools/export_torchvision.py');
const CACHE = resolve('test/.cache/onnx');
const MODELS = ['resnet18', 'vgg11', 'mobilenet_v2', 'squeezenet1_1'];
const INSTALL = 'apt-get install -y python3-torch python3-torchvision python3-onnx';

interface T {
  shape: number[];
  data: number[];
}

interface Doc {
  name: string;
  /** ONNX op type → number of nodes */
  ops: Record<string, number>;
  batch: 'static' | 'dynamic';
  labels: 'metadata' | 'sidecar' | 'none';
  softmax: boolean;
  input: T;
  layer: { module: string; tensor: string };
  target: number;
  expected: {
    scores: T;
    output: T;
    activation: T;
    gradients: T;
    gradcam: { weights: T; map: T; map_norm: T };
    labels?: string[];
    mean?: number[];
    std?: number[];
  };
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Run the export script unless its outputs are there and were made by this version of it. */
function ensureExports(): void {
  const manifest = join(CACHE, 'manifest.json');
  if (existsSync(manifest)) {
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as { script_sha256: string; models: string[] };
    const complete = MODELS.every((n) => existsSync(join(CACHE, `${n}.onnx`)) && existsSync(join(CACHE, `${n}.json`)));
    if (m.script_sha256 === sha256(SCRIPT) && complete) return;
  }
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision, onnx'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `The ONNX import tests export torchvision models with PyTorch, which ${PYTHON} cannot import ` +
        `(${probe.error?.message ?? probe.stderr.trim().split('\n').pop()}). ` +
        `On Debian install it with: ${INSTALL} (npm test does this itself when run as root).`,
    );
  }
  console.log(`onnx.test: exporting torchvision models with ${SCRIPT} into ${CACHE}`);
  const r = spawnSync(PYTHON, [SCRIPT, CACHE], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`${SCRIPT} failed (exit ${r.status ?? r.signal}):\n${r.stderr.slice(-4000)}`);
  }
}

let exportError: unknown = undefined;
let exported = false;

/** ensureExports() once per file; every test that needs the files fails with its error. */
function exports(): void {
  if (!exported) {
    exported = true;
    try {
      ensureExports();
    } catch (e) {
      exportError = e;
    }
  }
  if (exportError) throw exportError;
}

describe('torchvision models exported to ONNX equal PyTorch', () => {
  it.each(MODELS)('%s: logits and Grad-CAM', async (name) => {
    exports();
    const doc = JSON.parse(readFileSync(join(CACHE, `${name}.json`), 'utf8')) as Doc;
    const bytes = readFileSync(join(CACHE, `${name}.onnx`));
    const sidecar =
      doc.labels === 'sidecar'
        ? (JSON.parse(readFileSync(join(CACHE, `${name}.labels.json`), 'utf8')) as object)
        : undefined;
    const e = await getEngine();
    const t0 = performance.now();
    const { model, labels, preprocessing, spec } = await loadOnnx(e, bytes, { sidecar });
    const tLoad = performance.now() - t0;
    try {
      expect(labels).toEqual(doc.expected.labels ?? null);
      expect(spec.labels).toEqual(doc.expected.labels);
      if (doc.expected.mean) {
        expect(preprocessing).toEqual({
          inputSize: doc.input.shape.slice(2),
          mean: doc.expected.mean,
          std: doc.expected.std,
        });
      } else {
        expect(preprocessing).toBeNull();
      }
      expect(spec.input.shape).toEqual(doc.input.shape.slice(1));
      // Every BatchNormalization was folded into its conv: one conv2d per ONNX Conv, no more.
      expect(spec.nodes.filter((n) => n.op === 'conv2d').length).toBe(doc.ops.Conv);

      const t1 = performance.now();
      await e.scope(async () => {
        const x = e.upload(doc.input.data, doc.input.shape, 'image');
        const r = await explain(model, x, { methods: ['gradcam'], targets: [doc.target], layer: doc.layer.tensor });
        const ex = doc.expected;
        const scores = await r.scores.read();
        const tExplain = performance.now() - t1;
        expectAllclose(scores, ex.scores.data, deepNetwork(ex.scores.data), `${name} logits`);
        if (doc.softmax) {
          // Not deepNetwork(): probabilities below ~0.1 over 1000 classes, whose errors this test
          // has always bounded by 1e-6 absolute.
          const probTol = { atol: 1e-6, rtol: 1e-4 };
          expectAllclose(await r.probabilities.read(), ex.output.data, probTol, `${name} softmax`);
        }
        const a = ex.activation.data;
        expectAllclose(await r.activations.read(), a, deepNetwork(a), `${name} activation at ${doc.layer.tensor}`);
        const g = ex.gradients.data;
        expectAllclose(await r.gradients!.read(), g, deepNetwork(g), `${name} dy/dA`);
        const cam = r.maps.gradcam!;
        const w = ex.gradcam.weights.data;
        expectAllclose(await cam.weights.read(), w, deepNetwork(w), `${name} Grad-CAM weights`);
        const m = ex.gradcam.map.data;
        expectAllclose(await cam.raw.read(), m, deepNetwork(m), `${name} Grad-CAM map`);
        expectAllclose(await cam.layer.read(), ex.gradcam.map_norm.data, MAPS, `${name} normalised`);
        console.log(
          `onnx.test: ${name} ${doc.input.shape.slice(1).join('×')}: load ${tLoad.toFixed(0)} ms, ` +
            `forward + Grad-CAM at '${doc.layer.tensor}' ${tExplain.toFixed(0)} ms`,
        );
      });
    } finally {
      model.destroy();
    }
    expect(e.liveTensors).toBe(0);
  });
});

describe('layers by module name on the exports (no GPU)', () => {
  /** The customary default layer of each export: the last spatial activation before the collapse. */
  const DEFAULT_MODULE: Record<string, string> = {
    resnet18: 'layer4', // its last block's ReLU, before the global average pool
    vgg11: 'features.19', // the last ReLU, before the last max-pool
    mobilenet_v2: 'features.18', // the last conv block (ReLU6), before the global average pool
    squeezenet1_1: 'classifier.2', // the ReLU after the final 1×1 conv, before the global average pool
  };

  function graphOf(name: string): { g: Graph; doc: Doc } {
    exports();
    const doc = JSON.parse(readFileSync(join(CACHE, `${name}.json`), 'utf8')) as Doc;
    const sidecar =
      doc.labels === 'sidecar'
        ? (JSON.parse(readFileSync(join(CACHE, `${name}.labels.json`), 'utf8')) as object)
        : undefined;
    return { g: new Graph(onnxToGraphSpec(readFileSync(join(CACHE, `${name}.onnx`)), { sidecar }).spec), doc };
  }

  it.each(MODELS)("%s: the module in the oracle's 'layer' names the tensor it recorded", (name) => {
    const { g, doc } = graphOf(name);
    expect(g.layer(doc.layer.module)).toBe(doc.layer.tensor);
    if (doc.softmax) expect(g.layer(`0.${doc.layer.module}`)).toBe(doc.layer.tensor); // wrapped: nn.Sequential(model, Softmax)
    const layer = g.layers().find((l) => l.tensor === doc.layer.tensor)!;
    expect(layer.modules).toContain(doc.layer.module);
    expect(layer.shape).toEqual(doc.expected.activation.shape); // A[0]: [C, H, W]
  });

  it.each(Object.entries(DEFAULT_MODULE))('%s: the default layer is the output of %s', (name, module) => {
    const { g } = graphOf(name);
    expect(g.defaultLayer()).toBe(g.layer(module));
  });

  it('vgg11: the default is the ReLU, not the max-pool after it (the last spatial tensor)', () => {
    const { g } = graphOf('vgg11');
    const layers = g.layers();
    expect(layers[layers.length - 1]).toMatchObject({
      tensor: '/0/features/features.20/MaxPool_output_0',
      modules: ['features.20', 'features'],
    });
    expect(g.defaultLayer()).toBe('/0/features/features.19/Relu_output_0');
  });

  it('resnet18 (BatchNormalization kept in the export, folded on import): a conv whose BN was folded has no output left', () => {
    const { g } = graphOf('resnet18');
    expect(g.layer('layer4.1.bn2')).toBe('/layer4/layer4.1/bn2/BatchNormalization_output_0');
    expect(() => g.layer('layer4.1.conv2')).toThrow(GraphError);
    expect(() => g.layer('layer4.1.conv2')).toThrow(/folded away.*the output of module 'layer4.1.bn2'/);
    expect(() => g.layer('layer5')).toThrow(/closest: 'layer1' \(module\), 'layer2' \(module\)/);
    // The first call of layer4.1.relu is no module's output; the block's output is its second call's.
    expect(g.layers().find((l) => l.tensor === '/layer4/layer4.1/relu_1/Relu_output_0')!.modules).toEqual([
      'layer4.1.relu',
      'layer4.1',
      'layer4',
    ]);
  });
});
