// metric_perturb: a chunk of the deletion or insertion batch. Image j = p.first + b of the
// whole batch is step s = j mod per of map row r = j / per (per = steps + 1), from image
// i = r mod n of the input: k_s = ⌊s·hw / steps⌋ pixels, the k_s of lowest rank in row r,
// are taken from the baseline (deletion, mode 0) or from x over the baseline (insertion, mode 1),
// in all channels. k_s is computed as s·⌊hw/steps⌋ + ⌊s·(hw mod steps)/steps⌋ (exact, no overflow).
//
// Layout: x, base [n, C, hw] f32; ranks [R, hw] u32; out [B, C, hw] f32 (b = chunk image).
// Threads: one invocation per output element, e = (wg.y * nwg.x + wg.x) * WG + lid.x (grid1d):
// b = e / (C·hw), c = (e / hw) mod C, pixel q = e mod hw.
// Edges: invocations past p.count = B·C·hw return.

struct Params {
  count: u32,
  first: u32,
  per: u32,
  steps: u32,
  hw: u32,
  c: u32,
  n: u32,
  mode: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> base: array<f32>;
@group(0) @binding(3) var<storage, read> ranks: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let e = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (e >= p.count) {
    return;
  }
  let chw = p.c * p.hw;
  let j = p.first + e / chw;
  let c = (e / p.hw) % p.c;
  let q = e % p.hw;
  let r = j / p.per;
  let s = j % p.per;
  let k = s * (p.hw / p.steps) + (s * (p.hw % p.steps)) / p.steps;
  let first = ranks[r * p.hw + q] < k;
  let src = ((r % p.n) * p.c + c) * p.hw + q;
  let from_x = select(!first, first, p.mode == 1u);
  out[e] = select(base[src], x[src], from_x);
}
