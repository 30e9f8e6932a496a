// spatial_combine: the map of every (spatial method slot m, row b) in one dispatch, for the
// methods that sum a per-position term over the channels without pooling the gradient
// (HiResCAM, …), then the ReLU and the min–max normalisation:
//
//   raw_ij  = Σ_k term_m(A^k_ij, G^k_ij)   then ReLU where bit m of relu_mask is set
//   norm_ij = (raw_ij − min) / (max − min), or 0 everywhere when max == min
//
// Finite whatever comes in (include/finite.wgsl): a sum that is not finite is stored as
// finite(sum) (NaN → 0, ±Infinity → ±F32_MAX) before the ReLU, and the normalisation does not
// overflow when max − min does (unit_range), so raw is finite and norm lies in [0, 1].
//
// A template: src/attribution/kernels.ts fills {{terms}} in from the methods' descriptors
// (src/methods/registry.ts): term(m, a, g) returns slot m's term, in a = A^k_ij, g = G^k_ij.
//
// Layout: A [N, K, h, w] the layer's activations; G [B, K, h, w] the gradients, row b = t·N + i
// uses image i = b % N; raw and norm [M, B, h, w]; Z = h·w.
// Threads: one workgroup per map (workgroup index (wg.y * nwg.x + wg.x) = m·B + b). Its WG
// invocations stride over the Z positions, each writing raw values and keeping a running
// min/max; a workgroup reduction gives the map's min/max; each invocation then normalises the
// positions it wrote itself (so no storage barrier is needed).
// Edges: workgroups past M·B return (uniformly, before any barrier).
// SUBGROUPS (adapters with the `subgroups` feature): the min/max reduction by subgroup operations
// (include/minmax_reduce.wgsl), correct for any subgroup size.

#if SUBGROUPS
enable subgroups;
#endif

struct Params {
  maps: u32,
  rows: u32,
  n: u32,
  k: u32,
  z: u32,
  relu_mask: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> raw: array<f32>;
@group(0) @binding(4) var<storage, read_write> norm: array<f32>;

override WG: u32 = 64;

#include "finite"
#include "minmax_reduce"

fn term(m: u32, a: f32, g: f32) -> f32 {
  {{terms}}
  return 0.0;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let id = wg.y * nwg.x + wg.x;
  if (id >= p.maps) {
    return;
  }
  let m = id / p.rows;
  let b = id % p.rows;
  let i = b % p.n;
  let relu = ((p.relu_mask >> m) & 1u) == 1u;
  let out_base = id * p.z;

  var lo = 3.0e38;
  var hi = -3.0e38;
  for (var j = lid.x; j < p.z; j += WG) {
    var s = 0.0;
    for (var k = 0u; k < p.k; k++) {
      s += term(m, A[(i * p.k + k) * p.z + j], G[(b * p.k + k) * p.z + j]);
    }
    s = finite(s);
    if (relu) {
      s = max(s, 0.0);
    }
    raw[out_base + j] = s;
    lo = min(lo, s);
    hi = max(hi, s);
  }
  let bounds = minmax_reduce(lid.x, lo, hi);
  for (var j = lid.x; j < p.z; j += WG) {
    norm[out_base + j] = unit_range(raw[out_base + j], bounds.x, bounds.y);
  }
}
