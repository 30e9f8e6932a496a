// metric_rank_scatter: the rank of every pixel from the sorted pairs (metric_bitonic): the
// pixel in sorted slot q of row r has rank q (0 = the most relevant).
//
// Layout: idx [R, p2] u32 (sorted), ranks [R, hw] u32 (the bits of an f32 tensor).
// Threads: one invocation per pixel slot, j = (wg.y * nwg.x + wg.x) * WG + lid.x (grid1d) over
// R·hw; r = j / hw, q = j mod hw (the first hw slots of a row hold its pixels, padding sorts last).
// Edges: invocations past p.count = R·hw return.

struct Params {
  count: u32,
  hw: u32,
  p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> idx: array<u32>;
@group(0) @binding(2) var<storage, read_write> ranks: array<u32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let j = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (j >= p.count) {
    return;
  }
  let r = j / p.hw;
  let q = j % p.hw;
  ranks[r * p.hw + idx[r * p.p2 + q]] = q;
}
