// concat_forward: copy one input of a concatenation into its slice of the output. The
// dispatcher runs this once per input.
//
// Layout: view the input x as [outer, C, inner] and the output y as [outer, Ctot, inner], where
// the concatenation axis holds C (this input) or Ctot (all inputs), outer is the product of the
// dims before it and inner of the dims after it (axis 1 of NCHW: outer = N, inner = H·W).
// This input's channels start at channel Coff of y. The uniforms carry the products:
// cinner = C·inner, ctinner = Ctot·inner, offinner = Coff·inner; count = outer·C·inner.
// Threads: one invocation per input element i = o·cinner + r (r < cinner), index
// (wg.y * nwg.x + wg.x) * WG + lid.x (grid1d); it writes y[o·ctinner + offinner + r].
// Edges: invocations past p.count return.

struct Params {
  count: u32,
  cinner: u32,
  ctinner: u32,
  offinner: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

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
  y[o * p.ctinner + p.offinner + r] = x[i];
}
