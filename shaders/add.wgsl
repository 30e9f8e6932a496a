// add: y = a + b, elementwise (residual connections).
//
// Layout: a, b and y are flat float32 arrays of p.count elements with the same shape (no
// broadcasting; the dispatcher checks the shapes).
// Threads: one invocation per element. Workgroups come from grid1d() (2-D when the count
// exceeds 65535 groups), so the element index is (wg.y * nwg.x + wg.x) * WG + lid.x.
// Edges: invocations past p.count return.

struct Params {
  count: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  y[i] = a[i] + b[i];
}
