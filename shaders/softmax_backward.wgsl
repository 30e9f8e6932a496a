// softmax_backward: dx = y ⊙ (dy − Σ_k dy_k·y_k), row by row (the softmax Jacobian is
// diag(y) − y yᵀ).
//
// Layout: dy and dx are [T·N, K] row-major float32: the gradients of T targets stacked over the
// N forward rows (target-major). y is the saved forward output [N, K]; gradient row r uses
// y row r mod N (p.yrows = N).
// Threads: one workgroup per gradient row, row = wg.y * nwg.x + wg.x (grid1d over rows). The
// WG invocations stride over the row and reduce the dot product Σ dy·y in workgroup memory
// (tree reduction; WG must be a power of two), then each writes its strided elements.
// Edges: groups past p.rows return (the whole group, so barriers stay in uniform control flow);
// idle invocations of short rows contribute 0 to the dot product.

struct Params {
  rows: u32,
  yrows: u32,
  k: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

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
  let ybase = (row % p.yrows) * p.k;

  var acc = 0.0;
  for (var j = lid.x; j < p.k; j += WG) {
    acc += dy[base + j] * y[ybase + j];
  }
  let ydot = sum_reduce(lid.x, acc);

  for (var j = lid.x; j < p.k; j += WG) {
    dx[base + j] = y[ybase + j] * (dy[base + j] - ydot);
  }
}
