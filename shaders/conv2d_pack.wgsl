// conv2d_pack: re-lays out conv weights for the tiled conv kernels, as a 5-D strided gather
// with zero padding of the innermost axis:
//   out[i0, i1, i2, i3, i4] = i4 < p.n4 ? src[p.base + i0·s0 + i1·s1 + i2·s2 + i3·s3 + i4·s4] : 0
// The strides are signed, so one kernel transposes and flips. src/ops/conv2d.ts computes them:
//   forward packing:  w (Cout, Cin/G, KH, KW) → (G, Cin/G, KH, KW, COP), COP ≥ Cout/G, a multiple of 4;
//   backward packing: w → (G, Cout/G, KH, KW, CIP) with both kernel axes flipped, the weights
//                     of the conv whose forward is the input gradient of a stride-1 conv.
//
// Layout: src and out are flat float32 arrays; out has d0·d1·d2·d3·d4 elements, i4 fastest.
// Threads: one invocation per output element, index (wg.y · nwg.x + wg.x) · WG + lid.x; with
// VEC4 (d4 a multiple of 4) one invocation per 4 consecutive elements along i4, stored as one
// vec4 (p.count counts invocations). The index arithmetic is then done once per 4 elements,
// which on SwiftShader is most of the work.
// SRC_F16: src holds halves (f16 weight storage, src/ops/half.ts), unpacked to float32; out is
// float32 either way.
// Edges: invocations past p.count return; i4 ≥ p.n4 writes 0.

struct Params {
  count: u32,
  d1: u32,
  d2: u32,
  d3: u32,
  d4: u32,
  n4: u32,
  base: i32,
  s0: i32,
  s1: i32,
  s2: i32,
  s3: i32,
  s4: i32,
}

@group(0) @binding(0) var<uniform> p: Params;
#if SRC_F16
// The source stored as halves (src/ops/half.ts), two per u32: element j is half j % 2 of word j / 2.
@group(0) @binding(1) var<storage, read> src: array<u32>;
fn sload(j: u32) -> f32 {
  return unpack2x16float(src[j >> 1u])[j & 1u];
}
#else
@group(0) @binding(1) var<storage, read> src: array<f32>;
fn sload(j: u32) -> f32 {
  return src[j];
}
#endif
#if VEC4
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;
#else
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#endif

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
#if VEC4
  let q = p.d4 / 4u;
  let i4 = (i % q) * 4u;
  var r = i / q;
#else
  let i4 = i % p.d4;
  var r = i / p.d4;
#endif
  let i3 = r % p.d3;
  r = r / p.d3;
  let i2 = r % p.d2;
  r = r / p.d2;
  let i1 = r % p.d1;
  let i0 = r / p.d1;
  let s = p.base + i32(i0) * p.s0 + i32(i1) * p.s1 + i32(i2) * p.s2 + i32(i3) * p.s3 + i32(i4) * p.s4;
#if VEC4
  // Lanes past n4 read a clamped (valid) index and are zeroed.
  let last = i32(p.n4) - 1 - i32(i4);
  out[i] = vec4f(
    select(0.0, sload(u32(s + min(0, last) * p.s4)), i4 < p.n4),
    select(0.0, sload(u32(s + min(1, last) * p.s4)), i4 + 1u < p.n4),
    select(0.0, sload(u32(s + min(2, last) * p.s4)), i4 + 2u < p.n4),
    select(0.0, sload(u32(s + min(3, last) * p.s4)), i4 + 3u < p.n4),
  );
#else
  if (i4 >= p.n4) {
    out[i] = 0.0;
    return;
  }
  out[i] = sload(u32(s));
#endif
}
