// metric_sort_init: the (value, pixel) pairs that metric_bitonic sorts, one padded row per map.
// Row r of keys/idx holds p2 slots (p2 = hw rounded up to a power of two): slot q < hw gets the
// map's value at pixel q and the index q; the slots q ≥ hw are padding (index q ≥ hw, which the
// sort's order puts after every pixel whatever its value, so their value is left 0).
//
// Layout: map [R, hw] f32; keys [R, p2] f32; idx [R, p2] u32 (the bits of an f32 tensor).
// Threads: one invocation per slot, j = (wg.y * nwg.x + wg.x) * WG + lid.x (grid1d), r = j / p2.
// Edges: invocations past p.count = R·p2 return.

struct Params {
  count: u32,
  hw: u32,
  p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> map: array<f32>;
@group(0) @binding(2) var<storage, read_write> keys: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx: array<u32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let j = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (j >= p.count) {
    return;
  }
  let r = j / p.p2;
  let q = j % p.p2;
  idx[j] = q;
  keys[j] = select(0.0, map[r * p.hw + min(q, p.hw - 1u)], q < p.hw);
}
