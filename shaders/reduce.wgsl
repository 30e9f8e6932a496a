// reduce: dst[i] = p.scale · Σ src over the reduced axes, for reducemean (scale 1/R) and
// reducesum (scale 1) of src/defs/reduce.ts.
//
// Layout: src is row-major with p.src_strides (rank ≤ 8, as two vec4u); dst has the shape of
// src with every reduced axis set to 1 (p.out_dims; p.count elements, row-major; without keepdims
// the same memory under a shape without those 1s). p.red_dims holds the size of each reduced
// axis and 1 elsewhere; p.r is their product, the number of terms per output element.
// Threads: one invocation per output element, index (wg.y * nwg.x + wg.x) * WG + lid.x: it
// decodes its coordinates (last dim fastest) and sums its p.r terms in row-major order of the
// reduced axes, in float32, sequentially (the sum is deterministic).
// Edges: invocations past p.count return.

struct Params {
  count: u32,
  rank: u32,
  r: u32,
  scale: f32,
  out_dims: array<vec4u, 2>,
  red_dims: array<vec4u, 2>,
  src_strides: array<vec4u, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

override WG: u32 = 256;

fn at(v: array<vec4u, 2>, d: u32) -> u32 {
  return v[d / 4u][d % 4u];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  var rem = i;
  var base = 0u;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let q = u32(d);
    let n = at(p.out_dims, q);
    base += (rem % n) * at(p.src_strides, q);
    rem = rem / n;
  }
  var acc = 0.0;
  for (var k = 0u; k < p.r; k++) {
    var rk = k;
    var off = base;
    for (var d = i32(p.rank) - 1; d >= 0; d--) {
      let q = u32(d);
      let n = at(p.red_dims, q);
      off += (rk % n) * at(p.src_strides, q);
      rk = rk / n;
    }
    acc += src[off];
  }
  dst[i] = p.scale * acc;
}
