// smooth_gradcampp_weights: Smooth Grad-CAM++'s channel weights for every (row b, channel k),
// from the gradients at S noisy copies of the input and the activations of the input itself:
//
//   m_p(j) = (1/S) Σ_s g_s(j)^p   (p = 1, 2, 3; g_s the gradient at copy s, position j)
//   S_k    = Σ_j A^k_j
//   w_k    = Σ_j smooth_gradcampp_a(m2, m3, S_k) · max(m1, 0)      (include/gradcampp.wgsl)
//
// stored as finite(w_k) (include/finite.wgsl). Z = h·w.
// Layout: A [N, K, h, w] the unperturbed activations; G [T·S·N, K, h, w] the copies' gradients,
// row (t·S + s)·N + i for copy s of image i and target t; weights [M, B, K], B = T·N, row
// b = t·N + i written at ((p.slot·B + b)·K + k).
// Threads: one invocation per (b, k), index (wg.y·nwg.x + wg.x)·WG + lid.x = b·K + k, looping
// over its map twice (S_k, then the moments and the sum); no workgroup memory, no barriers.
// Edges: invocations past B·K return.

#include "finite"
#include "gradcampp"

struct Params {
  rows: u32,
  n: u32,
  k: u32,
  z: u32,
  copies: u32,
  slot: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> weights: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let id = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (id >= p.rows * p.k) {
    return;
  }
  let b = id / p.k;
  let k = id % p.k;
  let t = b / p.n;
  let i = b % p.n;
  let a_base = (i * p.k + k) * p.z;
  var s_k = 0.0;
  for (var j = 0u; j < p.z; j++) {
    s_k += A[a_base + j];
  }
  let inv = 1.0 / f32(p.copies);
  var w = 0.0;
  for (var j = 0u; j < p.z; j++) {
    var m1 = 0.0;
    var m2 = 0.0;
    var m3 = 0.0;
    for (var s = 0u; s < p.copies; s++) {
      let g = G[(((t * p.copies + s) * p.n + i) * p.k + k) * p.z + j];
      m1 += g;
      m2 += g * g;
      m3 += g * g * g;
    }
    w += smooth_gradcampp_a(m2 * inv, m3 * inv, s_k) * max(m1 * inv, 0.0);
  }
  weights[(p.slot * p.rows + b) * p.k + k] = finite(w);
}
