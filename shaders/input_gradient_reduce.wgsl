// input_gradient_reduce: an input-gradient method's map from the gradients at S copies of the
// input, accumulated over chunks of copies:
//   v = Σ_s grad[t, s, i, e]                    (the chunk's copies of image i, target t)
//   v = v · (x[i, e] − p.baseline)              with TIMES_INPUT (Gradient × Input,
//                                               Integrated Gradients)
//   out = finite(p.scale · v + (p.first ? 0 : out))
//   out = |out|                                 with ABS, when p.last (saliency)
// p.scale is 1 / (all copies), so that after the last chunk out holds the mean. finite()
// (include/finite.wgsl: NaN → 0, ±Infinity → ±F32_MAX) keeps the maps finite; finite values
// pass bit for bit.
//
// Layout: grad [T, S, N, C, H, W] (rows (t·S + s)·N + i of a backward pass over the batch of S·N
// copies, copy-major), x [N, C, H, W] (the input), out [T, N, C, H, W]; p.chw = C·H·W,
// p.count = T·N·C·H·W.
// Threads: one invocation per output element, index (wg.y * nwg.x + wg.x) * WG + lid.x; it loops
// over the S copies.
// Edges: invocations past p.count return.

struct Params {
  count: u32,
  s: u32,
  n: u32,
  chw: u32,
  first: u32,
  last: u32,
  scale: f32,
  baseline: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
#if TIMES_INPUT
@group(0) @binding(2) var<storage, read> x: array<f32>;
#endif
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 256;

#include "finite"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let idx = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (idx >= p.count) {
    return;
  }
  let nchw = p.n * p.chw;
  let t = idx / nchw;
  let ie = idx % nchw; // i·C·H·W + e
  var v = 0.0;
  for (var s = 0u; s < p.s; s++) {
    v += grad[(t * p.s + s) * nchw + ie];
  }
#if TIMES_INPUT
  v = v * (x[ie] - p.baseline);
#endif
  var acc = p.scale * v;
  if (p.first == 0u) {
    acc += out[idx];
  }
  acc = finite(acc);
#if ABS
  if (p.last != 0u) {
    acc = abs(acc);
  }
#endif
  out[idx] = acc;
}
