// linear_forward: y = x * W^T (+ b), PyTorch layout: y[n, m] = sum_k x[n, k] * w[m, k] + b[m].
//
// Layout: x is [R, K], w is [M, K], y is [R, M], row-major float32, R = rows (N for [N, K]; for
// x [N, …, K] every dim before the last); with BIAS, b is [M] (bound after y). Sizes in p:
// m = M, k = K; count = R·M.
// Threads: one invocation per output element, index (wg.y * nwg.x + wg.x) * WG + lid.x
// (grid1d), decoded as r*M + m; neighbouring invocations share the x row and read different
// weight rows. The dot product runs 4 terms at a time through vec4 (buffers are arrays of f32,
// so any K works), then the K % 4 remaining terms one by one. A register-tiled variant (several
// outputs per invocation) would be a preprocessor variant of this file.
// Edges: invocations past p.count = R*M return.
// F16: w is stored as IEEE halves, two per u32 (src/ops/half.ts), read back as float32 with
// unpack2x16float; the accumulation is float32.

struct Params {
  count: u32,
  m: u32,
  k: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
#if F16
// The weights stored as halves (src/ops/half.ts): element j is half j % 2 of word j / 2.
@group(0) @binding(2) var<storage, read> w: array<u32>;
fn wat(j: u32) -> f32 {
  return unpack2x16float(w[j >> 1u])[j & 1u];
}
#else
@group(0) @binding(2) var<storage, read> w: array<f32>;
fn wat(j: u32) -> f32 {
  return w[j];
}
#endif
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
#if BIAS
@group(0) @binding(4) var<storage, read> b: array<f32>;
#endif

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  let row = i / p.m;
  let col = i % p.m;
  let xs = row * p.k;
  let ws = col * p.k;
  let k4 = p.k & ~3u;
  var acc4 = vec4f(0.0);
  for (var j = 0u; j < k4; j += 4u) {
    let a = vec4f(x[xs + j], x[xs + j + 1u], x[xs + j + 2u], x[xs + j + 3u]);
    let v = vec4f(wat(ws + j), wat(ws + j + 1u), wat(ws + j + 2u), wat(ws + j + 3u));
    acc4 = fma(a, v, acc4);
  }
  var acc = (acc4.x + acc4.y) + (acc4.z + acc4.w);
  for (var j = k4; j < p.k; j++) {
    acc = fma(x[xs + j], wat(ws + j), acc);
  }
#if BIAS
  acc += b[col];
#endif
  y[i] = acc;
}
