// upsample_bilinear: resize maps [R, h, w] to [R, H, W] with half-pixel centres (PyTorch
// align_corners=False, OpenCV INTER_LINEAR): output (y, x) samples the source at
// sy = max((y + 0.5)·h/H − 0.5, 0), sx likewise; the upper neighbour is clamped to the border.
//
// Layout: src [R, h, w], dst [R, H, W], row-major.
// Threads: one invocation per output pixel, index (wg.y * nwg.x + wg.x) * WG + lid.x.
// Edges: invocations past R·H·W return.

struct Params {
  count: u32,
  h: u32,
  w: u32,
  H: u32,
  W: u32,
  scale_y: f32,
  scale_x: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let idx = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (idx >= p.count) {
    return;
  }
  let x = idx % p.W;
  let y = (idx / p.W) % p.H;
  let r = idx / (p.W * p.H);

  let sy = max((f32(y) + 0.5) * p.scale_y - 0.5, 0.0);
  let sx = max((f32(x) + 0.5) * p.scale_x - 0.5, 0.0);
  let y0 = min(u32(floor(sy)), p.h - 1u);
  let x0 = min(u32(floor(sx)), p.w - 1u);
  let y1 = min(y0 + 1u, p.h - 1u);
  let x1 = min(x0 + 1u, p.w - 1u);
  let fy = sy - f32(y0);
  let fx = sx - f32(x0);

  let base = r * p.h * p.w;
  let top = src[base + y0 * p.w + x0] * (1.0 - fx) + src[base + y0 * p.w + x1] * fx;
  let bottom = src[base + y1 * p.w + x0] * (1.0 - fx) + src[base + y1 * p.w + x1] * fx;
  dst[idx] = top * (1.0 - fy) + bottom * fy;
}
