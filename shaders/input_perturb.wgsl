// input_perturb: the perturbed copies of the input for the sampled input-gradient methods.
//   SMOOTHGRAD   out = x + σ·z, σ = p.sigma · (max − min of image i's values) (with ABSOLUTE,
//                σ = p.sigma: Smooth Grad-CAM++'s copies), z a standard normal
//                value from the integer hash below (src/methods/sampling.ts has the same generator
//                for the CPU reference): key = pcg(pcg(pcg(seed) + s) + i), b1 = pcg(key + 2e),
//                b2 = pcg(key + 2e + 1), u1 = ((b1 >> 8) + 1)·2⁻²⁴, u2 = (b2 >> 8)·2⁻²⁴,
//                z = −sqrt(−2·ln u1)·cos(2π·(u2 − ½)) (Box–Muller), ln and cos by the
//                polynomials below (a few float32 ulps on every device: WGSL leaves the builtins'
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

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// ln(u) for normal floats u > 0: u = m·2^e with m in [√½, √2), ln m = 2·atanh(t),
// t = (m − 1)/(m + 1), |t| ≤ 0.1716, by its series to t⁹ (truncation below 1e-9).
fn ln_pos(u: f32) -> f32 {
  let bits = bitcast<u32>(u);
  var e = i32((bits >> 23u) & 0xffu) - 127;
  var m = bitcast<f32>((bits & 0x007fffffu) | 0x3f800000u);
  if (m > 1.4142135) {
    m = m * 0.5;
    e = e + 1;
  }
  let t = (m - 1.0) / (m + 1.0);
  let t2 = t * t;
  let s = t * (2.0 + t2 * (0.6666667 + t2 * (0.4 + t2 * (0.2857143 + t2 * 0.22222222))));
  // ln 2 = hi + lo, hi with 15 significant bits, so f32(e)·hi is exact for |e| < 2⁸.
  return f32(e) * 0.693145751953125 + (s + f32(e) * 1.4286068e-6);
}

// cos(2π·v) for v in [−½, ½]: folded (exactly) to an angle a in [0, π/4], where cos a or, for
// cos(π/2 − a), sin a is a Taylor polynomial (truncation below 2e-9).
fn cos_2pi(v: f32) -> f32 {
  var w = abs(v);
  var sign = 1.0;
  if (w > 0.25) {
    w = 0.5 - w;
    sign = -1.0;
  }
  if (w > 0.125) {
    let a = 6.2831855 * (0.25 - w);
    let a2 = a * a;
    return sign * a * (1.0 - a2 / 6.0 * (1.0 - a2 / 20.0 * (1.0 - a2 / 42.0 * (1.0 - a2 / 72.0))));
  }
  let a = 6.2831855 * w;
  let a2 = a * a;
  return sign * (1.0 - a2 / 2.0 * (1.0 - a2 / 12.0 * (1.0 - a2 / 30.0 * (1.0 - a2 / 56.0 * (1.0 - a2 / 90.0)))));
}

fn normal(key: u32, e: u32) -> f32 {
  let b1 = pcg(key + 2u * e);
  let b2 = pcg(key + 2u * e + 1u);
  let u1 = f32((b1 >> 8u) + 1u) * 5.9604644775390625e-8;
  let u2 = f32(b2 >> 8u) * 5.9604644775390625e-8;
  return -sqrt(-2.0 * ln_pos(u1)) * cos_2pi(u2 - 0.5);
}
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
