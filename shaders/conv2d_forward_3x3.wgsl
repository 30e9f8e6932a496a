// conv2d_forward_3x3: y = conv2d(x, w) + b for 3×3 kernels with stride 1 and dilation 1 (any
// zero padding, any groups), reading weights packed by conv2d_pack.wgsl; with RELU,
// y = max(y, 0) fused into the store. Also runs the input gradient of such a conv (a conv of dy
// with the flipped, transposed weights; see src/ops/conv2d.ts).
//
// Layout (float32, row-major):
//   x is (N, Cin, H, W), y is (N, Cout, OH, OW), b is (Cout).
//   w is packed (G, Cin/G, 3, 3, COP) with COP = p.cop4·4 ≥ Cout/G, zero past Cout/G, read as
//   vec4s: the weights of 4 consecutive output channels of one input channel and tap are one
//   vec4, at ((g·Cin/G + c)·9 + kh·3 + kw)·p.cop4 + co/4.
//   ih = oh − pad_top + kh, iw = ow − pad_left + kw.
//
// Threads: each invocation computes a register tile of 4 output rows × 4 consecutive output
// columns × CO output channels (4 as one vec4 per pixel, 8 as two with CO8), for one image.
// Invocation index (wg.y · nwg.x + wg.x) · WG + lid.x, decomposed column tile fastest (tile_at):
//   i = ((n · p.co_tiles_all + ct) · p.oh_tiles + oht) · p.ow_tiles + owt,
// ct = g · p.co_tiles + (channel tile inside group g). Per input channel the invocation loads
// its 9·CO/4 weight vec4s once and the 6×6 input patch row by row, each input value feeding up
// to 3×3 taps of the tile. On software adapters (SwiftShader) every storage load with a computed
// index costs one lane-by-lane gather, many times an FMA, so the tile is chosen to do the most
// FMAs per load: 36 input + 9·CO/4 weight loads for 144·CO FMAs per input channel. The loops are
// written out by hand (taps4 below): SwiftShader does not unroll loops, and a register tile
// indexed by a loop counter would live in memory.
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
  pt: u32,
  pl: u32,
  cin_g: u32,
  cout_g: u32,
  cop4: u32,
  co_tiles: u32,
  co_tiles_all: u32,
  oh_tiles: u32,
  ow_tiles: u32,
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

// 6 consecutive input values of one row: what 4 outputs × 3 taps read.
struct Row6 {
  x0: f32,
  x1: f32,
  x2: f32,
  x3: f32,
  x4: f32,
  x5: f32,
}

// The 3 taps of one kernel row for 4 channels.
struct W3 {
  w0: vec4f,
  w1: vec4f,
  w2: vec4f,
}

// Column offsets (clamped into the row) and validity of the 6 input columns of the tile.
struct Cols {
  i0: u32,
  i1: u32,
  i2: u32,
  i3: u32,
  i4: u32,
  i5: u32,
  v0: bool,
  v1: bool,
  v2: bool,
  v3: bool,
  v4: bool,
  v5: bool,
}

fn taps4(acc: Px4, r: Row6, k: W3) -> Px4 {
  return Px4(
    acc.a + r.x0 * k.w0 + r.x1 * k.w1 + r.x2 * k.w2,
    acc.b + r.x1 * k.w0 + r.x2 * k.w1 + r.x3 * k.w2,
    acc.c + r.x2 * k.w0 + r.x3 * k.w1 + r.x4 * k.w2,
    acc.d + r.x3 * k.w0 + r.x4 * k.w1 + r.x5 * k.w2,
  );
}

// The input row starting at offset r (clamped into the image); ok: whether the row is inside
// the image (rows outside give zeros).
fn load_row(r: u32, ok: bool, q: Cols) -> Row6 {
  return Row6(
    select(0.0, x[r + q.i0], ok && q.v0),
    select(0.0, x[r + q.i1], ok && q.v1),
    select(0.0, x[r + q.i2], ok && q.v2),
    select(0.0, x[r + q.i3], ok && q.v3),
    select(0.0, x[r + q.i4], ok && q.v4),
    select(0.0, x[r + q.i5], ok && q.v5),
  );
}

fn load_w3(k: u32) -> W3 {
  return W3(wload(k), wload(k + p.cop4), wload(k + 2u * p.cop4));
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
  let ih0 = i32(oh0) - i32(p.pt);
  let iw0 = i32(ow0) - i32(p.pl);
  let q = Cols(col(iw0), col(iw0 + 1), col(iw0 + 2), col(iw0 + 3), col(iw0 + 4), col(iw0 + 5),
               in_row(iw0), in_row(iw0 + 1), in_row(iw0 + 2), in_row(iw0 + 3), in_row(iw0 + 4), in_row(iw0 + 5));

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

  // The 6 input rows' offsets (clamped) and validity, worked out once for all channels.
  let o0 = row_at(ih0);
  let o1 = row_at(ih0 + 1);
  let o2 = row_at(ih0 + 2);
  let o3 = row_at(ih0 + 3);
  let o4 = row_at(ih0 + 4);
  let o5 = row_at(ih0 + 5);
  let ok0 = row_ok(ih0);
  let ok1 = row_ok(ih0 + 1);
  let ok2 = row_ok(ih0 + 2);
  let ok3 = row_ok(ih0 + 3);
  let ok4 = row_ok(ih0 + 4);
  let ok5 = row_ok(ih0 + 5);
  let wrow = 3u * p.cop4; // next kernel row in w
  let plane_in = p.H * p.W;
  var plane = (n * p.Cin + g * p.cin_g) * plane_in;
  var k = g * p.cin_g * 9u * p.cop4 + co_in_g / 4u;
  for (var c = 0u; c < p.cin_g; c++) {
    let k0_0 = load_w3(k);
    let k1_0 = load_w3(k + wrow);
    let k2_0 = load_w3(k + 2u * wrow);
#if CO8
    let k0_1 = load_w3(k + 1u);
    let k1_1 = load_w3(k + 1u + wrow);
    let k2_1 = load_w3(k + 1u + 2u * wrow);
#endif
    // Input row ih0 + t feeds output row t − kh through kernel row kh.
    let x0 = load_row(plane + o0, ok0, q);
    r0_0 = taps4(r0_0, x0, k0_0);
#if CO8
    r0_1 = taps4(r0_1, x0, k0_1);
#endif
    let x1 = load_row(plane + o1, ok1, q);
    r0_0 = taps4(r0_0, x1, k1_0);
    r1_0 = taps4(r1_0, x1, k0_0);
#if CO8
    r0_1 = taps4(r0_1, x1, k1_1);
    r1_1 = taps4(r1_1, x1, k0_1);
#endif
    let x2 = load_row(plane + o2, ok2, q);
    r0_0 = taps4(r0_0, x2, k2_0);
    r1_0 = taps4(r1_0, x2, k1_0);
    r2_0 = taps4(r2_0, x2, k0_0);
#if CO8
    r0_1 = taps4(r0_1, x2, k2_1);
    r1_1 = taps4(r1_1, x2, k1_1);
    r2_1 = taps4(r2_1, x2, k0_1);
#endif
    let x3 = load_row(plane + o3, ok3, q);
    r1_0 = taps4(r1_0, x3, k2_0);
    r2_0 = taps4(r2_0, x3, k1_0);
    r3_0 = taps4(r3_0, x3, k0_0);
#if CO8
    r1_1 = taps4(r1_1, x3, k2_1);
    r2_1 = taps4(r2_1, x3, k1_1);
    r3_1 = taps4(r3_1, x3, k0_1);
#endif
    let x4 = load_row(plane + o4, ok4, q);
    r2_0 = taps4(r2_0, x4, k2_0);
    r3_0 = taps4(r3_0, x4, k1_0);
#if CO8
    r2_1 = taps4(r2_1, x4, k2_1);
    r3_1 = taps4(r3_1, x4, k1_1);
#endif
    let x5 = load_row(plane + o5, ok5, q);
    r3_0 = taps4(r3_0, x5, k2_0);
#if CO8
    r3_1 = taps4(r3_1, x5, k2_1);
#endif
    plane += plane_in;
    k += 9u * p.cop4;
  }

  if (co_in_g >= p.cout_g) {
    return;
  }
  let nco = p.cout_g - co_in_g;
  let plane_out = p.OH * p.OW;
  let at = (n * p.Cout + g * p.cout_g + co_in_g) * plane_out + oh0 * p.OW + ow0;
  // Tile rows p.OW apart, pixels 1 apart.
  store_tile(at, plane_out, p.OW, 1u, oh0, ow0, nco, r0_0, r1_0, r2_0, r3_0);
#if CO8
  if (nco > 4u) {
    store_tile(at + 4u * plane_out, plane_out, p.OW, 1u, oh0, ow0, nco - 4u, r0_1, r1_1, r2_1, r3_1);
  }
#endif
}
