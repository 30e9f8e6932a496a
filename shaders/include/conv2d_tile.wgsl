// conv2d_tile: the pieces of the 4×4-pixel register tile that conv2d_forward_3x3.wgsl and
// conv2d_forward_tiled.wgsl share: the tile row type, the input row and column clamps, the bias
// and the guarded store (with RELU fused in). How each kernel loads its input and weights and
// walks the taps stays in the kernel.
//
// Provides:
//   Px4                      4 output pixels of one tile row × 4 channels (one vec4 per pixel).
//   col(iw), in_row(iw)      input column iw clamped into [0, W), and whether it is inside.
//   row_at(ih), row_ok(ih)   offset of input row ih clamped into [0, H) (row · W), and whether
//                            it is inside. Clamped indices are always safe to load; the kernel
//                            selects the loaded value away where the row or column is outside.
//   bias4(co)                b[co .. co + 3] (indices clamped to Cout − 1; lanes past the
//                            group's channels are never stored), or 0 without BIAS.
//   store4(at, oh, ow0, nco, v, plane, cs)
//                            stores the first nco (≤ 4) channels of tile row v, output row oh,
//                            columns ow0 .. ow0 + 3 (those < OW; nothing when oh ≥ OH), with
//                            max(v, 0) under RELU: pixel j of channel l goes to
//                            y[at + l·plane + j·cs].
//
// The including kernel declares: `p` (uniform Params) with fields H, W (input), Cout, OH, OW
// (the output rows and columns computed, before any placement) as u32; `y: array<f32>`
// (read_write); with BIAS, `b: array<f32>` (Cout). Defines read here: BIAS, RELU.

// 4 output pixels of one row × 4 channels.
struct Px4 {
  a: vec4f,
  b: vec4f,
  c: vec4f,
  d: vec4f,
}

fn col(iw: i32) -> u32 {
  return u32(clamp(iw, 0, i32(p.W) - 1));
}

fn in_row(iw: i32) -> bool {
  return iw >= 0 && iw < i32(p.W);
}

fn row_ok(ih: i32) -> bool {
  return ih >= 0 && ih < i32(p.H);
}

fn row_at(ih: i32) -> u32 {
  return u32(clamp(ih, 0, i32(p.H) - 1)) * p.W;
}

fn bias4(co: u32) -> vec4f {
#if BIAS
  let last = p.Cout - 1u;
  return vec4f(b[min(co, last)], b[min(co + 1u, last)], b[min(co + 2u, last)], b[min(co + 3u, last)]);
#else
  return vec4f(0.0);
#endif
}

// Store one tile row: 4 pixels × the first nco of 4 channels; `at` is the row's first pixel in
// the tile's first channel, channel planes are `plane` apart and pixels `cs` apart in y.
fn store4(at: u32, oh: u32, ow0: u32, nco: u32, v: Px4, plane: u32, cs: u32) {
  if (oh >= p.OH) {
    return;
  }
  var acc = v;
#if RELU
  acc = Px4(max(v.a, vec4f(0.0)), max(v.b, vec4f(0.0)), max(v.c, vec4f(0.0)), max(v.d, vec4f(0.0)));
#endif
  let n = min(nco, 4u);
  for (var l = 0u; l < n; l++) {
    let o = at + l * plane;
    y[o] = acc.a[l];
    if (ow0 + 1u < p.OW) {
      y[o + cs] = acc.b[l];
    }
    if (ow0 + 2u < p.OW) {
      y[o + 2u * cs] = acc.c[l];
    }
    if (ow0 + 3u < p.OW) {
      y[o + 3u * cs] = acc.d[l];
    }
  }
}
