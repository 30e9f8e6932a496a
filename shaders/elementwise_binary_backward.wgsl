// elementwise_binary_backward: the gradient of one input of a binary op of the table in
// src/defs/elementwise.ts, for T targets at once, summed over the dims that input was broadcast
// along. A template: src/ops/elementwise.ts puts in the op's gradient expression for that input
// for {{grad}} (in dy, a, b) and its scalar parameters for {{params}}. With LHS / RHS the saved
// forward input a / b is bound and read (an expression that does not use one leaves it out).
//
// Layout (rank ≤ 8, dims as two vec4u each): dy (grad) is [T·N, o1, …] (the forward output's
// shape with the T targets stacked on the batch dim), row-major with strides p.out_strides. The
// result dst is [T·N, g1, …] with p.own_dims (each g_d = o_d or 1), p.count elements. lhs and
// rhs are the forward inputs [N, …], read with p.a_strides / p.b_strides (0 along broadcast
// dims); forward row = row mod p.n. p.red_dims has o_d where the input was broadcast along dim d
// (g_d = 1 < o_d), else 1, and p.reduce their product: the number of dy elements summed into
// one gradient element. With SAME (the input has the output's shape, p.reduce = 1) the index is
// not decoded: a and b are read at i mod p.fwd (p.fwd = forward output elements).
// Threads: one invocation per gradient element, index (wg.y * nwg.x + wg.x) * WG + lid.x,
// decoded into coordinates of own_dims, last dim fastest; it loops over the p.reduce summed
// elements in a fixed order (the sum is deterministic).
// Edges: invocations past p.count return.

struct Params {
  count: u32,
  rank: u32,
  n: u32,
  fwd: u32,
  reduce: u32,
  own_dims: array<vec4u, 2>,
  red_dims: array<vec4u, 2>,
  out_strides: array<vec4u, 2>,
  a_strides: array<vec4u, 2>,
  b_strides: array<vec4u, 2>,
  {{params}}
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
#if LHS
@group(0) @binding(2) var<storage, read> lhs: array<f32>;
#endif
#if RHS
@group(0) @binding(3) var<storage, read> rhs: array<f32>;
#endif
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

override WG: u32 = 256;

fn g(dy: f32, a: f32, b: f32) -> f32 {
  return {{grad}};
}

fn at(v: array<vec4u, 2>, d: u32) -> u32 {
  return v[d / 4u][d % 4u];
}

fn lhs_at(j: u32) -> f32 {
#if LHS
  return lhs[j];
#else
  return 0.0;
#endif
}

fn rhs_at(j: u32) -> f32 {
#if RHS
  return rhs[j];
#else
  return 0.0;
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
#if SAME
  let j = i % p.fwd;
  dst[i] = g(grad[i], lhs_at(j), rhs_at(j));
#else
  // This gradient element's coordinates (0 along the reduced dims).
  var c: array<u32, 8>;
  var rem = i;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let q = u32(d);
    let n = at(p.own_dims, q);
    c[q] = rem % n;
    rem = rem / n;
  }
  var acc = 0.0;
  for (var r = 0u; r < p.reduce; r++) {
    var rr = r;
    var io = 0u;
    var ia = 0u;
    var ib = 0u;
    for (var d = i32(p.rank) - 1; d >= 0; d--) {
      let q = u32(d);
      let n = at(p.red_dims, q);
      var x = c[q] + rr % n;
      rr = rr / n;
      io += x * at(p.out_strides, q);
      if (q == 0u) {
        x = x % p.n;
      }
      ia += x * at(p.a_strides, q);
      ib += x * at(p.b_strides, q);
    }
    acc += g(grad[io], lhs_at(ia), rhs_at(ib));
  }
  dst[i] = acc;
#endif
}
