// metric_mask: the masked inputs of Average Drop and Increase in Confidence, x ⊙ map: image r
// of the output is image r mod n of x times map row r, the map broadcast over the channels.
//
// Layout: x [n, C, hw] f32, map [R, hw] f32, out [R, C, hw] f32.
// Threads: one invocation per output element, e = (wg.y * nwg.x + wg.x) * WG + lid.x (grid1d):
// r = e / (C·hw), c = (e / hw) mod C, pixel q = e mod hw.
// Edges: invocations past p.count = R·C·hw return.

struct Params {
  count: u32,
  hw: u32,
  c: u32,
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> map: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let e = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (e >= p.count) {
    return;
  }
  let chw = p.c * p.hw;
  let r = e / chw;
  let c = (e / p.hw) % p.c;
  let q = e % p.hw;
  out[e] = x[((r % p.n) * p.c + c) * p.hw + q] * map[r * p.hw + q];
}
