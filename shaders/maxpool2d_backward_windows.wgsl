// maxpool2d_backward_windows: the max-pool input gradient for pools whose windows do not overlap
// (stride ≥ kernel on both axes): each input cell lies in at most one window, so one invocation
// per window finds the window's argmax once and writes the whole window for all T targets:
// dx = dy at the argmax, 0 elsewhere. maxpool2d_backward.wgsl is the general gather.
//
// Layout: dy is [T*N, C, OH, OW] (target-major), x is [N, C, H, W], dx is [T*N, C, H, W], NCHW
// float32. Gradient row b = t*N + n uses x[n]: with x plane xp = n*C + c the gradient plane of
// target t is t*N*C + xp = t*p.xplanes + xp.
// Threads: one invocation per (x plane, window), index (wg.y * nwg.x + wg.x) * WG + lid.x
// (grid1d), decoded as (xp*OH + oh)*OW + ow. The window argmax costs kh*kw loads once instead of
// once per target and per cell, which is what made the gather slow on software adapters.
// Edges: window cells outside the image (padding) are skipped; cells in no window (gaps when
// stride > kernel, the rows and columns floor mode drops) are not written here: the dispatcher
// zeroes dx first when there may be any. Ties: the first maximum in row-major window order
// wins (strict >): the same window_max() as maxpool2d_forward.wgsl
// (shaders/include/window_max.wgsl). Invocations past p.count return.

struct Params {
  count: u32,
  xplanes: u32,
  t: u32,
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
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

override WG: u32 = 256;

#include "window_max"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  let ow = i % p.ow;
  let oh = (i / p.ow) % p.oh;
  let xp = i / (p.ow * p.oh);
  let h = i32(p.h);
  let w = i32(p.w);
  let h0 = i32(oh) * p.sh - p.pt;
  let w0 = i32(ow) * p.sw - p.pl;
  let ha = max(h0, 0);
  let hb = min(h0 + p.kh, h);
  let wa = max(w0, 0);
  let wb = min(w0 + p.kw, w);
  let plane = p.h * p.w;
  let arg = window_max(xp * plane, h0, w0).at;
  let yplane = p.oh * p.ow;
  for (var t = 0u; t < p.t; t++) {
    let gp = t * p.xplanes + xp; // gradient plane
    let g = dy[gp * yplane + oh * p.ow + ow];
    let base = gp * plane;
    for (var ih = ha; ih < hb; ih++) {
      for (var iw = wa; iw < wb; iw++) {
        let cell = ih * w + iw;
        dx[base + u32(cell)] = select(0.0, g, cell == arg);
      }
    }
  }
}
