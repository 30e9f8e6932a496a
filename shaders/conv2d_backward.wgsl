// conv2d_backward: dx = ∂⟨dy, conv2d(x, w)⟩/∂x, the gradient of a conv with respect to its
// input, for T targets, written as a gather (no atomics).
//
// Layout (NCHW, float32, row-major):
//   dy is (T·N, Cout, OH, OW), w is (Cout, Cin/g, KH, KW), dx is (T·N, Cin, H, W): the
//   gradients of T targets stacked over the N forward images. The forward input itself is not
//   needed (the conv is linear in x).
//   Input channel ci is in group g = ci / (Cin/g) and feeds output channels g·(Cout/g) up to
//   (g+1)·(Cout/g) − 1, with weight index ci − g·(Cin/g) on the second axis.
//
// Math: input pixel (ih, iw) was tap (kh, kw) of output (oh, ow) exactly when
//   oh·sh = ih + pad_top − kh·dh and ow·sw = iw + pad_left − kw·dw
// with oh, ow integers in range. So
//   dx[b, ci, ih, iw] = Σ_{such kh, kw} Σ_{co in the group} dy[b, co, oh, ow] · w[co, ci − g·Cin/g, kh, kw].
//
// Threads: one invocation per dx element, index (wg.y * nwg.x + wg.x) * WG + lid.x over
// T·N·Cin·H·W, iw fastest.
// Edges: invocations past p.count return; taps whose oh or ow is negative, not a multiple of
// the stride or past the output are skipped.

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
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  let iw = i % p.W;
  var r = i / p.W;
  let ih = r % p.H;
  r = r / p.H;
  let ci = r % p.Cin;
  let bt = r / p.Cin;
  let g = ci / p.cin_g;
  let c = ci - g * p.cin_g;
  let co_first = g * p.cout_g;
  let dy_step = p.OH * p.OW; // next output channel in dy
  let w_step = p.cin_g * p.KH * p.KW; // next output channel in w

  var s = 0.0;
  for (var kh = 0u; kh < p.KH; kh++) {
    let ohs = i32(ih + p.pt) - i32(kh * p.dh); // = oh·sh
    if (ohs < 0) {
      break; // ohs only decreases with kh
    }
    let oh = u32(ohs) / p.sh;
    if (oh * p.sh != u32(ohs) || oh >= p.OH) {
      continue;
    }
    for (var kw = 0u; kw < p.KW; kw++) {
      let ows = i32(iw + p.pl) - i32(kw * p.dw); // = ow·sw
      if (ows < 0) {
        break; // ows only decreases with kw
      }
      let ow = u32(ows) / p.sw;
      if (ow * p.sw != u32(ows) || ow >= p.OW) {
        continue;
      }
      var di = ((bt * p.Cout + co_first) * p.OH + oh) * p.OW + ow;
      var wi = ((co_first * p.cin_g + c) * p.KH + kh) * p.KW + kw;
      for (var co = 0u; co < p.cout_g; co++) {
        s += dy[di] * w[wi];
        di += dy_step;
        wi += w_step;
      }
    }
  }
  dx[i] = s;
}
