/**
 * The error function in float64, for the CPU reference (erf, GELU): accurate to about 1e-15.
 * |x| < 1.5: its Taylor series 2/√π · Σ (−1)^n x^(2n+1) / (n!·(2n+1)), summed until the terms stop
 * changing the sum; |x| ≥ 1.5: erfc from its continued fraction (modified Lentz), erf = 1 − erfc.
 */
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a < 1.5) {
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const next = sum + term / (2 * n + 1);
      if (next === sum) break;
      sum = next;
    }
    return TWO_OVER_SQRT_PI * sum;
  }
  if (a > 6) return Math.sign(x);
  return Math.sign(x) * (1 - erfcLarge(a));
}

/** erfc(a) for a ≥ 1.5: e^(−a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + …))))). */
function erfcLarge(a: number): number {
  const tiny = 1e-300;
  let f = a;
  let C = a;
  let D = 0;
  for (let n = 1; n < 500; n++) {
    const an = n / 2;
    D = a + an * D;
    D = Math.abs(D) < tiny ? tiny : D;
    C = a + an / C;
    C = Math.abs(C) < tiny ? tiny : C;
    D = 1 / D;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-a * a) / (Math.sqrt(Math.PI) * f);
}
