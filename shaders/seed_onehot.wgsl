// seed_onehot: the seed gradients of a batched backward pass, one one-hot row per target.
//
// Layout: classes [B] float32 class ids (row b = t·N + i); seeds [B, K] row-major with
// seeds[b, k] = sign if k == classes[b] else 0. sign = −1 seeds counterfactual explanations.
// A row of class −1 (padding, or no single class) gets a zero seed: compared as floats.
// Threads: one invocation per seed element, index (wg.y * nwg.x + wg.x) * WG + lid.x.
// Edges: invocations past B·K return.

struct Params {
  rows: u32,
  k: u32,
  sign: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> classes: array<f32>;
@group(0) @binding(2) var<storage, read_write> seeds: array<f32>;

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
  seeds[idx] = select(0.0, p.sign, f32(k) == classes[b]);
}
