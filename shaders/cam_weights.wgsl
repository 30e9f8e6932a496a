// cam_weights: CAM's channel weights w^c_k, read from the linear layer that follows global
// average pooling: row c of its weight matrix, for the class c of each row b.
//
// Layout: W [C_out, K] (linear weight, y = x·Wᵀ + b); classes [B] float32 class ids; output
// weights [M, B, K], this method's slot at ((slot·B + b)·K + k).
// Threads: one invocation per (b, k), index (wg.y * nwg.x + wg.x) * WG + lid.x = b·K + k.
// Edges: invocations past B·K return. A row of class −1 (padding) gets zero weights.
// F16: W is stored as IEEE halves, two per u32 (src/ops/half.ts), read with unpack2x16float.

struct Params {
  rows: u32,
  k: u32,
  slot: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
#if F16
// The weights stored as halves (src/ops/half.ts): element j is half j % 2 of word j / 2.
@group(0) @binding(1) var<storage, read> W: array<u32>;
fn wat(j: u32) -> f32 {
  return unpack2x16float(W[j >> 1u])[j & 1u];
}
#else
@group(0) @binding(1) var<storage, read> W: array<f32>;
fn wat(j: u32) -> f32 {
  return W[j];
}
#endif
@group(0) @binding(2) var<storage, read> classes: array<f32>;
@group(0) @binding(3) var<storage, read_write> weights: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let idx = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (idx >= p.rows * p.k) {
    return;
  }
  let b = idx / p.k;
  let k = idx % p.k;
  // Class −1 (a padding row of the { above } targets): zero weights, so a zero map.
  let cf = classes[b];
  let c = u32(max(cf, 0.0));
  weights[(p.slot * p.rows + b) * p.k + k] = select(wat(c * p.k + k), 0.0, cf < 0.0);
}
