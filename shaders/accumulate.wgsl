// accumulate: acc += g in place, elementwise. Where a forward tensor fans out to several
// consumers, its gradient is the sum of the gradients flowing back from each of them.
//
// Layout: acc and g are flat float32 arrays of p.count elements with the same shape. They must
// be different buffers (one binding is read_write; the dispatcher refuses aliasing).
// Threads: one invocation per element, index (wg.y * nwg.x + wg.x) * WG + lid.x (grid1d).
// Edges: invocations past p.count return.

struct Params {
  count: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> acc: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  acc[i] = acc[i] + g[i];
}
