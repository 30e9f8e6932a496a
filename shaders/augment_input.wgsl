// augment_input: one augmented copy of a batch of images for explain's augSmooth option
// (src/methods/augment.ts): an optional horizontal flip, then a brightness factor, applied to
// the normalised input,
//
//   out[o + i·C·H·W + c·H·W + y·W + x] = p.factor · x_in[i, c, y, p.flip ? W − 1 − x : x]
//
// Layout: x [N, C, H, W]; out [A·N, C, H, W], this copy's N images starting at element
// p.offset (= a·N·C·H·W: copy-major, image a·N + i is copy a of image i).
// Threads: one invocation per element of the copy, index (wg.y·nwg.x + wg.x)·WG + lid.x.
// Edges: invocations past p.count (= N·C·H·W) return.

struct Params {
  count: u32,
  w: u32,
  flip: u32,
  offset: u32,
  factor: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let j = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (j >= p.count) {
    return;
  }
  let col = j % p.w;
  var src = j;
  if (p.flip != 0u) {
    src = j - col + (p.w - 1u - col);
  }
  out[p.offset + j] = p.factor * x[src];
}
