// topk: the T highest-scoring classes of each image, written as class ids for the rows of a
// batched backward pass.
//
// Layout: scores [N, K] row-major. classes [T·N] float32 (class ids are exact in f32 below
// 2^24): row b = t·N + i holds image i's t-th best class, so it lines up with the seed
// gradients and every [T·N, …] gradient tensor.
// Threads: one invocation per image (N is small); T selection passes over K scores, each
// taking the best (score, index) pair that comes strictly after the previous one in the order
// "higher score first, lower index first on ties". NaN scores are never selected.
// Edges: invocations past N return; T ≤ K is checked by the dispatcher.

struct Params {
  n: u32,
  k: u32,
  t: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> classes: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= p.n) {
    return;
  }
  var prev_v = 0.0;
  var prev_k = 0u;
  for (var t = 0u; t < p.t; t++) {
    var best_v = 0.0;
    var best_k = p.k;
    for (var k = 0u; k < p.k; k++) {
      let v = scores[i * p.k + k];
      if (v != v) {
        continue;
      }
      let after_prev = t == 0u || v < prev_v || (v == prev_v && k > prev_k);
      let better = best_k == p.k || v > best_v;
      if (after_prev && better) {
        best_v = v;
        best_k = k;
      }
    }
    classes[t * p.n + i] = f32(best_k);
    prev_v = best_v;
    prev_k = best_k;
  }
}
