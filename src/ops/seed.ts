/**
 * Seed gradients for a batched backward: T targets over a forward batch of N give T·N rows of
 * ∂(±y^c)/∂logits, target-major (row b = t·N + i is sign·onehot(class of row b)). sign = −1
 * seeds counterfactual explanations. Shader: seed_onehot.wgsl, one dispatch.
 */
import type { Recorder } from '../gpu/recorder';
import { grid1d } from '../gpu/engine';
import { InvalidInputError } from '../core/errors';
import { defineKernel } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import seedCode from '../../shaders/seed_onehot.wgsl?raw';

const WG = 256; // matches `override WG` in seed_onehot.wgsl

const SEED = defineKernel({
  name: 'seed_onehot',
  code: seedCode,
  params: { rows: 'u32', k: 'u32', sign: 'f32' },
  bindings: ['classes', 'seeds'],
});

/**
 * Seeds [B, K] from class ids already on the GPU: `rowClasses` is [B] float32 (exact integers),
 * one class per row, e.g. written by the top-k kernel. No readback, no validation of the ids.
 */
export async function seedFromClasses(e: Recorder, rowClasses: Tensor, k: number, sign: 1 | -1 = 1): Promise<Tensor> {
  const rows = rowClasses.size;
  const kern = await e.kernel(SEED, { overrides: { WG } });
  const seeds = e.empty([rows, k], 'seeds');
  e.dispatch(kern, { classes: rowClasses, seeds }, { rows, k, sign }, grid1d(rows * k, WG));
  return seeds;
}

/** classes: T class indices in [0, K); n: forward batch N; k: classes K. Returns [T·N, K]. */
export async function seedGradients(
  e: Recorder,
  classes: Int32Array | number[],
  n: number,
  k: number,
  sign: 1 | -1 = 1,
): Promise<Tensor> {
  const t = classes.length;
  if (t === 0) throw new InvalidInputError('seedGradients: no target classes given');
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidInputError(`seedGradients: batch size N=${n} must be a positive integer`);
  if (!Number.isInteger(k) || k < 1)
    throw new InvalidInputError(`seedGradients: class count K=${k} must be a positive integer`);
  if (sign !== 1 && sign !== -1) throw new InvalidInputError(`seedGradients: sign must be 1 or -1, got ${sign}`);
  for (let i = 0; i < t; i++) {
    const c = classes[i];
    if (!Number.isInteger(c) || c < 0 || c >= k) {
      throw new InvalidInputError(`seedGradients: class index ${c} (target ${i}) is out of range for K=${k} classes`);
    }
  }
  const rows = Float32Array.from({ length: t * n }, (_, b) => classes[Math.floor(b / n)]);
  const cls = e.upload(rows, [t * n], 'seed:classes');
  const g = await seedFromClasses(e, cls, k, sign);
  cls.destroy(); // the dispatch is recorded; later reuse of the pooled buffer is ordered after it
  return g;
}
