// scorecam_masks: Score-CAM's masked inputs for a batch of (image, channel) jobs. Job j = j0 + b
// is image i = j / K, channel k = j % K: its mask is channel k of image i's activations, resized
// to the input with half-pixel centres (as upsample_bilinear.wgsl: sample (y, x) at
// sy = max((y + 0.5)·h/H − 0.5, 0), sx likewise, upper neighbour clamped), then min–max
// normalised over the H·W pixels (a constant map gives a zero mask); out = x ⊙ mask, broadcast
// over the input channels. Resize, normalisation and product in one pass, no mask stored.
//
// Layout: x [N, C, H, W], src (the activations A) [N, K, h, w], out [count, C, H, W], row-major.
// Threads: one workgroup per masked image (workgroup id wg.y * nwg.x + wg.x = b); invocation
// lid.x samples pixels lid.x, lid.x + WG, … keeping their min and max, then after the
// workgroup's min/max reduction (minmax_reduce.wgsl) writes elements lid.x, lid.x + WG, … of
// out[b] (C·H·W of them), resampling each element's pixel (four reads of src, bilinear_sample.wgsl).
// Edges: workgroups past p.count return as a whole.

struct Params {
  count: u32,
  j0: u32,
  k: u32,
  c: u32,
  h: u32,
  w: u32,
  H: u32,
  W: u32,
  scale_y: f32,
  scale_x: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 256;

#include "minmax_reduce"
#include "bilinear_sample"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let b = wg.y * nwg.x + wg.x;
  if (b >= p.count) {
    return;
  }
  let j = p.j0 + b;
  let i = j / p.k;
  let base = j * p.h * p.w; // (i·K + k)·h·w
  let z = p.H * p.W;
  var lo = 3e38;
  var hi = -3e38;
  for (var q = lid.x; q < z; q += WG) {
    let v = sample(base, q % p.W, q / p.W);
    lo = min(lo, v);
    hi = max(hi, v);
  }
  let range = minmax_reduce(lid.x, lo, hi);
  let span = range.y - range.x;
  let n = p.c * z;
  let src = i * n;
  let dst = b * n;
  for (var e = lid.x; e < n; e += WG) {
    let q = e % z;
    let m = select(0.0, (sample(base, q % p.W, q / p.W) - range.x) / span, span > 0.0);
    out[dst + e] = x[src + e] * m;
  }
}
