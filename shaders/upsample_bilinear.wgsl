// upsample_bilinear: resize maps [R, h, w] to [R, H, W] with half-pixel centres (PyTorch
// align_corners=False, OpenCV INTER_LINEAR), then min–max normalise each resized map to [0, 1]
// (a constant map becomes zeros), as pytorch-grad-cam and torch-cam do after resizing: the
// interpolation's samples fall between the layer's cells, so without this a map would peak
// below 1. Output (y, x) samples the source at sy = max((y + 0.5)·h/H − 0.5, 0), sx likewise;
// the upper neighbour is clamped to the border.
//
// Layout: src [R, h, w], dst [R, H, W], row-major.
// Threads: one workgroup per map (workgroup id wg.y * nwg.x + wg.x = r); invocation lid.x
// resizes pixels lid.x, lid.x + WG, … of it into dst, keeping their min and max; after the
// workgroup's min/max reduction (minmax_reduce.wgsl) it rescales the same pixels in place (each
// invocation rereads only what it wrote).
// Edges: workgroups past p.rows return as a whole.

struct Params {
  rows: u32,
  h: u32,
  w: u32,
  H: u32,
  W: u32,
  scale_y: f32,
  scale_x: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

override WG: u32 = 256;

#include "minmax_reduce"
#include "bilinear_sample"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let r = wg.y * nwg.x + wg.x;
  if (r >= p.rows) {
    return;
  }
  let z = p.H * p.W;
  let base = r * p.h * p.w;
  let out = r * z;
  var lo = 3e38;
  var hi = -3e38;
  for (var i = lid.x; i < z; i += WG) {
    let v = sample(base, i % p.W, i / p.W);
    dst[out + i] = v;
    lo = min(lo, v);
    hi = max(hi, v);
  }
  let range = minmax_reduce(lid.x, lo, hi);
  let span = range.y - range.x;
  for (var i = lid.x; i < z; i += WG) {
    dst[out + i] = select(0.0, (dst[out + i] - range.x) / span, span > 0.0);
  }
}
