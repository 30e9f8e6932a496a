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
import { loadOnnx } from '../../src/model/onnx';
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
