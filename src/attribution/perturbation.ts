/**
 * The perturbation family (Score-CAM, Ablation-CAM): channel weights from extra forward passes,
 * one per (image, channel) job j = i·K + k, batched B jobs per forward. Per batch: the B
 * perturbed tensors (scorecam_masks.wgsl: the masked inputs; Ablation-CAM: the layer's
 * activations copied into each slot by buffer copies, then one channel of each zeroed by
 * ablation_copies.wgsl, or, from the second batch of a size on, its UPDATE variant, which edits
 * the previous batch's copies in place: two channels per copy, no copying), one forward
 * (Score-CAM: the whole network; Ablation-CAM: Model.forwardFrom the layer onward), one kernel
 * writes every target's weight of those jobs into its slot of the channel-weight tensor
 * (perturbation_weights.wgsl). The maps are then made from the weights by the channel family's
 * cam_combine/upsample path.
 *
 * Submissions: one per batch, pipelined two deep (batch b + 1 is recorded and submitted while
 * the GPU runs batch b); after each batch has run, the progress callback hears of it and the
 * AbortSignal is looked at. Batch size: the largest that keeps every tensor of one forward
 * within the device's binding limits (perturbationBatchSize), at most the cap; a batch that
 * still fails for size (ResourceLimitError, or a GPU out-of-memory error) is retried at half
 * the size, down to 1.
 */
import type { Recorder } from '../gpu/recorder';
import { grid1d } from '../gpu/engine';
import { AbortedError, GPUExecutionError, ResourceLimitError } from '../core/errors';
import { sizeOf } from '../core/shape';
import { defineKernel } from '../gpu/kernel';
import { perturbationMethod, type PerturbationMethodName } from '../methods/registry';
import type { Graph } from '../model/graph';
import type { Model } from '../model/model';
import type { Tensor } from '../gpu/tensor';
import { BILINEAR_SAMPLE, MINMAX_REDUCE, FINITE } from '../ops/includes';
import { softmaxForward } from '../ops/softmax';
import { unaryForward } from '../ops/elementwise';
import type { Score } from './targets';
import masksCode from '../../shaders/scorecam_masks.wgsl?raw';
import copiesCode from '../../shaders/ablation_copies.wgsl?raw';
import weightsCode from '../../shaders/perturbation_weights.wgsl?raw';

const WG_MASKS = 256; // `override WG` of scorecam_masks: one workgroup per masked image
const WG_ELEMENTWISE = 256;

/** The default cap on the batch size (jobs per forward). */
export const DEFAULT_PERTURBATION_BATCH = 32;

const MASKS = defineKernel({
  name: 'scorecam_masks',
  code: masksCode,
  params: {
    count: 'u32',
    j0: 'u32',
    k: 'u32',
    c: 'u32',
    h: 'u32',
    w: 'u32',
    H: 'u32',
    W: 'u32',
    scale_y: 'f32',
    scale_x: 'f32',
  },
  bindings: ['x', 'src', 'out'],
  includes: [MINMAX_REDUCE, BILINEAR_SAMPLE],
});
const COPIES = defineKernel({
  name: 'ablation_copies',
  code: copiesCode,
  params: { count: 'u32', j0: 'u32', k: 'u32', z: 'u32' },
  bindings: ['A', 'out'],
});
const WEIGHTS = defineKernel({
  name: 'perturbation_weights',
  code: weightsCode,
  params: { count: 'u32', j0: 'u32', n: 'u32', k: 'u32', t: 'u32', classes: 'u32', slot: 'u32' },
  bindings: ['probs', 'base', 'classes', 'weights', 'seeds'],
  includes: [FINITE],
});

/**
 * The batch size for perturbation forwards of `graph`: at most `cap`, and small enough that the
 * largest tensor of one forward (the graph's tensors at batch 1, times B) fits one storage
 * binding (min of maxStorageBufferBindingSize and maxBufferSize). ResourceLimitError when not
 * even one image fits.
 */
export function perturbationBatchSize(
  graph: Graph,
  limits: Pick<GPUSupportedLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize'>,
  cap = DEFAULT_PERTURBATION_BATCH,
): number {
  const max = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  let largest = sizeOf(graph.shape(graph.input, 1));
  for (const node of graph.nodes) largest = Math.max(largest, sizeOf(graph.shape(node.output, 1)));
  const fit = Math.floor(max / (largest * 4));
  if (fit < 1) {
    throw new ResourceLimitError(
      `a forward pass of one image needs a tensor of ${largest * 4} bytes, more than this device's maxStorageBufferBindingSize (${max} bytes)`,
    );
  }
  return Math.max(1, Math.min(cap, fit));
}

export interface PerturbationJob {
  readonly method: PerturbationMethodName;
  /** Its slot in `weights` [M, T·N, K]. */
  readonly slot: number;
}

export interface PerturbationInputs {
  model: Model;
  /** The input batch [N, C, H, W] and the layer's tensor name and activations A [N, K, h, w]. */
  input: Tensor;
  layer: string;
  A: Tensor;
  /**
   * The unperturbed class scores [N, classes], as the explained score (the logits, or their
   * softmax or sigmoid: Ablation-CAM's y^c), and the class of every row [T·N].
   */
  scores: Tensor;
  /**
   * The explained score (targets.ts); default 'logit'. Score-CAM weights by the softmax, as
   * published, except with 'sigmoid' (σ of each masked input's logits); Ablation-CAM's
   * (y − y_k)/y takes y and y_k as this score.
   */
  score?: Score;
  classes: Tensor;
  /**
   * Seed-vector targets ({ seed }, t = 1): the vectors [N, classes]; each row's score is then
   * Σ_c v_c·s_c of the scores above instead of one class's (null or absent otherwise).
   */
  seeds?: Tensor | null;
  t: number;
  /** Channel weights [M, T·N, K]: each method writes its slot. */
  weights: Tensor;
  /** The largest batch to use (already limited by perturbationBatchSize). */
  batchSize: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** Receives the stage timings of each submission made here (Recorder.stageTimings after it). */
  timings?: Promise<Record<string, number> | null>[];
}

function tooLarge(err: unknown): boolean {
  return err instanceof ResourceLimitError || (err instanceof GPUExecutionError && /out-of-memory/.test(err.message));
}

export function checkAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(`${what} was aborted`);
}

/**
 * Every job of every method in `jobs`, batched; submits what `e` recorded before, then one
 * submission per batch. Returns the batch size used last (smaller than asked when a batch had
 * to shrink). Progress counts jobs (one image's channel, for one method) over all methods.
 */
export async function perturbationWeights(
  e: Recorder,
  jobs: readonly PerturbationJob[],
  p: PerturbationInputs,
): Promise<number> {
  const { model, input, layer, A, scores, classes, t, weights } = p;
  const g = model.graph;
  const [n, C, H, W] = input.shape;
  const [, K, h, w] = A.shape;
  const numClasses = scores.shape[1];
  const perMethod = n * K;
  const total = perMethod * jobs.length;
  const device = model.engine.device;
  let batch = Math.max(1, Math.min(p.batchSize, perMethod));
  const [masks, zero, update] = await Promise.all([
    e.kernel(MASKS, { overrides: { WG: WG_MASKS } }),
    e.kernel(COPIES, { overrides: { WG: WG_ELEMENTWISE } }),
    e.kernel(COPIES, { defines: { UPDATE: true }, overrides: { WG: WG_ELEMENTWISE } }),
  ]);
  /**
   * Ablation-CAM's edited activations of the last batch recorded ([count, K, h, w], jobs j0 …
   * j0 + count − 1), kept for the next batch of the same size: the queue runs that batch's edit
   * after this batch's forward has read them.
   */
  let ablated: { tensor: Tensor; count: number; j0: number } | null = null;
  const dropAblated = () => {
    ablated?.tensor.destroy();
    ablated = null;
  };
  /** Whether jobs j0 + b and j0 − count + b are of the same image, for every b < count. */
  const sameImages = (j0: number, count: number) => {
    for (let b = 0; b < count; b++) if (Math.floor((j0 + b) / K) !== Math.floor((j0 - count + b) / K)) return false;
    return true;
  };
  const seeds = p.seeds ?? null;
  const SEED = seeds !== null;
  const scoreKernel = await e.kernel(WEIGHTS, { defines: { SCORE: true, SEED }, overrides: { WG: WG_ELEMENTWISE } });
  const ablationKernel = await e.kernel(WEIGHTS, {
    defines: { SCORE: false, SEED },
    overrides: { WG: WG_ELEMENTWISE },
  });
  const rowsOf = SEED ? { classes: null, seeds } : { classes, seeds: null };

  // What is recorded so far (the forward and backward passes) goes first, on its own.
  await e.flush();
  p.timings?.push(e.stageTimings());

  /** Record one batch of `count` jobs of `method` from job j0 on. */
  const record = async (method: PerturbationMethodName, slot: number, j0: number, count: number) => {
    const ablate = perturbationMethod(method).perturb === 'ablate-channel';
    const u = { count, j0, n, k: K, t, classes: numClasses, slot };
    if (!ablate) {
      const masked = e.empty([count, C, H, W], `${method}:masked`);
      try {
        e.dispatch(
          masks,
          { x: input, src: A, out: masked },
          { count, j0, k: K, c: C, h, w, H, W, scale_y: h / H, scale_x: w / W },
          grid1d(count, 1),
        );
        const acts = await model.forward(masked, { keep: [g.scores], recorder: e });
        try {
          const s = acts.get(g.scores);
          const probs =
            p.score === 'sigmoid'
              ? await unaryForward(e, 'sigmoid', s)
              : g.scores === g.output
                ? await softmaxForward(e, s)
                : acts.output;
          e.dispatch(scoreKernel, { probs, base: null, weights, ...rowsOf }, u, grid1d(count * t, WG_ELEMENTWISE));
          if (probs !== acts.output) probs.destroy();
        } finally {
          acts.destroy();
        }
      } finally {
        masked.destroy();
      }
    } else {
      const z = h * w;
      let edited: Tensor;
      if (ablated && ablated.count === count && ablated.j0 + count === j0 && sameImages(j0, count)) {
        // The previous batch's copies, each of the same image: restore its channel, zero the new one.
        edited = ablated.tensor;
        e.dispatch(update, { A, out: edited }, { count, j0, k: K, z }, grid1d(count * 2 * z, WG_ELEMENTWISE));
      } else {
        dropAblated();
        // Each slot's image by a buffer copy (a memcpy on a software adapter, a blit on a GPU: ten
        // times faster than a copying kernel on SwiftShader), then its channel zeroed.
        edited = e.empty([count, K, h, w], `${method}:ablated`);
        const per = K * z;
        for (let b = 0; b < count; b++) e.copyRange(A, Math.floor((j0 + b) / K) * per, per, edited, b * per);
        e.dispatch(zero, { A: null, out: edited }, { count, j0, k: K, z }, grid1d(count * z, WG_ELEMENTWISE));
      }
      ablated = { tensor: edited, count, j0 };
      const acts = await model.forwardFrom({ [layer]: edited }, { keep: [g.scores], recorder: e });
      try {
        const y = acts.get(g.scores);
        const ys =
          p.score === 'probability'
            ? await softmaxForward(e, y)
            : p.score === 'sigmoid'
              ? await unaryForward(e, 'sigmoid', y)
              : y;
        e.dispatch(
          ablationKernel,
          { probs: ys, base: scores, weights, ...rowsOf },
          u,
          grid1d(count * t, WG_ELEMENTWISE),
        );
        if (ys !== y) ys.destroy();
      } finally {
        acts.destroy();
      }
    }
  };

  let done = 0;
  // The previous batch: its jobs and the promise of its completion.
  let previous: { jobs: number; finished: Promise<void> } | null = null;
  const settle = async () => {
    if (!previous) return;
    await previous.finished;
    done += previous.jobs;
    previous = null;
    p.onProgress?.(done, total);
    checkAborted(p.signal, 'explain');
  };
  try {
    for (const { method, slot } of jobs) {
      let j0 = 0;
      while (j0 < perMethod) {
        const count = Math.min(batch, perMethod - j0);
        try {
          await record(method, slot, j0, count);
          await e.flush();
          p.timings?.push(e.stageTimings());
        } catch (err) {
          dropAblated();
          if (batch > 1 && tooLarge(err)) {
            e.discard();
            batch = Math.max(1, Math.floor(batch / 2));
            continue;
          }
          throw err;
        }
        // A lost device rejects this; the next recording or flush reports it.
        const finished = device.queue.onSubmittedWorkDone().catch(() => undefined);
        await settle();
        previous = { jobs: count, finished };
        j0 += count;
      }
      dropAblated();
    }
    await settle();
  } finally {
    dropAblated();
  }
  return batch;
}
