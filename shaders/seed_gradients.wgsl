// seed_gradients: the T·N seed rows of a batched backward. Row t·N + i (target t, image i) is
// sign·onehot(classes[t]) over K classes: the gradient of ±y^c with respect to the logits.
//
// Layout: classes is a u32 array of T class indices (checked to be < K by the dispatcher);
// g is [T·N, K] row-major float32, target-major. p.count = T·N·K.
// Threads: one invocation per element of g, index (wg.y * nwg.x + wg.x) * WG + lid.x (grid1d);
// element i is row i / K, column i mod K, target (i / K) / N. Every element is written (the
// output needs no clearing).
// Edges: invocations past p.count return.

struct Params {
  count: u32,
  n: u32,
  k: u32,
  sign: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> classes: array<u32>;
@group(0) @binding(2) var<storage, read_write> g: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  let row = i / p.k;
  let col = i - row * p.k;
  let t = row / p.n;
  g[i] = select(0.0, p.sign, col == classes[t]);
}
