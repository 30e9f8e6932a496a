/**
 * Seed gradients for a batched backward on the CPU. T targets share one forward pass over N
 * images; the backward starts from T·N gradient rows of the logits, target-major: row t·N + i
 * is ∂y^c/∂logits = onehot(c) for c = classes[t] and image i. sign = −1 seeds counterfactual
 * Grad-CAM (∂(−y^c)).
 */
import { InvalidInputError } from '../core/errors';
import { hostTensor, type HostTensor } from './tensor';

/** Throws InvalidInputError naming the first class index that is not an integer in [0, K). */
export function checkClasses(classes: ArrayLike<number>, k: number, what: string): void {
  for (let t = 0; t < classes.length; t++) {
    const c = classes[t];
    if (!Number.isInteger(c) || c < 0 || c >= k) {
      throw new InvalidInputError(`${what}: class index ${c} (target ${t}) is out of range for K=${k} classes`);
    }
  }
}

export function seedGradients(classes: ArrayLike<number>, n: number, k: number, sign: 1 | -1 = 1): HostTensor {
  checkClasses(classes, k, 'seedGradients');
  const t = classes.length;
  const g = hostTensor([t * n, k]);
  for (let ti = 0; ti < t; ti++) {
    for (let i = 0; i < n; i++) g.data[(ti * n + i) * k + classes[ti]] = sign;
  }
  return g;
}
