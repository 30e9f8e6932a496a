/**
 * Seed gradients for a batched backward: T targets over a forward batch of N give T·N rows of
 * ∂(±y^c)/∂logits, target-major (row t·N + i is sign·onehot(classes[t])). sign = −1 seeds
 * counterfactual Grad-CAM. Shader: seed_gradients.wgsl, one dispatch.
 */
import type { Engine } from '../gpu/engine';
import { grid1d } from '../gpu/engine';
import { InvalidInputError } from '../gpu/errors';
import { Uniforms } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import seedCode from '../../shaders/seed_gradients.wgsl?raw';

const WG = 256; // matches `override WG` in seed_gradients.wgsl

/** classes: T class indices in [0, K); n: forward batch N; k: classes K. Returns [T·N, K]. */
export async function seedGradients(
  e: Engine,
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
  const kern = await e.kernel({ name: 'seed_gradients', code: seedCode, overrides: { WG } });
  // The shader reads the class list as array<u32>. upload() copies the bytes of a Float32Array
  // as they are, so a Float32Array viewing u32 words carries the integers bit for bit.
  const cls = e.upload(new Float32Array(Uint32Array.from(classes).buffer), [t], 'seed:classes');
  const g = e.empty([t * n, k], 'seed');
  const count = t * n * k;
  e.dispatch(kern, [cls, g], new Uniforms().u32(count, n, k).f32(sign), grid1d(count, WG));
  cls.destroy(); // the dispatch is recorded; later reuse of the pooled buffer is ordered after it
  return g;
}
