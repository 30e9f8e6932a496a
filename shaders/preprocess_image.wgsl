// preprocess_image: an RGBA8 image of any size → the model's input [1, 3, H, W], resized with a
// triangle (bilinear) filter whose support widens with the downscale factor (antialiased, like
// PIL's BILINEAR resize), then normalised: out = (v/255 − mean_c) / std_c.
//
// Layout: src holds one pixel per u32, r | g<<8 | b<<16 | a<<24, row-major, src_w × src_h (alpha
// ignored). The region (x0, y0, rw, rh), in source pixels (may be fractional), is mapped onto the
// H × W output: output pixel (oy, ox) is centred at source (x0 + (ox + 0.5)·sx, y0 + (oy + 0.5)·sy)
// with sx = rw/W, sy = rh/H. Source pixel j (centre j + 0.5) weighs max(0, 1 − |j + 0.5 − c| / s)
// with s = max(1, scale) per axis; the weights of a window are normalised to sum 1. dst is
// [3, H, W] (channel-major).
// Threads: one invocation per output pixel (all three channels), index
// (wg.y * nwg.x + wg.x) * WG + lid.x = oy·W + ox.
// Edges: the window is clipped to the image; renormalising makes the border behave like
// clamp-to-edge. Invocations past H·W return.

struct Params {
  src_w: u32,
  src_h: u32,
  H: u32,
  W: u32,
  x0: f32,
  y0: f32,
  sx: f32,
  sy: f32,
  mean_r: f32,
  mean_g: f32,
  mean_b: f32,
  std_r: f32,
  std_g: f32,
  std_b: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

override WG: u32 = 64;

// First source index, one-past-last index, and the support of one axis's window around c.
fn window(c: f32, s: f32, size: u32) -> vec2i {
  let lo = max(i32(floor(c - s)), 0);
  let hi = min(i32(ceil(c + s)), i32(size));
  return vec2i(lo, hi);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let idx = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (idx >= p.H * p.W) {
    return;
  }
  let ox = idx % p.W;
  let oy = idx / p.W;
  let cx = p.x0 + (f32(ox) + 0.5) * p.sx;
  let cy = p.y0 + (f32(oy) + 0.5) * p.sy;
  let suppx = max(1.0, p.sx);
  let suppy = max(1.0, p.sy);
  let wx = window(cx, suppx, p.src_w);
  let wy = window(cy, suppy, p.src_h);

  var acc = vec3f(0.0);
  var wsum = 0.0;
  for (var j = wy.x; j < wy.y; j++) {
    let ky = max(0.0, 1.0 - abs(f32(j) + 0.5 - cy) / suppy);
    if (ky == 0.0) {
      continue;
    }
    for (var i = wx.x; i < wx.y; i++) {
      let kx = max(0.0, 1.0 - abs(f32(i) + 0.5 - cx) / suppx);
      let w = kx * ky;
      let px = src[u32(j) * p.src_w + u32(i)];
      acc += w * vec3f(f32(px & 0xFFu), f32((px >> 8u) & 0xFFu), f32((px >> 16u) & 0xFFu));
      wsum += w;
    }
  }
  let v = acc / (255.0 * max(wsum, 1e-30));
  let plane = p.H * p.W;
  dst[idx] = (v.x - p.mean_r) / p.std_r;
  dst[plane + idx] = (v.y - p.mean_g) / p.std_g;
  dst[2u * plane + idx] = (v.z - p.mean_b) / p.std_b;
}
