/**
 * `webgpu-cam explain`: images in batches of N through preprocessImage (GPU), explain() and
 * overlay()/guidedRGBA(), written as one overlay PNG and one .npy map per image, class and
 * method, plus summary.json. A file that cannot be read or decoded is reported and skipped;
 * a batch that fails on the GPU fails its images; the run goes on either way, and the exit
 * status is 1 at the end if anything failed.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  decodeImage,
  encodePNG,
  Engine,
  explain,
  explainableLayers,
  guidedRGBA,
  MethodNotApplicableError,
  methodOf,
  Model,
  overlay,
  preprocessImage,
  readRGBA,
  type ColormapName,
  type DecodedImage,
  type Explanation,
  type ExplainOptions,
  type Fit,
  type Fusion,
  type Method,
  type Score,
  type Tensor,
} from '../node';
import { collectInputs, shardOf, type InputFile } from './files';
import type { OpenedModel } from './model';
import { npyFloat32 } from './npy';
import { Progress, type ProgressMode } from './progress';

export interface ExplainSettings {
  methods: Method[];
  /**
   * { topK }, the class indices, { above } (every class above a threshold; per image), or
   * { seed } (one row per image: the score v·s of a vector over the classes).
   */
  targets: { topK: number } | number[] | { above: number } | { seed: number[] };
  /** The explained score (explain()'s `score`). */
  score: Score;
  /** One layer, or several: then the maps written are the methods' fused maps. */
  layer: string | string[];
  /** With several layers, the fusion rule; null with one. */
  fuse: Fusion | null;
  /** explain()'s augSmooth option (default false). */
  augSmooth?: boolean;
  batch: number;
  out: string;
  fit: Fit;
  colormap: ColormapName;
  opacity: number;
  shard: [number, number] | null;
  progress: ProgressMode;
  /** Further explain() options: sampling, eigenSmooth, the perturbation batch. */
  options?: Pick<ExplainOptions, 'smoothgrad' | 'integratedGradients' | 'eigenSmooth' | 'batchSize'>;
}

/** One class explained for one image, with its files (relative to --out). */
interface Explained {
  class: number;
  label: string;
  score: number;
  probability: number;
  files: Partial<Record<Method, { overlay: string; map: string }>>;
}

interface ImageRecord {
  file: string;
  width: number;
  height: number;
  /** The five highest-scoring classes. */
  top: { class: number; label: string; score: number; probability: number }[];
  explained: Explained[];
}

interface Failure {
  file: string;
  error: string;
}

const errorText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/** Milliseconds spent per step, summed over the run. */
type Steps = Record<'read' | 'preprocess' | 'explain' | 'render' | 'write', number>;

export async function runExplain(
  engine: Engine,
  opened: OpenedModel,
  inputs: readonly string[],
  s: ExplainSettings,
): Promise<number> {
  const t0 = performance.now();
  const collected = await collectInputs(inputs);
  const failed: Failure[] = collected.missing.map((m) => ({ file: m.path, error: m.error }));
  for (const f of failed) process.stderr.write(`webgpu-cam: skipped ${f.file}: ${f.error}\n`);
  const all = collected.files;
  const files = s.shard ? shardOf(all, s.shard) : all;
  await mkdir(s.out, { recursive: true });

  const labels = labelsOf(opened);
  const [C, H, W] = opened.graph.spec.input.shape as [number, number, number];
  const pre = opened.imported.preprocessing;
  const size: [number, number] = pre ? pre.inputSize : [H, W];
  const mean = (pre?.mean ?? [0, 0, 0]) as [number, number, number];
  const std = (pre?.std ?? [1, 1, 1]) as [number, number, number];
  if (!pre) {
    process.stderr.write(
      'webgpu-cam: the model and its sidecar give no mean and std: pixels go in as (v / 255), unnormalised\n',
    );
  }

  const steps: Steps = { read: 0, preprocess: 0, explain: 0, render: 0, write: 0 };
  const gpu: Record<string, number> = {};
  let gpuTimed = engine.hasTimestamps;
  const images: ImageRecord[] = [];
  const model = await Model.load(engine, opened.imported.spec);
  const progress = new Progress(s.progress, files.length);
  let done = 0;
  try {
    for (let b = 0; b < files.length; b += s.batch) {
      const chunk = files.slice(b, b + s.batch);
      // Read and decode on the CPU; a file that fails is skipped.
      const decoded: { file: InputFile; image: DecodedImage }[] = [];
      const t = performance.now();
      for (const file of chunk) {
        try {
          const image = decodeImage(new Uint8Array(await readFile(file.path)), { name: file.path });
          decoded.push({ file, image });
        } catch (e) {
          fail(file.path, e);
        }
      }
      steps.read += performance.now() - t;
      if (decoded.length) {
        try {
          const recs = await engine.scope(() => runBatch(decoded));
          images.push(...recs);
        } catch (e) {
          // A method that does not apply to these options fails every batch alike: the caller's.
          if (e instanceof MethodNotApplicableError) throw e;
          for (const d of decoded) fail(d.file.path, e);
        }
      }
      done += chunk.length;
      progress.update(done, failed.length);
    }
  } finally {
    progress.stop();
    model.destroy();
  }

  const totalMs = performance.now() - t0;
  const summary = {
    model: {
      path: opened.path,
      sidecar: opened.sidecarPath,
      input: [C, H, W],
      classes: labels.length,
      labels,
      layer: s.layer,
      ...(s.fuse ? { fuse: s.fuse } : {}),
      probability: opened.multiLabel ? 'sigmoid' : 'softmax',
      preprocessing: { size, mean, std, fit: s.fit },
    },
    adapter: engine.adapter,
    options: {
      methods: s.methods,
      targets: Array.isArray(s.targets) ? { classes: s.targets } : s.targets,
      augSmooth: s.augSmooth ?? false,
      score: s.score,
      batch: s.batch,
      colormap: s.colormap,
      opacity: s.opacity,
      shard: s.shard ? `${s.shard[0]}/${s.shard[1]}` : null,
    },
    images,
    failed,
    timings: {
      totalMs,
      imagesPerSecond: images.length / (totalMs / 1000),
      stepsMs: steps,
      gpuMs: gpuTimed ? gpu : null,
    },
  };
  await writeFile(join(s.out, 'summary.json'), JSON.stringify(summary, null, 1) + '\n');
  const shardText = s.shard ? ` (shard ${s.shard[0]}/${s.shard[1]} of ${all.length})` : '';
  process.stderr.write(
    `webgpu-cam: explained ${images.length} of ${files.length} images${shardText} in ${(totalMs / 1000).toFixed(1)} s ` +
      `(${summary.timings.imagesPerSecond.toFixed(1)} img/s); ${failed.length} failed; ${join(s.out, 'summary.json')}\n`,
  );
  return failed.length ? 1 : 0;

  function fail(file: string, e: unknown): void {
    const error = errorText(e);
    failed.push({ file, error });
    process.stderr.write(`webgpu-cam: skipped ${file}: ${error}\n`);
  }

  /** Preprocess, explain and render one batch; the caller's scope frees every tensor. */
  async function runBatch(batch: { file: InputFile; image: DecodedImage }[]): Promise<ImageRecord[]> {
    let t = performance.now();
    const ok: { file: InputFile; image: DecodedImage; display: Tensor }[] = [];
    const xs: Tensor[] = [];
    for (const d of batch) {
      try {
        const x = await preprocessImage(engine, d.image, { size, mean, std, fit: s.fit });
        const display = await preprocessImage(engine, d.image, { size, fit: s.fit });
        xs.push(x);
        ok.push({ ...d, display });
      } catch (e) {
        fail(d.file.path, e);
      }
    }
    if (!ok.length) return [];
    const n = ok.length;
    const x = engine.empty([n, C, size[0], size[1]], 'cli:batch');
    xs.forEach((xi, i) => engine.copy(xi, x, i * xi.size));
    await engine.flush();
    steps.preprocess += performance.now() - t;

    t = performance.now();
    const r = await explain(model, x, {
      ...s.options,
      methods: s.methods,
      targets: s.targets,
      score: s.score,
      layer: s.layer,
      augSmooth: s.augSmooth ?? false,
      ...(s.fuse ? { fuse: s.fuse } : {}),
    });
    const stages = await r.stageTimings();
    if (stages) for (const [k, v] of Object.entries(stages)) gpu[k] = (gpu[k] ?? 0) + v;
    else gpuTimed = false;
    const scores = await r.scores.read();
    const probs = opened.multiLabel ? scores.map((y) => 1 / (1 + Math.exp(-y))) : await r.probabilities.read();
    const classes = await r.readClasses();
    steps.explain += performance.now() - t;

    t = performance.now();
    const K = labels.length;
    const T = r.t;
    const seed = 'seed' in s.targets ? s.targets.seed : null;
    const dot = (v: readonly number[], y: ArrayLike<number>, i: number) =>
      v.reduce((acc, vc, c) => acc + vc * y[i * K + c], 0);
    const records: ImageRecord[] = ok.map((d, i) => {
      const row = (c: number) => ({
        class: c,
        label: labels[c],
        score: scores[i * K + c],
        probability: probs[i * K + c],
      });
      const order = Array.from({ length: K }, (_, c) => c).sort(
        (a, b) => scores[i * K + b] - scores[i * K + a] || a - b,
      );
      return {
        file: d.file.path,
        width: d.image.width,
        height: d.image.height,
        top: order.slice(0, 5).map(row),
        // Rows of class −1 pad an image with fewer classes above the --above threshold: no files.
        // A seed vector's one row explains v·s (its score and probability: v·y and v·p).
        explained: seed
          ? [
              {
                class: -1,
                label: 'seed vector',
                score: dot(seed, scores, i),
                probability: dot(seed, probs, i),
                files: {},
              },
            ]
          : classes[i].filter((c) => c >= 0).map((c) => ({ ...row(c), files: {} })),
      };
    });
    // Record every overlay, then read them back one by one (the first read submits them all).
    const writes: { path: string; bytes: () => Promise<Uint8Array> }[] = [];
    for (const m of s.methods) {
      const maps = mapsOf(r, m, T * n);
      const host = await maps.read();
      const per = host.length / (T * n);
      const shape = methodOf(m).family === 'input-gradient' ? [C, size[0], size[1]] : [size[0], size[1]];
      for (let i = 0; i < n; i++) {
        for (let ti = 0; ti < T; ti++) {
          const row = ti * n + i;
          const cls = classes[i][ti];
          if (cls < 0 && !seed) continue; // padding (the real classes come first)
          const base = `${ok[i].file.key}.${m}.${seed ? 'seed' : cls}`;
          const rgba =
            methodOf(m).family === 'input-gradient'
              ? await guidedRGBA(engine, maps, { target: row })
              : await overlay(engine, maps, ok[i].display, { colormap: s.colormap, opacity: s.opacity, target: row });
          const map = host.slice(row * per, (row + 1) * per);
          writes.push({ path: `${base}.npy`, bytes: async () => npyFloat32(map, shape) });
          writes.push({
            path: `${base}.png`,
            bytes: async () => encodePNG(await readRGBA(engine, rgba, size[1], size[0]), size[1], size[0]),
          });
          records[i].explained[ti].files[m] = { overlay: `${base}.png`, map: `${base}.npy` };
        }
      }
    }
    const rendered: { path: string; bytes: Uint8Array }[] = [];
    for (const w of writes) rendered.push({ path: w.path, bytes: await w.bytes() });
    steps.render += performance.now() - t;

    t = performance.now();
    for (const w of rendered) {
      const p = resolve(s.out, w.path);
      await mkdir(dirname(p), { recursive: true });
      await writeFile(p, w.bytes);
    }
    steps.write += performance.now() - t;
    return records;
  }
}

/**
 * A method's input-resolution maps as [rows, H, W] (or [rows, C, H, W] for input-gradient
 * methods); with several layers, its maps fused over them.
 */
function mapsOf(r: Explanation, m: Method, rows: number): Tensor {
  const t = (r.fused?.[m] ?? (r.maps[m] as { input: Tensor })).input;
  const s = t.shape;
  const inner = methodOf(m).family === 'input-gradient' ? s.slice(-3) : s.slice(-2);
  return t.reshape([rows, ...inner], `${m}:rows`);
}

/** Class names, one per output: the model's, or "class i". */
export function labelsOf(opened: OpenedModel): string[] {
  const g = opened.graph;
  const k = g.shape(g.scores)[1];
  const given = opened.imported.labels ?? [];
  return Array.from({ length: k }, (_, i) => given[i] ?? `class ${i}`);
}

/** The explainable layers' names, for messages. */
export function layerNames(opened: OpenedModel): string[] {
  return explainableLayers(opened.graph).map((l) => l.name);
}
