/**
 * The torchvision zoo as a test matrix: every classification family of torchvision (random
 * weights) exported to ONNX by PyTorch, imported with loadOnnx and explained on the GPU engine
 * with Grad-CAM, Grad-CAM++ and guided backprop at the customary layer. Logits, activations,
 * gradients and every method's results must equal PyTorch's (a float64 oracle that never sees
 * this engine's output).
 *
 * The models and the oracle's results are made by tools/export_torchvision.py into
 * test/.cache/onnx/ (git-ignored, about 1.1 GB) when missing or written by another version of
 * the script. That needs Debian's /usr/bin/python3 with PyTorch; without it this file fails,
 * saying what to install.
 *
 * Each model is one test; a model the importer refuses fails with its error (nothing is
 * skipped). The figures (load, forward and explain time, errors) are printed and written to
 * test-artifacts/onnx-zoo.json, from which tools/models_md.py renders docs/MODELS.md.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphError, UnsupportedOperatorError } from '../../src/core/errors';
import { Graph } from '../../src/model/graph';
import type { Model } from '../../src/model/model';
import { loadOnnx, onnxToGraphSpec } from '../../src/model/onnx';
import { allcloseReport, DEEP_MAPS, deepNetwork, GATE_FLIPS, maxAbs, relativeL2, type Tol } from '../util/compare';
import { getEngine } from '../util/gpu';
import { explain } from '../../src/attribution/explain';

const PYTHON = '/usr/bin/python3';
const SCRIPT = resolve('tools/export_torchvision.py');
const CACHE = resolve('test/.cache/onnx');
const ARTIFACT = resolve('test-artifacts/onnx-zoo.json');
/** The zoo, in the order of the script's MODELS (the manifest must list the same). */
const MODELS = [
  'resnet18',
  'alexnet',
  'vgg11_bn',
  'resnet50',
  'resnext50_32x4d',
  'wide_resnet50_2',
  'squeezenet1_0',
  'densenet121',
  'googlenet',
  'inception_v3',
  'shufflenet_v2_x1_0',
  'mobilenet_v2',
  'mobilenet_v3_small',
  'mobilenet_v3_large',
  'mnasnet1_0',
  'efficientnet_b0',
  'efficientnet_v2_s',
  'regnet_y_400mf',
  'convnext_tiny',
  'convnext_tiny_opset17',
];
const INSTALL = 'apt-get install -y python3-torch python3-torchvision python3-onnx';
const METHODS = ['gradcam', 'gradcam++', 'guided-backprop'] as const;

interface T {
  shape: number[];
  data: number[];
}

interface Doc {
  name: string;
  opset: number;
  /** ONNX op type → number of nodes */
  ops: Record<string, number>;
  bn: 'keep' | 'fold';
  /** BatchNormalization nodes that follow no conv (each becomes a depthwise 1×1 conv). */
  unfoldable_bn: number;
  batch: 'static' | 'dynamic';
  labels: 'metadata' | 'sidecar' | 'none';
  softmax: boolean;
  changes: string;
  parameters: number;
  file_bytes: number;
  export_seconds: number;
  oracle_seconds: number;
  input: T;
  layer: { module: string; tensor: string; shape: number[]; shape_inferred: boolean };
  target: number;
  guided_gates: Record<string, number>;
  gradcampp_conditioning: number | null;
  /** The smallest relative gap between a max-pool window's two largest values; exact ties. */
  maxpool_margin: { gap: number | null; ties: number };
  expected: {
    scores: T;
    output: T;
    activation: T;
    gradients: T;
    gradcam: { weights: T; map: T; map_norm: T };
    gradcampp: { weights: T; map: T; map_norm: T };
    guided_backprop: T;
    labels?: string[];
    mean?: number[];
    std?: number[];
  };
}

/** One comparison's figures: the largest error, absolute and relative to the largest |expected|. */
interface Check {
  what: string;
  maxAbsError: number;
  /** maxAbsError / max |expected| (0 when the expected values are all 0). */
  relToMax: number;
  /** ‖actual − expected‖₂ / ‖expected‖₂. */
  relL2: number;
  ok: boolean;
  message: string;
}

/** A row of the matrix, as written to test-artifacts/onnx-zoo.json. */
interface Row {
  name: string;
  /** 'pass', 'mismatch' (some comparison failed), 'refused: <op>' or 'error: <message>'. */
  status: string;
  input: number[];
  opset: number;
  changes: string;
  parameters: number;
  fileBytes: number;
  ops: Record<string, number>;
  layer: { module: string; tensor: string; shape: number[] };
  /** The engine's own default layer (Graph.defaultLayer()), when the model loaded. */
  defaultLayer: string | null;
  target: number;
  gradcamppConditioning: number | null;
  maxpoolGap: number | null;
  exportSeconds: number;
  loadMs: number | null;
  /** The first explain: forward, backward and all three methods, kernels compiled on first use. */
  firstExplainMs: number | null;
  /** A forward pass alone, then the same explain again: kernels already compiled. */
  forwardMs: number | null;
  explainMs: number | null;
  stageMs: Record<string, number> | null;
  checks: Check[];
}

const rows: Row[] = [];
const matrixStart = performance.now();

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Run the export script unless its outputs are there and were made by this version of it. */
function ensureExports(): void {
  const manifest = join(CACHE, 'manifest.json');
  if (existsSync(manifest)) {
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as { script_sha256: string; models: string[] };
    const complete = MODELS.every((n) => existsSync(join(CACHE, `${n}.onnx`)) && existsSync(join(CACHE, `${n}.json`)));
    if (m.script_sha256 === sha256(SCRIPT) && complete && m.models.join() === MODELS.join()) return;
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
  const t0 = performance.now();
  const r = spawnSync(PYTHON, [SCRIPT, CACHE], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`${SCRIPT} failed (exit ${r.status ?? r.signal}):\n${r.stderr.slice(-4000)}`);
  }
  const m = JSON.parse(readFileSync(manifest, 'utf8')) as { models: string[] };
  if (m.models.join() !== MODELS.join()) {
    throw new Error(`${SCRIPT} exports [${m.models.join(', ')}], this test expects [${MODELS.join(', ')}]`);
  }
  exportRanSeconds = Math.round((performance.now() - t0) / 100) / 10;
  console.log(`onnx.test: export took ${exportRanSeconds} s`);
}

/** How long the export script ran in this run (null: its outputs were up to date). */
let exportRanSeconds: number | null = null;

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

/**
 * Compare elementwise (a Tol) or by relative L2 error (a bound: GATE_FLIPS), and keep the
 * figures whether or not the values agree.
 */
function compare(
  checks: Check[],
  what: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tol | number,
) {
  let err = 0;
  for (let i = 0; i < Math.min(actual.length, expected.length); i++) {
    const d = Math.abs(actual[i] - expected[i]);
    err = Number.isNaN(d) ? Infinity : Math.max(err, d);
  }
  const scale = maxAbs(expected);
  const relL2 = actual.length === expected.length ? relativeL2(actual, expected) : Infinity;
  let ok: boolean;
  let message: string;
  if (typeof tol === 'number') {
    ok = relL2 <= tol; // false for NaN
    message = `relative L2 error ${relL2.toExponential(3)} (bound ${tol}); largest elementwise error ${err.toExponential(3)} of max |value| ${scale.toExponential(3)}`;
  } else {
    ({ ok, message } = allcloseReport(actual, expected, tol));
  }
  checks.push({ what, maxAbsError: err, relToMax: scale > 0 ? err / scale : err, relL2, ok, message });
}

function statusOf(e: unknown): string {
  if (e instanceof UnsupportedOperatorError) return `refused: ${e.opType}`;
  const msg = e instanceof Error ? e.message : String(e);
  return `error: ${msg.split('\n')[0].slice(0, 300)}`;
}

const ms = (t: number) => Math.round(t);

afterAll(async () => {
  const e = await getEngine();
  const a = e.adapter;
  const report = {
    generatedBy: 'test/model/onnx.test.ts',
    date: new Date().toISOString(),
    adapter: { description: a.description || a.device || a.vendor, vendor: a.vendor, kind: a.kind },
    complete: rows.length === MODELS.length,
    matrixSeconds: Math.round((performance.now() - matrixStart) / 100) / 10,
    /** The export script's run in this run (part of matrixSeconds), or null. */
    exportRanSeconds,
    /** The script's own per-model times (export and oracle), summed, from when it last ran. */
    exportSeconds: Math.round(rows.reduce((s, r) => s + r.exportSeconds, 0) * 10) / 10,
    rows,
  };
  mkdirSync(dirname(ARTIFACT), { recursive: true });
  writeFileSync(ARTIFACT, JSON.stringify(report, null, 1) + '\n');
  const pass = rows.filter((r) => r.status === 'pass').length;
  console.log(
    `onnx.test: ${pass} of ${rows.length} models pass; matrix ${report.matrixSeconds} s` +
      (exportRanSeconds === null ? ' (exports up to date)' : ` (${exportRanSeconds} s of it exporting)`) +
      `; figures in ${ARTIFACT}`,
  );
});

/** The export (about two minutes on a clean checkout) runs before the first model's test. */
const EXPORT_TIMEOUT_MS = 20 * 60_000;
/** One model: the largest (wide_resnet50_2) takes about 35 s on SwiftShader. */
const MODEL_TIMEOUT_MS = 5 * 60_000;

describe('the torchvision zoo, exported to ONNX, equals PyTorch', () => {
  beforeAll(() => {
    try {
      exports();
    } catch {
      // every test rethrows it
    }
  }, EXPORT_TIMEOUT_MS);

  it.each(MODELS)(
    '%s: import, logits, Grad-CAM, Grad-CAM++, guided backprop',
    async (name) => {
      exports();
      const doc = JSON.parse(readFileSync(join(CACHE, `${name}.json`), 'utf8')) as Doc;
      const row: Row = {
        name,
        status: 'error: unfinished',
        input: doc.input.shape.slice(1),
        opset: doc.opset,
        changes: doc.changes,
        parameters: doc.parameters,
        fileBytes: doc.file_bytes,
        ops: doc.ops,
        layer: { module: doc.layer.module, tensor: doc.layer.tensor, shape: doc.layer.shape },
        defaultLayer: null,
        target: doc.target,
        gradcamppConditioning: doc.gradcampp_conditioning,
        maxpoolGap: doc.maxpool_margin.gap,
        exportSeconds: doc.export_seconds + doc.oracle_seconds,
        loadMs: null,
        firstExplainMs: null,
        forwardMs: null,
        explainMs: null,
        stageMs: null,
        checks: [],
      };
      rows.push(row);
      const e = await getEngine();
      let model: Model | null = null;
      try {
        const bytes = readFileSync(join(CACHE, `${name}.onnx`));
        const sidecar =
          doc.labels === 'sidecar'
            ? (JSON.parse(readFileSync(join(CACHE, `${name}.labels.json`), 'utf8')) as object)
            : undefined;
        const t0 = performance.now();
        const loaded = await loadOnnx(e, bytes, { sidecar });
        row.loadMs = ms(performance.now() - t0);
        model = loaded.model;
        const { labels, preprocessing, spec } = loaded;
        row.defaultLayer = model.graph.defaultLayer();

        // The import: labels and normalisation from metadata or sidecar, the input shape, and
        // every BatchNormalization that follows a conv folded into it (one conv2d per ONNX Conv,
        // plus one depthwise 1×1 conv per BatchNormalization that follows anything else).
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
        expect(spec.nodes.filter((n) => n.op === 'conv2d').length).toBe(doc.ops.Conv + doc.unfoldable_bn);

        const ex = doc.expected;
        const checks = row.checks;
        const opts = { methods: METHODS, targets: [doc.target], layer: doc.layer.tensor };
        await e.scope(async () => {
          const x = e.upload(doc.input.data, doc.input.shape, 'image');
          const t1 = performance.now();
          const r = await explain(model!, x, opts);
          const scores = await r.scores.read();
          row.firstExplainMs = ms(performance.now() - t1);
          // Logits: deepNetwork() scales the absolute part to the largest |logit|.
          compare(checks, 'logits', scores, ex.scores.data, deepNetwork(ex.scores.data));
          if (doc.softmax) {
            // Not deepNetwork(): probabilities below ~0.1 over 10 classes, whose errors this test
            // has always bounded by 1e-6 absolute.
            const probTol = { atol: 1e-6, rtol: 1e-4 };
            compare(checks, 'softmax', await r.probabilities.read(), ex.output.data, probTol);
          }
          const a = ex.activation.data;
          compare(checks, 'activation', await r.activations.read(), a, deepNetwork(a));
          const g = ex.gradients.data;
          compare(checks, 'dy/dA', await r.gradients!.read(), g, deepNetwork(g));
          const cam = r.maps.gradcam!;
          const w = ex.gradcam.weights.data;
          compare(checks, 'gradcam weights', await cam.weights.read(), w, deepNetwork(w));
          const m = ex.gradcam.map.data;
          compare(checks, 'gradcam map', await cam.raw.read(), m, deepNetwork(m));
          compare(checks, 'gradcam normalised', await cam.layer.read(), ex.gradcam.map_norm.data, DEEP_MAPS);
          const pp = r.maps['gradcam++']!;
          const wpp = ex.gradcampp.weights.data;
          compare(checks, 'gradcam++ weights', await pp.weights.read(), wpp, deepNetwork(wpp));
          const mpp = ex.gradcampp.map.data;
          compare(checks, 'gradcam++ map', await pp.raw.read(), mpp, deepNetwork(mpp));
          compare(checks, 'gradcam++ normalised', await pp.layer.read(), ex.gradcampp.map_norm.data, DEEP_MAPS);
          // Guided backprop jumps where a gate flips: bounded in relative L2 (GATE_FLIPS).
          const gb = ex.guided_backprop.data;
          compare(checks, 'guided backprop', await r.maps['guided-backprop']!.input.read(), gb, GATE_FLIPS);
          r.destroy();

          // Timings with the kernels compiled: a forward pass alone, then the same explain.
          const t2 = performance.now();
          const acts = await model!.forward(x);
          await acts.output.read();
          row.forwardMs = ms(performance.now() - t2);
          acts.destroy();
          const t3 = performance.now();
          const r2 = await explain(model!, x, opts);
          await r2.scores.read();
          row.explainMs = ms(performance.now() - t3);
          row.stageMs = await r2.stageTimings();
          r2.destroy();
        });
        const bad = checks.filter((c) => !c.ok);
        row.status = bad.length ? 'mismatch' : 'pass';
        const fig = (w: string) => checks.find((c) => c.what === w)!;
        console.log(
          `onnx.test: ${name} ${row.input.join('×')}: load ${row.loadMs} ms, forward ${row.forwardMs} ms, ` +
            `explain ${row.explainMs} ms (first ${row.firstExplainMs} ms); max |error| / max |value|: ` +
            `logits ${fig('logits').relToMax.toExponential(1)}, Grad-CAM map ${fig('gradcam map').relToMax.toExponential(1)}, ` +
            `Grad-CAM++ map ${fig('gradcam++ map').relToMax.toExponential(1)}, guided ${fig('guided backprop').relToMax.toExponential(1)} ` +
            `(relative L2 ${fig('guided backprop').relL2.toExponential(1)}); ` +
            `normalised Grad-CAM max |error| ${fig('gradcam normalised').maxAbsError.toExponential(1)}` +
            (row.defaultLayer === doc.layer.tensor ? '' : `; engine default layer '${row.defaultLayer}'`),
        );
        expect(bad.map((c) => `${name} ${c.what}: ${c.message}`)).toEqual([]);
      } catch (err) {
        if (row.status === 'error: unfinished') row.status = statusOf(err);
        console.log(`onnx.test: ${name}: ${row.status}`);
        throw err;
      } finally {
        model?.destroy();
      }
      expect(e.liveTensors).toBe(0);
    },
    MODEL_TIMEOUT_MS,
  );
});

describe('layers by module name on the exports (no GPU)', () => {
  /**
   * Where the engine's default layer (the last spatial activation before the collapse, trailing
   * pools skipped) is not the layer the oracle explains at, and which it is: SqueezeNet's last
   * spatial activation is the ReLU after its final 1×1 conv (a class map); DenseNet applies
   * F.relu after 'features' (norm5), outside any module.
   */
  const OTHER_DEFAULT: Record<string, string> = {
    squeezenet1_0: '/classifier/classifier.2/Relu_output_0',
    densenet121: '/Relu_output_0',
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

  it.each(MODELS)("%s: the module in the oracle's 'layer' names the tensor it recorded; the default layer", (name) => {
    const { g, doc } = graphOf(name);
    expect(g.layer(doc.layer.module)).toBe(doc.layer.tensor);
    if (doc.softmax) expect(g.layer(`0.${doc.layer.module}`)).toBe(doc.layer.tensor); // wrapped: nn.Sequential(model, Softmax)
    const layer = g.layers().find((l) => l.tensor === doc.layer.tensor)!;
    expect(layer.modules).toContain(doc.layer.module);
    expect(layer.shape).toEqual(doc.expected.activation.shape.slice(1)); // A: [1, C, H, W]
    expect(g.defaultLayer()).toBe(OTHER_DEFAULT[name] ?? doc.layer.tensor);
  });

  it('vgg11_bn: the default is the last ReLU, not the max-pool after it (the last spatial tensor)', () => {
    const { g } = graphOf('vgg11_bn');
    const layers = g.layers();
    expect(layers[layers.length - 1]).toMatchObject({ modules: ['features.28', 'features'] });
    expect(g.defaultLayer()).toBe(g.layer('features.27'));
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
