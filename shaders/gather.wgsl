// gather: dst[i] = p.scale · src[j(i)], or p.fill where i has no source element. One kernel for
// the ops that move elements (src/ops/layout.ts): transpose, slice, pad and their gradients, and
// the gradient of a reduction (a broadcast back over the reduced axes).
//
// Layout: dst is [o0, …, o(rank−1)], rank ≤ 8, row-major, p.count elements; p.out_dims holds its
// dims (8 entries as two vec4u). For each output dim d with coordinate c, the source coordinate
// is t = c·p.mul[d] + p.add[d] (signed), divided by p.div[d] when that is > 1, and the element
// has a source only if the division is exact and 0 ≤ t < p.src_dims[d]; the source index is
// Σ_d t·p.src_strides[d] (the strides of the source dim that output dim d reads, so a transpose
// is a permutation of the strides; a reduced axis has mul 0 and stride 0). For one element per
// source position and dim: slice t = begin + c·step; its gradient t = (c − begin)/step (div =
// |step|); pad t = c − pad_before; its gradient t = c + pad_before.
// Threads: one invocation per output element, index (wg.y * nwg.x + wg.x) * WG + lid.x, decoded
// into dst's coordinates, last dim fastest.
// Edges: invocations past p.count return.

struct Params {
  count: u32,
  rank: u32,
  scale: f32,
  fill: f32,
  out_dims: array<vec4u, 2>,
  mul: array<vec4i, 2>,
  add: array<vec4i, 2>,
  div: array<vec4u, 2>,
  src_dims: array<vec4u, 2>,
  src_strides: array<vec4u, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  var rem = i;
  var j = 0u;
  var inside = true;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let q = u32(d);
    let n = p.out_dims[q / 4u][q % 4u];
    let c = i32(rem % n);
    rem = rem / n;
    var t = c * p.mul[q / 4u][q % 4u] + p.add[q / 4u][q % 4u];
    let dv = i32(p.div[q / 4u][q % 4u]);
    if (dv > 1) {
      inside = inside && (t % dv == 0);
      t = t / dv;
    }
    inside = inside && t >= 0 && t < i32(p.src_dims[q / 4u][q % 4u]);
    j += u32(max(t, 0)) * p.src_strides[q / 4u][q % 4u];
  }
  if (inside) {
    dst[i] = p.scale * src[j];
  } else {
    dst[i] = p.fill;
  }
}
