/**
 * Half-float weight storage: float32 tensors re-stored as IEEE binary16, two values per 32-bit
 * word (shaders/f16_pack.wgsl), which the kernels read back with `unpack2x16float` (core WGSL,
 * no device feature) and accumulate in float32. Half the weights' memory and load bandwidth;
 * each stored value within 2^-10 of its float32 (relative). Model.load's `weightStorage: 'f16'`
 * stores conv and linear weights so (docs/BENCHMARKS.md: the accuracy measured).
 *
 * A tensor of halves is a word tensor (its shape counts words) marked by toHalves(); its
 * logical shape travels beside it (the graph's weight shapes). isHalves() tells the kernels'
 * dispatchers which variant (`#if F16`) to run. The mark is on the storage, so views keep it.
 */
import type { Recorder } from '../gpu/recorder';
import { grid1d } from '../gpu/engine';
import { defineKernel } from '../gpu/kernel';
import type { Storage, Tensor } from '../gpu/tensor';
import { InvalidInputError } from '../core/errors';
import { sizeOf, type Shape } from '../core/shape';
import packCode from '../../shaders/f16_pack.wgsl?raw';

/** The largest finite binary16 magnitude; weights above it cannot be stored as halves. */
export const F16_MAX = 65504;

const WG = 256; // `override WG` of f16_pack.wgsl
const PACK = defineKernel({
  name: 'f16_pack',
  code: packCode,
  params: { count: 'u32' },
  bindings: ['src', 'words'],
});

const HALVES = new WeakSet<Storage>();

/** Whether `t` holds halves (made by toHalves). */
export function isHalves(t: Tensor): boolean {
  return HALVES.has(t.storage);
}

/**
 * `src` stored as halves: a new word tensor of shape `shape` (default [ceil(size / 2)]; its
 * size must be ceil(src.size / 2)). The caller owns it; `src` is left as it was.
 */
export async function toHalves(e: Recorder, src: Tensor, shape?: Shape, label = `${src.label}:f16`): Promise<Tensor> {
  const words = Math.ceil(src.size / 2);
  const s = shape ?? [words];
  if (sizeOf(s) !== words) {
    throw new InvalidInputError(`toHalves: ${src.size} values make ${words} words, not shape [${s.join(', ')}]`);
  }
  const k = await e.kernel(PACK, { overrides: { WG } });
  const out = e.empty(s, label);
  e.dispatch(k, { src, words: out }, { count: src.size }, grid1d(words, WG));
  HALVES.add(out.storage);
  return out;
}

/** Throws InvalidInputError when a value of `data` has no finite half (|v| > F16_MAX). */
export function checkHalves(data: ArrayLike<number>, what: string): void {
  for (let i = 0; i < data.length; i++) {
    if (Math.abs(data[i]) > F16_MAX) {
      throw new InvalidInputError(
        `${what}: value ${data[i]} at index ${i} is beyond the largest half float (${F16_MAX}); load with weightStorage 'f32'`,
      );
    }
  }
}
