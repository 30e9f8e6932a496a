/**
 * The webgpu-cam command (the package's "bin"; src/cli/bin.ts starts it), built on the
 * library's public API (src/node.ts) alone:
 *
 *   webgpu-cam explain --model m.onnx [--sidecar s.json] [--methods gradcam,gradcam++]
 *                      [--top 3 | --classes 1,4 | --above 0.5 | --seed-vector v0,v1,…|@v.json]
 *                      [--score logit|probability|sigmoid]
 *                      [--layer L | --layer L1,L2 [--fuse mean|layercam]] [--aug-smooth] [--batch 8]
 *                      [--out dir] images-or-folders…
 *   webgpu-cam layers --model m.onnx       the layers explain can use, and the methods at each
 *   webgpu-cam info                        the WebGPU adapter, its features and limits
 *
 * `--help` on every command. Exit status: 0 done, 1 something failed (an image, the model, the
 * GPU), 2 a usage error. In the repository: npm run cli -- explain … (scripts/run-ts.mjs).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  checkSamplingOptions,
  COLORMAPS,
  Engine,
  explainableLayers,
  FUSIONS,
  isFusable,
  METHODS,
  MethodNotApplicableError,
  methodOf,
  SCORES,
  type ColormapName,
  type Fit,
  type Fusion,
  type Method,
  type SamplingOptions,
  type Score,
} from '../node';
import { labelsOf, runExplain } from './explain';
import { parseShard } from './files';
import { openModel } from './model';
import { PROGRESS_MODES, type ProgressMode } from './progress';

/** Exit status of a usage error (bad options, a layer or method the model does not have). */
const USAGE = 2;

const positiveInt = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a positive integer, got '${v}'.`);
  return n;
};

const classList = (v: string) => {
  const out = v.split(',').map((s) => Number(s.trim()));
  if (!out.length || out.some((c) => !Number.isInteger(c) || c < 0)) {
    throw new InvalidArgumentError(`--classes must be class indices separated by commas, got '${v}'.`);
  }
  return out;
};

const threshold = (v: string) => {
  const x = Number(v);
  if (!(x > 0 && x < 1)) throw new InvalidArgumentError(`--above must be a number in (0, 1), got '${v}'.`);
  return x;
};

/** --seed-vector: numbers separated by commas, or @file with a JSON array of numbers. */
const seedVector = (v: string): number[] => {
  let values: unknown;
  if (v.startsWith('@')) {
    try {
      values = JSON.parse(readFileSync(v.slice(1), 'utf8'));
    } catch (err) {
      throw new InvalidArgumentError(`--seed-vector: cannot read ${v.slice(1)} as JSON: ${(err as Error).message}`);
    }
  } else {
    values = v.split(',').map((x) => (x.trim() === '' ? NaN : Number(x)));
  }
  if (!Array.isArray(values) || !values.length || values.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
    throw new InvalidArgumentError(
      `--seed-vector must be finite numbers separated by commas, or @file.json holding an array of them; got '${v}'.`,
    );
  }
  return values as number[];
};

const methodList = (v: string): Method[] => {
  const out = v.split(',').map((s) => s.trim());
  const bad = out.filter((m) => !(METHODS as readonly string[]).includes(m));
  if (bad.length) throw new InvalidArgumentError(`unknown method '${bad[0]}'; methods: ${METHODS.join(', ')}.`);
  return out as Method[];
};

const finite = (what: string) => (v: string) => {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new InvalidArgumentError(`${what} must be a number, got '${v}'.`);
  return x;
};

const opacity = (v: string) => {
  const x = Number(v);
  if (!(x >= 0 && x <= 1)) throw new InvalidArgumentError(`--opacity must be a number in [0, 1], got '${v}'.`);
  return x;
};

const shard = (v: string) => {
  const s = parseShard(v);
  if (!s) throw new InvalidArgumentError(`--shard must be i/n with 1 ≤ i ≤ n (e.g. 2/8), got '${v}'.`);
  return s;
};

interface ExplainOpts {
  model: string;
  sidecar?: string;
  methods: Method[];
  top?: number;
  classes?: number[];
  above?: number;
  seedVector?: number[];
  score: Score;
  layer?: string;
  augSmooth?: boolean;
  fuse?: Fusion;
  batch: number;
  out: string;
  fit: Fit;
  colormap: ColormapName;
  opacity: number;
  shard?: [number, number];
  progress: ProgressMode;
  eigenSmooth?: boolean;
  smoothgradSamples?: number;
  smoothgradSigma?: number;
  smoothgradSeed?: number;
  igSteps?: number;
  igBaseline?: number;
  perturbationBatch?: number;
}

/** explain()'s sampling options from the flags (only those given). */
function samplingOf(o: ExplainOpts): SamplingOptions {
  const out: SamplingOptions = {};
  const sg = { samples: o.smoothgradSamples, sigma: o.smoothgradSigma, seed: o.smoothgradSeed };
  const ig = { steps: o.igSteps, baseline: o.igBaseline };
  const given = <T extends object>(x: T): Partial<T> | undefined => {
    const kept = Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined)) as Partial<T>;
    return Object.keys(kept).length ? kept : undefined;
  };
  const smoothgrad = given(sg);
  const integratedGradients = given(ig);
  if (smoothgrad) out.smoothgrad = smoothgrad;
  if (integratedGradients) out.integratedGradients = integratedGradients;
  return out;
}

/** The program; each command's action hands its exit status to `done`. */
export function program(done: (status: number) => void): Command {
  const p = new Command('webgpu-cam')
    .description('Explain what an image classifier (ONNX) looks at, on WebGPU: CAM, Grad-CAM, Grad-CAM++ and more.')
    .option('-v, --verbose', "also print the library's notes (the kernels chosen for the adapter)")
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });

  p.command('explain')
    .description(
      'Explain images in batches: one overlay PNG and one .npy map (float32, [H, W] in [0, 1]; [3, H, W] for the ' +
        'guided methods) per image, class and method, named <image>.<method>.<class>, and summary.json (classes, ' +
        'scores, files, timings, adapter) in --out. A file that cannot be read is reported and skipped; the exit ' +
        'status is 1 if any failed.',
    )
    .argument('<images...>', 'PNG or JPEG files, and folders (searched recursively for .png, .jpg, .jpeg)')
    .requiredOption('-m, --model <file>', 'the ONNX model')
    .option(
      '-s, --sidecar <file>',
      'labels and preprocessing: JSON { labels, mean, std, inputSize } (default: <model>.json next to the model, if any)',
    )
    .addOption(
      new Option('--methods <list>', `comma-separated, from: ${METHODS.join(', ')}`)
        .argParser(methodList)
        .default(['gradcam'] as Method[], 'gradcam'),
    )
    .addOption(
      new Option('--top <k>', 'explain the k highest-scoring classes of each image (default 1)')
        .argParser(positiveInt('--top'))
        .conflicts('classes'),
    )
    .addOption(
      new Option('--classes <list>', 'explain these class indices (comma-separated) in every image').argParser(
        classList,
      ),
    )
    .addOption(
      new Option(
        '--above <p>',
        'explain every class of each image whose sigmoid (softmax probability with --score probability) is above p',
      )
        .argParser(threshold)
        .conflicts(['top', 'classes']),
    )
    .addOption(
      new Option(
        '--seed-vector <v>',
        'explain one score per image, Σ_c v_c·s_c over the classes (s the --score of each): one number per class, ' +
          'comma-separated, or @file.json with an array; files are named <image>.<method>.seed',
      )
        .argParser(seedVector)
        .conflicts(['top', 'classes', 'above']),
    )
    .addOption(
      new Option('--score <s>', 'the explained score of each class: the logit, its softmax probability, its sigmoid')
        .choices([...SCORES])
        .default('logit'),
    )
    .option(
      '--layer <name>',
      "the layer to explain at (default: the model's last spatial layer; see `webgpu-cam layers`); several, " +
        'comma-separated: one backward pass to all of them, and the maps written are their fusion (--fuse)',
    )
    .addOption(
      new Option('--fuse <rule>', "with several layers: how each method's maps are fused (default mean)").choices([
        ...FUSIONS,
      ]),
    )
    .option(
      '--aug-smooth',
      "average each layer method's map over flipped and brightened copies of the image (pytorch-grad-cam's aug_smooth)",
    )
    .option('--batch <n>', 'images per GPU batch', positiveInt('--batch'), 8)
    .option('-o, --out <dir>', 'output folder', 'webgpu-cam-out')
    .addOption(
      new Option('--fit <fit>', 'how an image becomes the model input')
        .choices(['center-crop', 'stretch'])
        .default('center-crop'),
    )
    .addOption(new Option('--colormap <name>', 'colormap of the overlays').choices([...COLORMAPS]).default('turbo'))
    .option('--opacity <x>', "the map's weight over the image in the overlays, in [0, 1]", opacity, 0.5)
    .option(
      '--shard <i/n>',
      'take only shard i of n of the images (every n-th from the i-th), for spreading a folder over n machines',
      shard,
    )
    .addOption(
      new Option('--progress <mode>', 'progress on stderr: a bar on a terminal, a line per batch otherwise')
        .choices([...PROGRESS_MODES])
        .default('auto'),
    )
    .option('--eigen-smooth', "the channel methods' maps as the first principal component of w_k·A^k")
    .option(
      '--smoothgrad-samples <n>',
      'SmoothGrad: noisy copies per image (default 16)',
      finite('--smoothgrad-samples'),
    )
    .option(
      '--smoothgrad-sigma <x>',
      "SmoothGrad: the noise's σ as a fraction of each image's range (default 0.15)",
      finite('--smoothgrad-sigma'),
    )
    .option('--smoothgrad-seed <n>', "SmoothGrad: the noise's seed (default 0)", finite('--smoothgrad-seed'))
    .option('--ig-steps <n>', 'Integrated Gradients: steps along the path (default 32)', finite('--ig-steps'))
    .option(
      '--ig-baseline <x>',
      'Integrated Gradients: the baseline, one value in the normalised input space (default 0)',
      finite('--ig-baseline'),
    )
    .option(
      '--perturbation-batch <n>',
      'Score-CAM, Ablation-CAM: the most (image, channel) jobs per extra forward pass (default 32; lowered to fit the device)',
      positiveInt('--perturbation-batch'),
    )
    .action(async (images: string[], o: ExplainOpts, cmd: Command) => {
      const sampling = samplingOf(o);
      try {
        checkSamplingOptions(sampling);
      } catch (err) {
        // explain()'s own check, with the flags' names.
        const msg = (err as Error).message
          .replace(/^explain: /, '')
          .replace('smoothgrad.samples', '--smoothgrad-samples')
          .replace('smoothgrad.sigma', '--smoothgrad-sigma')
          .replace('smoothgrad.seed', '--smoothgrad-seed')
          .replace('integratedGradients.steps', '--ig-steps')
          .replace('integratedGradients.baseline', '--ig-baseline');
        cmd.error(`error: ${msg}`, { exitCode: USAGE });
      }
      const opened = await openModel(o.model, o.sidecar);
      const g = opened.graph;
      const channels = g.spec.input.shape[0];
      if (channels !== 3) {
        cmd.error(`error: ${o.model} takes ${channels}-channel input; this command feeds it RGB images (3 channels)`, {
          exitCode: USAGE,
        });
      }
      const layers = explainableLayers(g);
      const listed = (o.layer ?? g.defaultLayer()).split(',').map((l) => l.trim());
      if (listed.length === 1 && o.fuse !== undefined) {
        cmd.error('error: --fuse needs several layers (--layer L1,L2,…)', { exitCode: USAGE });
      }
      if (listed.length > 1 && (o.augSmooth || o.eigenSmooth)) {
        cmd.error(`error: ${o.augSmooth ? '--aug-smooth' : '--eigen-smooth'} does not apply with several layers`, {
          exitCode: USAGE,
        });
      }
      if (listed.length > 1 && (o.above !== undefined || o.seedVector !== undefined || o.score !== 'logit')) {
        const flag =
          o.above !== undefined ? '--above' : o.seedVector !== undefined ? '--seed-vector' : `--score ${o.score}`;
        cmd.error(`error: ${flag} does not apply with several layers`, { exitCode: USAGE });
      }
      if (new Set(listed).size !== listed.length) {
        cmd.error(`error: --layer lists a layer twice: ${listed.join(',')}`, { exitCode: USAGE });
      }
      for (const layer of listed) {
        const info = layers.find((l) => l.name === layer);
        if (!info) {
          cmd.error(
            `error: '${layer}' is not a layer of ${o.model} that can be explained; ` +
              `layers: ${layers.map((l) => l.name).join(', ')} (webgpu-cam layers --model ${o.model})`,
            { exitCode: USAGE },
          );
        }
        for (const m of o.methods) {
          if (!info!.methods.includes(m)) {
            cmd.error(`error: ${methodOf(m).label} does not apply at layer '${layer}': ${info!.camReason}`, {
              exitCode: USAGE,
            });
          }
          if (listed.length > 1 && !isFusable(m)) {
            cmd.error(
              `error: ${methodOf(m).label} cannot be fused over several layers; only the channel methods with ` +
                'gradient weights, the spatial and the eigen methods can',
              { exitCode: USAGE },
            );
          }
        }
      }
      const unsmoothed = o.methods.filter((m) => {
        const d = methodOf(m);
        return d.family === 'perturbation' || (d.family === 'channel' && d.source === 'noisy-gradients');
      });
      if (o.augSmooth && unsmoothed.length) {
        cmd.error(`error: --aug-smooth does not apply to ${unsmoothed.join(', ')}`, { exitCode: USAGE });
      }
      const layer = listed.length === 1 ? listed[0] : listed;
      const k = labelsOf(opened).length;
      if (o.top !== undefined && o.top > k)
        cmd.error(`error: --top ${o.top}: the model has ${k} classes`, { exitCode: USAGE });
      const bad = o.classes?.find((c) => c >= k);
      if (bad !== undefined)
        cmd.error(`error: --classes: ${bad} is not a class of the model (0 … ${k - 1})`, { exitCode: USAGE });
      if (o.seedVector && o.seedVector.length !== k) {
        cmd.error(`error: --seed-vector has ${o.seedVector.length} numbers; the model has ${k} classes`, {
          exitCode: USAGE,
        });
      }
      const targets =
        o.classes ??
        (o.above !== undefined ? { above: o.above } : o.seedVector ? { seed: o.seedVector } : { topK: o.top ?? 1 });
      const engine = await Engine.create();
      try {
        done(
          await runExplain(engine, opened, images, {
            methods: [...new Set(o.methods)],
            targets,
            score: o.score,
            layer,
            augSmooth: o.augSmooth === true,
            fuse: listed.length > 1 ? (o.fuse ?? 'mean') : null,
            batch: o.batch,
            out: o.out,
            fit: o.fit,
            colormap: o.colormap,
            opacity: o.opacity,
            shard: o.shard ?? null,
            progress: o.progress,
            options: {
              ...sampling,
              ...(o.eigenSmooth ? { eigenSmooth: true } : {}),
              ...(o.perturbationBatch !== undefined ? { batchSize: o.perturbationBatch } : {}),
            },
          }),
        );
      } catch (err) {
        // A method that cannot explain these targets or this score (explain()'s own check, made
        // on the first batch): the options are at fault, not an image.
        if (err instanceof MethodNotApplicableError) cmd.error(`error: ${err.message}`, { exitCode: USAGE });
        throw err;
      } finally {
        engine.destroy();
      }
    });

  p.command('layers')
    .description('List the layers of a model that explain can use: shape, the methods that apply there, the default.')
    .requiredOption('-m, --model <file>', 'the ONNX model')
    .option('-s, --sidecar <file>', 'labels and preprocessing JSON (default: <model>.json next to the model, if any)')
    .option('--json', 'print JSON')
    .action(async (o: { model: string; sidecar?: string; json?: boolean }) => {
      const opened = await openModel(o.model, o.sidecar);
      const g = opened.graph;
      const layers = explainableLayers(g);
      const dflt = g.defaultLayer();
      if (o.json) {
        const out = {
          model: o.model,
          input: g.spec.input.shape,
          classes: labelsOf(opened).length,
          defaultLayer: dflt,
          layers: layers.map((l) => ({ ...l, default: l.name === dflt })),
        };
        process.stdout.write(JSON.stringify(out, null, 1) + '\n');
        return;
      }
      const [C, H, W] = g.spec.input.shape;
      process.stdout.write(
        `${o.model}: input ${C}×${H}×${W}, ${labelsOf(opened).length} classes; * the default layer\n`,
      );
      const width = Math.max(...layers.map((l) => l.name.length));
      for (const l of layers) {
        const shape = l.shape.join('×').padEnd(12);
        const cam = l.camReason ? '' : ' (CAM applies)';
        process.stdout.write(
          `${l.name === dflt ? '*' : ' '} ${l.name.padEnd(width)}  ${shape}  ${l.methods.join(', ')}${cam}\n`,
        );
      }
    });

  p.command('info')
    .description(
      'Print the WebGPU adapter this machine gives (name, software or hardware and why), its features and limits.',
    )
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const engine = await Engine.create();
      try {
        const d = engine.device;
        const limits: Record<string, number> = {};
        for (const k in d.limits) limits[k] = (d.limits as unknown as Record<string, number>)[k];
        const out = {
          adapter: engine.adapter,
          timestamps: engine.hasTimestamps,
          features: [...d.features].sort(),
          limits,
        };
        if (o.json) {
          process.stdout.write(JSON.stringify(out, null, 1) + '\n');
          return;
        }
        const a = engine.adapter;
        const lines = [
          `adapter: ${[a.vendor, a.architecture, a.device].filter(Boolean).join(' · ') || '(no name)'}`,
          `description: ${a.description || '(none)'}`,
          `kind: ${a.kind} (${a.kindReason})`,
          `timestamp queries: ${out.timestamps ? 'yes' : 'no'}`,
          `features: ${out.features.join(', ') || '(none)'}`,
          'limits of the device:',
          ...Object.entries(limits).map(([k, v]) => `  ${k}: ${v}`),
        ];
        process.stdout.write(lines.join('\n') + '\n');
      } finally {
        engine.destroy();
      }
    });
  return p;
}

/** Run the command line `argv` (without node and the script); resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  let status = 0;
  const p = program((s) => (status = s));
  // The library's notes (console.info) would mix into stdout, which may be JSON: stderr with --verbose, else nowhere.
  const info = console.info;
  console.info =
    argv.includes('-v') || argv.includes('--verbose') ? (...a: unknown[]) => console.error(...a) : () => {};
  try {
    await p.parseAsync(argv, { from: 'user' });
    return status;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has printed its message: help (status 0), or a usage error (its status 1 is ours 2).
      return e.exitCode === 1 ? USAGE : e.exitCode;
    }
    process.stderr.write(`webgpu-cam: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}\n`);
    return 1;
  } finally {
    console.info = info;
  }
}
