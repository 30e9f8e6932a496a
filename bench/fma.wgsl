// bench_fma: the adapter's fp32 FMA ceiling. Each invocation runs p.iters iterations of 8
// independent vec4 multiply-adds (a = a·m + c), 64 FLOPs per iteration, then stores one sum so
// that nothing is optimised away.
//
// Layout: y is a flat float32 array of p.count elements, one per invocation.
// Threads: one invocation per element, index gid.x (1-D grid of WG-wide workgroups).
// Edges: invocations past p.count compute but do not store.

struct Params {
  iters: u32,
  count: u32,
  seed: f32,
  pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let s = p.seed + f32(gid.x) * 1e-7;
  var a0 = vec4f(s);
  var a1 = vec4f(s + 1.0);
  var a2 = vec4f(s + 2.0);
  var a3 = vec4f(s + 3.0);
  var a4 = vec4f(s + 4.0);
  var a5 = vec4f(s + 5.0);
  var a6 = vec4f(s + 6.0);
  var a7 = vec4f(s + 7.0);
  let m = vec4f(0.999999);
  let c = vec4f(1e-6);
  for (var i = 0u; i < p.iters; i++) {
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a4 = fma(a4, m, c);
    a5 = fma(a5, m, c);
    a6 = fma(a6, m, c);
    a7 = fma(a7, m, c);
  }
  let r = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
  if (gid.x < p.count) {
    y[gid.x] = r.x + r.y + r.z + r.w;
  }
}
