// metric_bitonic: one compare-exchange stage (k, j) of a bitonic sort of every map row's
// (value, pixel) pairs into the metrics' pixel order: pixel a comes before pixel b when
// value_a > value_b, or value_a = value_b and a < b (ties by pixel index, so the order is a
// total one and equals the CPU reference's); padding slots (index ≥ hw) come after all pixels.
// The dispatcher runs the stages k = 2, 4, …, p2 and for each j = k/2, k/4, …, 1, in order.
//
// Layout: keys [R, p2] f32, idx [R, p2] u32 (metric_sort_init), sorted in place; p2 a power of two.
// Threads: one invocation per pair, t = (wg.y * nwg.x + wg.x) * WG + lid.x (grid1d) over R·p2/2;
// row r = t / (p2/2), pair u = t mod (p2/2) compares slots i = (u / j)·2j + u mod j and i + j
// (= i xor j); the block of i is ascending in the order when i & k = 0, else descending.
// Edges: invocations past p.count = R·p2/2 return.

struct Params {
  count: u32,
  hw: u32,
  p2: u32,
  k: u32,
  j: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> keys: array<f32>;
@group(0) @binding(2) var<storage, read_write> idx: array<u32>;

override WG: u32 = 256;

// Whether pair (va, ia) comes strictly before (vb, ib) in the order.
fn before(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
  if (ia >= p.hw) {
    return false;
  }
  if (ib >= p.hw) {
    return true;
  }
  return va > vb || (va == vb && ia < ib);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let t = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (t >= p.count) {
    return;
  }
  let half = p.p2 / 2u;
  let r = t / half;
  let u = t % half;
  let i = (u / p.j) * 2u * p.j + u % p.j;
  let a = r * p.p2 + i;
  let b = a + p.j;
  let va = keys[a];
  let ia = idx[a];
  let vb = keys[b];
  let ib = idx[b];
  let ascending = (i & p.k) == 0u;
  let swap = select(before(va, ia, vb, ib), before(vb, ib, va, ia), ascending);
  if (swap) {
    keys[a] = vb;
    idx[a] = ib;
    keys[b] = va;
    idx[b] = ia;
  }
}
