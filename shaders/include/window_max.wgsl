// window_max: the first maximum of one max-pool window, the one search that
// maxpool2d_forward.wgsl, maxpool2d_backward.wgsl and maxpool2d_backward_windows.wgsl share, so
// that the forward and every backward agree on which cell wins a window.
//
// Provides:
//   WindowMax                 v: the window's maximum; at: its cell's offset ih·W + iw in the map,
//                             −1 for a window without input cells (the dispatchers never make one).
//   window_max(base, h0, w0)  the window of rows h0 .. h0 + kh − 1 and columns w0 .. w0 + kw − 1
//                             of the x map starting at element base. Cells outside the map
//                             (padding) are skipped, never read as 0 or −inf. Ties: the first
//                             maximum in row-major window order wins (strict >), as in PyTorch.
//
// The including kernel declares `p` (uniform Params) with fields h, w (the map's size) as u32
// and kh, kw (the window's) as i32, and `x: array<f32>`, the input maps.

struct WindowMax {
  v: f32,
  at: i32,
}

fn window_max(base: u32, h0: i32, w0: i32) -> WindowMax {
  let h = i32(p.h);
  let w = i32(p.w);
  var best = WindowMax(0.0, -1);
  for (var ih = max(h0, 0); ih < min(h0 + p.kh, h); ih++) {
    for (var iw = max(w0, 0); iw < min(w0 + p.kw, w); iw++) {
      let v = x[base + u32(ih * w + iw)];
      if (best.at < 0 || v > best.v) {
        best = WindowMax(v, ih * w + iw);
      }
    }
  }
  return best;
}
