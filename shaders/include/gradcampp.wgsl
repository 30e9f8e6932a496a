// gradcampp: Grad-CAM++'s per-position coefficient, shared by channel_weights.wgsl (the
// channel weights) and gradcampp_alpha.wgsl (the coefficients the demo shows), so both compute
// the same float32 expression in the same order. CPU reference: gradcamppA() in
// src/methods/registry.ts.
//
//   a = g² / (2g² + S·g³), and 0 where the denominator is 0,
//   g = ∂y^c/∂A^k_ij at one position, S = Σ_ab A^k_ab over the channel's map.

fn gradcampp_a(g: f32, S: f32) -> f32 {
  let g2 = g * g;
  let den = 2.0 * g2 + S * g2 * g;
  return select(0.0, g2 / den, den != 0.0);
}
