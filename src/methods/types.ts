/**
 * What an attribution method is: one descriptor per method, in src/methods/registry.ts, beside
 * its CPU reference. Pure (no GPU): explain() (src/attribution/explain.ts) generates its fused
 * kernels from the descriptors' WGSL terms, the CPU reference (src/reference/explain.ts) runs
 * their `ref` functions, and the demo, bench and eval take names, formulas and the list itself
 * from the registry.
 *
 * Notation (docs/METHODS.md): at the chosen layer, a = A^k_ij (activation of channel k at
 * position ij), g = g^{kc}_ij = ∂y^c/∂A^k_ij (the gradient of the class score), Z = h·w.
 *
 * Families:
 *   channel         weights w_k per channel, then map = Σ_k w_k·A^k (ReLU unless `relu` is
 *                   false). Weights from per-channel sums over the positions (one fused kernel
 *                   reads the gradients once for every requested method), or from the linear
 *                   layer of a GAP → linear head (CAM).
 *   spatial         map_ij = Σ_k term(a, g) at each position (no pooling of the gradient), then
 *                   ReLU; one fused kernel for every requested method.
 *   input-gradient  a gradient with respect to the input pixels (plain or guided), at the input
 *                   or averaged over a batch of perturbed copies of it (SmoothGrad, Integrated
 *                   Gradients), optionally times the input (or x − baseline) or the upsampled map
 *                   of a channel method (Guided Grad-CAM), optionally its absolute value.
 *   eigen           the projection of the [Z, K] matrix X_jk = term(a, g) − mean_j (centred over
 *                   the positions) onto its first principal component, the sign fixed so that
 *                   the largest |value| is positive, then ReLU (Eigen-CAM of A, Eigen-Grad-CAM
 *                   of g ⊙ A); power iteration on the Gram matrix on the GPU.
 *   perturbation    channel weights w_k from extra forward passes, batched: one per channel k
 *                   of the layer (Score-CAM: the input masked by channel k's upsampled map;
 *                   Ablation-CAM: from the layer onward with channel k zeroed), then the
 *                   channel family's map Σ_k w_k·A^k, ReLU.
 */

/** Sums over the positions of one channel, by name (`sum_<name>` in WGSL). */
export type Sums = Readonly<Record<string, number>>;

/**
 * A per-position term: WGSL in `a`, `g` (f32) and, for second-pass terms, the first pass's sums
 * `sum_<name>`; and its CPU reference.
 */
export interface Term {
  readonly wgsl: string;
  ref(a: number, g: number, sums: Sums): number;
}

interface Described {
  /** The name shown in the demo and in reports. */
  readonly label: string;
  /** The formula as implemented, as HTML paragraphs (notation above), for the demo. */
  readonly formula: readonly string[];
  /** Where the method comes from. */
  readonly paper: string;
}

export interface ChannelMethod extends Described {
  readonly family: 'channel';
  /**
   * 'gradients': weights from sums over A and G; 'linear-head': the row of the linear layer after
   * the GAP (CAM); 'noisy-gradients': Grad-CAM++'s weights from the moments of the gradients at
   * `noise` copies of the input (Smooth Grad-CAM++).
   */
  readonly source: 'gradients' | 'linear-head' | 'noisy-gradients';
  /**
   * 'noisy-gradients' only: n copies x + σ·z per image, σ absolute in the normalised input space,
   * z seeded standard normal values (src/methods/sampling.ts); the defaults, which explain's
   * `smoothgradcampp` option overrides.
   */
  readonly noise?: { readonly n: number; readonly sigma: number; readonly seed: number };
  /**
   * First-pass sums over a channel's positions, by name. A name means one expression across the
   * whole registry (checked by the tests), so methods that need the same sum share it.
   */
  readonly sums: Readonly<Record<string, Term>>;
  /** Second-pass sums, whose terms may read first-pass sums (Grad-CAM++'s S_k). */
  readonly sums2?: Readonly<Record<string, Term>>;
  /** The channel weight from the sums and Z (WGSL reads `sum_<name>` and `z`); absent unless 'gradients'. */
  readonly weight?: { readonly wgsl: string; ref(sums: Sums, z: number): number };
  /** ReLU on the weighted sum (CAM is shown signed). */
  readonly relu: boolean;
  /** The weight's symbol in the demo's readout. */
  readonly symbol: 'α' | 'w';
}

export interface SpatialMethod extends Described {
  readonly family: 'spatial';
  /** The term summed over channels at each position. */
  readonly term: Term;
  readonly relu: boolean;
}

/**
 * Where an input-gradient method takes its gradient: at the input itself (absent), averaged over
 * n noisy copies x + N(0, σ²) with σ = sigma·(max − min of the image) (SmoothGrad), or averaged
 * over `steps` points x' + α(x − x') of the straight path from the baseline x' (a constant in the
 * normalised input space) at the midpoints α = (s + ½)/steps (Integrated Gradients). The numbers
 * are the defaults; explain's `smoothgrad` and `integratedGradients` options override them.
 */
export type InputSamples =
  | { readonly kind: 'smoothgrad'; readonly n: number; readonly sigma: number; readonly seed: number }
  | { readonly kind: 'integrated'; readonly steps: number; readonly baseline: number };

export interface InputGradientMethod extends Described {
  readonly family: 'input-gradient';
  /** Guided backprop's rule at every ReLU. */
  readonly guided: boolean;
  /**
   * Multiplied, per input channel, by this channel method's upsampled, normalised map (Guided
   * Grad-CAM), or, with 'input', by x − x' (x' the baseline of `samples`, else 0: Gradient × Input).
   */
  readonly times?: string;
  /** The gradient averaged over perturbed copies of the input (absent: the gradient at x). */
  readonly samples?: InputSamples;
  /** 'abs': the absolute value of the result, per input channel (saliency). */
  readonly magnitude?: 'abs';
}

export interface EigenMethod extends Described {
  readonly family: 'eigen';
  /** The matrix's entries at (position, channel) from a = A^k_ij, g = g^k_ij (ref ignores `sums`). */
  readonly term: Term;
  /** Whether the term reads g: without it no backward pass is needed and every target gets the same map. */
  readonly gradients: boolean;
  readonly relu: boolean;
}

export interface PerturbationMethod extends Described {
  readonly family: 'perturbation';
  /**
   * 'mask-input' (Score-CAM): forward the input times each channel's upsampled, min–max
   * normalised map; w_k = softmax(y(x ⊙ M_k))^c. 'ablate-channel' (Ablation-CAM): forward from
   * the layer onward with channel k zeroed; w_k = (y^c − y^c_k) / y^c (0 where y^c = 0).
   */
  readonly perturb: 'mask-input' | 'ablate-channel';
  readonly relu: boolean;
  readonly symbol: 'α' | 'w';
}

export type MethodDescriptor = ChannelMethod | SpatialMethod | InputGradientMethod | EigenMethod | PerturbationMethod;
