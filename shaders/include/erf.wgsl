// erf: the error function for the elementwise kernels, on their type T (f32 or vec4f; the
// including kernel declares `alias T`). CPU reference: erf() in src/core/erf.ts (float64).
//
//   |x| < 0.5   Taylor series of 2/√π · Σ (−1)^n x^(2n+1) / (n!·(2n+1)), six terms (the next is
//               below 1.5e-8), so small arguments keep their relative accuracy;
//   otherwise   Abramowitz & Stegun 7.1.26: 1 − t·(a1 + t·(a2 + … + t·a5))·exp(−x²),
//               t = 1/(1 + 0.3275911·|x|), absolute error ≤ 1.5e-7, with the sign of x.
// Together: |erf_t(x) − erf(x)| ≤ 2e-7 (float32 rounding included) for every x.

fn erf_t(x: T) -> T {
  let a = abs(x);
  let x2 = x * x;
  let series = x * (T(1.1283791671) + x2 * (T(-0.3761263890) + x2 * (T(0.1128379167) +
               x2 * (T(-0.0268661706) + x2 * (T(0.0052239776) + x2 * T(-0.0008548327))))));
  let t = T(1.0) / (T(1.0) + T(0.3275911) * a);
  let poly = t * (T(0.254829592) + t * (T(-0.284496736) + t * (T(1.421413741) +
             t * (T(-1.453152027) + t * T(1.061405429)))));
  let tail = sign(x) * (T(1.0) - poly * exp(-x2));
  return select(tail, series, a < T(0.5));
}
