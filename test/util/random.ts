/** Seeded random data for tests (mulberry32 + Box–Muller), so every failure reproduces. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    const v = r();
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

/** Values kept at least `gap` away from zero (for finite differences across ReLU kinks). */
export function randnAwayFromZero(n: number, seed: number, gap = 0.05): Float32Array {
  const x = randn(n, seed);
  for (let i = 0; i < n; i++) if (Math.abs(x[i]) < gap) x[i] = x[i] < 0 ? x[i] - gap : x[i] + gap;
  return x;
}
