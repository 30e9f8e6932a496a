/**
 * The formula each method applies, as HTML (notation of docs/METHODS.md): y^c the class score
 * before the softmax, A^k the k-th feature map of the chosen layer (h×w, Z = h·w),
 * g^k_ij = ∂y^c/∂A^k_ij.
 */
import type { Method } from '../../src/attribution/explain';

const y = '<var>y</var><sup><var>c</var></sup>';
const A = (k = 'k', ij = 'ij') => `<var>A</var><sup><var>${k}</var></sup><sub><var>${ij}</var></sub>`;
const g = (ij = 'ij') => `<var>g</var><sup><var>k</var></sup><sub><var>${ij}</var></sub>`;
const sum = (under: string) => `Σ<sub>${under}</sub>`;

const FORMULAS: Record<Method, string[]> = {
  cam: [
    `The head is ${y} = ${sum('<var>k</var>')} <var>w</var><sup><var>c</var></sup><sub><var>k</var></sub> · GAP(<var>A</var><sup><var>k</var></sup>) + <var>b</var><sub><var>c</var></sub>, so each feature map's weight is read from the linear layer: <var>w</var><sup><var>c</var></sup><sub><var>k</var></sub> = <var>W</var>[<var>c</var>, <var>k</var>].`,
    `<var>M</var><sup><var>c</var></sup><sub><var>ij</var></sub> = ${sum('<var>k</var>')} <var>w</var><sup><var>c</var></sup><sub><var>k</var></sub> ${A()}   (signed, no ReLU), shown min–max normalised.`,
  ],
  gradcam: [
    `Weight of feature map <var>k</var>: the average gradient, α<sub><var>k</var></sub> = (1/<var>Z</var>) ${sum('<var>ij</var>')} ${g()},  with ${g()} = ∂${y}/∂${A()}.`,
    `<var>L</var><sub><var>ij</var></sub> = ReLU(${sum('<var>k</var>')} α<sub><var>k</var></sub> ${A()}), then (<var>L</var> − min)/(max − min) and bilinear upsampling to the input.`,
  ],
  counterfactual: [
    `Negated gradients: α<sub><var>k</var></sub> = −(1/<var>Z</var>) ${sum('<var>ij</var>')} ${g()}.`,
    `<var>L</var><sub><var>ij</var></sub> = ReLU(${sum('<var>k</var>')} α<sub><var>k</var></sub> ${A()}): the regions whose evidence <em>lowers</em> ${y}; removing them would raise the score.`,
  ],
  'gradcam++': [
    `Weight of feature map <var>k</var>: <var>w</var><sub><var>k</var></sub> = ${sum('<var>ij</var>')} <var>a</var><sup><var>k</var></sup><sub><var>ij</var></sub> · ReLU(${g()}),  with <var>a</var><sup><var>k</var></sup><sub><var>ij</var></sub> = <var>g</var>² / (2<var>g</var>² + <var>S</var><sub><var>k</var></sub>·<var>g</var>³),  <var>g</var> = ${g()},  <var>S</var><sub><var>k</var></sub> = ${sum('<var>ab</var>')} ${A('k', 'ab')}  (<var>a</var> = 0 where the denominator is 0).`,
    `<var>L</var><sub><var>ij</var></sub> = ReLU(${sum('<var>k</var>')} <var>w</var><sub><var>k</var></sub> ${A()}). Only positive gradients count, each position weighted by <var>a</var>, so several smaller instances of a class can all contribute.`,
  ],
  'guided-backprop': [
    `The gradient of ${y} with respect to the input pixels, ∂${y}/∂<var>x</var>, where every ReLU passes a gradient back only where its input was positive <em>and</em> the gradient is positive:`,
    `<var>R</var><sub>in</sub> = <var>R</var><sub>out</sub> · [<var>x</var> &gt; 0] · [<var>R</var><sub>out</sub> &gt; 0].`,
  ],
  'guided-gradcam': [
    `Guided Grad-CAM<sub><var>c</var>, <var>ij</var></sub> = upsample(<var>L</var><sup>Grad-CAM</sup>)<sub><var>ij</var></sub> · GuidedBackprop<sub><var>c</var>, <var>ij</var></sub>  for each input channel <var>c</var>.`,
    `Grad-CAM says <em>where</em> (coarse, class-discriminative), Guided Backprop says <em>which pixels</em> (fine, hardly class-discriminative); the product keeps the fine detail inside the class's region.`,
  ],
};

export function formulaHTML(m: Method): string {
  return FORMULAS[m].map((line) => `<p>${line}</p>`).join('');
}
