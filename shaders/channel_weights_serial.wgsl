// channel_weights_serial: the same weights as channel_weights.wgsl (Grad-CAM, counterfactual
// Grad-CAM and Grad-CAM++ channel weights from one read of the gradients), for software
// adapters: one invocation per (row b, channel k) sums its whole map in a loop, with no
// workgroup memory and no barriers (barriers made the workgroup-per-channel reduction 20–40×
// slower on SwiftShader; docs/BENCHMARKS.md).
//
//   Grad-CAM        α_k = (1/Z) Σ_ij g_ij
//   counterfactual  α_k = (1/Z) Σ_ij −g_ij
//   Grad-CAM++      w_k = Σ_ij a_ij · ReLU(g_ij),  a_ij = g² / (2g² + S_k · g³),  S_k = Σ_ab A_ab
//                   (a_ij = 0 where the denominator is 0)
//
// Layout: A [N, K, h, w] the layer's activations; G [B, K, h, w] the gradients dy^c/dA, row
// b = t·N + i belongs to image i = b % N. Z = h·w. Output weights [M, B, K]: slot s of a method
// is written at ((s·B + b)·K + k); a slot of 0xFFFFFFFF means the method is not computed.
// Threads: one invocation per (b, k), index (wg.y * nwg.x + wg.x) * WG + lid.x = b·K + k.
// Grad-CAM++ needs S_k before its sum, so it takes a second pass over the map.
// Edges: invocations past B·K return.

struct Params {
  rows: u32,
  n: u32,
  k: u32,
  z: u32,
  slot_gradcam: u32,
  slot_counterfactual: u32,
  slot_gradcampp: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> weights: array<f32>;

override WG: u32 = 64;
const NONE: u32 = 0xFFFFFFFFu;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let id = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (id >= p.rows * p.k) {
    return;
  }
  let b = id / p.k;
  let k = id % p.k;
  let i = b % p.n;
  let a_base = (i * p.k + k) * p.z;
  let g_base = (b * p.k + k) * p.z;

  var sum_a = 0.0;
  var sum_g = 0.0;
  for (var j = 0u; j < p.z; j++) {
    sum_a += A[a_base + j];
    sum_g += G[g_base + j];
  }
  let alpha = sum_g / f32(p.z);
  if (p.slot_gradcam != NONE) {
    weights[(p.slot_gradcam * p.rows + b) * p.k + k] = alpha;
  }
  if (p.slot_counterfactual != NONE) {
    weights[(p.slot_counterfactual * p.rows + b) * p.k + k] = -alpha;
  }
  if (p.slot_gradcampp != NONE) {
    let S = sum_a;
    var sum_w = 0.0;
    for (var j = 0u; j < p.z; j++) {
      let g = G[g_base + j];
      let g2 = g * g;
      let den = 2.0 * g2 + S * g2 * g;
      let a = select(0.0, g2 / den, den != 0.0);
      sum_w += a * max(g, 0.0);
    }
    weights[(p.slot_gradcampp * p.rows + b) * p.k + k] = sum_w;
  }
}
