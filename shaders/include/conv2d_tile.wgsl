// conv2d_tile: the pieces of the 4×4-pixel register tile that conv2d_forward_3x3.wgsl and
// conv2d_forward_tiled.wgsl share: which tile an invocation computes, the tile row type, the
// input row and column clamps, the bias and the guarded store (with RELU fused in). How each
// kernel loads its input and weights and walks the taps stays in the kernel.
//
// Provides:
//   Tile, tile_at(i)         the tile of invocation i: image n, group g, first channel co_in_g
//                            inside the group (a multiple of CO: 4, or 8 with CO8), first output
//                            row oh0 and column ow0 (multiples of 4). i decomposes column tile
//                            fastest: i = ((n · co_tiles_all + ct) · oh_tiles + oht) · ow_tiles
//                            + owt, with ct = g · co_tiles + co_in_g / CO (as src/ops/conv2d.ts
//                            counts them for both kernels).
//   Px4                      4 output pixels of one tile row × 4 channels (one vec4 per pixel).
//   col(iw), in_row(iw)      input column iw clamped into [0, W), and whether it is inside.
//   row_at(ih), row_ok(ih)   offset of input row ih clamped into [0, H) (row · W), and whether
//                            it is inside. Clamped indices are always safe to load; the kernel
//                            selects the loaded value away where the row or column is outside.
//   bias4(co)                b[co .. co + 3] (indices clamped to Cout − 1; lanes past the
//                            group's channels are never stored), or 0 without BIAS.
//   store4(at, plane, cs, oh, ow0, nco, v)
//                            stores the first nco (≤ 4) channels of tile row v, output row oh,
//                            columns ow0 .. ow0 + 3 (those < OW; nothing when oh ≥ OH), with
//                            max(v, 0) under RELU: pixel j of channel l goes to
//                            y[at + l·plane + j·cs].
//   store_tile(at, plane, rs, cs, oh0, ow0, nco, r0, r1, r2, r3)
//                            the 4 tile rows r0 .. r3 (output rows oh0 .. oh0 + 3) by store4,
//                            rows rs apart in y.
//
// The including kernel declares: `p` (uniform Params) with u32 fields H, W (input), Cout, OH, OW
// (the output rows and columns computed, before any placement), co_tiles, co_tiles_all,
// oh_tiles, ow_tiles; `y: array<f32>` (read_write); with BIAS, `b: array<f32>` (Cout). Defines
// read here: CO8, BIAS, RELU.

// The tile one invocation computes (see tile_at).
struct Tile {
  n: u32,
  g: u32,
  co_in_g: u32,
  oh0: u32,
  ow0: u32,
}

fn tile_at(i: u32) -> Tile {
  let owt = i % p.ow_tiles;
  var r = i / p.ow_tiles;
  let oht = r % p.oh_tiles;
  r = r / p.oh_tiles;
  let ct = r % p.co_tiles_all;
#if CO8
  let co = 8u;
#else
  let co = 4u;
#endif
  return Tile(r / p.co_tiles_all, ct / p.co_tiles, (ct % p.co_tiles) * co, oht * 4u, owt * 4u);
}

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
fn store4(at: u32, plane: u32, cs: u32, oh: u32, ow0: u32, nco: u32, v: Px4) {
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

// Store the 4 rows of a tile (4 channels of it): row t holds output row oh0 + t, at `at` + t·rs.
fn store_tile(at: u32, plane: u32, rs: u32, cs: u32, oh0: u32, ow0: u32, nco: u32,
              r0: Px4, r1: Px4, r2: Px4, r3: Px4) {
  store4(at, plane, cs, oh0, ow0, nco, r0);
  store4(at + rs, plane, cs, oh0 + 1u, ow0, nco, r1);
  store4(at + 2u * rs, plane, cs, oh0 + 2u, ow0, nco, r2);
  store4(at + 3u * rs, plane, cs, oh0 + 3u, ow0, nco, r3);
}
