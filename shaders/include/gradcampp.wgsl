// gradcampp: Grad-CAM++'s per-position coefficient, shared by channel_weights.wgsl (the
// channel weights) and gradcampp_alpha.wgsl (the coefficients the demo shows), so both compute
// the same float32 expression in the same order. CPU reference: gradcamppA() in
// src/methods/registry.ts.
//
//   a = g² / (2g² + S·g³), and 0 where the denominator is 0,
//   g = ∂y^c/∂A^k_ij at one position, S = Σ_ab A^k_ab over the channel's map.
//
// And Smooth Grad-CAM++'s (smooth_gradcampp_weights.wgsl; CPU reference smoothGradcamppA()),
// from the means over the noisy copies m2 = mean g², m3 = mean g³:
//
//   a = m2 / (2·m2 + S·m3), and 0 where the denominator is 0.

fn gradcampp_a(g: f32, S: f32) -> f32 {
  let g2 = g * g;
  let den = 2.0 * g2 + S * g2 * g;
  return select(0.0, g2 / den, den != 0.0);
}

fn smooth_gradcampp_a(m2: f32, m3: f32, S: f32) -> f32 {
  let den = 2.0 * m2 + S * m3;
  return select(0.0, m2 / den, den != 0.0);
}
