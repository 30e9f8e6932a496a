// concat_backward: the gradient of one input of a concatenation is its slice of the output's
// gradient. The dispatcher runs this once per input.
//
// Layout: dy is [T·N, ..., Ctot, inner...] viewed as [outer, Ctot, inner]; dx is the same with
// C (this input's size along the axis) instead of Ctot: [outer, C, inner]. outer = T·N times
// the dims between the batch and the axis, so the T targets need no special handling. This
// input's channels start at channel Coff of dy. Uniforms: cinner = C·inner,
// ctinner = Ctot·inner, offinner = Coff·inner; count = outer·C·inner.
// Threads: one invocation per dx element i = o·cinner + r (r < cinner), index
// (wg.y * nwg.x + wg.x) * WG + lid.x (grid1d); it reads dy[o·ctinner + offinner + r].
// Edges: invocations past p.count return.

struct Params {
  count: u32,
  cinner: u32,
  ctinner: u32,
  offinner: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  let o = i / p.cinner;
  let r = i - o * p.cinner;
  dx[i] = dy[o * p.ctinner + p.offinner + r];
}
