// finite: what the attribution and display kernels do with values that are not finite (NaN,
// ±Infinity), so that their outputs are finite whatever comes in. Values are classified by their
// bits: WGSL lets an implementation assume that floats are finite, so tests such as `x != x` or
// `abs(x) > F32_MAX` may be compiled away; integer tests on bitcast<u32>(x) may not.
//
// Provides:
//   F32_MAX                         the largest finite f32.
//   is_finite(x)                    false for NaN and ±Infinity.
//   finite(x)                       x when finite; NaN → 0, +Infinity → F32_MAX, −Infinity → −F32_MAX.
//   unit_range(v, lo, hi)           (v − lo) / (hi − lo) for finite lo ≤ v ≤ hi, in [0, 1]; 0 when
//                                   hi == lo. Where hi − lo overflows, the same ratio from halved
//                                   operands (exact scaling), so the result is never NaN; otherwise
//                                   the plain formula, bit for bit.

const F32_MAX: f32 = 3.40282346638528859812e38;

fn is_finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

fn finite(x: f32) -> f32 {
  let bits = bitcast<u32>(x);
  if ((bits & 0x7f800000u) != 0x7f800000u) {
    return x;
  }
  if ((bits & 0x007fffffu) != 0u) {
    return 0.0;
  }
  return select(F32_MAX, -F32_MAX, (bits & 0x80000000u) != 0u);
}

fn unit_range(v: f32, lo: f32, hi: f32) -> f32 {
  let range = hi - lo;
  if (!(range > 0.0)) {
    return 0.0;
  }
  if (is_finite(range)) {
    return (v - lo) / range;
  }
  return (0.5 * v - 0.5 * lo) / (0.5 * hi - 0.5 * lo);
}
