// pcg_normal: the seeded standard normal values of src/methods/sampling.ts (noiseAt) in float32:
// SmoothGrad's and Smooth Grad-CAM++'s noise (input_perturb.wgsl) and ROAD's (road_impute.wgsl).
//
// Provides:
//   pcg(v)           the PCG-RXS-M-XS 32-bit hash (Jarzynski & Olano 2020), wrapping u32 arithmetic;
//   normal(key, e)   z = −sqrt(−2·ln u1)·cos(2π·(u2 − ½)) with u1 = ((pcg(key + 2e) >> 8) + 1)·2⁻²⁴,
//                    u2 = (pcg(key + 2e + 1) >> 8)·2⁻²⁴ (Box–Muller), ln and cos by the
//                    polynomials below (a few float32 ulps on every device; WGSL leaves the
//                    builtins' accuracy to the implementation).
// The key of a stream is pcg(pcg(pcg(seed) + s) + i), as sampling.ts's noiseKey(seed, s, i).

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
