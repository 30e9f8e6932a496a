// elementwise_unary: y = f(x) for one unary op of the table in src/defs/elementwise.ts. This
// file is a template: src/ops/elementwise.ts puts the op's expression in for {{f}} and its
// scalar parameters (float32, read as p.<name>) in for {{params}}.
//
// Layout: src and dst are flat float32 arrays of the same shape. With VEC4 (the element count a
// multiple of 4) T is vec4f, 4 consecutive elements per invocation, and p.count counts vec4s.
// Threads: one invocation per element (or vec4), index (wg.y * nwg.x + wg.x) * WG + lid.x
// (grid1d splits large counts over y).
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
  {{params}}
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<T>;
@group(0) @binding(2) var<storage, read_write> dst: array<T>;

override WG: u32 = 256;

fn f(x: T) -> T {
  return {{f}};
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (i >= p.count) {
    return;
  }
  dst[i] = f(src[i]);
}
