// metric_blur: the blurred baseline of deletion and insertion, a Gaussian blur of every channel
// of x: out(y, x) = Σ_{dy, dx ∈ [−h, h]} g(dy)·g(dx)·in(y + dy, x + dx), zero outside the image
// (torch conv2d with padding h), g(d) = exp(−d² / 2σ²) / Σ_{d'=−h…h} exp(−d'² / 2σ²), h = klen / 2.
//
// Layout: src, dst [N·C, H, W] f32, row-major.
// Threads: one invocation per output element, e = (wg.y * nwg.x + wg.x) * WG + lid.x (grid1d).
// Edges: invocations past p.count return; taps outside the image add nothing.

struct Params {
  count: u32,
  h: u32,
  w: u32,
  half: u32,
  sigma: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

override WG: u32 = 256;

fn tap(d: i32) -> f32 {
  let f = f32(d);
  return exp(-f * f / (2.0 * p.sigma * p.sigma));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let e = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (e >= p.count) {
    return;
  }
  let hw = p.h * p.w;
  let plane = (e / hw) * hw;
  let y = i32((e % hw) / p.w);
  let x = i32(e % p.w);
  let h = i32(p.half);
  var norm = 0.0;
  for (var d = -h; d <= h; d++) {
    norm += tap(d);
  }
  var s = 0.0;
  for (var dy = -h; dy <= h; dy++) {
    let yy = y + dy;
    if (yy < 0 || yy >= i32(p.h)) {
      continue;
    }
    var row = 0.0;
    for (var dx = -h; dx <= h; dx++) {
      let xx = x + dx;
      if (xx < 0 || xx >= i32(p.w)) {
        continue;
      }
      row += tap(dx) * src[plane + u32(yy) * p.w + u32(xx)];
    }
    s += tap(dy) * row;
  }
  dst[e] = s / (norm * norm);
}
