/**
 * `npm run bench:import-memory [-- options]`: host memory while importing a large ONNX model in
 * Node. Imports full torchvision vgg16 at 224×224 (about 553 MB of float32 weights; exported
 * once by tools/export_bench_vgg16.py into bench/.cache/, not part of the test suite) with
 * loadOnnx, and prints the file size, the peak resident set size (RSS) during the import, the
 * V8 heap and ArrayBuffer memory at each step, and their ratio to the file size.
 *
 *   --bytes       loadOnnx on the file's bytes (read first with readFileSync) instead of on its
 *                 path; from a path the importer reads the file piece by piece, leaves the large
 *                 weights in the file and reads each one, 16 MiB at a time, as Model.load uploads
 *                 it (src/model/onnx_stream.ts, src/defs/deferred.ts)
 *   --breakdown   import the bytes in loadOnnx's three steps (decodeModel, convertGraph,
 *                 Model.load), the figures after each: where the memory goes
 *   --onnx FILE   another model
 *   --out FILE    also write the figures as JSON (bench/results/import-memory.json is what
 *                 docs/MODELS.md is rendered from)
 *
 * Peak RSS is sampled every 2 ms by a worker thread (the import's protobuf decoding and
 * conversion are synchronous, so the main thread cannot sample them), and read from the
 * kernel's high-water mark (VmHWM, reset first) where Linux allows. The baseline is the RSS
 * with the engine created and the file not yet read. On a software adapter (SwiftShader) the
 * GPU buffers are host memory and count in the RSS; on a GPU they would not.
 *
 * Run through scripts/run-ts.mjs (Vite's SSR loader: TypeScript and `?raw` shader imports).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { Engine } from '../src/gpu/engine';
import { loadOnnx } from '../src/model/onnx';
import { Model } from '../src/model/model';
import { convertGraph } from '../src/model/onnx_convert';
import { decodeModel, defaultOpset } from '../src/model/onnx_proto';
import type { GraphSpec } from '../src/model/spec';
import { useSwiftShaderWithoutGPU } from './vulkan';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const VGG16 = 'bench/.cache/vgg16_224.onnx';
const MB = 1e6;

interface Step {
  step: string;
  ms: number;
  /** process.memoryUsage() at the end of the step, in MB. */
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
  external: number;
  /** The largest sampled RSS during the step, in MB. */
  peakRss: number;
}

interface Report {
  generatedBy: string;
  date: string;
  file: string;
  fileMB: number;
  mode: 'loadOnnx(path)' | 'loadOnnx(bytes)' | 'breakdown';
  adapter: string;
  node: string;
  baselineRssMB: number;
  /** Peak RSS over the import: sampled, and the kernel's high-water mark (null where unreadable). */
  peakRssMB: number;
  vmHwmMB: number | null;
  /** (peak RSS − baseline) / file size. */
  peakRatio: number;
  /** RSS − baseline once the import's inputs are dropped and collected, / file size. */
  retainedRatio: number;
  /** What the model's weights occupy on the GPU (Model.weightBytes), in MB. */
  gpuWeightsMB: number;
  /** The converted GraphSpec's weight arrays (host memory), in MB. */
  specWeightsMB: number;
  /** Whether the loaded Model still references the GraphSpec's weight arrays (host copies). */
  modelKeepsSpecWeights: boolean;
  steps: Step[];
}

/**
 * A full garbage collection, if V8 lets us have one, and time for the ArrayBuffer sweeper
 * (which frees backing stores after the collection, concurrently) to finish.
 */
function collector(): () => Promise<void> {
  let gc: () => void = () => {};
  try {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  } catch {
    // no collection: the figures after "GC" then include garbage
  }
  return async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 100));
    }
  };
}

/** Reset the kernel's peak-RSS mark (Linux: write 5 to clear_refs); false where not allowed. */
function resetHwm(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function vmHwmMB(): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? (Number(m[1]) * 1024) / MB : null;
  } catch {
    return null;
  }
}

/** A worker thread that samples the process's RSS every 2 ms, independent of the main thread. */
function rssSampler(): { peakSince(t: number): Promise<number>; stop(): Promise<void> } {
  const code = `
    const { parentPort } = require('node:worker_threads');
    const samples = [];
    const timer = setInterval(() => samples.push([Date.now(), process.memoryUsage.rss()]), 2);
    parentPort.on('message', (m) => {
      if (m.stop) { clearInterval(timer); parentPort.postMessage({ done: true }); return; }
      let peak = 0;
      for (const [t, r] of samples) if (t >= m.since) peak = Math.max(peak, r);
      samples.length = 0;
      parentPort.postMessage({ peak });
    });`;
  const w = new Worker(code, { eval: true });
  const ask = (msg: object) =>
    new Promise<{ peak?: number }>((res) => {
      w.once('message', res);
      w.postMessage(msg);
    });
  return {
    async peakSince(t) {
      return ((await ask({ since: t })).peak ?? 0) / MB;
    },
    async stop() {
      await ask({ stop: true });
      await w.terminate();
    },
  };
}

/** The bytes of a GraphSpec's weight arrays. */
function specWeightBytes(spec: GraphSpec): number {
  let b = 0;
  for (const n of spec.nodes) for (const w of Object.values(n.weights ?? {})) b += w.data.length * 4;
  return b;
}

function memory(): Omit<Step, 'step' | 'ms' | 'peakRss'> {
  const m = process.memoryUsage();
  return { rss: m.rss / MB, heapUsed: m.heapUsed / MB, arrayBuffers: m.arrayBuffers / MB, external: m.external / MB };
}

function parseArgs(argv: string[]): { breakdown: boolean; bytes: boolean; onnx: string; out: string | null } {
  const o = { breakdown: false, bytes: false, onnx: VGG16, out: null as string | null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--breakdown') o.breakdown = true;
    else if (a === '--bytes') o.bytes = true;
    else if (a === '--onnx') o.onnx = argv[++i];
    else if (a === '--out') o.out = argv[++i];
    else throw new Error(`unknown option '${a}' (--bytes, --breakdown, --onnx FILE, --out FILE)`);
  }
  return o;
}

const f1 = (v: number) => v.toFixed(1);

export async function main(argv: string[]): Promise<number> {
  const opts = parseArgs(argv);
  const file = resolve(REPO, opts.onnx);
  if (!existsSync(file)) {
    if (opts.onnx !== VGG16) throw new Error(`${file} does not exist`);
    console.log(`import-memory: exporting vgg16 to ${VGG16} (tools/export_bench_vgg16.py)…`);
    execFileSync('/usr/bin/python3', [join(REPO, 'tools/export_bench_vgg16.py'), file], { stdio: 'inherit' });
  }
  useSwiftShaderWithoutGPU();
  const gc = collector();
  const engine = await Engine.create();
  const fileMB = statSync(file).size / MB;
  const sampler = rssSampler();
  const steps: Step[] = [];
  let t = Date.now();
  const step = async (name: string) => {
    const now = Date.now();
    steps.push({ step: name, ms: now - t, ...memory(), peakRss: await sampler.peakSince(t) });
    t = Date.now();
  };
  try {
    await gc();
    const hwm = resetHwm();
    await step('baseline (engine created)');
    const baseline = steps[0].rss;

    let bytes: Uint8Array | null = null;
    if (opts.bytes || opts.breakdown) {
      bytes = readFileSync(file);
      await step('file read');
    }
    let model: Model;
    let specMB = 0;
    if (!bytes) {
      // The spec's weights are released as they are uploaded: count them from the GPU side.
      model = (await loadOnnx(engine, file)).model;
      await step('loadOnnx (path: read piece by piece)');
      specMB = model.weightBytes / MB;
    } else if (opts.breakdown) {
      let decoded: ReturnType<typeof decodeModel> | null = decodeModel(bytes);
      await step('decodeModel (protobuf → objects)');
      let spec: GraphSpec | null = convertGraph(decoded.graph!, { opset: defaultOpset(decoded) });
      await step('convertGraph (→ GraphSpec, BN folded)');
      specMB = specWeightBytes(spec) / MB;
      decoded = null;
      bytes = null;
      await gc();
      await step('file bytes and decoded protobuf dropped, GC');
      model = await Model.load(engine, spec);
      await step('Model.load (upload, conv packing)');
      spec = null;
    } else {
      model = (await loadOnnx(engine, bytes)).model;
      await step('loadOnnx');
      specMB = specWeightBytes(model.spec) / MB;
      bytes = null;
    }
    await gc();
    await step('inputs dropped, GC (the model kept)');
    const peak = Math.max(...steps.map((s) => s.peakRss), ...steps.map((s) => s.rss));
    const report: Report = {
      generatedBy: 'bench/import_memory.ts',
      date: new Date().toISOString(),
      file: opts.onnx,
      fileMB,
      mode: opts.breakdown ? 'breakdown' : opts.bytes ? 'loadOnnx(bytes)' : 'loadOnnx(path)',
      adapter: engine.adapter.description || engine.adapter.device || engine.adapter.vendor,
      node: process.version,
      baselineRssMB: baseline,
      peakRssMB: peak,
      vmHwmMB: hwm ? vmHwmMB() : null,
      peakRatio: (peak - baseline) / fileMB,
      retainedRatio: (steps[steps.length - 1].rss - baseline) / fileMB,
      gpuWeightsMB: model.weightBytes / MB,
      specWeightsMB: specMB,
      modelKeepsSpecWeights: specWeightBytes(model.spec) > 0,
      steps,
    };
    model.destroy();

    console.log(
      `import-memory: ${opts.onnx}, ${f1(fileMB)} MB; ${report.mode}; ${report.adapter}; Node ${process.version}`,
    );
    console.log(
      'step                                          ms   RSS  peak RSS  heapUsed  arrayBuffers  external   (MB)',
    );
    for (const s of steps) {
      console.log(
        `${s.step.padEnd(44)}${String(s.ms).padStart(6)}${f1(s.rss).padStart(7)}${f1(s.peakRss).padStart(9)}` +
          `${f1(s.heapUsed).padStart(10)}${f1(s.arrayBuffers).padStart(14)}${f1(s.external).padStart(10)}`,
      );
    }
    console.log(
      `import-memory: peak RSS ${f1(peak)} MB (kernel high-water mark ${report.vmHwmMB === null ? 'unreadable' : f1(report.vmHwmMB)} MB), ` +
        `baseline ${f1(baseline)} MB: the import's peak is ${f1(peak - baseline)} MB = ${report.peakRatio.toFixed(2)}× the file ` +
        `(target ≤ 2×); retained after the import ${report.retainedRatio.toFixed(2)}× (GPU weights ${f1(report.gpuWeightsMB)} MB; ` +
        `the GraphSpec's weights ${f1(report.specWeightsMB)} MB, ${report.modelKeepsSpecWeights ? 'still referenced by the Model' : 'released'})`,
    );
    if (opts.out) {
      const out = resolve(REPO, opts.out);
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, JSON.stringify(report, null, 1) + '\n');
      console.log(`import-memory: wrote ${opts.out}`);
    }
    return 0;
  } finally {
    await sampler.stop();
    engine.destroy();
  }
}
