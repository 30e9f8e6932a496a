/**
 * `npm run bench [-- options]`: the benchmark suite (bench/suite.ts) in headless Chromium
 * (default; the page bench/page.html served by Vite, driven through puppeteer) or in Node on
 * Dawn (--node). Prints the tables, writes the JSON result (bench/results/<mode>.json) and the
 * generated section of docs/BENCHMARKS.md. `--smoke` runs one tiny shape and network to prove
 * the harness works (CI), writing nothing unless --out is given. `--soak [n]` runs the soak
 * instead (bench/soak.ts: n explains in Node, printing tensors, pool bytes and heap as it goes).
 *
 * Run through scripts/run-ts.mjs (Vite's SSR loader: TypeScript and `?raw` shader imports).
 */
import { cpus, loadavg } from 'node:os';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { nonNegativeInt } from './args';
import cliProgress from 'cli-progress';
import { markdown, updateDoc, type BenchReport } from './report';
import type { ModelEntry, Progress, SuiteConfig, SuiteIO, SuiteResult } from './suite';
import { useSwiftShaderWithoutGPU } from './vulkan';
import { resnetOnnx } from './resnet_onnx';

const REPO = fileURLToPath(new URL('..', import.meta.url));

interface Options {
  node: boolean;
  smoke: boolean;
  parts: string;
  models?: string;
  reps?: number;
  tfReps?: number;
  warmup: number;
  tfjs: boolean;
  out?: string;
  docs: boolean;
  export: boolean;
  soak?: number | true;
  soakEvery: number;
  soakModel: string;
  perturbationEverywhere: boolean;
}

function program(): Command {
  return new Command('bench')
    .description('webgpu-cam benchmark: ceiling, kernels, end to end vs TF.js WebGPU')
    .option('--node', 'run in Node on Dawn (webgpu package) instead of headless Chromium', false)
    .option('--smoke', 'one tiny shape and network, one repetition (proves the harness runs)', false)
    .option('--parts <list>', 'comma-separated: ceiling, kernels, e2e, metrics', 'ceiling,kernels,e2e,metrics')
    .option(
      '--models <list>',
      'networks for e2e: gap4, resnet18, tiny, or paths of .onnx files (default: gap4, resnet18, weights/*.onnx)',
    )
    .addOption(new Option('--reps <n>', 'timed repetitions (default 5; smoke 1)').argParser(nonNegativeInt))
    .addOption(
      new Option('--tf-reps <n>', 'timed repetitions of the TF.js runs (default 3; smoke 1)').argParser(nonNegativeInt),
    )
    .addOption(new Option('--warmup <n>', 'untimed warm-up runs').default(1).argParser(nonNegativeInt))
    .option('--no-tfjs', 'skip the TF.js comparison')
    .option(
      '--perturbation-everywhere',
      'run Score-CAM, Ablation-CAM (K = 512 forwards each) and the sampled input gradients on resnet18 on a software adapter too: many minutes',
      false,
    )
    .option('--out <file>', 'JSON result file (default bench/results/<mode>.json; none for --smoke)')
    .option('--no-docs', 'do not update docs/BENCHMARKS.md')
    .option('--no-export', 'do not run tools/export_bench_resnet18.py when its ONNX file is missing')
    .addOption(
      new Option(
        '--soak [n]',
        'instead of the benchmark: n explains (default 1000) with every method in Node, printing live tensors, pool bytes and JS heap as it goes',
      ).argParser(nonNegativeInt),
    )
    .addOption(
      new Option('--soak-every <n>', 'print a soak sample every n explains').default(50).argParser(nonNegativeInt),
    )
    .option('--soak-model <name>', 'the shipped model the soak explains (weights/<name>.onnx)', 'fashion_cam')
    .exitOverride();
}

function models(o: Options, log: (s: string) => void): ModelEntry[] {
  if (o.smoke) return [{ name: 'tiny', tfAll: true }];
  const names = o.models
    ? o.models.split(',').map((s) => s.trim())
    : [
        'gap4',
        'resnet18',
        ...(existsSync(join(REPO, 'weights'))
          ? readdirSync(join(REPO, 'weights'))
              .filter((f) => f.endsWith('.onnx'))
              .map((f) => `weights/${f}`)
          : []),
      ];
  return names.map((n): ModelEntry => {
    if (n.endsWith('.onnx'))
      return {
        name: n
          .split('/')
          .pop()!
          .replace(/\.onnx$/, ''),
        onnx: n,
        tfAll: true,
      };
    if (n === 'resnet18') {
      const onnx = resnetOnnx(o.export, (m) =>
        log(m.startsWith('could not') ? `${m}; using the GraphSpec builder` : m),
      );
      // 224×224 ResNet-18 takes seconds a run here: fewer repetitions, and TF.js's per-class
      // all-methods run (about 10 full backward passes) is left out.
      // Score-CAM and Ablation-CAM: 512 forwards each, so on a software adapter only when asked.
      return {
        name: 'resnet18',
        ...(onnx ? { onnx } : {}),
        tfAll: false,
        reps: 3,
        tfReps: 2,
        perturbation: o.perturbationEverywhere || 'hardware',
      };
    }
    return { name: n, tfAll: true };
  });
}

async function runNode(cfg: SuiteConfig, io: Omit<SuiteIO, 'runtime' | 'readBytes'>): Promise<SuiteResult> {
  useSwiftShaderWithoutGPU();
  // TF.js's WebGPU backend registers itself only where navigator.gpu exists: give Node one, from
  // Dawn, before anything imports it; the engine then finds the same navigator.gpu.
  const dawn = (await import('webgpu')) as { create(flags: string[]): GPU; globals: Record<string, unknown> };
  Object.assign(globalThis, dawn.globals);
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (!g.navigator?.gpu)
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: dawn.create([]) }, configurable: true });
  const { runSuite } = await import('./suite');
  return runSuite(cfg, {
    ...io,
    runtime: `Node ${process.version}, Dawn (webgpu ${readPkgVersion('webgpu')})`,
    readBytes: async (path) => new Uint8Array(readFileSync(join(REPO, path))),
  });
}

function readPkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(REPO, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
      .version;
  } catch {
    return '?';
  }
}

async function runBrowser(cfg: SuiteConfig, io: Omit<SuiteIO, 'runtime' | 'readBytes'>): Promise<SuiteResult> {
  const { openHarness } = await import('../test/browser/launch');
  const h = await openHarness({
    entries: ['bench/page.html'],
    include: ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-webgpu'],
    cacheDir: 'node_modules/.vite-bench',
  });
  try {
    const page = await h.newPage('/bench/page.html');
    try {
      await page.page.exposeFunction('__benchProgress', (p: Progress) => io.progress(p));
      await page.page.exposeFunction('__benchLog', (s: string) => io.log(s));
      await page.page.waitForFunction(() => window.__bench?.ready === true, { timeout: 120_000 });
      const version = await h.browser.version();
      const result = (await page.page.evaluate((c) => window.__bench.run(c), cfg)) as SuiteResult;
      result.env.runtime = `${version} (headless, ${h.args.filter((a) => a.startsWith('--use-') || a.startsWith('--enable-unsafe')).join(' ')})`;
      page.assertNoErrors();
      return result;
    } finally {
      await page.close();
    }
  } finally {
    await h.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  let o: Options;
  try {
    o = program().parse(argv, { from: 'user' }).opts<Options>();
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode;
    return code ?? 2;
  }
  if (o.soak !== undefined) {
    useSwiftShaderWithoutGPU();
    const { runSoak } = await import('./soak');
    const explains = o.soak === true ? 1000 : o.soak;
    return runSoak(REPO, { explains, every: o.soakEvery, model: o.soakModel }, (s) => console.log(s));
  }
  const mode: BenchReport['mode'] = o.node ? 'node' : 'browser';
  const tty = process.stderr.isTTY;
  const multibar = new cliProgress.MultiBar(
    {
      format: ' {bar} {percentage}% | {value}/{total} | {label}',
      hideCursor: true,
      clearOnComplete: true,
      stream: process.stderr,
      noTTYOutput: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const bar = tty ? multibar.create(1, 0, { label: 'starting' }) : null;
  const log = (s: string) => (bar ? multibar.log(`${s}\n`) : console.error(s));
  const io = {
    progress: (p: Progress) => {
      bar?.setTotal(p.total);
      bar?.update(p.done, { label: p.label });
    },
    log,
  };
  const cfg: SuiteConfig = {
    smoke: o.smoke,
    parts: o.parts.split(',').map((s) => s.trim()) as SuiteConfig['parts'],
    warmup: o.warmup,
    reps: o.reps ?? (o.smoke ? 1 : 5),
    tfReps: o.tfReps ?? (o.smoke ? 1 : 3),
    tfjs: o.tfjs,
    models: models(o, log),
  };
  const bad = cfg.parts.filter((p) => !['ceiling', 'kernels', 'e2e', 'metrics'].includes(p));
  if (bad.length) {
    console.error(`unknown part(s): ${bad.join(', ')} (ceiling, kernels, e2e, metrics)`);
    return 2;
  }
  const command = `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
  let result: SuiteResult;
  const loadBefore = loadavg()[0];
  try {
    result = mode === 'node' ? await runNode(cfg, io) : await runBrowser(cfg, io);
  } finally {
    multibar.stop();
  }
  const report: BenchReport = {
    date: new Date().toISOString(),
    mode,
    command,
    smoke: o.smoke,
    load: { before: loadBefore, after: loadavg()[0], cores: cpus().length },
    ...result,
  };
  const md = markdown(report);
  console.log(md);
  const out = o.out ?? (o.smoke ? null : `bench/results/${mode}.json`);
  if (out) {
    const path = resolve(REPO, out);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, JSON.stringify(report, null, 1) + '\n');
    console.error(`wrote ${out}`);
  }
  if (o.docs && !o.smoke) {
    const doc = join(REPO, 'docs/BENCHMARKS.md');
    const text = existsSync(doc) ? readFileSync(doc, 'utf8') : '# Benchmarks\n';
    writeFileSync(doc, updateDoc(text, mode, md));
    console.error('updated docs/BENCHMARKS.md');
  }
  const failedChecks = (report.e2e ?? []).filter((e) => e.tfjsError || (e.check && !e.check.ok));
  if (failedChecks.length) {
    console.error(`TF.js comparison failed or differed for: ${failedChecks.map((e) => e.model).join(', ')}`);
    return 1;
  }
  return 0;
}
