/**
 * The method registry is consistent: a sum's name means one expression everywhere (the fused
 * kernel shares it between methods), every descriptor has what explain(), the reference and the
 * demo read from it, and the shared Grad-CAM++ coefficient is the published formula.
 */
import { describe, expect, it } from 'vitest';
import {
  channelMethod,
  eigenMethod,
  gradcamppA,
  inputGradientMethod,
  isChannel,
  isEigen,
  isInputGradient,
  isMethod,
  methodOf,
  METHODS,
  needsLayerGradient,
} from '../../src/methods/registry';
import { checkSamplingOptions, noiseAt, noiseKey, pcg } from '../../src/methods/sampling';
import type { Term } from '../../src/methods/types';
import { randn } from '../util/random';

describe('method registry', () => {
  it('a sum name means one WGSL expression and one reference across all methods', () => {
    const seen = new Map<string, { term: Term; by: string }>();
    const samples = Array.from(randn(40, 3));
    for (const m of METHODS.filter(isChannel)) {
      const d = channelMethod(m);
      for (const [name, term] of [...Object.entries(d.sums), ...Object.entries(d.sums2 ?? {})]) {
        const prev = seen.get(name);
        if (!prev) {
          seen.set(name, { term, by: m });
          continue;
        }
        expect(term.wgsl, `sum_${name} of ${m} vs ${prev.by}`).toBe(prev.term.wgsl);
        for (let i = 0; i + 2 < samples.length; i += 3) {
          const s = { a: samples[i + 2] };
          expect(term.ref(samples[i], samples[i + 1], s)).toBe(prev.term.ref(samples[i], samples[i + 1], s));
        }
      }
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('channel methods: weights from the gradients have a weight formula; the linear-head one has none', () => {
    for (const m of METHODS.filter(isChannel)) {
      const d = channelMethod(m);
      if (d.source === 'gradients') {
        expect(d.weight, m).toBeDefined();
        expect(Object.keys(d.sums).length, m).toBeGreaterThan(0);
        // Every sum the weight reads is one of the method's own.
        for (const used of d.weight!.wgsl.matchAll(/sum_(\w+)/g)) {
          expect({ ...d.sums, ...d.sums2 }, `${m} reads sum_${used[1]}`).toHaveProperty(used[1]);
        }
      } else {
        expect(d.weight, m).toBeUndefined();
      }
    }
  });

  it('an input-gradient method multiplies by the input or by a channel method whose weights come from gradients', () => {
    for (const m of METHODS.filter(isInputGradient)) {
      const times = inputGradientMethod(m).times;
      if (times === undefined || times === 'input') continue;
      expect(isMethod(times) && isChannel(times), `${m} times ${times}`).toBe(true);
      expect(channelMethod(times as never).source).toBe('gradients');
    }
  });

  it("the sampled input-gradient methods' defaults are valid explain options", () => {
    const sampled = METHODS.filter(isInputGradient).filter((m) => inputGradientMethod(m).samples);
    expect(sampled.length).toBeGreaterThan(0);
    for (const m of sampled) {
      const s = inputGradientMethod(m).samples!;
      const opts =
        s.kind === 'smoothgrad'
          ? { smoothgrad: { samples: s.n, sigma: s.sigma, seed: s.seed } }
          : { integratedGradients: { steps: s.steps, baseline: s.baseline } };
      expect(() => checkSamplingOptions(opts), m).not.toThrow();
      // Integrated Gradients without the factor x − x' would not be complete.
      if (s.kind === 'integrated') expect(inputGradientMethod(m).times, m).toBe('input');
    }
  });

  it('the noise generator: PCG hash values, and standard normal statistics', () => {
    // The hash in exact BigInt arithmetic (mod 2³²), against the Math.imul version.
    const M = 2n ** 32n;
    const pcgBig = (v: bigint) => {
      const state = (v * 747796405n + 2891336453n) % M;
      const word = (((state >> ((state >> 28n) + 4n)) ^ state) * 277803737n) % M;
      return Number((word >> 22n) ^ word);
    };
    for (const v of [0, 1, 2, 12345, 0xffffffff, 0x80000000]) expect(pcg(v), `pcg(${v})`).toBe(pcgBig(BigInt(v)));
    const z = Array.from({ length: 20000 }, (_, e) => noiseAt(noiseKey(9, e % 7, e % 3), e));
    const mean = z.reduce((a, b) => a + b, 0) / z.length;
    const sd = Math.sqrt(z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length);
    // Standard errors for 20000 samples: 0.007 (mean), 0.005 (sd): 4 of them.
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.02);
  });

  it('an eigen method reads g exactly when it says it uses gradients (Eigen-CAM needs no backward pass)', () => {
    const eigen = METHODS.filter(isEigen);
    expect(eigen.length).toBeGreaterThan(1);
    const r = Array.from(randn(20, 4));
    for (const m of eigen) {
      const d = eigenMethod(m);
      const readsG = r.some((a, i) => d.term.ref(a, r[(i + 1) % 20], {}) !== d.term.ref(a, 0, {}));
      expect(readsG, m).toBe(d.gradients);
      expect(/\bg\b/.test(d.term.wgsl), `${m}: ${d.term.wgsl}`).toBe(d.gradients);
      expect(needsLayerGradient(m), m).toBe(d.gradients);
    }
    expect(needsLayerGradient('cam')).toBe(false);
    expect(needsLayerGradient('gradcam')).toBe(true);
  });

  it('every method has a label, a formula and its paper', () => {
    const labels = new Set<string>();
    for (const m of METHODS) {
      const d = methodOf(m);
      expect(d.label.length, m).toBeGreaterThan(0);
      expect(labels.has(d.label), `label ${d.label} used twice`).toBe(false);
      labels.add(d.label);
      expect(d.formula.length, m).toBeGreaterThan(0);
      expect(d.paper.length, m).toBeGreaterThan(0);
    }
  });

  it("Grad-CAM++'s coefficient: g²/(2g² + S·g³), 0 where the denominator is 0", () => {
    // A = [1, 3] (S = 4), g = 0.5: 0.25 / (0.5 + 0.5); g = −1: 1 / (2 − 4).
    expect(gradcamppA(0.5, 4)).toBe(0.25);
    expect(gradcamppA(-1, 4)).toBe(-0.5);
    expect(gradcamppA(0, 4)).toBe(0);
    expect(gradcamppA(-1, 2)).toBe(0); // 2 − 2 = 0
  });
});
