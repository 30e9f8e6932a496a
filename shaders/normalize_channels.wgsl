// normalize_channels: a few chosen channels of one row of a [B, K, h, w] tensor (feature maps
// A^k, gradients g^k, Grad-CAM++'s a^k), each scaled to [0, 1] on its own, for display.
//
//   mode 0 (min–max):  out_ij = (v_ij − min) / (max − min), or 0 everywhere when max == min
//   mode 1 (signed):   out_ij = 0.5 + 0.5 · v_ij / max|v|, or 0.5 everywhere when max|v| == 0
//                      (zero stays at the middle of a diverging colormap)
//
// Finite whatever comes in (include/finite.wgsl): min, max and max|v| are those of the channel's
// finite values; a value that is not finite is shown as finite(v) (NaN → 0, ±Infinity →
// ±F32_MAX) clamped to [min, max] (mode 0) or [−max|v|, max|v|] (mode 1), so +Infinity is drawn
// as the top of the scale and −Infinity as its bottom; a channel with no finite value is 0
// (mode 0) or 0.5 (mode 1) everywhere.
//
// Layout: src holds the row to read starting at element p.base (= b·K·Z); channel k of it is
// src[base + k·Z .. base + k·Z + Z). ids [M] are the channel indices as float32 (exact below
// 2^24), out [M, h, w] with Z = h·w.
// Threads: one workgroup per chosen channel (workgroup index (wg.y * nwg.x + wg.x) = m). Its WG
// invocations stride over the Z positions keeping a running min/max, a workgroup tree reduction
// gives the channel's min/max, then each invocation writes the positions it read.
// Edges: workgroups past M return (uniformly, before any barrier); an id >= K writes zeros.

struct Params {
  count: u32,
  k: u32,
  z: u32,
  base: u32,
  mode: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

#include "finite"
#include "minmax_reduce"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let m = wg.y * nwg.x + wg.x;
  if (m >= p.count) {
    return;
  }
  let ch = u32(ids[m]);
  let valid = ch < p.k;
  let src_base = p.base + ch * p.z;
  let out_base = m * p.z;

  var lo = 3.0e38;
  var hi = -3.0e38;
  if (valid) {
    for (var j = lid.x; j < p.z; j += WG) {
      let v = src[src_base + j];
      if (is_finite(v)) {
        lo = min(lo, v);
        hi = max(hi, v);
      }
    }
  }
  let bounds = minmax_reduce(lid.x, lo, hi);
  let mn = bounds.x;
  let mx = bounds.y;
  let any_finite = mn <= mx;
  let amax = select(0.0, max(abs(mn), abs(mx)), any_finite);
  for (var j = lid.x; j < p.z; j += WG) {
    var o = select(0.0, 0.5, p.mode == 1u);
    if (valid && any_finite) {
      let v = finite(src[src_base + j]);
      if (p.mode == 0u) {
        o = unit_range(clamp(v, mn, mx), mn, mx);
      } else {
        o = select(0.5, 0.5 + 0.5 * (clamp(v, -amax, amax) / amax), amax > 0.0);
      }
    }
    out[out_base + j] = o;
  }
}
