// maxpool2d_forward: y[n, c, oh, ow] = the maximum of x[n, c] over window (oh, ow).
//
// Layout: x is [N, C, H, W], y is [N, C, OH, OW], NCHW float32. Window (oh, ow) covers input
// rows oh*sh - pt ... oh*sh - pt + kh - 1 and columns ow*sw - pl ... ow*sw - pl + kw - 1.
// Threads: one invocation per output element, index (wg.y * nwg.x + wg.x) * WG + lid.x
// (grid1d), decoded as ((n*C + c)*OH + oh)*OW + ow.
// Edges: cells outside the input are padding and never win (they are skipped, not read as
// zero or -inf). The dispatcher guarantees every window holds at least one input cell. Ties go
// to the first maximum in row-major window order (strict >), as in the backward and PyTorch.
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
  let base = plane * p.h * p.w;
  let h = i32(p.h);
  let w = i32(p.w);
  let h0 = oh * p.sh - p.pt;
  let w0 = ow * p.sw - p.pl;
  var best = 0.0;
  var found = false;
  var arg = 0;
  for (var ih = max(h0, 0); ih < min(h0 + p.kh, h); ih++) {
    for (var iw = max(w0, 0); iw < min(w0 + p.kw, w); iw++) {
      let v = x[base + u32(ih * w + iw)];
      if (!found || v > best) {
        best = v;
        found = true;
        arg = ih * w + iw;
      }
    }
  }
#if ARGMAX
  y[i] = f32(arg);
#else
  y[i] = best;
#endif
}
