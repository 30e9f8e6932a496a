// maxpool2d_backward: dx[b, c, ih, iw] = the sum of dy[b, c, oh, ow] over the windows (oh, ow)
// whose first maximum is input cell (ih, iw). A gather (one invocation per dx cell, no atomics)
// that handles any pool; the dispatcher runs it where windows overlap (for disjoint windows
// maxpool2d_backward_windows.wgsl is its default).
// Which cell won each window comes, with ARGMAX (the dispatcher's default here, kernel
// 'argmax' in src/ops/pool.ts), from an index buffer that maxpool2d_forward.wgsl's ARGMAX
// variant writes just before this runs, once for all T targets (the forward pass saves x, not
// indices); without ARGMAX (kernel 'gather') each window is searched again in the saved forward
// input x, for every cell and target, with the forward's own window_max().
//
// Layout: dy is [T*N, C, OH, OW] (T targets stacked over the forward batch, target-major),
// dx is [T*N, C, H, W], NCHW float32. Binding 2 (x) is the forward input [N, C, H, W], or with
// ARGMAX the windows' argmax [N, C, OH, OW] (each window's winner as ih*W + iw in its map, a
// float). Gradient row b uses image b % N: with plane = b*C + c that is plane
// (plane % p.xplanes) of binding 2, p.xplanes = N*C.
// Threads: one invocation per dx element, index (wg.y * nwg.x + wg.x) * WG + lid.x (grid1d),
// decoded as ((b*C + c)*H + ih)*W + iw. It visits the windows that contain (ih, iw): rows
// oh with oh*sh - pt <= ih <= oh*sh - pt + kh - 1, i.e. ceil((ih + pt - kh + 1) / sh) <= oh
// <= floor((ih + pt) / sh), clipped to [0, OH) (first_window and end_window,
// shaders/include/pool_gather.wgsl); likewise for columns.
// With ARGMAX a cell costs one load per window that contains it instead of a search of each
// such window.
// Edges: padding never wins a window. Ties: the first maximum in row-major window order wins
// (strict >), the same window_max() as maxpool2d_forward.wgsl (shaders/include/window_max.wgsl)
// and PyTorch's rule, so each dy reaches one cell.
// Invocations past p.count return.

struct Params {
  count: u32,
  xplanes: u32,
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
@group(0) @binding(2) var<storage, read> x: array<f32>; // with ARGMAX: the windows' argmax
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

override WG: u32 = 256;

#include "pool_gather"
#include "window_max"

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
  let xbase = (plane % p.xplanes) * p.h * p.w;
  let dybase = plane * p.oh * p.ow;
  let me = ih * i32(p.w) + iw;
  let oh_end = end_window(ih, p.pt, p.sh, i32(p.oh));
  let ow_end = end_window(iw, p.pl, p.sw, i32(p.ow));
  var g = 0.0;
  for (var oh = first_window(ih, p.pt, p.kh, p.sh); oh < oh_end; oh++) {
    for (var ow = first_window(iw, p.pl, p.kw, p.sw); ow < ow_end; ow++) {
#if ARGMAX
      let arg = i32(x[(plane % p.xplanes) * p.oh * p.ow + u32(oh) * p.ow + u32(ow)]);
#else
      let arg = window_max(xbase, oh * p.sh - p.pt, ow * p.sw - p.pl).at;
#endif
      if (arg == me) {
        g += dy[dybase + u32(oh) * p.ow + u32(ow)];
      }
    }
  }
  dx[i] = g;
}
