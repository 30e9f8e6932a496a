// bench_copy: the adapter's memory bandwidth ceiling, y = x as vec4s (16 bytes read and 16
// written per invocation).
//
// Layout: x and y are flat arrays of p.count vec4f.
// Threads: one invocation per vec4, index (wg.y · nwg.x + wg.x) · WG + lid.x.
// Edges: invocations past p.count return.

struct Params {
  count: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4f>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  y[i] = x[i];
}
