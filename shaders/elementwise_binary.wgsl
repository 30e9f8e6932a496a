// elementwise_binary: y = f(a, b) with broadcasting, for one binary op of the table in
// src/defs/elementwise.ts. A template: src/ops/elementwise.ts puts in the op's expression for
// {{f}} and its scalar parameters for {{params}}.
//
// Layout: y (dst) is [d0, …, d(rank−1)], rank ≤ 8, row-major, p.count elements; a (lhs) and b
// (rhs) have the same rank, each dim equal to y's or 1. p.out_dims holds y's dims, p.a_strides
// and p.b_strides the inputs' row-major strides with 0 along their broadcast dims (8 entries
// each, as two vec4u). With SAME (a, b and y of one shape) no index is decoded, and with VEC4
// besides (count a multiple of 4) T is vec4f and p.count counts vec4s.
// Threads: one invocation per output element (or vec4), index (wg.y * nwg.x + wg.x) * WG + lid.x;
// without SAME it is decoded into y's coordinates, last dim fastest.
// Edges: invocations past p.count return.

#if VEC4
alias T = vec4f;
#else
alias T = f32;
#endif

struct Params {
  count: u32,
  rank: u32,
  out_dims: array<vec4u, 2>,
  a_strides: array<vec4u, 2>,
  b_strides: array<vec4u, 2>,
  {{params}}
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> lhs: array<T>;
@group(0) @binding(2) var<storage, read> rhs: array<T>;
@group(0) @binding(3) var<storage, read_write> dst: array<T>;

override WG: u32 = 256;

fn f(a: T, b: T) -> T {
  return {{f}};
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
#if SAME
  dst[i] = f(lhs[i], rhs[i]);
#else
  var rem = i;
  var ia = 0u;
  var ib = 0u;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let q = u32(d);
    let n = p.out_dims[q / 4u][q % 4u];
    let c = rem % n;
    rem = rem / n;
    ia += c * p.a_strides[q / 4u][q % 4u];
    ib += c * p.b_strides[q / 4u][q % 4u];
  }
  dst[i] = f(lhs[ia], rhs[ib]);
#endif
}
