/**
 * The perturbed copies of the sampled input-gradient methods (SmoothGrad, Integrated Gradients;
 * types.ts InputSamples): their settings from explain's options (checked, typed errors), the
 * noise generator and the path positions. Pure: explain() (src/attribution/explain.ts) makes the
 * copies on the GPU in shaders/input_perturb.wgsl with the same integer hash and formulas, the
 * CPU reference (src/reference/explain.ts) with these functions, so both see the same noise.
 *
 * Noise: copy s of image i, element e (index into its C·H·W values), seed σ₀:
 *   key = pcg(pcg(seed) + s), key = pcg(key + i)                       (all u32, wrapping)
 *   b1 = pcg(key + 2e), b2 = pcg(key + 2e + 1)
 *   u1 = ((b1 >> 8) + 1)·2⁻²⁴ ∈ (0, 1],  u2 = (b2 >> 8)·2⁻²⁴ ∈ [0, 1)   (exact in float32)
 *   z = −sqrt(−2·ln u1)·cos(2π·(u2 − ½))                                (Box–Muller: N(0, 1))
 * pcg is the PCG-RXS-M-XS hash of Jarzynski & Olano 2020 ("Hash Functions for GPU Rendering").
 * The sign keeps cos(2π·u2) = −cos(2π·(u2 − ½)), whose argument lies in [−π, π). Here ln and cos
 * are float64 Math functions; the shader evaluates them with its own polynomials (a few float32
 * ulps on any device), so both sides agree to float32 rounding.
 */
import { InvalidInputError } from '../core/errors';
import type { InputSamples } from './types';

/** The most copies (SmoothGrad samples, Integrated Gradients steps) one explain() accepts. */
export const MAX_SAMPLES = 4096;

export interface SmoothGradOptions {
  /** Noisy copies per image (default 16). */
  samples?: number;
  /** σ as a fraction of each image's max − min (default 0.15); 0 gives the plain gradient. */
  sigma?: number;
  /** The noise's seed, an integer in [0, 2³²) (default 0). */
  seed?: number;
}

export interface IntegratedGradientsOptions {
  /** Riemann steps along the path (midpoints; default 32). */
  steps?: number;
  /** The baseline x', one value for every input element, in the normalised input space (default 0). */
  baseline?: number;
}

/** explain()'s options for the sampled methods; each applies to every method of its kind. */
export interface SamplingOptions {
  /** SmoothGrad and Guided SmoothGrad: copies, σ as a fraction of each image's range, seed. */
  smoothgrad?: SmoothGradOptions;
  /** Integrated Gradients: steps and the constant baseline. */
  integratedGradients?: IntegratedGradientsOptions;
  /**
   * Smooth Grad-CAM++: copies per image (default 4), σ **absolute** in the normalised input
   * space (default 0.3, as torch-cam), seed (default 0).
   */
  smoothgradcampp?: SmoothGradOptions;
}

/** PCG-RXS-M-XS 32-bit hash (u32 in, u32 out). */
export function pcg(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The per-(copy, image) key of the noise. */
export function noiseKey(seed: number, sample: number, image: number): number {
  const k = pcg((pcg(seed) + sample) >>> 0);
  return pcg((k + image) >>> 0);
}

/** The standard normal value of element e under `key` (see the file comment). */
export function noiseAt(key: number, e: number): number {
  const b1 = pcg((key + 2 * e) >>> 0);
  const b2 = pcg((key + 2 * e + 1) >>> 0);
  const u1 = ((b1 >>> 8) + 1) * 2 ** -24;
  const u2 = (b2 >>> 8) * 2 ** -24;
  return -Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * (u2 - 0.5));
}

/** Integrated Gradients' path position of step s of `steps` (midpoint rule). */
export function pathAlpha(s: number, steps: number): number {
  return (s + 0.5) / steps;
}

/** The number of copies of a sampling. */
export function sampleCount(s: InputSamples): number {
  return s.kind === 'smoothgrad' ? s.n : s.steps;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `'${v}'` : typeof v === 'number' ? String(v) : typeof v;
}

function checkKeys(what: string, v: unknown, keys: readonly string[]): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new InvalidInputError(`explain: ${what} must be an object (${keys.join(', ')}), got ${describe(v)}`);
  }
  for (const k of Object.keys(v)) {
    if (!keys.includes(k))
      throw new InvalidInputError(`explain: unknown ${what} option '${k}'; the options are ${keys.join(', ')}`);
  }
  return v as Record<string, unknown>;
}

function count(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_SAMPLES) {
    throw new InvalidInputError(`explain: ${what} must be an integer in [1, ${MAX_SAMPLES}], got ${describe(v)}`);
  }
  return v;
}

/** Options checked as explain() would (InvalidInputError naming the bad value); undefined passes. */
export function checkSamplingOptions(opts: SamplingOptions): void {
  for (const key of ['smoothgrad', 'smoothgradcampp'] as const) {
    if (opts[key] === undefined) continue;
    const o = checkKeys(key, opts[key], ['samples', 'sigma', 'seed']);
    if (o.samples !== undefined) count(`${key}.samples`, o.samples);
    if (o.sigma !== undefined && (typeof o.sigma !== 'number' || !Number.isFinite(o.sigma) || o.sigma < 0)) {
      throw new InvalidInputError(`explain: ${key}.sigma must be a finite number ≥ 0, got ${describe(o.sigma)}`);
    }
    if (
      o.seed !== undefined &&
      (typeof o.seed !== 'number' || !Number.isInteger(o.seed) || o.seed < 0 || o.seed >= 2 ** 32)
    ) {
      throw new InvalidInputError(`explain: ${key}.seed must be an integer in [0, 2^32), got ${describe(o.seed)}`);
    }
  }
  if (opts.integratedGradients !== undefined) {
    const o = checkKeys('integratedGradients', opts.integratedGradients, ['steps', 'baseline']);
    if (o.steps !== undefined) count('integratedGradients.steps', o.steps);
    if (o.baseline !== undefined && (typeof o.baseline !== 'number' || !Number.isFinite(o.baseline))) {
      throw new InvalidInputError(
        `explain: integratedGradients.baseline must be a finite number, got ${describe(o.baseline)}`,
      );
    }
  }
}

/** A method's sampling with the options applied (they are checked by checkSamplingOptions). */
export function resolveSamples(d: InputSamples, opts: SamplingOptions): InputSamples {
  if (d.kind === 'smoothgrad') {
    const o = opts.smoothgrad ?? {};
    return { kind: 'smoothgrad', n: o.samples ?? d.n, sigma: o.sigma ?? d.sigma, seed: o.seed ?? d.seed };
  }
  const o = opts.integratedGradients ?? {};
  return { kind: 'integrated', steps: o.steps ?? d.steps, baseline: o.baseline ?? d.baseline };
}

/** Smooth Grad-CAM++'s noise (a channel descriptor's `noise`) with the `smoothgradcampp` options applied. */
export function resolveNoise(
  d: { readonly n: number; readonly sigma: number; readonly seed: number },
  opts: SamplingOptions,
): { n: number; sigma: number; seed: number } {
  const o = opts.smoothgradcampp ?? {};
  return { n: o.samples ?? d.n, sigma: o.sigma ?? d.sigma, seed: o.seed ?? d.seed };
}
