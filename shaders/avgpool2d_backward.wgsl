// avgpool2d_backward: dx[b, c, ih, iw] = the sum of dy[b, c, oh, ow] / divisor(oh, ow) over
// the windows (oh, ow) that contain input cell (ih, iw). A gather, no atomics.
//
// Layout: dy is [T*N, C, OH, OW] (T targets stacked over the forward batch, target-major),
// dx is [T*N, C, H, W], NCHW float32. The forward input itself is not needed.
// Threads: one invocation per dx element, index (wg.y * nwg.x + wg.x) * WG + lid.x (grid1d),
// decoded as ((b*C + c)*H + ih)*W + iw. It visits the windows that contain (ih, iw): rows
// oh with ceil((ih + pt - kh + 1) / sh) <= oh <= floor((ih + pt) / sh), clipped to [0, OH);
// likewise for columns (first_window and end_window, shaders/include/pool_gather.wgsl).
// Edges: the divisor is the one of avgpool2d_forward.wgsl: with COUNT_INCLUDE_PAD the window
// clipped to the padded input [-pt, H + pb) x [-pl, W + pr), else its input cells only.
// Invocations past p.count return.

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
  pb: i32,
  pr: i32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

override WG: u32 = 256;

// The divisor's extent along one axis (rows or columns): the window [s0, s0 + k) on an axis of
// n input cells with pad1 cells of padding after them (s0 already includes the leading pad).
fn extent(s0: i32, k: i32, n: i32, pad1: i32) -> i32 {
  let s1 = min(s0 + k, n + pad1);
#if COUNT_INCLUDE_PAD
  return s1 - s0;
#else
  return min(s1, n) - max(s0, 0);
#endif
}

#include "pool_gather"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  let iw = i32(i % p.w);
  let ih = i32((i / p.w) % p.h);
  let plane = i / (p.w * p.h);
  let dybase = plane * p.oh * p.ow;
  let oh_end = end_window(ih, p.pt, p.sh, i32(p.oh));
  let ow_end = end_window(iw, p.pl, p.sw, i32(p.ow));
  let ow_begin = first_window(iw, p.pl, p.kw, p.sw);
  var g = 0.0;
  for (var oh = first_window(ih, p.pt, p.kh, p.sh); oh < oh_end; oh++) {
    let rows = extent(oh * p.sh - p.pt, p.kh, i32(p.h), p.pb);
    for (var ow = ow_begin; ow < ow_end; ow++) {
      let cols = extent(ow * p.sw - p.pl, p.kw, i32(p.w), p.pr);
      g += dy[dybase + u32(oh) * p.ow + u32(ow)] / f32(rows * cols);
    }
  }
  dx[i] = g;
}
