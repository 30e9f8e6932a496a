/**
 * The package as a user gets it: `npm pack` (which builds lib/, the `prepack` script), the
 * tarball installed by npm into an empty project under the system's temporary folder, then:
 *
 * The tarball holds lib/ (no sources), and none of its scripts calls eval or Function. Then:
 *
 * (a) plain Node (no Vite, no TypeScript loader) imports it by name and explains a shipped model:
 *     the classes and map equal the CPU reference; every typed error keeps its name; the `node`
 *     condition is the one resolved; the installed `webgpu-cam` command explains an image;
 * (b) a page that imports it by name, bundled by Vite for production (minified), served with
 *     `Content-Security-Policy: script-src 'self'` in headless Chromium: it explains the sample
 *     (equal to the CPU reference), its errors keep their names, <webgpu-cam-explainer> from
 *     'webgpu-cam/element' works on another page; no policy violation, and the bundle holds no
 *     demo code, no eval, Function or WebAssembly;
 * (c) TypeScript consumers type-check against the shipped declarations, a Node one (nodenext)
 *     and a bundler one (DOM, the element), with misuse that must not compile.
 *
 * The scratch project gets `webgpu` (the optional peer dependency, Dawn for Node) as a link to
 * this repository's copy; npm installs the package's own dependencies from its cache or the
 * registry.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Page } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as errors from '../../src/core/errors';
import { onnxToGraphSpec } from '../../src/model/onnx';
import { decodeImage } from '../../src/node/image';
import { explainReference } from '../../src/reference/explain';
import { RefModel } from '../../src/reference/model';
import { preprocessImage } from '../../src/reference/preprocess';
import { launchChromium } from '../browser/launch';
import { CSP, serveStatic, UNSAFE, violations, watchViolations } from '../browser/served';
import { expectAllclose, MAPS } from '../util/compare';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const MODEL = join(REPO, 'weights/fashion_cam.onnx');
const SIDECAR = join(REPO, 'weights/fashion_cam.json');
const SAMPLE = join(REPO, 'weights/samples/05_two_classes_boot_tshirt.png');
const sidecar = JSON.parse(readFileSync(SIDECAR, 'utf8'));
/** Every typed error class of src/core/errors.ts, by its exported name. */
const ERRORS = Object.entries(errors as Record<string, unknown>)
  .filter(([, v]) => typeof v === 'function' && (v as { prototype: unknown }).prototype instanceof Error)
  .map(([k]) => k);

/** Environment of the child processes: no test runner's NODE_ENV (Vite would build for development). */
function env(): NodeJS.ProcessEnv {
  const e = { ...process.env };
  delete e.NODE_ENV;
  delete e.VITEST;
  return e;
}

function run(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, { cwd, env: env(), encoding: 'utf8', timeout: 300_000 });
  return {
    status: r.status ?? -1,
    stdout: r.stdout ?? '',
    stderr: (r.stderr ?? '') + (r.error ? String(r.error) : ''),
  };
}

/** The CPU reference's top-2 classes and Grad-CAM maps [2·H·W] for RGBA pixels. */
function reference(image: { width: number; height: number; data: Uint8Array | Uint8ClampedArray }) {
  const spec = onnxToGraphSpec(readFileSync(MODEL), { sidecar }).spec;
  const rgb = (v: number[]) => v as [number, number, number];
  const x = preprocessImage(image, {
    size: [96, 96],
    mean: rgb(sidecar.mean),
    std: rgb(sidecar.std),
    fit: 'center-crop',
  });
  const r = explainReference(new RefModel(spec), x, { methods: ['gradcam'], targets: { topK: 2 } });
  return { classes: r.classes[0], map: r.maps.gradcam!.input!.data };
}

let tmp: string;
let project: string;
let tarball: string;
let packed: { path: string }[];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'webgpu-cam-consumer-'));
  const pack = run('npm', ['pack', '--pack-destination', tmp, '--json'], REPO);
  expect(pack.status, pack.stderr).toBe(0);
  const info = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as {
    filename: string;
    files: { path: string }[];
  }[];
  tarball = join(tmp, info[0].filename);
  packed = info[0].files;
  project = join(tmp, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const install = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], project);
  expect(install.status, install.stderr).toBe(0);
  // What a Node user adds with `npm install webgpu`: linked from this repository.
  symlinkSync(join(REPO, 'node_modules/webgpu'), join(project, 'node_modules/webgpu'), 'dir');
}, 300_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds the build, the declarations and the docs, and no sources', () => {
    const files = packed.map((f) => f.path);
    for (const f of [
      'package.json',
      'README.md',
      'LICENSE',
      'THIRD_PARTY_NOTICES.md',
      'docs/ELEMENT.md',
      'lib/index.js',
      'lib/node.js',
      'lib/element.js',
      'lib/cli.js',
    ]) {
      expect(files, f).toContain(f);
    }
    expect(files).toContain('lib/types/index.d.ts');
    expect(files.filter((f) => /\.(ts|wgsl|proto)$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
    expect(
      files.every((f) =>
        /^(lib\/|README\.md$|LICENSE$|THIRD_PARTY_NOTICES\.md$|docs\/ELEMENT\.md$|package\.json$)/.test(f),
      ),
    ).toBe(true);
    // Nothing that builds code from strings or compiles WebAssembly, in any shipped script.
    const installed = join(project, 'node_modules/webgpu-cam');
    const scripts = files.filter((f) => f.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(4);
    for (const f of scripts) expect(readFileSync(join(installed, f), 'utf8').match(UNSAFE)?.[0] ?? null, f).toBeNull();
  });
});

describe('(a) plain Node', () => {
  it('imports webgpu-cam by name and explains the shipped model like the CPU reference', () => {
    const script = `
      import { readFile, writeFile } from 'node:fs/promises';
      import * as cam from 'webgpu-cam';
      const { Engine, loadOnnx, explain, preprocessImage, decodeImage } = cam;
      const engine = await Engine.create();
      // The kernel choices are public: the direct conv and the workgroup reductions give the same maps.
      const conv = cam.describeConv2dConfig(cam.setConv2dConfig(engine, { tiled: false }));
      const reductions = cam.setReductionConfig(engine, { subgroups: false, channelWeights: 'reduce' });
      const sidecar = JSON.parse(await readFile(${JSON.stringify(SIDECAR)}, 'utf8'));
      const { model, labels, preprocessing: p } = await loadOnnx(engine, await readFile(${JSON.stringify(MODEL)}), { sidecar });
      const image = decodeImage(await readFile(${JSON.stringify(SAMPLE)}));
      const x = await preprocessImage(engine, image, { size: p.inputSize, mean: p.mean, std: p.std, fit: 'center-crop' });
      const r = await explain(model, x, { methods: ['gradcam'], targets: { topK: 2 } });
      const errorNames = {};
      for (const name of ${JSON.stringify(ERRORS)}) {
        const args = name === 'UnsupportedOperatorError' ? [[{ opType: 'a', count: 1, firstNode: 'b' }], []] : ['a', 'b', []];
        errorNames[name] = new cam[name](...args).name;
      }
      let thrown = null;
      try { await loadOnnx(engine, new Uint8Array([1, 2, 3])); } catch (e) { thrown = e.name; }
      await writeFile('node-result.json', JSON.stringify({
        resolved: import.meta.resolve('webgpu-cam'),
        classes: (await r.readClasses())[0],
        labels,
        map: Array.from(await r.maps.gradcam.input.read()),
        errorNames,
        thrown,
        conv,
        reductions: cam.reductionConfig(engine),
        returned: reductions,
      }));
      r.destroy(); x.destroy(); model.destroy(); engine.destroy();
    `;
    writeFileSync(join(project, 'node.mjs'), script);
    const r = run(process.execPath, ['node.mjs'], project);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(readFileSync(join(project, 'node-result.json'), 'utf8'));
    expect(out.resolved).toBe(`file://${join(project, 'node_modules/webgpu-cam/lib/node.js')}`);
    const ref = reference(decodeImage(readFileSync(SAMPLE)));
    expect(out.classes).toEqual(ref.classes);
    expectAllclose(out.map, ref.map, MAPS, 'Grad-CAM from the installed package');
    expect(out.labels).toEqual(sidecar.labels);
    expect(ERRORS.length).toBeGreaterThanOrEqual(11);
    expect(out.errorNames).toEqual(Object.fromEntries(ERRORS.map((n) => [n, n])));
    expect(out.thrown).toBe('ModelFormatError');
    expect(out.conv).toMatch(/^direct, workgroup \d+ \(set by setConv2dConfig\)$/);
    expect(out.reductions).toEqual({ subgroups: false, channelWeights: 'reduce', reason: 'set by setReductionConfig' });
    expect(out.returned).toEqual(out.reductions);
  });

  it('the installed webgpu-cam command explains an image', () => {
    const bin = join(project, 'node_modules/.bin/webgpu-cam');
    const help = run(bin, ['--help'], project);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: webgpu-cam \[options\] \[command\]/);
    const r = run(bin, ['explain', '--model', MODEL, '--top', '2', '--out', 'out', SAMPLE], project);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(readFileSync(join(project, 'out/summary.json'), 'utf8'));
    const ref = reference(decodeImage(readFileSync(SAMPLE)));
    expect(s.images[0].explained.map((c: { class: number }) => c.class)).toEqual(ref.classes);
    expect(readdirSync(join(project, 'out')).sort()).toEqual(
      [
        ...ref.classes.flatMap((c) => [
          `05_two_classes_boot_tshirt.gradcam.${c}.npy`,
          `05_two_classes_boot_tshirt.gradcam.${c}.png`,
        ]),
        'summary.json',
      ].sort(),
    );
  });
});

describe("(b) a Vite-bundled page under script-src 'self'", () => {
  const page = (): string => join(project, 'page');

  beforeAll(() => {
    const dir = page();
    mkdirSync(join(dir, 'public'), { recursive: true });
    copyFileSync(MODEL, join(dir, 'public/model.onnx'));
    copyFileSync(SIDECAR, join(dir, 'public/model.json'));
    copyFileSync(SAMPLE, join(dir, 'public/sample.png'));
    const html = (body: string, script: string) =>
      `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="${script}"></script></head><body>${body}</body></html>`;
    writeFileSync(join(dir, 'index.html'), html('<p>explain</p>', './main.js'));
    writeFileSync(
      join(dir, 'main.js'),
      `
      import { Engine, loadOnnx, explain, preprocessImage } from 'webgpu-cam';
      async function pixels(url) {
        const bitmap = await createImageBitmap(await (await fetch(url)).blob());
        const c = new OffscreenCanvas(bitmap.width, bitmap.height);
        const g = c.getContext('2d', { willReadFrequently: true });
        g.fillStyle = '#fff'; g.fillRect(0, 0, c.width, c.height); g.drawImage(bitmap, 0, 0);
        return g.getImageData(0, 0, c.width, c.height);
      }
      async function main() {
        const engine = await Engine.create();
        const { model, preprocessing: p } = await loadOnnx(engine, './model.onnx', { sidecar: './model.json' });
        const image = await pixels('./sample.png');
        const x = await preprocessImage(engine, image, { size: p.inputSize, mean: p.mean, std: p.std, fit: 'center-crop' });
        const r = await explain(model, x, { methods: ['gradcam'], targets: { topK: 2 } });
        const names = [];
        for (const f of [() => loadOnnx(engine, new Uint8Array([1, 2, 3])), () => explain(model, x, { methods: ['nope'] })]) {
          try { await f(); } catch (e) { names.push(e.name); }
        }
        return { classes: (await r.readClasses())[0], map: Array.from(await r.maps.gradcam.input.read()), names,
                 pixels: { width: image.width, height: image.height, data: Array.from(image.data) } };
      }
      main().then((v) => (window.result = v), (e) => (window.result = { error: String(e && e.stack || e) }));
      `,
    );
    writeFileSync(
      join(dir, 'element.html'),
      html(
        '<webgpu-cam-explainer id="el" model="./model.onnx" sidecar="./model.json" src="./sample.png" classes="2"></webgpu-cam-explainer>',
        './element.js',
      ),
    );
    writeFileSync(join(dir, 'element.js'), "import 'webgpu-cam/element';\n");
    writeFileSync(
      join(dir, 'vite.config.js'),
      "export default { build: { rolldownOptions: { input: ['index.html', 'element.html'] } } };\n",
    );
    const vite = join(REPO, 'node_modules/vite/bin/vite.js');
    const r = run(process.execPath, [vite, 'build', '--logLevel', 'warn'], dir);
    expect(r.status, r.stderr).toBe(0);
  }, 120_000);

  it('bundles no demo code and nothing that script-src refuses; the element only where imported', () => {
    const assets = join(page(), 'dist/assets');
    const scripts = readdirSync(assets).filter((f) => f.endsWith('.js'));
    const index = readFileSync(join(page(), 'dist/index.html'), 'utf8');
    const entry = /src="\.?\/?(assets\/[^"]+\.js)"/.exec(index)![1];
    let pageJs = readFileSync(join(page(), 'dist', entry), 'utf8');
    // Chunks the entry imports (none expected, but count them if Vite splits).
    for (const m of pageJs.matchAll(/from"\.\/([^"]+\.js)"/g)) pageJs += readFileSync(join(assets, m[1]), 'utf8');
    for (const f of scripts) {
      const code = readFileSync(join(assets, f), 'utf8');
      expect(code.match(UNSAFE)?.[0] ?? null, f).toBeNull();
      for (const demo of ['__camDemo', 'Compose a scene', 'Inside the computation'])
        expect(code.includes(demo), `${f}: ${demo}`).toBe(false);
    }
    expect(pageJs.includes('webgpu-cam-explainer'), 'the element in a page that does not import it').toBe(false);
    const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
    console.info(
      `consumer page (Engine, loadOnnx, explain, preprocessImage): ${kib(pageJs.length)} minified, ${kib(gzipSync(pageJs).length)} gzipped`,
    );
    expect(gzipSync(pageJs).length).toBeLessThan(150 * 1024);
  });

  it('explains the sample in Chromium like the CPU reference; errors keep their names; the element works', async () => {
    const server = await serveStatic(join(page(), 'dist'), { 'Content-Security-Policy': CSP });
    const chromium = await launchChromium();
    const logged: string[] = [];
    const open = async (path: string): Promise<Page> => {
      const p = await chromium.browser.newPage();
      p.on('console', (m) => {
        if (m.type() === 'error') logged.push(`console.error: ${m.text()}`);
      });
      p.on('pageerror', (e) => logged.push(`uncaught: ${e}`));
      await watchViolations(p);
      await p.goto(server.origin + path, { waitUntil: 'load' });
      return p;
    };
    try {
      const p = await open('/');
      await p.waitForFunction(() => 'result' in window, { timeout: 120_000 });
      const out = await p.evaluate(() => (window as unknown as { result: Record<string, unknown> }).result);
      expect(out.error).toBeUndefined();
      const px = out.pixels as { width: number; height: number; data: number[] };
      const ref = reference({ width: px.width, height: px.height, data: Uint8ClampedArray.from(px.data) });
      expect(out.classes).toEqual(ref.classes);
      expectAllclose(out.map as number[], ref.map, MAPS, 'Grad-CAM in the bundled page');
      expect(out.names).toEqual(['ModelFormatError', 'InvalidInputError']);
      expect(await violations(p)).toEqual([]);

      const e = await open('/element.html');
      await e.waitForFunction(
        () => ['ready', 'error', 'no-webgpu'].includes(document.getElementById('el')!.getAttribute('state') ?? ''),
        {
          timeout: 120_000,
        },
      );
      const el = await e.evaluate(() => {
        const x = document.getElementById('el') as HTMLElement & { result: { classes: { class: number }[] } | null };
        return { state: x.getAttribute('state'), classes: x.result?.classes.map((c) => c.class) ?? null };
      });
      expect(el).toEqual({ state: 'ready', classes: ref.classes });
      expect(await violations(e)).toEqual([]);
      expect(logged).toEqual([]);
    } finally {
      await chromium.close();
      await server.close();
    }
  });
});

describe('(c) TypeScript consumers', () => {
  const tsc = join(REPO, 'node_modules/typescript/bin/tsc');

  function typecheck(name: string, compilerOptions: Record<string, unknown>, code: string) {
    const dir = join(project, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'main.ts'), code);
    const base = {
      target: 'es2022',
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      lib: ['es2022', 'dom'],
      types: [],
    };
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { ...base, ...compilerOptions }, files: ['main.ts'] }),
    );
    return run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], dir);
  }

  it('a Node consumer (nodenext) type-checks, and misuse does not', () => {
    const r = typecheck(
      'ts-node',
      { module: 'nodenext', moduleResolution: 'nodenext' },
      `
      import { Engine, loadOnnx, explain, preprocessImage, decodeImage, METHODS, ModelFormatError, type Explanation, type Method } from 'webgpu-cam';
      export async function run(onnx: Uint8Array, png: Uint8Array): Promise<number[][]> {
        const engine: Engine = await Engine.create();
        const device: GPUDevice = engine.device;
        const { model, labels, preprocessing } = await loadOnnx(engine, onnx, { sidecar: { labels: ['a', 'b'] } });
        const names: string[] | null = labels;
        const image = decodeImage(png, { background: [0, 0, 0] });
        const p = preprocessing!;
        const x = await preprocessImage(engine, image, { size: p.inputSize, fit: 'center-crop' });
        const methods: Method[] = [METHODS[0], 'gradcam++'];
        const r: Explanation = await explain(model, x, { methods, targets: { topK: 2 } });
        const map: Float32Array = await r.maps.gradcam!.input.read();
        // @ts-expect-error: not a method
        await explain(model, x, { methods: ['gradcam+++'] });
        // @ts-expect-error: targets are class indices or { topK }
        await explain(model, x, { targets: 'all' });
        // @ts-expect-error: decodeImage takes bytes
        decodeImage('cat.png');
        const e: Error = new ModelFormatError('x');
        void [device, names, map, e];
        return r.readClasses();
      }
      `,
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('a browser consumer (bundler) type-checks with the element, and sees no Node-only API', () => {
    const r = typecheck(
      'ts-web',
      { module: 'esnext', moduleResolution: 'bundler' },
      `
      import { Engine, explain, overlay, drawToCanvas, canvasRowStride, loadOnnx } from 'webgpu-cam';
      import { WebGpuCamExplainer, type ExplainerResult } from 'webgpu-cam/element';
      // @ts-expect-error: decodeImage is in the node condition only
      import { decodeImage } from 'webgpu-cam';
      export async function show(canvas: HTMLCanvasElement): Promise<ExplainerResult | null> {
        const engine = await Engine.create();
        const { model } = await loadOnnx(engine, '/net.onnx', { sidecar: '/net.json' });
        const x = engine.upload(new Float32Array(3 * 96 * 96), [1, 3, 96, 96]);
        const r = await explain(model, x, { methods: ['gradcam'] });
        const rgba = await overlay(engine, r.maps.gradcam!.input, null, { colormap: 'turbo', opacity: 1, rowStride: canvasRowStride(96) });
        await drawToCanvas(engine, rgba, 96, 96, canvas.getContext('webgpu') as GPUCanvasContext);
        const el = document.createElement('webgpu-cam-explainer');
        const same: WebGpuCamExplainer = el;
        el.engine = engine; // one Engine type across both entry points
        el.setAttribute('model', '/net.onnx');
        // @ts-expect-error: result is read-only
        el.result = null;
        void [decodeImage, same];
        return el.result;
      }
      `,
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});
