// augment_mean: explain's augSmooth option, the mean over the A augmented copies of one
// quantity (a map or a weight vector), each copy's flip undone first (src/methods/augment.ts):
//
//   out[u, q] = (1/A) · Σ_a src[u, a, flip_a(q)]
//   flip_a(q) = q − x + (L − 1 − x) with x = q % L when bit a of p.flips is set, else q
//
// The copies' results are laid out as the rows of a batch of A·N images (copy-major): for a
// map [M, T, A·N, h, w] take U = M·T, Q = N·h·w, L = w; for weights [M, T, A·N, K] take
// Q = N·K and L = 1 (a flip leaves a channel weight where it is).
// Layout: src [U, A, Q]; out [U, Q].
// Threads: one invocation per output element j = u·Q + q, index (wg.y·nwg.x + wg.x)·WG + lid.x.
// Edges: invocations past p.count (= U·Q) return. The sum runs over a in order, so the result
// does not depend on the dispatch.

struct Params {
  count: u32,
  copies: u32,
  q: u32,
  l: u32,
  flips: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let j = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (j >= p.count) {
    return;
  }
  let u = j / p.q;
  let q = j % p.q;
  let x = q % p.l;
  let flipped = q - x + (p.l - 1u - x);
  var s = 0.0;
  for (var a = 0u; a < p.copies; a++) {
    let at = select(q, flipped, ((p.flips >> a) & 1u) != 0u);
    s += src[(u * p.copies + a) * p.q + at];
  }
  out[j] = s * p.scale;
}
