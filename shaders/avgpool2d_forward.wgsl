// avgpool2d_forward: y[n, c, oh, ow] = (sum of x[n, c] over the input cells of window
// (oh, ow)) / divisor(oh, ow).
//
// Layout: x is [N, C, H, W], y is [N, C, OH, OW], NCHW float32. Window (oh, ow) covers input
// rows oh*sh - pt ... oh*sh - pt + kh - 1 and columns ow*sw - pl ... ow*sw - pl + kw - 1.
// Threads: one invocation per output element, index (wg.y * nwg.x + wg.x) * WG + lid.x
// (grid1d), decoded as ((n*C + c)*OH + oh)*OW + ow.
// Edges: padding adds nothing to the sum. The divisor, with COUNT_INCLUDE_PAD, is the window
// clipped to the padded input [-pt, H + pb) x [-pl, W + pr) (PyTorch: a ceil-mode window that
// hangs past the padding does not count the cells beyond it); without it, the number of input
// cells in the window (never 0: the dispatcher guarantees every window holds one).
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
  let h1 = min(h0 + p.kh, h + p.pb);
  let w1 = min(w0 + p.kw, w + p.pr);
  // valid (input) part of the window
  let vh0 = max(h0, 0);
  let vw0 = max(w0, 0);
  let vh1 = min(h1, h);
  let vw1 = min(w1, w);
  var sum = 0.0;
  for (var ih = vh0; ih < vh1; ih++) {
    for (var iw = vw0; iw < vw1; iw++) {
      sum += x[base + u32(ih * w + iw)];
    }
  }
#if COUNT_INCLUDE_PAD
  let divisor = (h1 - h0) * (w1 - w0);
#else
  let divisor = (vh1 - vh0) * (vw1 - vw0);
#endif
  y[i] = sum / f32(divisor);
}
