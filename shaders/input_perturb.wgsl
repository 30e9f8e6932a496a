// input_perturb: the perturbed copies of the input for the sampled input-gradient methods.
//   SMOOTHGRAD   out = x + σ·z, σ = p.sigma · (max − min of image i's values) (with ABSOLUTE,
//                σ = p.sigma: Smooth Grad-CAM++'s copies), z a standard normal
//                value from the integer hash below (src/methods/sampling.ts has the same generator
//                for the CPU reference): key = pcg(pcg(pcg(seed) + s) + i), b1 = pcg(key + 2e),
//                b2 = pcg(key + 2e + 1), u1 = ((b1 >> 8) + 1)·2⁻²⁴, u2 = (b2 >> 8)·2⁻²⁴,
//                z = −sqrt(−2·ln u1)·cos(2π·(u2 − ½)) (Box–Muller; pcg_normal.wgsl), ln and cos by
//                its polynomials (a few float32 ulps on every device: WGSL leaves the builtins'
//                accuracy to the implementation: with the builtin log and cos, SwiftShader's z was off by
//                up to ~6e-4);
//   else         Integrated Gradients' path point out = x' + α·(x − x'), x' = p.baseline,
//                α = (s + ½)/p.steps (midpoint rule).
// s = p.s0 + (local copy) is the copy's index among all copies of the explanation, so a copy's
// values do not depend on how the copies are split into chunks.
//
// Layout: x [N, C, H, W]; out [S, N, C, H, W] (row j = s_local·N + i holds copy s of image i);
// p.chw = C·H·W.
// Threads: one workgroup per row j (workgroup id wg.y * nwg.x + wg.x); invocation lid.x handles
// elements lid.x, lid.x + WG, … of it. With SMOOTHGRAD the workgroup first reduces image i's
// min and max (minmax_reduce.wgsl).
// Edges: workgroups past p.rows return as a whole.

struct Params {
  rows: u32,
  n: u32,
  chw: u32,
  s0: u32,
  seed: u32,
  steps: u32,
  sigma: f32,
  baseline: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 256;

#if SMOOTHGRAD
#include "minmax_reduce"
#include "pcg_normal"
#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let j = wg.y * nwg.x + wg.x;
  if (j >= p.rows) {
    return;
  }
  let s = p.s0 + j / p.n;
  let i = j % p.n;
  let src = i * p.chw;
  let dst = j * p.chw;
#if SMOOTHGRAD
#if ABSOLUTE
  let sigma = p.sigma;
#else
  var lo = 3e38;
  var hi = -3e38;
  for (var e = lid.x; e < p.chw; e += WG) {
    lo = min(lo, x[src + e]);
    hi = max(hi, x[src + e]);
  }
  let range = minmax_reduce(lid.x, lo, hi);
  let sigma = p.sigma * (range.y - range.x);
#endif
  let key = pcg(pcg(pcg(p.seed) + s) + i);
  for (var e = lid.x; e < p.chw; e += WG) {
    out[dst + e] = x[src + e] + sigma * normal(key, e);
  }
#else
  let alpha = (f32(s) + 0.5) / f32(p.steps);
  for (var e = lid.x; e < p.chw; e += WG) {
    out[dst + e] = p.baseline + alpha * (x[src + e] - p.baseline);
  }
#endif
}
