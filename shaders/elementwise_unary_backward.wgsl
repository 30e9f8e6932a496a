// elementwise_unary_backward: dx from dy for one unary op of the table in
// src/defs/elementwise.ts, for T targets at once. A template: src/ops/elementwise.ts puts in the
// op's gradient expression for {{df}}, the name of the saved tensor it reads (x, the forward
// input, or y, the forward output) for {{saved}}, and its scalar parameters for {{params}}.
// With GUIDED (guided backprop, for ops it applies to: ReLU), dx is also 0 where dy ≤ 0.
//
// Layout: grad (dy) and dst (dx) are flat float32 arrays of p.count elements, shape [T·N, ...]:
// the gradients of T targets stacked over the N forward images (target-major). saved is the
// forward tensor, p.scount = N·(C·H·W) elements; gradient element i reads saved[i % scount], so
// one saved activation serves every target. With VEC4 (scount a multiple of 4) T is vec4f and
// both counts count vec4s (fewer invocations and loads: what costs on software adapters).
// Threads: one invocation per gradient element (or vec4), index (wg.y * nwg.x + wg.x) * WG + lid.x.
// Edges: invocations past p.count return.

#if VEC4
alias T = vec4f;
#else
alias T = f32;
#endif

// The WGSL snippets the op's expressions call (its `includes`), e.g. erf_t().
{{includes}}

struct Params {
  count: u32,
  scount: u32,
  {{params}}
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<T>;
@group(0) @binding(2) var<storage, read> saved: array<T>;
@group(0) @binding(3) var<storage, read_write> dst: array<T>;

override WG: u32 = 256;

fn df(dy: T, {{saved}}: T) -> T {
  return {{df}};
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  let g = grad[i];
  var d = df(g, saved[i % p.scount]);
#if GUIDED
  d = select(T(0.0), d, g > T(0.0));
#endif
  dst[i] = d;
}
