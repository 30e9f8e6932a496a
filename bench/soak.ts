/**
 * `npm run bench -- --soak [n]`: a soak run in Node on Dawn. n explains (default 1000) of a
 * shipped model with every method it allows, each from a new image (seeded random pixels through
 * preprocessImage) with its top 3 classes, an overlay of one map and a readback of the scores;
 * everything is destroyed after each. Every `every` explains it prints the live tensors, the
 * pool's bytes (handed out, and held including free buffers), the JS heap after a garbage
 * collection and the process's resident memory. The target is flat: the same tensors and pool
 * bytes at every sample, and a heap that does not grow with the count. Not part of the test
 * suite; exits 1 when tensors or pool bytes grew.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { applicableMethods, explain } from '../src/attribution/explain';
import { isMultiPass } from '../src/methods/registry';
import { Engine } from '../src/gpu/engine';
import { loadOnnx } from '../src/model/onnx';
import { preprocessImage } from '../src/ops/preprocess';
import { overlay } from '../src/render/overlay';

export interface SoakOptions {
  /** Number of explains. */
  explains: number;
  /** Print a sample every this many explains. */
  every: number;
  /** A shipped model: weights/<model>.onnx with its sidecar. */
  model: string;
}

interface Sample {
  explains: number;
  liveTensors: number;
  poolLiveBytes: number;
  poolHeldBytes: number;
  heapBytes: number;
  rssBytes: number;
  msPerExplain: number;
}

/** A garbage collection on demand (the flag set at run time, so `npm run bench` needs no node option). */
function collector(): () => void {
  setFlagsFromString('--expose_gc');
  const gc = runInNewContext('gc') as () => void;
  return () => gc();
}

function seededPixels(seed: number, w: number, h: number): Uint8ClampedArray {
  let a = seed >>> 0;
  const data = new Uint8ClampedArray(w * h * 4);
  for (let i = 0; i < data.length; i++) {
    a = (Math.imul(a ^ (a >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    data[i] = i % 4 === 3 ? 255 : a & 255;
  }
  return data;
}

const MB = (b: number) => (b / 1e6).toFixed(2);

export async function runSoak(repo: string, o: SoakOptions, log: (s: string) => void): Promise<number> {
  const gc = collector();
  const e = await Engine.create();
  const onnx = readFileSync(join(repo, `weights/${o.model}.onnx`));
  const sidecar = JSON.parse(readFileSync(join(repo, `weights/${o.model}.json`), 'utf8'));
  const { model, preprocessing } = await loadOnnx(e, onnx, { sidecar, name: o.model });
  // Without Score-CAM and Ablation-CAM (K forwards each): 1000 explains would take hours on a
  // software adapter.
  const methods = applicableMethods(model.graph).filter((m) => !isMultiPass(m));
  const [, H, W] = model.inputShape;
  const pre = {
    size: [H, W] as [number, number],
    mean: (preprocessing?.mean ?? [0, 0, 0]) as [number, number, number],
    std: (preprocessing?.std ?? [1, 1, 1]) as [number, number, number],
    fit: 'center-crop' as const,
  };
  log(
    `soak: ${o.explains} explains of ${o.model} (${methods.join(', ')}; top 3) on ${e.adapter.description || 'Dawn'}`,
  );
  log('explains  live tensors  pool live MB  pool held MB  JS heap MB  RSS MB  ms/explain');
  const samples: Sample[] = [];
  let t0 = performance.now();
  const sample = (n: number, since: number) => {
    gc();
    const mem = process.memoryUsage();
    const s: Sample = {
      explains: n,
      liveTensors: e.liveTensors,
      poolLiveBytes: e.pool.liveBytes,
      poolHeldBytes: e.pool.heldBytes,
      heapBytes: mem.heapUsed,
      rssBytes: mem.rss,
      msPerExplain: since ? (performance.now() - t0) / since : 0,
    };
    samples.push(s);
    log(
      `${String(n).padStart(8)}  ${String(s.liveTensors).padStart(12)}  ${MB(s.poolLiveBytes).padStart(12)}  ` +
        `${MB(s.poolHeldBytes).padStart(12)}  ${MB(s.heapBytes).padStart(10)}  ${MB(s.rssBytes).padStart(6)}  ${s.msPerExplain.toFixed(1).padStart(10)}`,
    );
    t0 = performance.now();
  };
  sample(0, 0);
  for (let i = 1; i <= o.explains; i++) {
    // Sizes vary (aspect and scale), so the pool sees more than one size class for the upload.
    const w = 96 + ((i * 37) % 160);
    const h = 96 + ((i * 53) % 120);
    const x = await preprocessImage(e, { data: seededPixels(i, w, h), width: w, height: h }, pre);
    const r = await explain(model, x, { methods, targets: { topK: 3 } });
    const rgba = await overlay(e, r.maps.gradcam!.input, null, { colormap: 'turbo', opacity: 1, target: i % 3 });
    await r.scores.read();
    rgba.destroy();
    r.destroy();
    x.destroy();
    if (i % o.every === 0 || i === o.explains) sample(i, i % o.every || o.every);
  }
  model.destroy();
  const first = samples[1] ?? samples[0];
  const last = samples.at(-1)!;
  const heapGrowth = last.heapBytes - first.heapBytes;
  const flat = last.liveTensors === first.liveTensors && last.poolLiveBytes === first.poolLiveBytes;
  log(
    `soak: live tensors ${first.liveTensors} → ${last.liveTensors}, pool live ${MB(first.poolLiveBytes)} → ${MB(last.poolLiveBytes)} MB, ` +
      `pool held ${MB(first.poolHeldBytes)} → ${MB(last.poolHeldBytes)} MB, JS heap ${MB(first.heapBytes)} → ${MB(last.heapBytes)} MB ` +
      `(${heapGrowth >= 0 ? '+' : ''}${MB(heapGrowth)} MB over ${last.explains - first.explains} explains): ${flat ? 'flat' : 'GREW'}`,
  );
  e.destroy();
  return flat ? 0 : 1;
}
