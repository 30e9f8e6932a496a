// guided_gradcam: the maps of the input-gradient methods, per input channel:
//   CAM      Guided Grad-CAM: out = cam ⊙ finite(guided), the upsampled Grad-CAM map times the
//            guided-backprop gradient;
//   no CAM   Guided Backprop (or another input-gradient method with no map to multiply by):
//            out = finite(guided).
// finite() (include/finite.wgsl: NaN → 0, ±Infinity → ±F32_MAX) makes the maps finite whatever
// the gradient holds; cam lies in [0, 1], so the product is finite too. Finite gradients pass
// unchanged, bit for bit.
//
// Layout: cam holds the normalised Grad-CAM maps upsampled to the input, [B, H, W], starting at
// element cam_offset (they are one method slot of the [M, B, H, W] upsampled maps);
// guided [B, C, H, W] (the (guided) gradient at the input); out [B, C, H, W].
// Threads: one invocation per output element, index (wg.y * nwg.x + wg.x) * WG + lid.x.
// Edges: invocations past B·C·H·W return.

struct Params {
  count: u32,
  c: u32,
  hw: u32,
  cam_offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
#if CAM
@group(0) @binding(1) var<storage, read> cam: array<f32>;
#endif
@group(0) @binding(2) var<storage, read> guided: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 256;

#include "finite"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let idx = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (idx >= p.count) {
    return;
  }
  let g = finite(guided[idx]);
#if CAM
  let b = idx / (p.c * p.hw);
  let pix = idx % p.hw;
  out[idx] = cam[p.cam_offset + b * p.hw + pix] * g;
#else
  out[idx] = g;
#endif
}
