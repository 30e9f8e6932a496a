/**
 * End to end on one network: forward alone; forward + Grad-CAM of the top class; all six methods
 * (CAM only where the head allows it) for the top-5 classes; the perturbation methods
 * (Score-CAM, Ablation-CAM), each on its own against the batched forwards it needs
 * (bench/perturbation.ts); the sampled methods (SmoothGrad, Guided SmoothGrad,
 * Integrated Gradients, Smooth Grad-CAM++), each on its own (bench/sampled.ts). This engine first, then the same
 * work in TF.js WebGPU on the same adapter, weights and input, checked equal before it is timed.
 * Each timed run ends when its result is back on the CPU (for TF.js that is when its queued
 * work runs at all).
 */
import type { Engine } from '../src/gpu/engine';
import { applicableMethods, explain } from '../src/attribution/explain';
import { isMultiPass, isPerturbation, type Method } from '../src/methods/registry';
import { Model } from '../src/model/model';
import type { Graph } from '../src/model/graph';
import type { GraphSpec } from '../src/model/spec';
import { measure, type Measured } from './measure';
import { perturbationRuns, type PerturbationResult } from './perturbation';
import { isSampled, sampledRuns, type SampledResult } from './sampled';
import { forwardFlops, inputFor } from './nets';
import { TF_METHODS, TfNet, loadTfjs, tfAllMethods, tfAllMethodsTimed, tfForward, tfGradcam } from './tfjs';

export interface E2EConfig {
  warmup: number;
  reps: number;
  /** Repetitions of the TF.js runs (they are slower). */
  tfReps: number;
  /** Run TF.js's all-methods scenario (5 tf.grad passes per family per class). */
  tfAll: boolean;
  tfjs: boolean;
  topK: number;
  /**
   * Run the methods of many passes: the perturbation methods (K forwards each) and the sampled
   * input-gradient ones (S copies each): slow on big networks on a software adapter.
   */
  perturbation: boolean;
}

export interface Scenario {
  ours: Measured;
  /** Peak bytes the engine's pool held during one run (weights and input included). */
  peakBytes: number;
  tfjs?: Measured;
  /** TF.js time / ours (> 1: this engine is faster). */
  speedup?: number;
}

export interface CheckResult {
  ok: boolean;
  /** Per compared quantity: the largest absolute difference and the tolerance. */
  diffs: Record<string, { maxAbs: number; tol: number }>;
  note?: string;
}

export interface E2EResult {
  model: string;
  input: number[];
  layer: string;
  forwardGflop: number;
  weightBytes: number;
  /** Bytes of the activations a one-class Grad-CAM backward reads (saved by the forward), N = 1. */
  savedBytesGradcam: number;
  /** The same for the all-methods run (backward to the input too). */
  savedBytesAll: number;
  methods: Method[];
  topK: number;
  forward: Scenario;
  gradcam: Scenario;
  all: Scenario;
  check?: CheckResult;
  tfjsError?: string;
  /** Score-CAM and Ablation-CAM, each timed alone (absent where not run). */
  perturbation?: PerturbationResult[];
  /** SmoothGrad, Guided SmoothGrad, Integrated Gradients, Smooth Grad-CAM++, each timed alone (absent where not run). */
  sampled?: SampledResult[];
}

/** Bytes of the tensors Model.forward keeps for backward passes to `targets` (N = 1). */
function savedBytes(g: Graph, targets: string[], layer: string): number {
  const keep = new Set<string>([layer, g.scores, ...g.savedFor(targets, g.scores)]);
  let b = 0;
  for (const k of keep) b += g.shape(k).reduce((p, q) => p * q, 4);
  return b;
}

/** Largest |x| (a loop: spreading a big array into Math.max overflows the stack). */
function absMax(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return a.length === b.length ? m : Infinity;
}

/** [T, C, H, W] (ours) → [T, H, W, C] (TF.js's NHWC). */
function toNHWC(x: Float32Array, t: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < t; i++)
    for (let k = 0; k < c; k++)
      for (let y = 0; y < h * w; y++) out[(i * h * w + y) * c + k] = x[(i * c + k) * h * w + y];
  return out;
}

export async function endToEnd(
  e: Engine,
  spec: GraphSpec,
  cfg: E2EConfig,
  tick: () => void,
  log: (s: string) => void,
): Promise<E2EResult> {
  const model = await Model.load(e, spec);
  const g = model.graph;
  const layer = g.defaultLayer();
  // The perturbation methods cost K forwards each: timed on their own below, not in 'all'.
  const applicable = applicableMethods(g, layer);
  // The methods of many passes have rows of their own (perturbation, sampled).
  const methods = applicable.filter((m) => !isMultiPass(m));
  const K = g.shape(g.scores)[1];
  const topK = Math.min(cfg.topK, K);
  const shape = [1, ...spec.input.shape];
  const data = inputFor(spec);
  const x = e.upload(data, shape, 'image');
  e.keep(x);
  const opts = { warmup: cfg.warmup, reps: cfg.reps, tick };
  let peak = 0;
  const tracked = <R>(fn: () => Promise<R>) => {
    return async () => {
      e.pool.resetPeak();
      const r = await fn();
      peak = e.pool.peakLiveBytes;
      return r;
    };
  };
  const res: Partial<E2EResult> = {
    model: spec.name ?? 'model',
    input: shape,
    layer,
    forwardGflop: forwardFlops(spec) / 1e9,
    weightBytes: model.weightBytes,
    savedBytesGradcam: savedBytes(g, [layer], layer),
    savedBytesAll: savedBytes(g, [layer, g.input], layer),
    methods,
    topK,
  };
  try {
    log(`${res.model}: forward`);
    const fwd = await measure(
      e,
      tracked(async () => {
        const acts = await model.forward(x);
        await acts.output.read();
        return () => acts.destroy();
      }),
      opts,
    );
    res.forward = { ours: fwd, peakBytes: peak };
    log(`${res.model}: forward + Grad-CAM`);
    const gc = await measure(
      e,
      tracked(async () => {
        const r = await explain(model, x, { methods: ['gradcam'], targets: { topK: 1 } });
        await r.maps.gradcam!.input.read();
        return r;
      }),
      opts,
    );
    res.gradcam = { ours: gc, peakBytes: peak };
    log(`${res.model}: all ${methods.length} methods, top ${topK}`);
    const all = await measure(
      e,
      tracked(async () => {
        const r = await explain(model, x, { methods, targets: { topK } });
        await r.classes.read();
        return r;
      }),
      opts,
    );
    res.all = { ours: all, peakBytes: peak };
    if (cfg.perturbation) {
      res.perturbation = await perturbationRuns(e, model, x, layer, applicable.filter(isPerturbation), {
        warmup: cfg.warmup,
        reps: cfg.reps,
        topK,
        tick,
        log,
      });
      const sampled = applicable.filter(isSampled);
      res.sampled = await sampledRuns(e, model, x, sampled, { warmup: cfg.warmup, reps: cfg.reps, topK, tick, log });
    }

    if (cfg.tfjs) {
      try {
        await tfjsPart(e, model, spec, data, layer, methods, topK, cfg, res as E2EResult, tick, log);
      } catch (err) {
        res.tfjsError = (err as Error).message;
        log(`${res.model}: TF.js comparison failed: ${res.tfjsError}`);
      }
    }
  } finally {
    x.destroy();
    model.destroy();
  }
  return res as E2EResult;
}

async function tfjsPart(
  e: Engine,
  model: Model,
  spec: GraphSpec,
  data: Float32Array,
  layer: string,
  methods: Method[],
  topK: number,
  cfg: E2EConfig,
  res: E2EResult,
  tick: () => void,
  log: (s: string) => void,
): Promise<void> {
  const tf = await loadTfjs();
  const net = new TfNet(tf, spec);
  const xt = net.input(data);
  const camLinear = methods.includes('cam')
    ? (model.graph.camHead(layer) as { linear: { name: string } }).linear.name
    : null;
  try {
    // Equality first, of what is timed: our maps and TF.js's for the top-k classes and every
    // method (or, where TF.js's all-methods run is skipped, the logits and the top class's Grad-CAM).
    log(`${res.model}: TF.js equality check`);
    const [, C, H, W] = res.input;
    // TF.js computes the methods bench/tfjs.ts implements; the others have no TF.js counterpart.
    const checked = cfg.tfAll ? methods.filter((m) => TF_METHODS.includes(m)) : (['gradcam'] as Method[]);
    const k = cfg.tfAll ? topK : 1;
    const xe = e.upload(data, res.input, 'image');
    const ex = await explain(model, xe, { methods: checked, targets: { topK: k } }).finally(() => xe.destroy());
    const ours: Record<string, Float32Array> = {};
    const oursClasses = (await ex.readClasses())[0];
    const oursLogits = await ex.scores.read();
    for (const m of checked) {
      const v = await ex.maps[m]!.input.read();
      ours[m] = m.startsWith('guided') ? toNHWC(v, k, C, H, W) : v;
    }
    ex.destroy();
    const theirs = cfg.tfAll
      ? await tfAllMethods(net, xt, layer, topK, camLinear)
      : {
          logits: await tfForward(net, xt),
          maps: { gradcam: await tfGradcam(net, xt, layer) } as Record<string, Float32Array>,
          classes: null,
        };
    const scale = Math.max(absMax(oursLogits), 1e-6);
    const diffs: CheckResult['diffs'] = { logits: { maxAbs: maxAbs(oursLogits, theirs.logits), tol: 1e-3 * scale } };
    const sameClasses = theirs.classes === null || theirs.classes.join() === oursClasses.join();
    let ok = sameClasses;
    for (const m of checked) {
      const mine = ours[m];
      const s = m.startsWith('guided') ? Math.max(absMax(mine), 1e-12) : 1;
      diffs[m] = { maxAbs: maxAbs(mine, theirs.maps[m] ?? new Float32Array(0)), tol: 5e-3 * s };
    }
    for (const d of Object.values(diffs)) ok &&= d.maxAbs <= d.tol;
    res.check = {
      ok,
      diffs,
      ...(sameClasses ? {} : { note: `top-${topK} classes differ: ours ${oursClasses}, TF.js ${theirs.classes}` }),
    };
    log(`${res.model}: TF.js results ${ok ? 'equal' : 'DIFFER'} (${JSON.stringify(diffs)})`);

    const o = { warmup: 1, reps: cfg.tfReps, tick };
    log(`${res.model}: TF.js forward`);
    res.forward.tfjs = await measure(null, async () => void (await tfForward(net, xt)), o);
    log(`${res.model}: TF.js forward + Grad-CAM`);
    res.gradcam.tfjs = await measure(null, async () => void (await tfGradcam(net, xt, layer)), o);
    if (cfg.tfAll) {
      log(`${res.model}: TF.js all methods, top ${topK}`);
      res.all.tfjs = await measure(null, () => tfAllMethodsTimed(net, xt, layer, topK, camLinear), o);
    }
    for (const s of [res.forward, res.gradcam, res.all]) if (s.tfjs) s.speedup = s.tfjs.wallMs / s.ours.wallMs;
  } finally {
    xt.dispose();
    net.dispose();
  }
}
