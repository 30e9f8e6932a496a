/**
 * The augmentations of explain's augSmooth option (pytorch-grad-cam's aug_smooth): every
 * combination of a horizontal flip (off, on) and a brightness factor (0.9, 1, 1.1) applied to
 * the normalised input, six copies in all, in this order (copy a = 3·flip + factor index). A
 * copy's maps are flipped back (de-augmented) before the mean over the copies; the factor needs
 * no undoing. Pure: the GPU (src/attribution/augment.ts) and the CPU reference
 * (src/reference/augment.ts) both read this table.
 */

export interface Augmentation {
  /** Mirror the image left–right (x → W − 1 − x). */
  readonly flip: boolean;
  /** Multiply every value of the normalised input by this factor. */
  readonly factor: number;
}

export const AUG_FACTORS = [0.9, 1, 1.1] as const;

export const AUGMENTATIONS: readonly Augmentation[] = [false, true].flatMap((flip) =>
  AUG_FACTORS.map((factor) => ({ flip, factor })),
);
