/**
 * `npm run bench:perturbation [-- --model resnet18 --layers L1,L2 --methods scorecam,ablationcam]`:
 * Score-CAM and Ablation-CAM on one network at the layers given (default: its default layer),
 * each against the batched forwards it needs and against those plus the image's own forward
 * (bench/perturbation.ts: the same runs as the end to end suite's perturbation rows, timed
 * alternately), top 5. Prints per layer and method the
 * channels K, the batch size explain() used, its time, the time per channel, the forwards
 * alone, the ratio, the image's forward, the ratio to all forwards and the peak of the engine's pool, each row as soon as it is measured: on a
 * software adapter ResNet-18's default layer (K = 512) takes about half an hour a row.
 *
 * --model: resnet18 (bench/.cache/resnet18_224.onnx, exported by tools/export_bench_resnet18.py
 * when missing), a shipped model's name (weights/<name>.onnx and its sidecar) or an ONNX path.
 * Run through scripts/run-ts.mjs (Vite's SSR loader: TypeScript and `?raw` shader imports).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { nonNegativeInt } from './args';
import { Engine } from '../src/gpu/engine';
import { loadOnnx } from '../src/model/onnx';
import { isPerturbation, type PerturbationMethodName } from '../src/methods/registry';
import { inputFor } from './nets';
import { useSwiftShaderWithoutGPU } from './vulkan';
import { perturbationRuns, type PerturbationResult } from './perturbation';
import { perturbationTable } from './report';
import { resnetOnnx } from './resnet_onnx';

const REPO = fileURLToPath(new URL('..', import.meta.url));

function modelFile(name: string): { path: string; sidecar?: unknown } {
  if (name === 'resnet18') {
    const rel = resnetOnnx(true, (s) => console.log(s));
    if (!rel) throw new Error('the ResNet-18 ONNX export is missing and could not be made');
    return { path: join(REPO, rel) };
  }
  if (!name.endsWith('.onnx')) {
    const path = join(REPO, 'weights', `${name}.onnx`);
    const side = join(REPO, 'weights', `${name}.json`);
    return { path, ...(existsSync(side) ? { sidecar: JSON.parse(readFileSync(side, 'utf8')) } : {}) };
  }
  return { path: name };
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('bench:perturbation')
    .option('--model <name>', 'resnet18, a shipped model (weights/<name>.onnx) or an ONNX file', 'resnet18')
    .option('--layers <list>', "comma-separated layers (tensor or module names; default: the model's default layer)")
    .option('--methods <list>', 'comma-separated perturbation methods', 'scorecam,ablationcam')
    .option('--reps <n>', 'timed runs of each (explain and forwards alternately)', nonNegativeInt, 1)
    .option('--warmup <n>', 'untimed runs of each first (shader compilation)', nonNegativeInt, 1)
    .exitOverride();
  let o: { model: string; layers?: string; methods: string; reps: number; warmup: number };
  try {
    // A refused option: commander has printed why; its status (1; 0 for --help) is ours.
    o = program.parse(argv, { from: 'user' }).opts();
  } catch (err) {
    return (err as { exitCode?: number }).exitCode ?? 1;
  }
  const methods = o.methods.split(',').map((s) => s.trim());
  const bad = methods.find((m) => !isPerturbation(m as PerturbationMethodName));
  if (bad !== undefined) {
    console.error(`error: option '--methods <list>': '${bad}' is not a perturbation method`);
    return 1;
  }
  const { path, sidecar } = modelFile(o.model);
  useSwiftShaderWithoutGPU();
  const e = await Engine.create();
  try {
    const a = e.adapter;
    console.log(`Adapter: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ')} (${a.kind})`);
    const { model } = await loadOnnx(e, readFileSync(path), sidecar ? { sidecar: sidecar as never } : {});
    const g = model.graph;
    const [C, H, W] = model.inputShape;
    const x = e.upload(inputFor(g.spec), [1, C, H, W], 'bench:input');
    const layers = (o.layers ?? g.defaultLayer()).split(',').map((l) => g.layer(l.trim()));
    const t0 = performance.now();
    const log = (s: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${s}`);
    const rows: { cells: string[]; r: PerturbationResult }[] = [];
    for (const layer of layers) {
      const out = await perturbationRuns(e, model, x, layer, methods as PerturbationMethodName[], {
        warmup: o.warmup,
        reps: o.reps,
        topK: 5,
        tick: () => {},
        log,
      });
      for (const r of out) rows.push({ cells: [o.model, `\`${layer}\``, r.method], r });
    }
    console.log(`\n${perturbationTable(['network', 'layer', 'method, top 5'], rows).join('\n')}`);
    x.destroy();
    model.destroy();
  } finally {
    e.destroy();
  }
  return 0;
}
