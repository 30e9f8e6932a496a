// relu_backward: dx = dy · [x > 0]; with GUIDED (guided backprop) dx = dy · [x > 0] · [dy > 0].
//
// Layout: dy and dx are flat float32 arrays of p.count elements, shape [T·N, ...]: the
// gradients of T targets stacked over the N forward images (target-major). x is the forward
// input, p.xcount = N·(C·H·W) elements; gradient element i uses x[i % xcount], so one saved
// activation serves every target.
// Threads: one invocation per gradient element, index (wg.y * nwg.x + wg.x) * WG + lid.x; with
// VEC4 (xcount a multiple of 4) one per 4 consecutive elements as vec4s, and p.count, p.xcount
// count vec4s (fewer invocations and loads: what costs on software adapters).
// Edges: invocations past p.count return.

struct Params {
  count: u32,
  xcount: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
#if VEC4
alias elem = vec4f;
#else
alias elem = f32;
#endif

@group(0) @binding(1) var<storage, read> dy: array<elem>;
@group(0) @binding(2) var<storage, read> x: array<elem>;
@group(0) @binding(3) var<storage, read_write> dx: array<elem>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  let g = dy[i];
  var keep = x[i % p.xcount] > elem(0.0);
#if GUIDED
  keep = keep & (g > elem(0.0));
#endif
  dx[i] = select(elem(0.0), g, keep);
}
