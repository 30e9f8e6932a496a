// gradcampp_alpha: Grad-CAM++'s per-position coefficients for a few chosen channels of one
// (target, image) row, so that a learner can see them:
//
//   a^k_ij = g² / (2g² + S_k · g³)    g = g^k_ij = ∂y^c/∂A^k_ij,  S_k = Σ_ab A^k_ab,
//   a^k_ij = 0 where the denominator is 0; finite(a) (include/finite.wgsl) where a is not
//   finite, so the output is finite whatever comes in
//
// (gradcampp_a() of include/gradcampp.wgsl: the same expression, in the same float32 order, as
// the Grad-CAM++ weights of channel_weights.wgsl, w^c_k = Σ_ij a^k_ij · ReLU(g^k_ij)).
//
// Layout: A [N, K, h, w], its image's channels start at element p.a_base (= i·K·Z); G
// [B, K, h, w], the row's channels start at p.g_base (= b·K·Z); ids [M] channel indices as
// float32; out [M, h, w], Z = h·w.
// Threads: one workgroup per chosen channel (workgroup index (wg.y * nwg.x + wg.x) = m). Its WG
// invocations stride over the Z positions summing A^k, a workgroup tree reduction gives S_k,
// then each invocation writes a^k at the positions it strides over.
// Edges: workgroups past M return (uniformly, before any barrier); an id >= K writes zeros.

#include "finite"
#include "gradcampp"
#include "sum_max_reduce"

struct Params {
  count: u32,
  k: u32,
  z: u32,
  a_base: u32,
  g_base: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read> ids: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let m = wg.y * nwg.x + wg.x;
  if (m >= p.count) {
    return;
  }
  let ch = u32(ids[m]);
  let valid = ch < p.k;
  let a_base = p.a_base + ch * p.z;
  let g_base = p.g_base + ch * p.z;

  var s = 0.0;
  if (valid) {
    for (var j = lid.x; j < p.z; j += WG) {
      s += A[a_base + j];
    }
  }
  let sum_a = sum_reduce(lid.x, s);
  for (var j = lid.x; j < p.z; j += WG) {
    var a = 0.0;
    if (valid) {
      a = finite(gradcampp_a(G[g_base + j], sum_a));
    }
    out[m * p.z + j] = a;
  }
}
