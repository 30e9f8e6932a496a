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

export function isChannel(m: Method): m is ChannelMethodName {
  return METHOD_REGISTRY[m].family === 'channel';
}

export function isSpatial(m: Method): m is SpatialMethodName {
  return METHOD_REGISTRY[m].family === 'spatial';
}

export function isInputGradient(m: Method): m is InputGradientMethodName {
  return METHOD_REGISTRY[m].family === 'input-gradient';
}

export function perturbationMethod(m: PerturbationMethodName): PerturbationMethod {
  return METHOD_REGISTRY[m];
}

export function isPerturbation(m: Method): m is PerturbationMethodName {
  return METHOD_REGISTRY[m].family === 'perturbation';
}
