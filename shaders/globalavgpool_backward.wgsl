// globalavgpool_backward: dx[b, c, h, w] = dy[b, c] / (H*W), the mean's gradient spread evenly.
//
// Layout: dy is [T*N, C, 1, 1] (T targets stacked over the forward batch, target-major),
// dx is [T*N, C, H, W] NCHW float32; p.hw = H*W, p.count = T*N*C*H*W.
// Threads: one invocation per dx element, index (wg.y * nwg.x + wg.x) * WG + lid.x (grid1d);
// its map is i / hw.
// Edges: invocations past p.count return.

struct Params {
  count: u32,
  hw: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  dx[i] = dy[i / p.hw] / f32(p.hw);
}
