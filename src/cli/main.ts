/**
 * The webgpu-cam command (the package's "bin"; src/cli/bin.ts starts it), built on the
 * library's public API (src/node.ts) alone:
 *
 *   webgpu-cam explain --model m.onnx [--sidecar s.json] [--methods gradcam,gradcam++]
 *                      [--top 3 | --classes 1,4 | --above 0.5] [--score logit|probability|sigmoid]
 *                      [--layer L] [--batch 8] [--out dir] images-or-folders…
 *   webgpu-cam layers --model m.onnx       the layers explain can use, and the methods at each
 *   webgpu-cam info                        the WebGPU adapter, its features and limits
 *
 * `--help` on every command. Exit status: 0 done, 1 something failed (an image, the model, the
 * GPU), 2 a usage error. In the repository: npm run cli -- explain … (scripts/run-ts.mjs).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  COLORMAPS,
  Engine,
  explainableLayers,
  METHODS,
  methodOf,
  SCORES,
  type ColormapName,
  type Fit,
  type Method,
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

const methodList = (v: string): Method[] => {
  const out = v.split(',').map((s) => s.trim());
  const bad = out.filter((m) => !(METHODS as readonly string[]).includes(m));
  if (bad.length) throw new InvalidArgumentError(`unknown method '${bad[0]}'; methods: ${METHODS.join(', ')}.`);
  return out as Method[];
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
  score: Score;
  layer?: string;
  batch: number;
  out: string;
  fit: Fit;
  colormap: ColormapName;
  opacity: number;
  shard?: [number, number];
  progress: ProgressMode;
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
      new Option('--score <s>', 'the explained score of each class: the logit, its softmax probability, its sigmoid')
        .choices([...SCORES])
        .default('logit'),
    )
    .option(
      '--layer <name>',
      "the layer to explain at (default: the model's last spatial layer; see `webgpu-cam layers`)",
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
    .action(async (images: string[], o: ExplainOpts, cmd: Command) => {
      const opened = await openModel(o.model, o.sidecar);
      const g = opened.graph;
      const channels = g.spec.input.shape[0];
      if (channels !== 3) {
        cmd.error(`error: ${o.model} takes ${channels}-channel input; this command feeds it RGB images (3 channels)`, {
          exitCode: USAGE,
        });
      }
      const layers = explainableLayers(g);
      const layer = o.layer ?? g.defaultLayer();
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
      }
      const k = labelsOf(opened).length;
      if (o.top !== undefined && o.top > k)
        cmd.error(`error: --top ${o.top}: the model has ${k} classes`, { exitCode: USAGE });
      const bad = o.classes?.find((c) => c >= k);
      if (bad !== undefined)
        cmd.error(`error: --classes: ${bad} is not a class of the model (0 … ${k - 1})`, { exitCode: USAGE });
      const engine = await Engine.create();
      try {
        done(
          await runExplain(engine, opened, images, {
            methods: [...new Set(o.methods)],
            targets: o.classes ?? (o.above !== undefined ? { above: o.above } : { topK: o.top ?? 1 }),
            score: o.score,
            layer,
            batch: o.batch,
            out: o.out,
            fit: o.fit,
            colormap: o.colormap,
            opacity: o.opacity,
            shard: o.shard ?? null,
            progress: o.progress,
          }),
        );
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
