// bilinear_sample: sample(base, x, y), the value at output pixel (x, y) of a map resized with
// half-pixel centres (PyTorch align_corners=False, OpenCV INTER_LINEAR): the source is read at
// sy = max((y + 0.5)·scale_y − 0.5, 0), sx likewise, the upper neighbour clamped to the border.
// The including kernel declares the source maps as `src` (array<f32>, row-major [rows, h, w],
// the map at src[base …]) and the uniform `p` with fields h, w (the source map's size), scale_y
// = h/H and scale_x = w/W.

fn sample(base: u32, x: u32, y: u32) -> f32 {
  let sy = max((f32(y) + 0.5) * p.scale_y - 0.5, 0.0);
  let sx = max((f32(x) + 0.5) * p.scale_x - 0.5, 0.0);
  let y0 = min(u32(floor(sy)), p.h - 1u);
  let x0 = min(u32(floor(sx)), p.w - 1u);
  let y1 = min(y0 + 1u, p.h - 1u);
  let x1 = min(x0 + 1u, p.w - 1u);
  let fy = sy - f32(y0);
  let fx = sx - f32(x0);
  let top = src[base + y0 * p.w + x0] * (1.0 - fx) + src[base + y0 * p.w + x1] * fx;
  let bottom = src[base + y1 * p.w + x0] * (1.0 - fx) + src[base + y1 * p.w + x1] * fx;
  return top * (1.0 - fy) + bottom * fy;
}
