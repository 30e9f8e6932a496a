// linear_backward: the input gradient of y = x * W^T + b, dx = dy * W:
// dx[r, k] = sum_m dy[r, m] * w[m, k].
//
// Layout: dy is [R, M] rows (T targets stacked over the forward batch, target-major: R = T*N,
// times the dims before the last for an input of rank > 2), w is [M, K], dx is [R, K],
// row-major float32. Sizes in p: m = M, k = K.
// Threads: one invocation per dx element, index (wg.y * nwg.x + wg.x) * WG + lid.x (grid1d),
// decoded as r*K + k; neighbouring invocations read neighbouring weight columns (coalesced)
// and share the dy row. The sum runs 4 terms at a time through vec4, then the M % 4 rest.
// Edges: invocations past p.count = R*K return.
// F16: w is stored as IEEE halves, two per u32 (src/ops/half.ts), read back as float32 with
// unpack2x16float; the accumulation is float32.

struct Params {
  count: u32,
  m: u32,
  k: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
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
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  let row = i / p.k;
  let col = i % p.k;
  let ds = row * p.m;
  let m4 = p.m & ~3u;
  var acc4 = vec4f(0.0);
  for (var j = 0u; j < m4; j += 4u) {
    let g = vec4f(dy[ds + j], dy[ds + j + 1u], dy[ds + j + 2u], dy[ds + j + 3u]);
    let v = vec4f(wat(j * p.k + col), wat((j + 1u) * p.k + col), wat((j + 2u) * p.k + col),
                  wat((j + 3u) * p.k + col));
    acc4 = fma(g, v, acc4);
  }
  var acc = (acc4.x + acc4.y) + (acc4.z + acc4.w);
  for (var j = m4; j < p.m; j++) {
    acc = fma(dy[ds + j], wat(j * p.k + col), acc);
  }
  dx[i] = acc;
}
