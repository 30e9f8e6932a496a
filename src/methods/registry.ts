/**
 * The method registry: every attribution method explain() computes, by the name callers use.
 * Each descriptor (types.ts) holds the method's family, its WGSL terms next to their CPU
 * references, whether a ReLU applies, and its display name and formula. Adding a method is one
 * entry here (plus its golden values in tools/make_fixtures.py and its docs/METHODS.md entry);
 * the fused kernels, the CPU reference, the demo, bench and eval pick it up from this table.
 *
 * Notation: a = A^k_ij, g = g^{kc}_ij = ∂y^c/∂A^k_ij, Z = h·w (see types.ts, docs/METHODS.md).
 */
import type {
  ChannelMethod,
  EigenMethod,
  InputGradientMethod,
  MethodDescriptor,
  PerturbationMethod,
  SpatialMethod,
  Term,
} from './types';

/**
 * Grad-CAM++'s per-position coefficient a = g² / (2g² + S·g³) (0 where the denominator is 0),
 * S = Σ_ab A_ab. WGSL: gradcampp_a() in shaders/include/gradcampp.wgsl, the same expression.
 */
export function gradcamppA(g: number, S: number): number {
  const g2 = g * g;
  const den = 2 * g2 + S * g2 * g;
  return den !== 0 ? g2 / den : 0;
}

/**
 * Smooth Grad-CAM++'s per-position coefficient from the means over the noisy copies of g² and
 * g³: a = m2 / (2·m2 + S·m3) (0 where the denominator is 0), S = Σ_ab A_ab of the unperturbed
 * input. WGSL: smooth_gradcampp_a() in shaders/include/gradcampp.wgsl, the same expression.
 */
export function smoothGradcamppA(m2: number, m3: number, S: number): number {
  const den = 2 * m2 + S * m3;
  return den !== 0 ? m2 / den : 0;
}

/** XGrad-CAM's ε in Σ_ij g·A / (Σ_ij A + ε), as in pytorch-grad-cam's xgrad_cam.py. */
export const XGRADCAM_EPS = 1e-7;

// Sums shared by several methods (one name, one expression).
const SUM_G: Term = { wgsl: 'g', ref: (_a, g) => g };
const SUM_A: Term = { wgsl: 'a', ref: (a) => a };

// HTML pieces of the formulas.
const y = '<var>y</var><sup><var>c</var></sup>';
const A = (k = 'k', ij = 'ij') => `<var>A</var><sup><var>${k}</var></sup><sub><var>${ij}</var></sub>`;
const g = (ij = 'ij') => `<var>g</var><sup><var>k</var></sup><sub><var>${ij}</var></sub>`;
const sum = (under: string) => `Σ<sub>${under}</sub>`;
const Z = '<var>Z</var>';
const Lmap = (w: string) =>
  `<var>L</var><sub><var>ij</var></sub> = ReLU(${sum('<var>k</var>')} ${w} ${A()}), then (<var>L</var> − min)/(max − min) and bilinear upsampling to the input.`;

const channel = (m: Omit<ChannelMethod, 'family'>): ChannelMethod => ({ family: 'channel', ...m });
const spatial = (m: Omit<SpatialMethod, 'family'>): SpatialMethod => ({ family: 'spatial', ...m });
const eigen = (m: Omit<EigenMethod, 'family'>): EigenMethod => ({ family: 'eigen', ...m });
const inputGradient = (m: Omit<InputGradientMethod, 'family'>): InputGradientMethod => ({
  family: 'input-gradient',
  ...m,
});
const perturbation = (m: Omit<PerturbationMethod, 'family'>): PerturbationMethod => ({
  family: 'perturbation',
  ...m,
});

export const METHOD_REGISTRY = {
  cam: channel({
    label: 'CAM',
    paper: 'Zhou et al. 2016, Learning Deep Features for Discriminative Localization',
    source: 'linear-head',
    sums: {},
    relu: false,
    symbol: 'w',
    formula: [
      `The head is ${y} = ${sum('<var>k</var>')} <var>w</var><sup><var>c</var></sup><sub><var>k</var></sub> · GAP(<var>A</var><sup><var>k</var></sup>) + <var>b</var><sub><var>c</var></sub>, so each feature map's weight is read from the linear layer: <var>w</var><sup><var>c</var></sup><sub><var>k</var></sub> = <var>W</var>[<var>c</var>, <var>k</var>].`,
      `<var>M</var><sup><var>c</var></sup><sub><var>ij</var></sub> = ${sum('<var>k</var>')} <var>w</var><sup><var>c</var></sup><sub><var>k</var></sub> ${A()}   (signed, no ReLU), shown min–max normalised.`,
    ],
  }),
  gradcam: channel({
    label: 'Grad-CAM',
    paper: 'Selvaraju et al. 2017, Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization',
    source: 'gradients',
    sums: { g: SUM_G },
    weight: { wgsl: 'sum_g / z', ref: (s, z) => s.g / z },
    relu: true,
    symbol: 'α',
    formula: [
      `Weight of feature map <var>k</var>: the average gradient, α<sub><var>k</var></sub> = (1/${Z}) ${sum('<var>ij</var>')} ${g()},  with ${g()} = ∂${y}/∂${A()}.`,
      Lmap('α<sub><var>k</var></sub>'),
    ],
  }),
  'gradcam++': channel({
    label: 'Grad-CAM++',
    paper: 'Chattopadhay et al. 2018, Grad-CAM++: Improved Visual Explanations for Deep Convolutional Networks',
    source: 'gradients',
    sums: { a: SUM_A },
    sums2: {
      gpp: { wgsl: 'gradcampp_a(g, sum_a) * max(g, 0.0)', ref: (_a, g, s) => gradcamppA(g, s.a) * Math.max(g, 0) },
    },
    weight: { wgsl: 'sum_gpp', ref: (s) => s.gpp },
    relu: true,
    symbol: 'w',
    formula: [
      `Weight of feature map <var>k</var>: <var>w</var><sub><var>k</var></sub> = ${sum('<var>ij</var>')} <var>a</var><sup><var>k</var></sup><sub><var>ij</var></sub> · ReLU(${g()}),  with <var>a</var><sup><var>k</var></sup><sub><var>ij</var></sub> = <var>g</var>² / (2<var>g</var>² + <var>S</var><sub><var>k</var></sub>·<var>g</var>³),  <var>g</var> = ${g()},  <var>S</var><sub><var>k</var></sub> = ${sum('<var>ab</var>')} ${A('k', 'ab')}  (<var>a</var> = 0 where the denominator is 0).`,
      `<var>L</var><sub><var>ij</var></sub> = ReLU(${sum('<var>k</var>')} <var>w</var><sub><var>k</var></sub> ${A()}). Only positive gradients count, each position weighted by <var>a</var>, so several smaller instances of a class can all contribute.`,
    ],
  }),
  counterfactual: channel({
    label: 'Counterfactual',
    paper: 'Selvaraju et al. 2017 (counterfactual explanations, section 5)',
    source: 'gradients',
    sums: { g: SUM_G },
    weight: { wgsl: '-sum_g / z', ref: (s, z) => -s.g / z },
    relu: true,
    symbol: 'α',
    formula: [
      `Negated gradients: α<sub><var>k</var></sub> = −(1/${Z}) ${sum('<var>ij</var>')} ${g()}.`,
      `<var>L</var><sub><var>ij</var></sub> = ReLU(${sum('<var>k</var>')} α<sub><var>k</var></sub> ${A()}): the regions whose evidence <em>lowers</em> ${y}; removing them would raise the score.`,
    ],
  }),
  xgradcam: channel({
    label: 'XGrad-CAM',
    paper: 'Fu et al. 2020, Axiom-based Grad-CAM: Towards Accurate Visualization and Explanation of CNNs',
    source: 'gradients',
    sums: { a: SUM_A, ga: { wgsl: 'g * a', ref: (a, g) => g * a } },
    weight: { wgsl: `sum_ga / (sum_a + ${XGRADCAM_EPS})`, ref: (s) => s.ga / (s.a + XGRADCAM_EPS) },
    relu: true,
    symbol: 'w',
    formula: [
      `Weight of feature map <var>k</var>: the gradient averaged with the activations as weights, <var>w</var><sub><var>k</var></sub> = ${sum('<var>ij</var>')} ${g()} ${A()} / (${sum('<var>ij</var>')} ${A()} + ε),  ε = 10<sup>−7</sup>.`,
      Lmap('<var>w</var><sub><var>k</var></sub>'),
    ],
  }),
  'smoothgradcam++': channel({
    label: 'Smooth Grad-CAM++',
    paper:
      'Omeiza et al. 2019, Smooth Grad-CAM++: An Enhanced Inference Level Visualization Technique for Deep Convolutional Neural Network Models',
    source: 'noisy-gradients',
    noise: { n: 4, sigma: 0.3, seed: 0 },
    sums: {},
    relu: true,
    symbol: 'w',
    formula: [
      `Grad-CAM++ with the gradient's powers averaged over <var>n</var> noisy copies <var>x</var> + ε<sub><var>s</var></sub>, ε<sub><var>s</var></sub> ~ 𝒩(0, σ²) (<var>n</var> = 4, σ = 0.3 in the normalised input space by default): <var>m</var><sub><var>p</var></sub> = (1/<var>n</var>) ${sum('<var>s</var>')} (${g()})<sup><var>p</var></sup> at each copy.`,
      `<var>w</var><sub><var>k</var></sub> = ${sum('<var>ij</var>')} <var>a</var><sub><var>ij</var></sub> · ReLU(<var>m</var><sub>1</sub>),  <var>a</var><sub><var>ij</var></sub> = <var>m</var><sub>2</sub> / (2<var>m</var><sub>2</sub> + <var>S</var><sub><var>k</var></sub>·<var>m</var><sub>3</sub>),  <var>S</var><sub><var>k</var></sub> = ${sum('<var>ab</var>')} ${A('k', 'ab')} of <var>x</var> itself; <var>L</var><sub><var>ij</var></sub> = ReLU(${sum('<var>k</var>')} <var>w</var><sub><var>k</var></sub> ${A()}). The copies run as one batched forward and backward pass.`,
    ],
  }),
  hirescam: spatial({
    label: 'HiResCAM',
    paper:
      'Draelos & Carin 2020, Use HiResCAM instead of Grad-CAM for faithful explanations of convolutional neural networks',
    term: { wgsl: 'g * a', ref: (a, g) => g * a },
    relu: true,
    formula: [
      `No pooling of the gradient: each position keeps its own, <var>L</var><sub><var>ij</var></sub> = ReLU(${sum('<var>k</var>')} ${g()} ${A()}).`,
      `Then (<var>L</var> − min)/(max − min) and bilinear upsampling. Where the head after the layer is global average pooling and dense layers, every ${g()} is constant over <var>ij</var> and HiResCAM equals Grad-CAM up to scale.`,
    ],
  }),
  'gradcam-elementwise': spatial({
    label: 'Grad-CAM element-wise',
    paper: 'pytorch-grad-cam (Gildenblat and contributors, 2021), GradCAMElementWise: no paper of its own',
    term: { wgsl: 'max(g * a, 0.0)', ref: (a, g) => Math.max(g * a, 0) },
    relu: true,
    formula: [
      `Each position's own term, clipped before the channel sum: <var>L</var><sub><var>ij</var></sub> = ${sum('<var>k</var>')} ReLU(${g()} ${A()}).`,
      `Unlike HiResCAM, a channel whose term is negative at a position cannot cancel another's positive evidence there; the map is non-negative without a final ReLU. Then (<var>L</var> − min)/(max − min) and bilinear upsampling.`,
    ],
  }),
  layercam: spatial({
    label: 'LayerCAM',
    paper: 'Jiang et al. 2021, LayerCAM: Exploring Hierarchical Class Activation Maps for Localization',
    term: { wgsl: 'max(g, 0.0) * a', ref: (a, g) => Math.max(g, 0) * a },
    relu: true,
    formula: [
      `Each activation weighted by its own positive gradient: <var>L</var><sub><var>ij</var></sub> = ReLU(${sum('<var>k</var>')} ReLU(${g()}) · ${A()}).`,
      `Meant for early layers too, where the gradient varies across positions and Grad-CAM's averaged weights blur the map. Then (<var>L</var> − min)/(max − min) and bilinear upsampling.`,
    ],
  }),
  eigencam: eigen({
    label: 'Eigen-CAM',
    paper: 'Muhammad & Yeasin 2020, Eigen-CAM: Class Activation Map using Principal Components',
    term: { wgsl: 'a', ref: (a) => a },
    gradients: false,
    relu: true,
    formula: [
      `No gradients: the activations as a matrix <var>X</var> of ${Z} positions × <var>K</var> channels, centred over the positions, <var>X</var><sub><var>ij</var>,<var>k</var></sub> = ${A()} − (1/${Z}) ${sum('<var>ab</var>')} ${A('k', 'ab')}.`,
      `<var>v</var> = the first right singular vector of <var>X</var> (the top eigenvector of <var>X</var><sup>T</sup><var>X</var>, by power iteration), <var>L</var><sub><var>ij</var></sub> = ReLU(±${sum('<var>k</var>')} <var>X</var><sub><var>ij</var>,<var>k</var></sub> <var>v</var><sub><var>k</var></sub>), the sign chosen so that the largest |value| is positive. The same map for every target class.`,
    ],
  }),
  eigengradcam: eigen({
    label: 'Eigen-Grad-CAM',
    paper:
      'pytorch-grad-cam (Gildenblat and contributors, 2021), EigenGradCAM: Eigen-CAM (Muhammad & Yeasin 2020) of g ⊙ A',
    term: { wgsl: 'g * a', ref: (a, g) => g * a },
    gradients: true,
    relu: true,
    formula: [
      `Eigen-CAM of the class-specific products: <var>X</var><sub><var>ij</var>,<var>k</var></sub> = ${g()} ${A()}, centred over the ${Z} positions.`,
      `<var>L</var><sub><var>ij</var></sub> = ReLU(±${sum('<var>k</var>')} <var>X</var><sub><var>ij</var>,<var>k</var></sub> <var>v</var><sub><var>k</var></sub>) with <var>v</var> the first right singular vector of <var>X</var> and the sign that makes the largest |value| positive.`,
    ],
  }),
  'guided-backprop': inputGradient({
    label: 'Guided Backprop',
    paper: 'Springenberg et al. 2015, Striving for Simplicity: The All Convolutional Net',
    guided: true,
    formula: [
      `The gradient of ${y} with respect to the input pixels, ∂${y}/∂<var>x</var>, where every ReLU passes a gradient back only where its input was positive <em>and</em> the gradient is positive:`,
      `<var>R</var><sub>in</sub> = <var>R</var><sub>out</sub> · [<var>x</var> &gt; 0] · [<var>R</var><sub>out</sub> &gt; 0].`,
    ],
  }),
  'guided-gradcam': inputGradient({
    label: 'Guided Grad-CAM',
    paper: 'Selvaraju et al. 2017',
    guided: true,
    times: 'gradcam',
    formula: [
      `Guided Grad-CAM<sub><var>c</var>, <var>ij</var></sub> = upsample(<var>L</var><sup>Grad-CAM</sup>)<sub><var>ij</var></sub> · GuidedBackprop<sub><var>c</var>, <var>ij</var></sub>  for each input channel <var>c</var>.`,
      `Grad-CAM says <em>where</em> (coarse, class-discriminative), Guided Backprop says <em>which pixels</em> (fine, hardly class-discriminative); the product keeps the fine detail inside the class's region.`,
    ],
  }),
  saliency: inputGradient({
    label: 'Saliency',
    paper:
      'Simonyan et al. 2014, Deep Inside Convolutional Networks: Visualising Image Classification Models and Saliency Maps',
    guided: false,
    magnitude: 'abs',
    formula: [
      `The magnitude of the plain gradient of ${y} with respect to the input, per input channel: |∂${y}/∂<var>x</var><sub><var>c</var>, <var>ij</var></sub>|.`,
      `Simonyan et al. show max<sub><var>c</var></sub> |∂${y}/∂<var>x</var><sub><var>c</var>, <var>ij</var></sub>|, which is how a map with one value per pixel is drawn.`,
    ],
  }),
  'gradient-x-input': inputGradient({
    label: 'Gradient × Input',
    paper:
      'Shrikumar et al. 2016, Not Just a Black Box: Learning Important Features Through Propagating Activation Differences',
    guided: false,
    times: 'input',
    formula: [
      `<var>x</var><sub><var>c</var>, <var>ij</var></sub> · ∂${y}/∂<var>x</var><sub><var>c</var>, <var>ij</var></sub>  per input channel (signed), <var>x</var> the normalised input.`,
      `For a network without biases made of ReLUs and linear layers, these sum to ${y} over all inputs.`,
    ],
  }),
  smoothgrad: inputGradient({
    label: 'SmoothGrad',
    paper: 'Smilkov et al. 2017, SmoothGrad: removing noise by adding noise',
    guided: false,
    samples: { kind: 'smoothgrad', n: 16, sigma: 0.15, seed: 0 },
    formula: [
      `The plain gradient averaged over <var>n</var> noisy copies: (1/<var>n</var>) ${sum('<var>s</var>')} ∂${y}/∂<var>x</var> (<var>x</var> + ε<sub><var>s</var></sub>),  ε<sub><var>s</var></sub> ~ 𝒩(0, σ²),  σ = 0.15 · (max <var>x</var> − min <var>x</var>) of each image by default (signed, per input channel).`,
      `The noise is seeded and the same on every device; the <var>n</var> copies run as one batched forward and backward pass.`,
    ],
  }),
  'guided-smoothgrad': inputGradient({
    label: 'Guided SmoothGrad',
    paper: 'Smilkov et al. 2017 (SmoothGrad applied to Guided Backprop)',
    guided: true,
    samples: { kind: 'smoothgrad', n: 16, sigma: 0.15, seed: 0 },
    formula: [
      `Guided Backprop averaged over the same <var>n</var> noisy copies as SmoothGrad: (1/<var>n</var>) ${sum('<var>s</var>')} GuidedBackprop(<var>x</var> + ε<sub><var>s</var></sub>).`,
    ],
  }),
  'integrated-gradients': inputGradient({
    label: 'Integrated Gradients',
    paper: 'Sundararajan et al. 2017, Axiomatic Attribution for Deep Networks',
    guided: false,
    times: 'input',
    samples: { kind: 'integrated', steps: 32, baseline: 0 },
    formula: [
      `(<var>x</var> − <var>x</var>′) ⊙ (1/<var>m</var>) ${sum('<var>s</var>')} ∂${y}/∂<var>x</var> (<var>x</var>′ + α<sub><var>s</var></sub>(<var>x</var> − <var>x</var>′)),  α<sub><var>s</var></sub> = (<var>s</var> + ½)/<var>m</var>: the midpoint rule for the integral of the gradient along the straight path from the baseline <var>x</var>′ (0 in the normalised input space by default, <var>m</var> = 32).`,
      `Completeness: the attributions sum to ${y}(<var>x</var>) − ${y}(<var>x</var>′), up to the error of the rule.`,
    ],
  }),
  scorecam: perturbation({
    label: 'Score-CAM',
    paper: 'Wang et al. 2020, Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural Networks',
    perturb: 'mask-input',
    relu: true,
    symbol: 'α',
    formula: [
      `Each feature map, upsampled to the input and min–max normalised, masks the input: <var>M</var><sub><var>k</var></sub> = norm(up(<var>A</var><sup><var>k</var></sup>)), one forward pass of <var>x</var> ⊙ <var>M</var><sub><var>k</var></sub> per channel (batched).`,
      `Weight: the class's probability for the masked input, α<sub><var>k</var></sub> = softmax(<var>y</var>(<var>x</var> ⊙ <var>M</var><sub><var>k</var></sub>))<sup><var>c</var></sup>; no gradient. ${Lmap('α<sub><var>k</var></sub>')}`,
    ],
  }),
  ablationcam: perturbation({
    label: 'Ablation-CAM',
    paper:
      'Desai & Ramaswamy 2020, Ablation-CAM: Visual Explanations for Deep Convolutional Network via Gradient-free Localization',
    perturb: 'ablate-channel',
    relu: true,
    symbol: 'w',
    formula: [
      `Channel <var>k</var> of the layer is set to zero and the network run from the layer onward (batched, one copy per channel): ${y}<sub><var>k</var></sub> is the class score without it.`,
      `Weight: the relative drop, <var>w</var><sub><var>k</var></sub> = (${y} − ${y}<sub><var>k</var></sub>) / ${y}  (0 where ${y} = 0). ${Lmap('<var>w</var><sub><var>k</var></sub>')}`,
    ],
  }),
} as const satisfies Record<string, MethodDescriptor>;

type Registry = typeof METHOD_REGISTRY;

export type Method = keyof Registry;
export type ChannelMethodName = { [M in Method]: Registry[M]['family'] extends 'channel' ? M : never }[Method];
export type SpatialMethodName = { [M in Method]: Registry[M]['family'] extends 'spatial' ? M : never }[Method];
export type EigenMethodName = { [M in Method]: Registry[M]['family'] extends 'eigen' ? M : never }[Method];
export type InputGradientMethodName = {
  [M in Method]: Registry[M]['family'] extends 'input-gradient' ? M : never;
}[Method];

export type PerturbationMethodName = {
  [M in Method]: Registry[M]['family'] extends 'perturbation' ? M : never;
}[Method];

/** Every method, in the registry's (display) order. */
export const METHODS = Object.keys(METHOD_REGISTRY) as Method[];

export function isMethod(m: unknown): m is Method {
  return typeof m === 'string' && Object.hasOwn(METHOD_REGISTRY, m);
}

export function methodOf(m: Method): MethodDescriptor {
  return METHOD_REGISTRY[m];
}

/** A channel method's descriptor, typed. */
export function channelMethod(m: ChannelMethodName): ChannelMethod {
  return METHOD_REGISTRY[m];
}

export function spatialMethod(m: SpatialMethodName): SpatialMethod {
  return METHOD_REGISTRY[m];
}

export function inputGradientMethod(m: InputGradientMethodName): InputGradientMethod {
  return METHOD_REGISTRY[m];
}

export function eigenMethod(m: EigenMethodName): EigenMethod {
  return METHOD_REGISTRY[m];
}

export function isChannel(m: Method): m is ChannelMethodName {
  return METHOD_REGISTRY[m].family === 'channel';
}

export function isSpatial(m: Method): m is SpatialMethodName {
  return METHOD_REGISTRY[m].family === 'spatial';
}

/**
 * Methods that run many more passes than one forward and one backward (SmoothGrad's,
 * Integrated Gradients' and Smooth Grad-CAM++'s batches of copies of the input; Score-CAM's and Ablation-CAM's one
 * forward per channel): the demo computes them while selected, and the benchmark's "all
 * methods" scenario and the soak leave them out.
 */
export function isMultiPass(m: Method): boolean {
  const d = METHOD_REGISTRY[m] as MethodDescriptor;
  return (
    (d.family === 'input-gradient' && d.samples !== undefined) ||
    d.family === 'perturbation' ||
    (d.family === 'channel' && d.source === 'noisy-gradients')
  );
}

export function isInputGradient(m: Method): m is InputGradientMethodName {
  return METHOD_REGISTRY[m].family === 'input-gradient';
}

export function isEigen(m: Method): m is EigenMethodName {
  return METHOD_REGISTRY[m].family === 'eigen';
}

/** Whether the method reads the gradient at the layer (every one but CAM and Eigen-CAM). */
export function needsLayerGradient(m: Method): boolean {
  const d = METHOD_REGISTRY[m] as MethodDescriptor;
  if (d.family === 'channel') return d.source === 'gradients';
  if (d.family === 'eigen') return d.gradients;
  return d.family === 'spatial';
}

export function perturbationMethod(m: PerturbationMethodName): PerturbationMethod {
  return METHOD_REGISTRY[m];
}

export function isPerturbation(m: Method): m is PerturbationMethodName {
  return METHOD_REGISTRY[m].family === 'perturbation';
}
