// globalavgpool_forward: y[n, c] = mean of x[n, c, :, :] over its H*W cells.
//
// Layout: x is [N, C, H, W] NCHW float32, y is [N, C, 1, 1]; p.planes = N*C maps of
// p.hw = H*W cells each.
// Threads: by default one workgroup per map (a parallel reduction; maps can be large). The map
// index is the grid1d workgroup index wg.y * nwg.x + wg.x (the dispatcher asks grid1d for
// planes*WG invocations). Invocation lid.x sums cells lid.x, lid.x + WG, ... (consecutive
// invocations read consecutive cells), then the WG partial sums are added in a tree in
// workgroup memory. WG must be a power of two.
// SERIAL (software adapters, where barriers are slow: src/ops/pool.ts): one invocation per map,
// index (wg.y * nwg.x + wg.x) * WG + lid.x (grid1d over planes), summing its cells in order;
// no workgroup memory, no barriers.
// Edges: workgroups (SERIAL: invocations) past p.planes return (uniformly, before any
// barrier); invocations past the end of a small map contribute 0.

struct Params {
  planes: u32,
  hw: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

override WG: u32 = 64;

#if SERIAL
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let plane = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (plane >= p.planes) {
    return;
  }
  let base = plane * p.hw;
  var sum = 0.0;
  for (var j = 0u; j < p.hw; j++) {
    sum += x[base + j];
  }
  y[plane] = sum / f32(p.hw);
}
#else
#include "sum_max_reduce"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let plane = wg.y * nwg.x + wg.x;
  if (plane >= p.planes) {
    return;
  }
  let base = plane * p.hw;
  var sum = 0.0;
  for (var j = lid.x; j < p.hw; j += WG) {
    sum += x[base + j];
  }
  let total = sum_reduce(lid.x, sum);
  if (lid.x == 0u) {
    y[plane] = total / f32(p.hw);
  }
}
#endif
