// softmax_forward: y[n, k] = exp(x[n, k] − m) / Σ_j exp(x[n, j] − m) with m = max_j x[n, j],
// over the last axis. Subtracting the row max keeps every exp() in (0, 1], so large logits
// (1000, 1001) do not overflow.
//
// Layout: x and y are [rows, K] row-major float32.
// Threads: one workgroup per row, row = wg.y * nwg.x + wg.x (grid1d over rows with one
// "invocation" per group). The WG invocations stride over the row (j = lid.x, lid.x + WG, ...)
// and combine their partial max, then their partial sum, with a tree reduction in workgroup
// memory; WG must be a power of two.
// Edges: groups past p.rows return (the whole group, so barriers stay in uniform control flow);
// rows shorter than WG leave the idle invocations with the neutral element (lowest f32 for the
// max, 0 for the sum).

struct Params {
  rows: u32,
  k: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

override WG: u32 = 256;

#include "sum_max_reduce"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let row = wg.y * nwg.x + wg.x;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.k;

  // Row max.
  var m = bitcast<f32>(0xff7fffffu); // lowest finite f32
  for (var j = lid.x; j < p.k; j += WG) {
    m = max(m, x[base + j]);
  }
  let mx = max_reduce(lid.x, m);
  workgroupBarrier(); // every invocation has read the max before sum_reduce reuses red

  // Sum of exp(x − max).
  var acc = 0.0;
  for (var j = lid.x; j < p.k; j += WG) {
    acc += exp(x[base + j] - mx);
  }
  let inv = 1.0 / sum_reduce(lid.x, acc);

  for (var j = lid.x; j < p.k; j += WG) {
    y[base + j] = exp(x[base + j] - mx) * inv;
  }
}
