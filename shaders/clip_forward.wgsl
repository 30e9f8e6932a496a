// clip_forward: y = min(max(x, lo), hi), elementwise (ONNX Clip; ReLU6 is lo = 0, hi = 6).
//
// Layout: x and y are flat float32 arrays of p.count elements (any shape, any layout).
// p.lo and p.hi are finite: the dispatcher passes an absent bound as the largest float32, since
// WGSL lets an implementation assume that no infinities occur.
// Threads: one invocation per element, index (wg.y * nwg.x + wg.x) * WG + lid.x (grid1d).
// Edges: invocations past p.count return.

struct Params {
  count: u32,
  lo: f32,
  hi: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  y[i] = min(max(x[i], p.lo), p.hi);
}
