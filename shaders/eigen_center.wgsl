// eigen_center: the matrix of an eigen method (Eigen-CAM, Eigen-Grad-CAM), centred over the
// positions, for every source row s:
//
//   x_kj = term(A^k_j, G^k_j)             (finite(): NaN → 0, ±Infinity → ±F32_MAX)
//   X[s, k, j] = finite(x_kj − mean_j x_kj)
//
// so that X[s] read as a [Z, K] matrix (row j = position, column k = channel) has columns of
// mean 0. A template: src/attribution/kernels.ts fills {{term}} in from the method's descriptor
// (src/methods/registry.ts), an expression in a = A^k_j and g = G^k_j; without GRAD the
// gradient is not bound and g is 0. WEIGHTED (the eigenSmooth option of the channel methods,
// term 'w * a'): w = weights[w_offset + s·K + k], the row's channel weight; otherwise w = 1.
//
// Layout: A [N, K, h, w]; G [S, K, h, w] (GRAD only); weights [M, S, K] (WEIGHTED only; this
// slot's rows from w_offset); X [S, K, h, w]; Z = h·w. Row s uses image s % N (Eigen-CAM runs on
// the N images, S = N; Eigen-Grad-CAM and the weighted maps on the S = T·N rows).
// Threads: one invocation per (s, k), global index (wg.y · nwg.x + wg.x) · WG + lid.x = s·K + k:
// a serial loop over the Z positions for the mean, a second one writing X. No barriers.
// Edges: invocations past S·K return.

struct Params {
  rows: u32,
  n: u32,
  k: u32,
  z: u32,
  w_offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
#if GRAD
@group(0) @binding(2) var<storage, read> G: array<f32>;
#endif
#if WEIGHTED
@group(0) @binding(4) var<storage, read> weights: array<f32>;
#endif
@group(0) @binding(3) var<storage, read_write> X: array<f32>;

override WG: u32 = 64;

#include "finite"

fn term(a: f32, g: f32, w: f32) -> f32 {
  return finite({{term}});
}

fn value(s: u32, k: u32, j: u32) -> f32 {
  let i = s % p.n;
  let a = A[(i * p.k + k) * p.z + j];
#if GRAD
  let g = G[(s * p.k + k) * p.z + j];
#else
  let g = 0.0;
#endif
#if WEIGHTED
  let w = weights[p.w_offset + s * p.k + k];
#else
  let w = 1.0;
#endif
  return term(a, g, w);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let id = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (id >= p.rows * p.k) {
    return;
  }
  let s = id / p.k;
  let k = id % p.k;
  var sum = 0.0;
  for (var j = 0u; j < p.z; j++) {
    sum += value(s, k, j);
  }
  let mean = finite(finite(sum) / f32(p.z));
  let base = id * p.z;
  for (var j = 0u; j < p.z; j++) {
    X[base + j] = finite(value(s, k, j) - mean);
  }
}
