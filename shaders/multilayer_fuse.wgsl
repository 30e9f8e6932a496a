// multilayer_fuse: one layer's step of fusing maps from several layers into one map per row at
// the input resolution (explain() with a list of layers, src/attribution/multilayer.ts). One
// dispatch per layer, into the same accumulator:
//   v = resize(f(src))        src's map resized to H×W (half-pixel bilinear, bilinear_sample),
//                             after the per-cell scaling f:
//     (neither define)  f(x) = x                 ('mean': src is already the layer's map at the
//                                                 input resolution, so the resize is the identity)
//     TANH              f(x) = tanh(gamma·x / max)  (LayerCAM's rule for a shallower layer)
//     UNIT              f(x) = x / max              (LayerCAM's rule for the deepest layer)
//            max = the largest value of the src map; f = 0 where max ≤ 0 (an all-zero map).
//   acc = v (first), acc + v (sum), max(acc, v) (MAX defined);
//   last: acc · post (post = 1/L for the mean, 1 for the max), then min–max normalised to [0, 1]
//         (a constant map becomes zeros; unit_range, so never NaN).
// src values are finite maps from cam_combine / spatial_combine / upsample_bilinear; finite()
// keeps a value that is not finite from reaching acc all the same (src read through it, the
// accumulated value stored through it), so every fused map is finite and in [0, 1].
//
// Layout: src [R, h, w], acc [R, H, W], row-major (R = maps × rows, the same rows in every
// layer's dispatch).
// Threads: one workgroup per row r (workgroup id wg.y * nwg.x + wg.x = r). With SCALED (defined
// with TANH and with UNIT) the workgroup first finds the src map's max (each invocation over
// cells lid.x, lid.x + WG, …, then the workgroup reduction of minmax_reduce.wgsl). Invocation lid.x then owns output pixels lid.x,
// lid.x + WG, … of the row: it reads and writes only those, so the last step's rescale rereads
// only what the same invocation wrote, after a second reduction for the row's min and max.
// Edges: workgroups past p.rows return as a whole (the reductions hold barriers).

struct Params {
  rows: u32,
  h: u32,
  w: u32,
  H: u32,
  W: u32,
  scale_y: f32,
  scale_x: f32,
  gamma: f32,
  post: f32,
  first: u32,
  last: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> acc: array<f32>;

override WG: u32 = 256;

#include "finite"
#include "minmax_reduce"

// f(src[i]) for the map whose largest value is mx.
fn scaled(i: u32, mx: f32) -> f32 {
  let x = finite(src[i]);
#if TANH
  return select(0.0, tanh(p.gamma * (x / mx)), mx > 0.0);
#elif UNIT
  return select(0.0, x / mx, mx > 0.0);
#else
  return x;
#endif
}

// bilinear_sample.wgsl's resize, reading scaled() instead of src.
fn sample_scaled(base: u32, x: u32, y: u32, mx: f32) -> f32 {
  let sy = max((f32(y) + 0.5) * p.scale_y - 0.5, 0.0);
  let sx = max((f32(x) + 0.5) * p.scale_x - 0.5, 0.0);
  let y0 = min(u32(floor(sy)), p.h - 1u);
  let x0 = min(u32(floor(sx)), p.w - 1u);
  let y1 = min(y0 + 1u, p.h - 1u);
  let x1 = min(x0 + 1u, p.w - 1u);
  let fy = sy - f32(y0);
  let fx = sx - f32(x0);
  let top = scaled(base + y0 * p.w + x0, mx) * (1.0 - fx) + scaled(base + y0 * p.w + x1, mx) * fx;
  let bottom = scaled(base + y1 * p.w + x0, mx) * (1.0 - fx) + scaled(base + y1 * p.w + x1, mx) * fx;
  return top * (1.0 - fy) + bottom * fy;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let r = wg.y * nwg.x + wg.x;
  if (r >= p.rows) {
    return;
  }
  let base = r * p.h * p.w;
  var mx = 0.0;
#if SCALED
  var hi = -3e38;
  for (var i = lid.x; i < p.h * p.w; i += WG) {
    hi = max(hi, finite(src[base + i]));
  }
  mx = minmax_reduce(lid.x, 3e38, hi).y;
  workgroupBarrier(); // the second reduction below reuses red_lo / red_hi
#endif
  let z = p.H * p.W;
  let out = r * z;
  var lo = 3e38;
  var top = -3e38;
  for (var i = lid.x; i < z; i += WG) {
    let v = sample_scaled(base, i % p.W, i / p.W, mx);
    var a = v;
    if (p.first == 0u) {
#if MAX
      a = max(acc[out + i], v);
#else
      a = acc[out + i] + v;
#endif
    }
    if (p.last != 0u) {
      a = a * p.post;
    }
    a = finite(a); // a sum of maps near the float32 maximum stays finite
    acc[out + i] = a;
    lo = min(lo, a);
    top = max(top, a);
  }
  if (p.last == 0u) {
    return;
  }
  let range = minmax_reduce(lid.x, lo, top);
  for (var i = lid.x; i < z; i += WG) {
    acc[out + i] = unit_range(acc[out + i], range.x, range.y);
  }
}
