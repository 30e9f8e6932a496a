// clip_backward: dx = dy · [lo < x < hi]: the gradient passes where the clip was the identity.
//
// Layout: dy and dx are flat float32 arrays of p.count elements, shape [T·N, ...]: the
// gradients of T targets stacked over the N forward images (target-major). x is the saved
// forward input or output (the mask is the same: lo < y < hi exactly where lo < x < hi),
// p.xcount = N·(C·H·W) elements; gradient element i uses x[i % xcount].
// p.lo and p.hi are finite (an absent bound is passed as the largest float32).
// Threads: one invocation per gradient element, index (wg.y * nwg.x + wg.x) * WG + lid.x.
// Edges: invocations past p.count return.

struct Params {
  count: u32,
  xcount: u32,
  lo: f32,
  hi: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  let v = x[i % p.xcount];
  dx[i] = select(0.0, dy[i], v > p.lo && v < p.hi);
}
