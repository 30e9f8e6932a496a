// linear_forward: y = x * W^T (+ b), PyTorch layout: y[n, m] = sum_k x[n, k] * w[m, k] + b[m].
//
// Layout: x is [R, K], w is [M, K], y is [R, M], row-major float32, R = rows (N for [N, K]; for
// x [N, …, K] every dim before the last); with BIAS, b is [M] (bound after y). Sizes in p:
// m = M, k = K; count = the invocations that write (below).
// Threads, by default: one invocation per output element, index (wg.y * nwg.x + wg.x) * WG +
// lid.x (grid1d), decoded as r*M + m (count = R·M); neighbouring invocations share the x row and
// read different weight rows. The dot product runs 4 terms at a time through vec4 (buffers are
// arrays of f32, so any K works), then the K % 4 remaining terms one by one.
// COLS4 (K % 4 == 0, src/ops/linear.ts): one invocation per row and 4 consecutive columns,
// index decoded as r*Q + q with Q = ceil(M / 4) (count = R·Q), columns 4q … 4q + 3. x and w are
// read as vec4 (rows start at multiples of 4 floats): per 4 terms one x load and 4 weight loads
// for 16 FMAs, where the default kernel makes 8 scalar loads for 4 (on software adapters a
// scalar load with a computed index costs about 25 FMAs). Each column's sum runs in the same
// order as the default kernel's. Columns past M (the last group when M % 4 != 0) read row M - 1
// and are not stored.
// Edges: invocations past p.count return.
// F16: w is stored as IEEE halves, two per u32 (src/ops/half.ts), read back as float32 with
// unpack2x16float; the accumulation is float32. With COLS4 four halves are one vec2u.

struct Params {
  count: u32,
  m: u32,
  k: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
#if COLS4
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
#if F16
// Four halves per vec2u: the weights' elements 4v … 4v + 3.
@group(0) @binding(2) var<storage, read> w: array<vec2u>;
fn wat4(v: u32) -> vec4f {
  let h = w[v];
  return vec4f(unpack2x16float(h.x), unpack2x16float(h.y));
}
#else
@group(0) @binding(2) var<storage, read> w: array<vec4f>;
fn wat4(v: u32) -> vec4f {
  return w[v];
}
#endif
#else
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
#endif
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
#if BIAS
@group(0) @binding(4) var<storage, read> b: array<f32>;
#endif

override WG: u32 = 256;

#if COLS4
fn hsum(v: vec4f) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  let q = (p.m + 3u) / 4u;
  let row = i / q;
  let c0 = (i % q) * 4u;
  let k4 = p.k / 4u; // vec4s per row
  let xs = row * k4;
  let last = p.m - 1u;
  let w0 = min(c0, last) * k4;
  let w1 = min(c0 + 1u, last) * k4;
  let w2 = min(c0 + 2u, last) * k4;
  let w3 = min(c0 + 3u, last) * k4;
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  for (var j = 0u; j < k4; j++) {
    let a = x[xs + j];
    a0 = fma(a, wat4(w0 + j), a0);
    a1 = fma(a, wat4(w1 + j), a1);
    a2 = fma(a, wat4(w2 + j), a2);
    a3 = fma(a, wat4(w3 + j), a3);
  }
  var acc = vec4f(hsum(a0), hsum(a1), hsum(a2), hsum(a3));
  let out = row * p.m + c0;
  for (var c = 0u; c < 4u; c++) {
    if (c0 + c < p.m) {
#if BIAS
      y[out + c] = acc[c] + b[c0 + c];
#else
      y[out + c] = acc[c];
#endif
    }
  }
}
#else
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
#endif
