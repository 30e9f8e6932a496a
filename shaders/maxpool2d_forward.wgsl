// maxpool2d_forward: y[n, c, oh, ow] = the maximum of x[n, c] over window (oh, ow).
//
// Layout: x is [N, C, H, W], y is [N, C, OH, OW], NCHW float32. Window (oh, ow) covers input
// rows oh*sh - pt ... oh*sh - pt + kh - 1 and columns ow*sw - pl ... ow*sw - pl + kw - 1.
// Threads: one invocation per output element, index (wg.y * nwg.x + wg.x) * WG + lid.x
// (grid1d), decoded as ((n*C + c)*OH + oh)*OW + ow.
// Edges: cells outside the input are padding and never win (they are skipped, not read as
// zero or -inf). The dispatcher guarantees every window holds at least one input cell. Ties go
// to the first maximum in row-major window order (strict >), as in PyTorch; the search is
// window_max() (shaders/include/window_max.wgsl), which the backward kernels share.
// Invocations past p.count return.
// Variant ARGMAX: y holds, instead of the maximum, the position of the window's first maximum
// in its map, ih*W + iw, as a float (exact below 2^24 cells per map): what the backward of
// overlapping windows reads (maxpool2d_backward.wgsl with ARGMAX) instead of searching each
// window again for every cell and target.

struct Params {
  count: u32,
  h: u32,
  w: u32,
  oh: u32,
  ow: u32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  pt: i32,
  pl: i32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

override WG: u32 = 256;

#include "window_max"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  let ow = i32(i % p.ow);
  let oh = i32((i / p.ow) % p.oh);
  let plane = i / (p.ow * p.oh);
  let m = window_max(plane * p.h * p.w, oh * p.sh - p.pt, ow * p.sw - p.pl);
#if ARGMAX
  y[i] = f32(m.at);
#else
  y[i] = m.v;
#endif
}
