// eigen_project: an eigen method's map for every row b from the first principal component of
// its source row s = b % S (eigen_power.wgsl), the sign fix, the ReLU and the min–max
// normalisation:
//
//   channels  (default)  raw_j = Σ_k X[s, k, j] · v_k          (v: unit top eigenvector of XᵀX)
//   POSITIONS            raw_j = √λ · u_j                       (u: unit top eigenvector of XXᵀ;
//                                                               X v = σ u with σ = √λ)
//   raw = 0 everywhere when λ = 0 (no component: a matrix constant over the positions);
//   then raw ← −raw when −min raw > max raw (the largest |value| positive; kept on a tie),
//   ReLU when p.relu is 1, norm_j = (raw_j − min)/(max − min) or 0 when max == min.
// Finite whatever comes in: every value finite() (include/finite.wgsl), unit_range for norm.
//
// Layout: X [S, K, Z] (not bound with POSITIONS); evec [S, D]; info [S, 4] (λ first); raw and norm [M, B, h, w], this
// method's maps at slot p.slot. Eigen-CAM has S = N (one map per image, the same for every
// target: row b = t·N + i reads s = i); Eigen-Grad-CAM S = B.
// Threads: one workgroup per row b (workgroup index wg.y · nwg.x + wg.x); its invocations stride
// over the Z positions, writing raw and keeping a running min/max; after the workgroup's
// min/max reduction each rewrites the positions it wrote itself (no storage barrier needed),
// with the min and max of the flipped, ReLU'd map derived from the reduction's.
// Edges: workgroups past B return as a whole.
// SUBGROUPS (adapters with the `subgroups` feature): the min/max reduction by subgroup operations
// (include/minmax_reduce.wgsl), correct for any subgroup size.

#if SUBGROUPS
enable subgroups;
#endif

struct Params {
  rows: u32,
  src_rows: u32,
  k: u32,
  z: u32,
  d: u32,
  slot: u32,
  relu: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
#if POSITIONS
#else
@group(0) @binding(1) var<storage, read> X: array<f32>;
#endif
@group(0) @binding(2) var<storage, read> evec: array<f32>;
@group(0) @binding(3) var<storage, read> info: array<f32>;
@group(0) @binding(4) var<storage, read_write> raw: array<f32>;
@group(0) @binding(5) var<storage, read_write> norm: array<f32>;

override WG: u32 = 64;

#include "finite"
#include "minmax_reduce"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let b = wg.y * nwg.x + wg.x;
  if (b >= p.rows) {
    return;
  }
  let s = b % p.src_rows;
  let lambda = info[s * 4u];
  let out = (p.slot * p.rows + b) * p.z;

  var lo = 3.0e38;
  var hi = -3.0e38;
  for (var j = lid.x; j < p.z; j += WG) {
    var v = 0.0;
    if (lambda > 0.0) {
#if POSITIONS
      v = sqrt(lambda) * evec[s * p.d + j];
#else
      for (var k = 0u; k < p.k; k++) {
        v += X[(s * p.k + k) * p.z + j] * evec[s * p.d + k];
      }
#endif
    }
    v = finite(v);
    raw[out + j] = v;
    lo = min(lo, v);
    hi = max(hi, v);
  }
  let bounds = minmax_reduce(lid.x, lo, hi);
  let flip = -bounds.x > bounds.y;
  var nlo = bounds.x;
  var nhi = bounds.y;
  if (flip) {
    nlo = -bounds.y;
    nhi = -bounds.x;
  }
  let relu = p.relu == 1u;
  if (relu) {
    nlo = max(nlo, 0.0);
    nhi = max(nhi, 0.0);
  }
  for (var j = lid.x; j < p.z; j += WG) {
    var v = raw[out + j];
    if (flip) {
      v = -v;
    }
    if (relu) {
      v = max(v, 0.0);
    }
    raw[out + j] = v;
    norm[out + j] = unit_range(v, nlo, nhi);
  }
}
