// conv2d_forward_gemm: y = conv2d(x, w) + b as an implicit GEMM with tiles staged in workgroup
// memory, for any kernel size, stride, dilation, zero padding and groups, reading weights packed
// by conv2d_pack.wgsl; with RELU, y = max(y, 0) fused into the store. The kernel for GPUs: the
// register-tiled kernels (conv2d_forward_tiled.wgsl, conv2d_forward_3x3.wgsl) suit software
// adapters, where every storage load is expensive and workgroup memory buys nothing. Also runs
// the input gradient of dilation-1 convs, one stride phase per dispatch (a conv of dy with the
// flipped, transposed weights; see src/ops/conv2d.ts).
//
// The product, per group g (Cin/G = p.cin_g input and Cout/G = p.cout_g output channels):
//   Y[m][n] = Σ_k A[k][m] · B[k][n]
//   m: output channel inside the group (0 .. cout_g − 1)
//   n: output pixel over the batch, n = (img · OH + oh) · OW + ow (0 .. p.npix − 1)
//   k: input channel and tap, k = (c · KH + kh) · KW + kw (0 .. p.kdim − 1, kdim = cin_g·KH·KW)
//   A[k][m] = w[(g · kdim + k) · p.cop + m]: the packed weights (G, Cin/G, KH, KW, COP) read as
//            f32, COP = p.cop ≥ cout_g (a multiple of 4), zero past cout_g
//   B[k][n] = x[img, g · cin_g + c, ih, iw] with ih = oh·sh − pad_top + kh·dh,
//            iw = ow·sw − pad_left + kw·dw, 0 outside the image (B is never stored: im2col is
//            done on the fly while staging)
// Layout (float32, row-major): x is (N, Cin, H, W), b is (Cout), y is (N, Cout, YH, YW) with
// output pixel (oh, ow) stored at row p.yoh + oh·p.ysh, column p.yow + ow·p.ysw (a plain conv:
// YH = OH, YW = OW, strides 1, offsets 0; a stride phase of the input gradient writes every
// ysh-th row and ysw-th column of dx). Pads may be negative (i32 bits in the u32 fields).
//
// Threads: one workgroup per TM × TN tile of Y (TM output channels × TN output pixels) of one
// group. Workgroup (x, y, z): pixel tile wg.y · nwg.x + wg.x (split over y above the 65535
// limit), z = g · p.m_tiles + channel tile. NT = (TM/4)·(TN/4) invocations; invocation lid
// owns a 4 × 4 register sub-tile, rows m0 + tm + i·TM/4 and columns n0 + tn + j·TN/4 (i, j < 4;
// tm = lid / (TN/4), tn = lid % (TN/4)), strided so that neighbouring invocations read
// neighbouring workgroup words and store neighbouring pixels.
// The K loop walks kdim in slices of TK, three barriers each:
//   1. the invocations decode the slice's k into (input-channel offset, kh·dh, kw·dw) in
//      `ktab` (TK entries) and stage A's TK × TM slice in `wa`; barrier;
//   2. they stage B's TK × TN slice in `xb`, each invocation every NT-th element, with no
//      integer division per element: the k part comes from `ktab`, and when NT is a multiple
//      of TN (the default tile) each invocation stages one pixel column, decoded once before
//      the loop (else each element's pixel is decoded); barrier;
//   3. each invocation accumulates its sub-tile from the staged slices (4 + 4 workgroup loads
//      per 16 FMAs); barrier.
// TM, TN (multiples of 4) and TK are override constants, and so are the workgroup arrays'
// sizes ((TM + TN)·TK f32 and TK vec4i); the dispatcher checks NT against
// maxComputeInvocationsPerWorkgroup and (TM + TN + 4)·TK·4 bytes (wa, xb, ktab) against
// maxComputeWorkgroupStorageSize.
//
// Edges: a workgroup past the last pixel tile returns as a whole (uniformly, before any
// barrier). Staged elements past kdim, cout_g or npix are 0; sub-tile rows past cout_g and
// columns past npix are computed and never stored.
// F16: the packed weights are stored as IEEE halves, two per u32 (src/ops/half.ts), unpacked
// with unpack2x16float on load; everything else, accumulation included, stays float32.

struct Params {
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
  cop: u32,
  npix: u32,
  kdim: u32,
  m_tiles: u32,
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
// Weights stored as halves (src/ops/half.ts), two per u32.
@group(0) @binding(2) var<storage, read> w: array<u32>;
fn wload(i: u32) -> f32 {
  return unpack2x16float(w[i >> 1u])[i & 1u];
}
#else
@group(0) @binding(2) var<storage, read> w: array<f32>;
fn wload(i: u32) -> f32 {
  return w[i];
}
#endif
#if BIAS
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
#else
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
#endif

override TM: u32 = 32;
override TN: u32 = 32;
override TK: u32 = 16;
override NT: u32 = (TM / 4u) * (TN / 4u);

var<workgroup> wa: array<f32, TM * TK>;
var<workgroup> xb: array<f32, TN * TK>;
// Per k of the slice: x offset of its input channel (from the group's first), kh·dh, kw·dw,
// and 1 where k < kdim (else 0).
var<workgroup> ktab: array<vec4i, TK>;

// Where output pixel n reads: x offset of its image's first channel of the group, its first
// input row and column (oh·sh − pad_top, ow·sw − pad_left), and 1 where n < npix (else 0).
fn pixel(n: u32, c_first: u32) -> vec4i {
  if (n >= p.npix) {
    return vec4i(0, 0, 0, 0);
  }
  let ohw = p.OH * p.OW;
  let img = n / ohw;
  let r = n - img * ohw;
  let oh = r / p.OW;
  let ow = r - oh * p.OW;
  let at = (img * p.Cin + c_first) * p.H * p.W;
  return vec4i(i32(at), i32(oh * p.sh) - i32(p.pt), i32(ow * p.sw) - i32(p.pl), 1);
}

// B[k][n] from the pixel's `q` (pixel()) and the tap's `t` (ktab).
fn im2col(q: vec4i, t: vec4i) -> f32 {
  let ih = q.y + t.y;
  let iw = q.z + t.z;
  if (q.w == 0 || t.w == 0 || ih < 0 || ih >= i32(p.H) || iw < 0 || iw >= i32(p.W)) {
    return 0.0;
  }
  return x[u32(q.x + t.x) + u32(ih) * p.W + u32(iw)];
}

// Store the 4 sub-tile rows (channels m, m + ms, m + 2·ms, m + 3·ms of group g) of output
// pixel n, those inside the group; bias and RELU applied here.
fn store_px(g: u32, m: u32, ms: u32, n: u32, v: vec4f) {
  if (n >= p.npix) {
    return;
  }
  let ohw = p.OH * p.OW;
  let img = n / ohw;
  let r = n - img * ohw;
  let oh = r / p.OW;
  let ow = r - oh * p.OW;
  let plane = p.YH * p.YW;
  let co0 = g * p.cout_g;
  let px = (img * p.Cout + co0) * plane + (p.yoh + oh * p.ysh) * p.YW + p.yow + ow * p.ysw;
  for (var i = 0u; i < 4u; i++) {
    let mi = m + i * ms;
    if (mi < p.cout_g) {
      var s = v[i];
#if BIAS
      s += b[co0 + mi];
#endif
#if RELU
      s = max(s, 0.0);
#endif
      y[px + mi * plane] = s;
    }
  }
}

@compute @workgroup_size(NT)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let n0 = (wg.y * nwg.x + wg.x) * TN;
  if (n0 >= p.npix) {
    return; // the whole workgroup: n0 is uniform
  }
  let g = wg.z / p.m_tiles;
  let m0 = (wg.z - g * p.m_tiles) * TM;
  let ms = TM / 4u;
  let ns = TN / 4u;
  let tm = lid.x / ns;
  let tn = lid.x - tm * ns;

  let taps = p.KH * p.KW;
  let plane = p.H * p.W;
  let w_first = g * p.kdim * p.cop + m0; // A[0][m0]
  let c_first = g * p.cin_g; // the group's first input channel
  // NT a multiple of TN: invocation lid stages column lid % TN of every slice, rows
  // lid / TN + j·(NT / TN).
  let one_col = NT % TN == 0u;
  var mine = vec4i(0);
  if (one_col) {
    mine = pixel(n0 + lid.x % TN, c_first);
  }

  // acc_i[j]: row m0 + tm + i·ms, column n0 + tn + j·ns.
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);

  for (var k0 = 0u; k0 < p.kdim; k0 += TK) {
    for (var i = lid.x; i < TK; i += NT) {
      let k = k0 + i;
      let c = k / taps;
      let t = k - c * taps;
      let kh = t / p.KW;
      let kw = t - kh * p.KW;
      ktab[i] = vec4i(i32(c * plane), i32(kh * p.dh), i32(kw * p.dw), select(0, 1, k < p.kdim));
    }
    // Stage A[k0 .. k0 + TK)[m0 .. m0 + TM): consecutive invocations, consecutive channels.
    for (var l = lid.x; l < TM * TK; l += NT) {
      let kk = l / TM;
      let mm = l - kk * TM;
      let k = k0 + kk;
      var v = 0.0;
      if (k < p.kdim && m0 + mm < p.cout_g) {
        v = wload(w_first + k * p.cop + mm);
      }
      wa[l] = v;
    }
    workgroupBarrier(); // ktab
    // Stage B[k0 .. k0 + TK)[n0 .. n0 + TN): consecutive invocations, consecutive pixels.
    if (one_col) {
      let col = lid.x % TN;
      for (var kk = lid.x / TN; kk < TK; kk += NT / TN) {
        xb[kk * TN + col] = im2col(mine, ktab[kk]);
      }
    } else {
      for (var l = lid.x; l < TN * TK; l += NT) {
        let kk = l / TN;
        let nn = l - kk * TN;
        xb[l] = im2col(pixel(n0 + nn, c_first), ktab[kk]);
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let xr = kk * TN + tn;
      let bv = vec4f(xb[xr], xb[xr + ns], xb[xr + 2u * ns], xb[xr + 3u * ns]);
      let wr = kk * TM + tm;
      acc0 = fma(vec4f(wa[wr]), bv, acc0);
      acc1 = fma(vec4f(wa[wr + ms]), bv, acc1);
      acc2 = fma(vec4f(wa[wr + 2u * ms]), bv, acc2);
      acc3 = fma(vec4f(wa[wr + 3u * ms]), bv, acc3);
    }
    workgroupBarrier();
  }

  let m = m0 + tm;
  let n = n0 + tn;
  store_px(g, m, ms, n, vec4f(acc0.x, acc1.x, acc2.x, acc3.x));
  store_px(g, m, ms, n + ns, vec4f(acc0.y, acc1.y, acc2.y, acc3.y));
  store_px(g, m, ms, n + 2u * ns, vec4f(acc0.z, acc1.z, acc2.z, acc3.z));
  store_px(g, m, ms, n + 3u * ns, vec4f(acc0.w, acc1.w, acc2.w, acc3.w));
}
