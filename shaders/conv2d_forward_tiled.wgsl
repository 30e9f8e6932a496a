// conv2d_forward_tiled: y = conv2d(x, w) + b for any kernel size, stride, dilation, zero padding
// and groups, reading weights packed by conv2d_pack.wgsl; with RELU, y = max(y, 0) fused into
// the store. Used for 1×1 convs, strided convs and any conv that conv2d_forward_3x3.wgsl does not
// cover; also for the input gradient of stride-1 convs (a conv of dy with the flipped,
// transposed weights; see src/ops/conv2d.ts).
//
// Layout (float32, row-major):
//   x is (N, Cin, H, W), y is (N, Cout, YH, YW) (see output placement below), b is (Cout).
//   w is packed (G, Cin/G, KH, KW, COP) with COP = p.cop4·4 ≥ Cout/G, zero past Cout/G, read as
//   vec4s: the weights of 4 consecutive output channels for one input channel and tap are one
//   vec4, at ((g·Cin/G + c)·KH·KW + kh·KW + kw)·p.cop4 + co/4.
//   ih = oh·sh − pad_top + kh·dh, iw = ow·sw − pad_left + kw·dw.
//
// Threads: each invocation computes a register tile of 4 output rows × 4 consecutive output
// columns × CO output channels (4 as one vec4 per pixel, 8 as two with CO8), for one image.
// Invocation index (wg.y · nwg.x + wg.x) · WG + lid.x, decomposed column tile fastest (tile_at):
//   i = ((n · p.co_tiles_all + ct) · p.oh_tiles + oht) · p.ow_tiles + owt,
// ct = g · p.co_tiles + (channel tile inside group g). Per tap and input channel the invocation
// loads 16 input values and CO/4 weight vec4s for 16·CO FMAs (see conv2d_forward_3x3.wgsl on
// why loads are what to save on software adapters). The 4×4 pixel loop is written out by hand
// (fma4 below); the tap and channel loops are real loops, taps outside.
//
// Output placement: y is (N, Cout, p.YH, p.YW) and output pixel (oh, ow) is stored at row
// p.yoh + oh·p.ysh, column p.yow + ow·p.ysw. A plain conv has YH = OH, YW = OW, strides 1 and
// offsets 0; the input gradient of a strided conv runs one such conv per stride phase, each
// writing every ysh-th row and ysw-th column of dx (see src/ops/conv2d.ts).
//
// Edges: invocations past p.count return. Input outside the image (padding) reads as 0 (the
// index is clamped inside, the value selected away). Tile rows, columns or channels past OH, OW
// or the group's Cout/G are computed and never stored.
// F16: the packed weights are stored as IEEE halves, two per u32 (src/ops/half.ts), unpacked
// with unpack2x16float on load; everything else, accumulation included, stays float32.

struct Params {
  count: u32,
  Cin: u32,
  H: u32,
  W: u32,
  Cout: u32,
  OH: u32,
  OW: u32,
  KH: u32,
  KW: u32,
  sh: u32,
  sw: u32,
  pt: u32,
  pl: u32,
  dh: u32,
  dw: u32,
  cin_g: u32,
  cout_g: u32,
  cop4: u32,
  co_tiles: u32,
  co_tiles_all: u32,
  oh_tiles: u32,
  ow_tiles: u32,
  YH: u32,
  YW: u32,
  ysh: u32,
  ysw: u32,
  yoh: u32,
  yow: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
#if F16
// Weights stored as halves (src/ops/half.ts): 4 output channels are 4 halves in one vec2u.
@group(0) @binding(2) var<storage, read> w: array<vec2u>;
fn wload(i: u32) -> vec4f {
  let q = w[i];
  return vec4f(unpack2x16float(q.x), unpack2x16float(q.y));
}
#else
@group(0) @binding(2) var<storage, read> w: array<vec4f>;
fn wload(i: u32) -> vec4f {
  return w[i];
}
#endif
#if BIAS
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
#else
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
#endif

override WG: u32 = 64;

// tile_at, Px4, the row and column clamps, bias4, store4 and store_tile:
// shaders/include/conv2d_tile.wgsl.
#include "conv2d_tile"

// One input value per output pixel of a tile row, for one tap.
struct X4 {
  x0: f32,
  x1: f32,
  x2: f32,
  x3: f32,
}

// Column offsets (clamped into the row) and validity of the 4 input columns of one tap.
struct Cols {
  i0: u32,
  i1: u32,
  i2: u32,
  i3: u32,
  v0: bool,
  v1: bool,
  v2: bool,
  v3: bool,
}

fn fma4(acc: Px4, r: X4, k: vec4f) -> Px4 {
  return Px4(acc.a + r.x0 * k, acc.b + r.x1 * k, acc.c + r.x2 * k, acc.d + r.x3 * k);
}

// The tap's input values for one tile row: `row` is the clamped row's offset, `ok` whether the
// row is inside the image.
fn load4(row: u32, ok: bool, q: Cols) -> X4 {
  return X4(
    select(0.0, x[row + q.i0], ok && q.v0),
    select(0.0, x[row + q.i1], ok && q.v1),
    select(0.0, x[row + q.i2], ok && q.v2),
    select(0.0, x[row + q.i3], ok && q.v3),
  );
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  let t = tile_at(i);
  let n = t.n;
  let g = t.g;
  let co_in_g = t.co_in_g;
  let oh0 = t.oh0;
  let ow0 = t.ow0;
  let ih0 = i32(oh0 * p.sh) - i32(p.pt);
  let iw0 = i32(ow0 * p.sw) - i32(p.pl);
  let rs = i32(p.sh); // input rows between tile rows
  let cs = i32(p.sw); // input columns between tile columns

  // Accumulators: r<row>_<vec4 of channels>.
  let b0 = bias4(g * p.cout_g + co_in_g);
  var r0_0 = Px4(b0, b0, b0, b0);
  var r1_0 = r0_0;
  var r2_0 = r0_0;
  var r3_0 = r0_0;
#if CO8
  let b1 = bias4(g * p.cout_g + co_in_g + 4u);
  var r0_1 = Px4(b1, b1, b1, b1);
  var r1_1 = r0_1;
  var r2_1 = r0_1;
  var r3_1 = r0_1;
#endif

  // Taps outermost: the clamped offsets and validity of the tile's input rows and columns are
  // worked out once per tap, and the input-channel loop inside only loads and multiplies.
  let taps = p.KH * p.KW;
  let plane_in = p.H * p.W;
  let x_first = (n * p.Cin + g * p.cin_g) * plane_in; // channel 0 of the group
  let w_step = taps * p.cop4; // next input channel in w
  for (var kh = 0u; kh < p.KH; kh++) {
    let ih = ih0 + i32(kh * p.dh);
    let o0 = x_first + row_at(ih);
    let o1 = x_first + row_at(ih + rs);
    let o2 = x_first + row_at(ih + 2 * rs);
    let o3 = x_first + row_at(ih + 3 * rs);
    let ok0 = row_ok(ih);
    let ok1 = row_ok(ih + rs);
    let ok2 = row_ok(ih + 2 * rs);
    let ok3 = row_ok(ih + 3 * rs);
    for (var kw = 0u; kw < p.KW; kw++) {
      let iw = iw0 + i32(kw * p.dw);
      let q = Cols(col(iw), col(iw + cs), col(iw + 2 * cs), col(iw + 3 * cs),
                   in_row(iw), in_row(iw + cs), in_row(iw + 2 * cs), in_row(iw + 3 * cs));
      var k = (g * p.cin_g * taps + kh * p.KW + kw) * p.cop4 + co_in_g / 4u;
      var xc = 0u; // offset of input channel c from channel 0
      for (var c = 0u; c < p.cin_g; c++) {
        let w0 = wload(k);
        let x0 = load4(o0 + xc, ok0, q);
        let x1 = load4(o1 + xc, ok1, q);
        let x2 = load4(o2 + xc, ok2, q);
        let x3 = load4(o3 + xc, ok3, q);
        r0_0 = fma4(r0_0, x0, w0);
        r1_0 = fma4(r1_0, x1, w0);
        r2_0 = fma4(r2_0, x2, w0);
        r3_0 = fma4(r3_0, x3, w0);
#if CO8
        let w1 = wload(k + 1u);
        r0_1 = fma4(r0_1, x0, w1);
        r1_1 = fma4(r1_1, x1, w1);
        r2_1 = fma4(r2_1, x2, w1);
        r3_1 = fma4(r3_1, x3, w1);
#endif
        k += w_step;
        xc += plane_in;
      }
    }
  }

  if (co_in_g >= p.cout_g) {
    return;
  }
  let nco = p.cout_g - co_in_g;
  let plane_out = p.YH * p.YW;
  let rstep = p.ysh * p.YW; // next tile row in y
  let at = (n * p.Cout + g * p.cout_g + co_in_g) * plane_out + (p.yoh + oh0 * p.ysh) * p.YW + p.yow + ow0 * p.ysw;
  store_tile(at, plane_out, rstep, p.ysw, oh0, ow0, nco, r0_0, r1_0, r2_0, r3_0);
#if CO8
  if (nco > 4u) {
    store_tile(at + 4u * plane_out, plane_out, rstep, p.ysw, oh0, ow0, nco - 4u, r0_1, r1_1, r2_1, r3_1);
  }
#endif
}
