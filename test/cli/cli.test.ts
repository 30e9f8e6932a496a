/**
 * The webgpu-cam command (src/cli/), run as a child process from the sources
 * (scripts/run-ts.mjs src/cli/main.ts, what `npm run cli` runs) on the shipped model and sample
 * images; the installed package's bin is run in test/package/consumer.test.ts.
 *
 * - explain: a batch of PNGs, a JPEG, a file that is not an image and a missing one: the others
 *   are explained, the two are reported, skipped and listed in summary.json, the status is 1;
 *   every map (.npy) and class equals explain() of that image alone in this process, every
 *   overlay is a PNG of the model input's size;
 * - --above with --score sigmoid: per image the classes above the threshold (a batch pads the
 *   image with fewer, and writes no files for the padding), as explain() gives them alone;
 * - --shard 1/2 and 2/2 split a folder into two disjoint halves that cover it; progress as lines
 *   and as a bar with images per second;
 * - --seed-vector from a JSON file: one row per image, files <image>.<method>.seed, the maps
 *   of explain() with { seed };
 * - layers and info, as text and JSON;
 * - --help of every command, and usage errors with status 2 (in this process: main()), a
 *   method that cannot explain the score among them.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { explain } from '../../src/attribution/explain';
import { main } from '../../src/cli/main';
import { loadOnnx } from '../../src/model/onnx';
import { decodeImage } from '../../src/node/image';
import { preprocessImage } from '../../src/ops/preprocess';
import { expectAllclose, MAPS } from '../util/compare';
import { floatTensor, node, onnxModel } from '../util/onnx_builder';
import { randn } from '../util/random';
import { getEngine } from '../util/gpu';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const MODEL = join(REPO, 'weights/fashion_cam.onnx');
const SAMPLES = join(REPO, 'weights/samples');
const sample = (f: string) => join(SAMPLES, f);
const RELU4 = '/features/relu4/Relu_output_0';
const RELU6 = '/features/relu6/Relu_output_0';

function cli(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO, 'scripts/run-ts.mjs'), 'src/cli/main.ts', ...args], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 240_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** shape and values of a .npy file (float32, little-endian, C order) as npyFloat32 writes it. */
function readNpy(path: string): { shape: number[]; data: Float32Array } {
  const b = readFileSync(path);
  expect([...b.subarray(0, 8)]).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const len = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + len).toString('latin1');
  expect(header).toMatch(/'descr': '<f4', 'fortran_order': False/);
  expect((10 + len) % 64).toBe(0);
  const shape = /'shape': \(([^)]*)\)/
    .exec(header)![1]
    .split(',')
    .filter((s) => s.trim())
    .map(Number);
  const body = b.subarray(10 + len);
  const data = new Float32Array(body.length / 4);
  for (let i = 0; i < data.length; i++) data[i] = body.readFloatLE(i * 4);
  return { shape, data };
}

interface Summary {
  model: { layer: string; labels: string[]; probability: string };
  adapter: { kind: string };
  options: { methods: string[]; shard: string | null };
  images: {
    file: string;
    top: { class: number; score: number }[];
    explained: {
      class: number;
      label: string;
      score: number;
      files: Record<string, { overlay: string; map: string }>;
    }[];
  }[];
  failed: { file: string; error: string }[];
  timings: { totalMs: number; imagesPerSecond: number; stepsMs: Record<string, number> };
}

/**
 * The shipped model loaded in this process, and `input(file)`: an image file preprocessed as the
 * CLI does it (the sidecar's size, mean and std, center crop), to compare the CLI with explain().
 */
async function libraryModel() {
  const engine = await getEngine();
  const sidecar = JSON.parse(readFileSync(join(REPO, 'weights/fashion_cam.json'), 'utf8'));
  const { model, preprocessing } = await loadOnnx(engine, readFileSync(MODEL), { sidecar });
  const { inputSize: size, mean, std } = preprocessing!;
  const rgb = (v: number[]) => v as [number, number, number];
  const input = (file: string) =>
    preprocessImage(engine, decodeImage(readFileSync(file)), {
      size,
      mean: rgb(mean),
      std: rgb(std),
      fit: 'center-crop',
    });
  return { model, input };
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'webgpu-cam-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('webgpu-cam explain', () => {
  it('explains PNG and JPEG files in batches, skips what it cannot read, and each map equals explain() alone', async () => {
    const out = join(tmp, 'explain');
    // A JPEG made from a sample, a file that is not an image, one that does not exist.
    const bag = decodeImage(readFileSync(sample('02_single_bag.png')));
    const jpg = join(tmp, 'bag.jpg');
    writeFileSync(jpg, jpeg.encode({ data: bag.data, width: bag.width, height: bag.height }, 95).data);
    const broken = join(tmp, 'broken.png');
    writeFileSync(broken, 'not a PNG');
    const pngs = ['01_single_sneaker.png', '05_two_classes_boot_tshirt.png', '13_shirt_and_tshirt.png'].map(sample);
    const r = cli([
      'explain',
      ...['--model', MODEL, '--methods', 'gradcam,gradcam++,guided-backprop', '--top', '2', '--batch', '3'],
      ...['--out', out, pngs[0], broken, pngs[1], join(tmp, 'missing.png'), pngs[2], jpg],
    ]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/skipped .*broken\.png: InvalidInputError: .* is not a PNG or JPEG file/);
    expect(r.stderr).toMatch(/skipped .*missing\.png: ENOENT/);
    expect(r.stderr).toMatch(/explained 4 of 5 images .*img\/s\); 2 failed/);
    // Progress on a pipe: one line per batch, with images per second.
    expect(r.stderr).toMatch(/webgpu-cam: 3\/5 images, [\d.]+ img\/s, 2 failed\n/);

    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
    expect(s.images.map((i) => i.file)).toEqual([...pngs, jpg]);
    expect(s.failed.map((f) => f.file).sort()).toEqual([broken, join(tmp, 'missing.png')].sort());
    expect(s.adapter.kind).toMatch(/software|hardware/);
    expect(s.model.probability).toBe('sigmoid');
    expect(s.timings.imagesPerSecond).toBeGreaterThan(0);
    expect(Object.keys(s.timings.stepsMs)).toEqual(['read', 'preprocess', 'explain', 'render', 'write']);
    expect(readdirSync(out).filter((f) => f.endsWith('.png'))).toHaveLength(4 * 2 * 3);

    // The same images one at a time through the library in this process.
    const { model, input } = await libraryModel();
    try {
      for (const img of s.images) {
        const x = await input(img.file);
        const e = await explain(model, x, {
          methods: ['gradcam', 'gradcam++', 'guided-backprop'],
          targets: { topK: 2 },
        });
        const classes = (await e.readClasses())[0];
        expect(
          img.explained.map((c) => c.class),
          img.file,
        ).toEqual(classes);
        expect(img.top[0].class).toBe(classes[0]);
        const scores = await e.scores.read();
        expectAllclose(
          img.explained.map((c) => c.score),
          classes.map((c) => scores[c]),
          { atol: 1e-4, rtol: 1e-5 },
          'scores',
        );
        for (const m of ['gradcam', 'gradcam++', 'guided-backprop'] as const) {
          const maps = await e.maps[m]!.input.read();
          const per = maps.length / 2;
          img.explained.forEach((c, t) => {
            const npy = readNpy(join(out, c.files[m].map));
            expect(npy.shape).toEqual(m === 'guided-backprop' ? [3, 96, 96] : [96, 96]);
            expectAllclose(npy.data, maps.subarray(t * per, (t + 1) * per), MAPS, `${img.file} ${m} class ${c.class}`);
            const png = decodeImage(readFileSync(join(out, c.files[m].overlay)));
            expect([png.width, png.height]).toEqual([96, 96]);
          });
        }
        e.destroy();
        x.destroy();
      }
    } finally {
      model.destroy();
    }
  });

  it('the sampling flags reach explain(): the maps equal explain() with those options and change when one of them does', async () => {
    const out = join(tmp, 'sampling');
    const flags = {
      smoothgrad: { samples: 3, sigma: 0.3, seed: 7 },
      integratedGradients: { steps: 4, baseline: -1 },
      eigenSmooth: true,
    };
    const methods = ['smoothgrad', 'integrated-gradients', 'gradcam'] as const;
    const r = cli([
      'explain',
      ...['--model', MODEL, '--methods', methods.join(','), '--out', out],
      ...['--smoothgrad-samples', '3', '--smoothgrad-sigma', '0.3', '--smoothgrad-seed', '7'],
      ...['--ig-steps', '4', '--ig-baseline', '-1', '--eigen-smooth', sample('02_single_bag.png')],
    ]);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
    const c = s.images[0].explained[0];

    const { model, input } = await libraryModel();
    try {
      const x = await input(sample('02_single_bag.png'));
      const given = await explain(model, x, { methods: [...methods], targets: [c.class], ...flags });
      // One flag changed each (seed, baseline, eigenSmooth): each must change its map.
      const plain = await explain(model, x, {
        methods: [...methods],
        targets: [c.class],
        smoothgrad: { ...flags.smoothgrad, seed: 8 },
        integratedGradients: { ...flags.integratedGradients, baseline: 0 },
      });
      for (const m of methods) {
        const npy = readNpy(join(out, c.files[m].map)).data;
        expectAllclose(npy, await given.maps[m]!.input.read(), MAPS, `${m} with the flags`);
        const d = await plain.maps[m]!.input.read();
        const diff = d.reduce((a, v, i) => Math.max(a, Math.abs(v - npy[i])), 0);
        expect(diff, `${m}: its flag changes the map`).toBeGreaterThan(1e-3);
      }
      given.destroy();
      plain.destroy();
      x.destroy();
    } finally {
      model.destroy();
    }
  });

  it('--above 0.5 --score sigmoid: every class of each image above the threshold, as explain() gives it alone', async () => {
    const out = join(tmp, 'above');
    const pngs = ['13_shirt_and_tshirt.png', '01_single_sneaker.png'].map(sample);
    const r = cli(['explain', '--model', MODEL, '--above', '0.5', '--score', 'sigmoid', '--out', out, ...pngs]);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary & {
      options: { targets: unknown; score: string };
    };
    expect(s.options).toMatchObject({ targets: { above: 0.5 }, score: 'sigmoid' });
    const { model, input } = await libraryModel();
    try {
      let files = 0;
      for (const img of s.images) {
        const x = await input(img.file);
        const e = await explain(model, x, { methods: ['gradcam'], targets: { above: 0.5 }, score: 'sigmoid' });
        const classes = (await e.readClasses())[0];
        // Alone, an image has no padding rows unless nothing is above the threshold.
        expect(img.explained.map((c) => c.class)).toEqual(classes.filter((c) => c >= 0));
        expect(img.explained.every((c) => 1 / (1 + Math.exp(-c.score)) > 0.5)).toBe(true);
        const maps = await e.maps.gradcam!.input.read();
        const per = maps.length / e.t;
        img.explained.forEach((c, t) => {
          const npy = readNpy(join(out, c.files.gradcam.map));
          expectAllclose(npy.data, maps.subarray(t * per, (t + 1) * per), MAPS, `${img.file} class ${c.class}`);
        });
        files += img.explained.length;
        e.destroy();
        x.destroy();
      }
      expect(files).toBe(3); // shirt and T-shirt, sneaker: the batch padded the sneaker's row
      expect(readdirSync(out).filter((f) => f.endsWith('.npy'))).toHaveLength(files);
    } finally {
      model.destroy();
    }
  });

  it('--shard 1/2 and 2/2 split a folder (and its subfolders) into disjoint halves that cover it; --progress bar shows images per second', () => {
    // Five images, two in a subfolder, and a file that is not an image (left out by its extension).
    const folder = join(tmp, 'folder');
    mkdirSync(join(folder, 'sub'), { recursive: true });
    const names = ['a.png', 'b.png', 'c.png', 'sub/d.png', 'sub/e.png'];
    const picks = [
      '01_single_sneaker.png',
      '02_single_bag.png',
      '03_single_dress_small.png',
      '04_single_trouser.png',
      '06_two_classes_trouser_bag.png',
    ];
    names.forEach((n, i) => copyFileSync(sample(picks[i]), join(folder, n)));
    writeFileSync(join(folder, 'notes.txt'), 'not an image');
    const files = (shard: string, extra: string[] = []) => {
      const out = join(tmp, `shard-${shard.replace('/', '-')}`);
      const r = cli(['explain', '--model', MODEL, '--shard', shard, '--batch', '2', '--out', out, ...extra, folder]);
      expect(r.status, r.stderr).toBe(0);
      const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
      expect(s.options.shard).toBe(shard);
      expect(s.failed).toEqual([]);
      return { files: s.images.map((i) => i.file), stderr: r.stderr };
    };
    const a = files('1/2', ['--progress', 'bar']);
    const b = files('2/2', ['--progress', 'none']);
    const all = names.map((n) => join(folder, n));
    expect(a.files).toEqual([all[0], all[2], all[4]]);
    expect(b.files).toEqual([all[1], all[3]]);
    // Outputs keep the path inside the folder.
    expect(readdirSync(join(tmp, 'shard-1-2', 'sub')).map((f) => f.replace(/\.\d+\./, '.K.'))).toEqual([
      'e.gradcam.K.npy',
      'e.gradcam.K.png',
    ]);
    expect(a.stderr).toMatch(/\d+\/3 images \| [\d.]+ img\/s \| 0 failed/);
    expect(b.stderr).not.toMatch(/img\/s \|/);
  });
});

describe('webgpu-cam layers and info', () => {
  it('layers lists the explainable layers with their methods and marks the default', () => {
    const text = cli(['layers', '--model', MODEL]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^\* \/features\/relu6\/Relu_output_0 +128×12×12 +cam, gradcam/m);
    const json = cli(['layers', '--model', join(REPO, 'weights/fashion_deep.onnx'), '--json']);
    expect(json.status, json.stderr).toBe(0);
    const l = JSON.parse(json.stdout) as {
      defaultLayer: string;
      layers: { name: string; methods: string[]; default: boolean }[];
    };
    expect(l.layers.filter((x) => x.default).map((x) => x.name)).toEqual([l.defaultLayer]);
    expect(l.layers.every((x) => !x.methods.includes('cam') && x.methods.includes('gradcam'))).toBe(true);
  });

  it('info prints the adapter, its features and limits', () => {
    const r = cli(['info', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as {
      adapter: { kind: string; kindReason: string };
      limits: Record<string, number>;
    };
    expect(info.adapter.kindReason).toMatch(/\S/);
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(info.limits.maxComputeWorkgroupSizeX).toBeGreaterThan(0);
  });
});

describe('webgpu-cam usage (in this process)', () => {
  async function run(args: string[]): Promise<{ status: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
    try {
      return { status: await main(args), out, err };
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
  }

  it.each([[[]], [['explain']], [['layers']], [['info']]])('%j --help', async (cmd) => {
    const r = await run([...cmd, '--help']);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(new RegExp(`^Usage: webgpu-cam ${cmd.join(' ')}`));
  });

  it.each([
    [['explain', '--model', MODEL, '--top', '2', '--classes', '1', 'x.png'], /cannot be used with option '--classes/],
    [['explain', '--model', MODEL, '--methods', 'gradcam,nope', 'x.png'], /unknown method 'nope'/],
    [['explain', '--model', MODEL, '--above', '1.5', 'x.png'], /--above must be a number in \(0, 1\)/],
    [['explain', '--model', MODEL, '--above', '0.5', '--top', '2', 'x.png'], /cannot be used with option '--top/],
    [['explain', '--model', MODEL, '--score', 'softmax', 'x.png'], /argument 'softmax' is invalid/],
    [['explain', '--model', MODEL, '--shard', '3/2', 'x.png'], /--shard must be i\/n/],
    [['explain', '--model', MODEL, '--layer', 'nope', 'x.png'], /'nope' is not a layer .* layers: /],
    [['explain', '--model', MODEL, '--fuse', 'mean', 'x.png'], /--fuse needs several layers/],
    [['explain', '--model', MODEL, '--layer', `${RELU4},${RELU4}`, 'x.png'], /--layer lists a layer twice/],
    [
      ['explain', '--model', MODEL, '--layer', `${RELU4},${RELU6}`, '--methods', 'gradcam,scorecam', 'x.png'],
      /Score-CAM cannot be fused over several layers/,
    ],
    [
      ['explain', '--model', MODEL, '--layer', `${RELU4},${RELU6}`, '--fuse', 'max', 'x.png'],
      /Allowed choices are mean, layercam/,
    ],
    [['explain', '--model', MODEL, '--classes', '10', 'x.png'], /10 is not a class of the model \(0 … 9\)/],
    [
      ['explain', '--model', join(REPO, 'weights/fashion_deep.onnx'), '--methods', 'cam', 'x.png'],
      /CAM does not apply at layer/,
    ],
    [
      ['explain', '--model', MODEL, '--smoothgrad-samples', '0', 'x.png'],
      /--smoothgrad-samples must be an integer in \[1, 4096\]/,
    ],
    [
      ['explain', '--model', MODEL, '--smoothgrad-sigma', '-1', 'x.png'],
      /--smoothgrad-sigma must be a finite number ≥ 0/,
    ],
    [['explain', '--model', MODEL, '--ig-steps', '2.5', 'x.png'], /--ig-steps must be an integer/],
    [['explain', '--model', MODEL, '--ig-baseline', 'low', 'x.png'], /--ig-baseline must be a number, got 'low'/],
    [['explain', '--model', MODEL, '--perturbation-batch', '0', 'x.png'], /--perturbation-batch/],
    [
      ['explain', '--model', MODEL, '--aug-smooth', '--methods', 'gradcam,scorecam', 'x.png'],
      /--aug-smooth does not apply to scorecam/,
    ],
    [
      ['explain', '--model', MODEL, '--aug-smooth', '--layer', `${RELU4},${RELU6}`, 'x.png'],
      /--aug-smooth does not apply with several layers/,
    ],
    [
      ['explain', '--model', MODEL, '--eigen-smooth', '--layer', `${RELU4},${RELU6}`, 'x.png'],
      /--eigen-smooth does not apply with several layers/,
    ],
    [['explain', '--model', MODEL, '--seed-vector', '1,2', 'x.png'], /--seed-vector has 2 numbers; the model has 10/],
    [['explain', '--model', MODEL, '--seed-vector', '1,,2', 'x.png'], /--seed-vector must be finite numbers/],
    [['explain', '--model', MODEL, '--seed-vector', '@/nonexistent.json', 'x.png'], /--seed-vector: cannot read/],
    [['explain', '--model', MODEL, '--seed-vector', '1', '--top', '2', 'x.png'], /cannot be used with option '--top/],
    [
      ['explain', '--model', MODEL, '--seed-vector', '1', '--layer', `${RELU4},${RELU6}`, 'x.png'],
      /--seed-vector does not apply with several layers/,
    ],
    [['explain', 'x.png'], /required option '-m, --model <file>'/],
    [['nope'], /unknown command 'nope'/],
  ])('%j is a usage error', async (args, message) => {
    const r = await run(args);
    expect(r.status).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('--aug-smooth writes the augSmooth map of explain()', async () => {
    const out = join(tmp, 'aug');
    const file = sample('01_single_sneaker.png');
    const r = await run(['explain', '--model', MODEL, '--aug-smooth', '--methods', 'gradcam', '--out', out, file]);
    expect(r.status, r.err).toBe(0);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary & {
      options: { augSmooth: boolean };
    };
    expect(s.options.augSmooth).toBe(true);
    const { model, input } = await libraryModel();
    const x = await input(file);
    const e = await explain(model, x, { methods: ['gradcam'], augSmooth: true });
    const npy = readNpy(join(out, s.images[0].explained[0].files.gradcam.map));
    expectAllclose(npy.data, await e.maps.gradcam!.input.read(), MAPS, 'augSmooth map');
    e.destroy();
    x.destroy();
    model.destroy();
  });

  it('--layer L1,L2 --fuse layercam writes the fused maps, equal to explain() with the list', async () => {
    const out = join(tmp, 'fused');
    const png = sample('01_single_sneaker.png');
    const r = await run([
      'explain',
      ...['--model', MODEL, '--methods', 'gradcam,layercam', '--layer', `${RELU4},${RELU6}`, '--fuse', 'layercam'],
      ...['--progress', 'lines', '--out', out, png],
    ]);
    expect(r.status, r.err).toBe(0);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary & {
      model: { layer: unknown; fuse: string };
    };
    expect(s.model.layer).toEqual([RELU4, RELU6]);
    expect(s.model.fuse).toBe('layercam');
    const { model, input } = await libraryModel();
    const x = await input(png);
    const e = await explain(model, x, { methods: ['gradcam', 'layercam'], layer: [RELU4, RELU6], fuse: 'layercam' });
    const c = s.images[0].explained[0];
    expect(c.class).toBe((await e.readClasses())[0][0]);
    for (const m of ['gradcam', 'layercam'] as const) {
      const npy = readNpy(join(out, c.files[m].map));
      expect(npy.shape).toEqual([96, 96]);
      expectAllclose(npy.data, await e.fused![m]!.input.read(), MAPS, m);
    }
    e.destroy();
    x.destroy();
    model.destroy();
  });

  it('a method that cannot explain the score is a usage error, found at the first batch', async () => {
    const out = join(tmp, 'refused');
    const png = sample('01_single_sneaker.png');
    const r = await run(['explain', '--model', MODEL, '--methods', 'cam', '--score', 'probability', '--out', out, png]);
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/error: CAM cannot explain the score 'probability'/);
    expect(r.err).not.toMatch(/skipped/);
  });

  it('--seed-vector (from a JSON file) writes <image>.<method>.seed maps equal to explain() with { seed }', async () => {
    const out = join(tmp, 'seed');
    const png = sample('05_two_classes_boot_tshirt.png');
    const v = [1, 0, 0, 0, 0, 0, 0, 0, 0, -1]; // T-shirt/top minus ankle boot
    const file = join(tmp, 'seed.json');
    writeFileSync(file, JSON.stringify(v));
    const args = ['--model', MODEL, '--methods', 'gradcam,ablationcam', '--seed-vector', `@${file}`];
    const r = await run(['explain', ...args, '--out', out, png]);
    expect(r.status, r.err).toBe(0);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary & {
      options: { targets: unknown };
    };
    expect(s.options.targets).toEqual({ seed: v });
    const row = s.images[0].explained;
    expect(row).toHaveLength(1);
    expect(row[0]).toMatchObject({ class: -1, label: 'seed vector' });
    const { model, input } = await libraryModel();
    const x = await input(png);
    const e = await explain(model, x, { methods: ['gradcam', 'ablationcam'], targets: { seed: v } });
    const scores = await e.scores.read();
    expect(row[0].score).toBeCloseTo(scores[0] - scores[9], 4);
    for (const m of ['gradcam', 'ablationcam'] as const) {
      expect(row[0].files[m].map).toMatch(new RegExp(`\\.${m}\\.seed\\.npy$`));
      const npy = readNpy(join(out, row[0].files[m].map));
      expectAllclose(npy.data, await e.maps[m]!.input.read(), MAPS, m);
    }
    e.destroy();
    x.destroy();
    model.destroy();
  });

  it('a model that does not take RGB input is a usage error', async () => {
    const gray = join(tmp, 'gray.onnx');
    writeFileSync(
      gray,
      onnxModel({
        input: ['x', [1, 1, 8, 8]],
        output: 'y',
        initializers: [floatTensor('w', [2, 1, 3, 3], randn(18, 1)), floatTensor('fc', [3, 2], randn(6, 2))],
        nodes: [
          node('Conv', ['x', 'w'], ['c'], { pads: [1, 1, 1, 1] }),
          node('Relu', ['c'], ['r']),
          node('GlobalAveragePool', ['r'], ['g']),
          node('Flatten', ['g'], ['f']),
          node('Gemm', ['f', 'fc'], ['y'], { transB: 1 }),
        ],
      }),
    );
    const r = await run(['explain', '--model', gray, 'x.png']);
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/takes 1-channel input; this command feeds it RGB images/);
  });

  it('a model that cannot be read fails with status 1 and the reason', async () => {
    const r = await run(['layers', '--model', join(REPO, 'weights/samples/samples.json')]);
    expect(r.status).toBe(1);
    expect(r.err).toMatch(/^webgpu-cam: ModelFormatError: not an ONNX model/);
  });
});
