// eigen_gram: the Gram matrix of the smaller side of each row's centred [Z, K] matrix X
// (eigen_center.wgsl), whose top eigenvector gives the first principal component:
//
//   channels  (K ≤ Z, default)   C[s, p, q] = Σ_j X[s, p, j] · X[s, q, j]     D = K   (XᵀX)
//   POSITIONS (Z < K)            C[s, p, q] = Σ_k X[s, k, p] · X[s, k, q]     D = Z   (XXᵀ)
//
// Each entry finite() (a sum that overflows becomes ±F32_MAX).
// Layout: X [S, K, Z]; C [S, D, D], row-major.
// Threads: one invocation per (s, p, q), global index (wg.y · nwg.x + wg.x) · WG + lid.x =
// (s·D + p)·D + q; the invocations with p ≤ q loop over the other side serially and write both
// C[p, q] and C[q, p] (the matrix is symmetric), those with p > q return. No barriers.
// Edges: invocations past S·D·D return.

struct Params {
  rows: u32,
  k: u32,
  z: u32,
  d: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;

override WG: u32 = 64;

#include "finite"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let id = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (id >= p.rows * p.d * p.d) {
    return;
  }
  let s = id / (p.d * p.d);
  let r = id % (p.d * p.d);
  let a = r / p.d;
  let b = r % p.d;
  if (a > b) {
    return;
  }
  let xs = s * p.k * p.z;
  var sum = 0.0;
#if POSITIONS
  for (var k = 0u; k < p.k; k++) {
    sum += X[xs + k * p.z + a] * X[xs + k * p.z + b];
  }
#else
  for (var j = 0u; j < p.z; j++) {
    sum += X[xs + a * p.z + j] * X[xs + b * p.z + j];
  }
#endif
  let c = finite(sum);
  C[(s * p.d + a) * p.d + b] = c;
  C[(s * p.d + b) * p.d + a] = c;
}
