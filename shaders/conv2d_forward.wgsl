// conv2d_forward: y = conv2d(x, w) + b (cross-correlation, as in PyTorch and ONNX), with zero
// padding, stride, dilation and groups; with RELU, y = max(y, 0) fused into the store.
//
// Layout (NCHW, float32, row-major):
//   x is (N, Cin, H, W), w is (Cout, Cin/g, KH, KW), b is (Cout), y is (N, Cout, OH, OW).
//   Output channel co is in group co / (Cout/g) and reads input channels of that group only.
//   ih = oh·sh − pad_top + kh·dh, iw = ow·sw − pad_left + kw·dw.
//
// Threads: each invocation computes a register tile of CO output channels (4 with CO4, as the
// lanes of a vec4f accumulator, else 1) times OWT consecutive output pixels of one output row,
// for one image. Channel tiles never cross a group: each group's Cout/g channels are split into
// p.co_tiles tiles. Invocation index (wg.y * nwg.x + wg.x) * WG + lid.x, decomposed with the
// output-pixel tile fastest: i = ((n · p.co_tiles_all + ct) · OH + oh) · p.ow_tiles + owt,
// where ct = g · p.co_tiles + (tile inside the group). Neighbouring invocations share the same
// weights and read neighbouring input.
//
// Edges: invocations past p.count return. A channel tile that runs past its group's last
// channel loads that last channel's weights into the spare lanes and never stores them; a pixel
// tile that runs past OW computes the spare pixels and never stores them. Input outside the
// image (padding) reads as 0; rows outside it are skipped.
//
// Variants: CO4 (4 channels per invocation), BIAS (binding 3 is b, y moves to binding 4),
// RELU. Overrides: WG (workgroup size), OWT (pixels per invocation, 1..MAX_OWT).

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
  co_tiles: u32,
  co_tiles_all: u32,
  ow_tiles: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
#if BIAS
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
#else
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
#endif

override WG: u32 = 64;
override OWT: u32 = 4;
const MAX_OWT: u32 = 8u;

#if CO4
const CO: u32 = 4u;
alias acc_t = vec4f;
#else
const CO: u32 = 1u;
alias acc_t = f32;
#endif

// Per lane: the output channel it computes, clamped to the last valid one (nco of them valid).
fn lane_channels(co0: u32, nco: u32) -> vec4u {
  return vec4u(co0) + min(vec4u(0u, 1u, 2u, 3u), vec4u(nco - 1u));
}

// One weight per lane at offset k inside each lane's filter; wo holds the filters' starts.
fn load_w(wo: vec4u, k: u32) -> acc_t {
#if CO4
  return vec4f(w[wo.x + k], w[wo.y + k], w[wo.z + k], w[wo.w + k]);
#else
  return w[wo.x + k];
#endif
}

fn initial(ch: vec4u) -> acc_t {
#if BIAS
#if CO4
  return vec4f(b[ch.x], b[ch.y], b[ch.z], b[ch.w]);
#else
  return b[ch.x];
#endif
#else
  return acc_t(0.0);
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  let owt = i % p.ow_tiles;
  var r = i / p.ow_tiles;
  let oh = r % p.OH;
  r = r / p.OH;
  let ct = r % p.co_tiles_all;
  let n = r / p.co_tiles_all;
  let g = ct / p.co_tiles;
  let co_in_g = (ct % p.co_tiles) * CO;
  let co0 = g * p.cout_g + co_in_g;
  let nco = min(CO, p.cout_g - co_in_g);
  let ch = lane_channels(co0, nco);
  let wo = ch * (p.cin_g * p.KH * p.KW);
  let ow0 = owt * OWT;

  let v0 = initial(ch);
  var acc: array<acc_t, MAX_OWT>;
  for (var j = 0u; j < OWT; j++) {
    acc[j] = v0;
  }

  let ih0 = i32(oh * p.sh) - i32(p.pt);
  let iw0 = i32(ow0 * p.sw) - i32(p.pl);
  let Wi = i32(p.W);
  for (var c = 0u; c < p.cin_g; c++) {
    let xplane = (n * p.Cin + g * p.cin_g + c) * p.H;
    for (var kh = 0u; kh < p.KH; kh++) {
      let ih = ih0 + i32(kh * p.dh);
      if (ih < 0 || ih >= i32(p.H)) {
        continue;
      }
      let xrow = (xplane + u32(ih)) * p.W;
      let wrow = (c * p.KH + kh) * p.KW;
      for (var kw = 0u; kw < p.KW; kw++) {
        let wv = load_w(wo, wrow + kw);
        let iwk = iw0 + i32(kw * p.dw);
        for (var j = 0u; j < OWT; j++) {
          let iw = iwk + i32(j * p.sw);
          let xv = x[xrow + u32(clamp(iw, 0, Wi - 1))];
          acc[j] += select(0.0, xv, iw >= 0 && iw < Wi) * wv;
        }
      }
    }
  }

  let plane = p.OH * p.OW;
  let row = (n * p.Cout + co0) * plane + oh * p.OW;
  for (var j = 0u; j < OWT; j++) {
    let ow = ow0 + j;
    if (ow >= p.OW) {
      break;
    }
    var v = acc[j];
#if RELU
    v = max(v, acc_t(0.0));
#endif
#if CO4
    for (var l = 0u; l < nco; l++) {
      y[row + l * plane + ow] = v[l];
    }
#else
    y[row + ow] = v;
#endif
  }
}
