// overlay: colour an attribution map with a colormap and blend it over an RGB image, writing
// RGBA8 pixels ready to copy into a canvas texture.
//
// Layouts: attr holds [T, H, W] float32 maps, values meant to lie in [0, 1] (clamped); the one
// drawn starts at p.map_offset = t * H * W. lut is the colormap in byte units: 256 entries of
// (r, g, b) floats in [0, 255] (255 * colormapLUT(), rounded to float32 on the CPU), entry i at
// lut[3i .. 3i+2]. img (IMAGE variant) is [3, H, W] float32 RGB planes in [0, 1].
// rgba is [H, row_stride] u32 words, one pixel each,
// packed r | g << 8 | b << 16 | a << 24 (byte order r, g, b, a in memory, as rgba8unorm and
// ImageData expect); row_stride >= W lets a row start on the 256-byte boundary that
// copyBufferToTexture needs.
//
// Per pixel and channel:
//   k   = min(255, floor(clamp(v, 0, 1) * 256))   which LUT entry (matplotlib's rule for N = 256
//                                                 colours: 256 equal bins, v = 1 in the last);
//                                                 v * 256 is exact in float32, so the CPU
//                                                 reference always picks the same entry
//   c   = (1 - opacity) * 255 * img + opacity * lut[k]   IMAGE variant; else c = lut[k]
//   out = floor(clamp(c, 0, 255) + 0.5)           round half up (not pack4x8unorm, which may
//                                                 round half to even)
// alpha is 255. Values that are not finite (include/finite.wgsl) are taken as finite(v): a NaN in
// the map picks the first LUT entry, ±Infinity the last or the first; a NaN in the image blends
// as 0. Blending in byte units keeps the LUT's colours exact: without an image, or with
// opacity 1, c is the LUT value itself and adding 0.5 to it is exact in float32, so the bytes
// equal the CPU reference's (src/reference/render.ts) bit for bit. Other opacities round the
// float32 blend, which can fall on the other side of a rounding tie than the float64 reference:
// off by one there, and only there.
//
// Threads: one invocation per output word, H * row_stride of them, index from grid1d()
// ((wg.y * nwg.x + wg.x) * WG + lid.x). Edges: padding words (x >= W) are written 0;
// invocations past the end return.

struct Params {
  height: u32,
  width: u32,
  row_stride: u32,
  opacity: f32,
  map_offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> attr: array<f32>;
@group(0) @binding(2) var<storage, read> lut: array<f32>;
@group(0) @binding(3) var<storage, read_write> rgba: array<u32>;
#if IMAGE
@group(0) @binding(4) var<storage, read> img: array<f32>;
#endif

override WG: u32 = 256;

#include "finite"

fn to_byte(c: f32) -> u32 {
  return u32(floor(clamp(finite(c), 0.0, 255.0) + 0.5));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.height * p.row_stride) {
    return;
  }
  let y = i / p.row_stride;
  let x = i % p.row_stride;
  if (x >= p.width) {
    rgba[i] = 0u;
    return;
  }
  let hw = p.height * p.width;
  let pix = y * p.width + x;
  let k = min(255u, u32(floor(clamp(finite(attr[p.map_offset + pix]), 0.0, 1.0) * 256.0)));
  var c = vec3f(lut[3u * k], lut[3u * k + 1u], lut[3u * k + 2u]);
#if IMAGE
  let under = vec3f(finite(img[pix]), finite(img[hw + pix]), finite(img[2u * hw + pix]));
  c = (1.0 - p.opacity) * (255.0 * under) + p.opacity * c;
#endif
  rgba[i] = to_byte(c.r) | (to_byte(c.g) << 8u) | (to_byte(c.b) << 16u) | (255u << 24u);
}
