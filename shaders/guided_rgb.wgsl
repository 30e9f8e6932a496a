// guided_rgb: one signed input-gradient map (Guided Backprop, Guided Grad-CAM) as an RGB image
// for display: each input channel becomes a colour channel, scaled by the map's largest
// magnitude so that zero is mid-grey.
//
//   amax    = max over c, y, x of |v_cyx|
//   u       = 0.5 + 0.5 · v / amax           (u = 0.5 everywhere when amax == 0, never NaN)
//   byte    = floor(clamp(255 · u, 0, 255) + 0.5)
//
// Finite whatever comes in (include/finite.wgsl): amax is that of the finite values; a value
// that is not finite is drawn as finite(v) (NaN → 0, ±Infinity → ±F32_MAX) clamped to
// [−amax, amax]: NaN mid-grey, ±Infinity as the extremes.
//
// Layout: maps holds [T, 3, H, W] float32; the one drawn starts at element p.offset
// (= t·3·H·W). rgba is [H, row_stride] u32 words, one pixel each, packed
// r | g << 8 | b << 16 | 255 << 24 like overlay.wgsl, so drawToCanvas() can copy it into a
// canvas; padding words (x >= W) are 0.
// Threads: a single workgroup (the map is one image, a few tens of thousands of values). Its WG
// invocations stride over the 3·H·W values keeping a running max|v|, a workgroup tree reduction
// gives amax, then they stride over the H·row_stride output words.

struct Params {
  height: u32,
  width: u32,
  row_stride: u32,
  offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> maps: array<f32>;
@group(0) @binding(2) var<storage, read_write> rgba: array<u32>;

override WG: u32 = 256;

#include "finite"
#include "sum_max_reduce"

fn to_byte(x: f32, amax: f32) -> u32 {
  let v = clamp(finite(x), -amax, amax);
  let u = select(0.5, 0.5 + 0.5 * (v / amax), amax > 0.0);
  return u32(floor(clamp(255.0 * u, 0.0, 255.0) + 0.5));
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u) {
  let hw = p.height * p.width;
  var m = 0.0;
  for (var j = lid.x; j < 3u * hw; j += WG) {
    let v = maps[p.offset + j];
    if (is_finite(v)) {
      m = max(m, abs(v));
    }
  }
  let amax = max_reduce(lid.x, m);
  for (var i = lid.x; i < p.height * p.row_stride; i += WG) {
    let y = i / p.row_stride;
    let x = i % p.row_stride;
    if (x >= p.width) {
      rgba[i] = 0u;
      continue;
    }
    let pix = p.offset + y * p.width + x;
    let r = to_byte(maps[pix], amax);
    let g = to_byte(maps[pix + hw], amax);
    let b = to_byte(maps[pix + 2u * hw], amax);
    rgba[i] = r | (g << 8u) | (b << 16u) | (255u << 24u);
  }
}
