/**
 * `npm run bench:f16 [-- options]`: the accuracy of half-float weight storage (Model.load's
 * `weightStorage: 'f16'`) against the float64 CPU reference on the float32 weights, next to the
 * float32 engine's own error, on the shipped models (a sample image, preprocessed as their
 * sidecar says) and on zoo-like networks with seeded random weights (bench/nets.ts: ResNet-18's
 * shape, gap4). For each: the top-5 classes, the max abs error of the logits and that error
 * relative to the largest |logit|; per map method (Grad-CAM, Grad-CAM++, CAM where the head
 * allows) for the reference's top-3 classes: the raw map's max abs error relative to its
 * largest |value|, and the max abs error of the normalised map (values in [0, 1]) at the layer
 * and upsampled to the input; and the weights' GPU memory (pool bytes after Model.load).
 *
 *   --resnet SIZE   ResNet-18's input side (default 64; 224 takes a few minutes of CPU reference)
 *   --only NAMES    comma-separated network names
 *
 * test/model/f16_weights.test.ts asserts the tolerances docs/BENCHMARKS.md states on the
 * shipped models and a test network, through f16Accuracy() below.
 * Run through scripts/run-ts.mjs (Vite's SSR loader: TypeScript and `?raw` shader imports).
 */
import { readFileSync } from 'node:fs';
import { applicableMethods, explain, type LayerMaps, type Method } from '../src/attribution/explain';
import { Engine } from '../src/gpu/engine';
import { Model } from '../src/model/model';
import { onnxToGraphSpec } from '../src/model/onnx';
import type { GraphSpec } from '../src/model/spec';
import { decodeImage } from '../src/node/image';
import { explainReference } from '../src/reference/explain';
import { RefModel } from '../src/reference/model';
import { preprocessImage } from '../src/reference/preprocess';
import { hostTensor } from '../src/reference/tensor';
import { Graph } from '../src/model/graph';
import { gap4, inputFor, resnet18 } from './nets';
import { useSwiftShaderWithoutGPU } from './vulkan';

export interface ErrorFigures {
  /** max |Δ| of the logits, and that over max |logit|. */
  logitsAbs: number;
  logitsRel: number;
  /** Per method: raw map max |Δ| over max |raw|; normalised map max |Δ| at the layer and at the input. */
  maps: Record<string, { rawRel: number; layerAbs: number; inputAbs: number }>;
  /** The engine's top 5 classes equal the reference's. */
  top5: boolean;
  /** Pool bytes held by the loaded model's weights. */
  weightBytes: number;
}

export interface F16Accuracy {
  name: string;
  methods: Method[];
  classes: number[];
  f32: ErrorFigures;
  f16: ErrorFigures;
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const top = (s: ArrayLike<number>, k: number) =>
  Array.from(s, (v, i) => [v, i])
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, i]) => i);

/** The map methods measured: Grad-CAM and Grad-CAM++, and CAM where the head allows it. */
export function mapMethods(spec: GraphSpec): Method[] {
  const g = new Graph(spec);
  const ok = new Set<string>(applicableMethods(g));
  return (['gradcam', 'gradcam++', 'cam'] as const).filter((m) => ok.has(m));
}

/**
 * Errors of the f32 and f16 weight storage against the float64 reference for one image x
 * [1, C, H, W] of `spec`: logits, and the maps of `methods` for the reference's top `t` classes.
 */
export async function f16Accuracy(
  e: Engine,
  name: string,
  spec: GraphSpec,
  x: Float32Array,
  methods: Method[] = mapMethods(spec),
  t = 3,
): Promise<F16Accuracy> {
  const shape = [1, ...spec.input.shape];
  const ref = explainReference(new RefModel(spec), hostTensor(shape, x), { methods, targets: { topK: t } });
  const classes = ref.classes[0];
  const refScores = ref.scores.data;
  const out: Partial<Record<'f32' | 'f16', ErrorFigures>> = {};
  for (const weightStorage of ['f32', 'f16'] as const) {
    const before = e.pool.liveBytes;
    const model = await Model.load(e, spec, { weightStorage });
    const weightBytes = e.pool.liveBytes - before;
    const input = e.upload(x, shape);
    try {
      const r = await explain(model, input, { methods, targets: classes });
      const scores = await r.scores.read();
      const maps: ErrorFigures['maps'] = {};
      for (const m of methods) {
        const got = r.maps[m] as LayerMaps;
        const want = ref.maps[m]!;
        maps[m] = {
          rawRel: maxDiff(await got.raw.read(), want.raw!.data) / Math.max(maxAbs(want.raw!.data), 1e-30),
          layerAbs: maxDiff(await got.layer.read(), want.layer!.data),
          inputAbs: maxDiff(await got.input.read(), want.input!.data),
        };
      }
      r.destroy();
      const logitsAbs = maxDiff(scores, refScores);
      out[weightStorage] = {
        logitsAbs,
        logitsRel: logitsAbs / maxAbs(refScores),
        maps,
        top5: top(scores, 5).join() === top(refScores, 5).join(),
        weightBytes,
      };
    } finally {
      input.destroy();
      model.destroy();
    }
  }
  return { name, methods, classes, f32: out.f32!, f16: out.f16! };
}

/** A shipped model (weights/<name>.onnx and its sidecar) and a sample image preprocessed for it. */
export function shippedCase(name: string, sample = 'weights/samples/05_two_classes_boot_tshirt.png') {
  const sidecar = JSON.parse(readFileSync(`weights/${name}.json`, 'utf8')) as {
    labels: string[];
    inputSize: [number, number];
    mean: [number, number, number];
    std: [number, number, number];
  };
  const { spec } = onnxToGraphSpec(readFileSync(`weights/${name}.onnx`), { sidecar: sidecar.labels, name });
  const image = decodeImage(readFileSync(sample));
  const x = preprocessImage(image, { size: sidecar.inputSize, mean: sidecar.mean, std: sidecar.std });
  return { spec, x: Float32Array.from(x.data) };
}

const fmt = (v: number) => (v === 0 ? '0' : v.toExponential(1));

export function formatRows(rows: F16Accuracy[]): string {
  const lines = [
    '| network | weights | weight MiB | top 5 equal | logits max abs | ÷ max logit | method | raw map ÷ max | normalised map (layer) | upsampled map |',
    '|---|---|---:|---|---:|---:|---|---:|---:|---:|',
  ];
  for (const r of rows) {
    for (const s of ['f32', 'f16'] as const) {
      const f = r[s];
      r.methods.forEach((m, i) => {
        const head =
          i === 0
            ? `| ${r.name} | ${s} | ${(f.weightBytes / 2 ** 20).toFixed(2)} | ${f.top5 ? 'yes' : 'no'} | ${fmt(f.logitsAbs)} | ${fmt(f.logitsRel)} |`
            : '| | | | | | |';
        const mm = f.maps[m];
        lines.push(`${head} ${m} | ${fmt(mm.rawRel)} | ${fmt(mm.layerAbs)} | ${fmt(mm.inputAbs)} |`);
      });
    }
  }
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const arg = (k: string) => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const size = Number(arg('--resnet') ?? 64);
  const only = arg('--only')?.split(',');
  const nets: [string, () => { spec: GraphSpec; x: Float32Array }][] = [
    ['fashion_cam', () => shippedCase('fashion_cam')],
    ['fashion_deep', () => shippedCase('fashion_deep')],
    ['gap4', () => ({ spec: gap4(), x: inputFor(gap4()) })],
    [`resnet18@${size}`, () => ({ spec: resnet18(size, 1000), x: inputFor(resnet18(size, 1000)) })],
  ];
  useSwiftShaderWithoutGPU();
  const e = await Engine.create();
  const rows: F16Accuracy[] = [];
  try {
    for (const [name, make] of nets) {
      if (only && !only.includes(name)) continue;
      const { spec, x } = make();
      const t0 = performance.now();
      rows.push(await f16Accuracy(e, name, spec, x));
      console.error(`${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    e.destroy();
  }
  console.log(
    `Measured ${new Date().toISOString()} with \`npm run bench:f16${argv.length ? ' -- ' + argv.join(' ') : ''}\`.\n`,
  );
  console.log(formatRows(rows));
  return 0;
}
