// upsample_bilinear: resize maps [R, h, w] to [R, H, W] with half-pixel centres (PyTorch
// align_corners=False, OpenCV INTER_LINEAR), then min–max normalise each resized map to [0, 1]
// (a constant map becomes zeros), as pytorch-grad-cam and torch-cam do after resizing: the
// interpolation's samples fall between the layer's cells, so without this a map would peak
// below 1. Output (y, x) samples the source at sy = max((y + 0.5)·h/H − 0.5, 0), sx likewise;
// the upper neighbour is clamped to the border. Vertical first: v_j = src[y0, j]·(1 − fy) +
// src[y1, j]·fy, then out = v_x0·(1 − fx) + v_x1·fx.
//
// Layout: src [R, h, w], dst [R, H, W], row-major.
// Threads: one workgroup per map (workgroup id wg.y * nwg.x + wg.x = r); invocation lid.x
// resizes output rows lid.x, lid.x + WG, … of it into dst, walking each row left to right and
// keeping the two vertically interpolated source columns it is between (v_x0, v_x1), so that a
// source column is read once per output row rather than twice per output pixel (on an
// upscaling, W/w pixels share them); all invocations of a workgroup are at the same x, so the
// reload is a uniform branch. WG is 32 (src/attribution/kernels.ts): on SwiftShader twice as
// fast as 256 invocations, and one warp on a GPU. Each invocation keeps the min and max of what
// it wrote; after the workgroup's min/max reduction (minmax_reduce.wgsl) it rescales its own
// rows in place (it rereads only what it wrote).
// Edges: workgroups past p.rows return as a whole; invocations past H rows only join the reduction.

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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let r = wg.y * nwg.x + wg.x;
  if (r >= p.rows) {
    return;
  }
  let base = r * p.h * p.w;
  let out = r * p.H * p.W;
  var lo = 3e38;
  var hi = -3e38;
  for (var y = lid.x; y < p.H; y += WG) {
    let sy = max((f32(y) + 0.5) * p.scale_y - 0.5, 0.0);
    let y0 = min(u32(floor(sy)), p.h - 1u);
    let y1 = min(y0 + 1u, p.h - 1u);
    let fy = sy - f32(y0);
    let top = base + y0 * p.w;
    let bottom = base + y1 * p.w;
    let row = out + y * p.W;
    var at = 0xffffffffu; // the source column v0 is of (none yet)
    var v0 = 0.0;
    var v1 = 0.0;
    for (var x = 0u; x < p.W; x++) {
      let sx = max((f32(x) + 0.5) * p.scale_x - 0.5, 0.0);
      let x0 = min(u32(floor(sx)), p.w - 1u);
      if (x0 != at) {
        let x1 = min(x0 + 1u, p.w - 1u);
        if (at != 0xffffffffu && x0 == at + 1u) {
          v0 = v1; // the right neighbour becomes the left one
        } else {
          v0 = src[top + x0] * (1.0 - fy) + src[bottom + x0] * fy;
        }
        v1 = src[top + x1] * (1.0 - fy) + src[bottom + x1] * fy;
        at = x0;
      }
      let fx = sx - f32(x0);
      let v = v0 * (1.0 - fx) + v1 * fx;
      dst[row + x] = v;
      lo = min(lo, v);
      hi = max(hi, v);
    }
  }
  let range = minmax_reduce(lid.x, lo, hi);
  let span = range.y - range.x;
  for (var y = lid.x; y < p.H; y += WG) {
    let row = out + y * p.W;
    for (var x = 0u; x < p.W; x++) {
      dst[row + x] = select(0.0, (dst[row + x] - range.x) / span, span > 0.0);
    }
  }
}
