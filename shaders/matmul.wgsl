// matmul: C[b] = op(A[b mod p.mats_a]) · op(B[b mod p.mats_b]) for a stack of matrices, op the
// identity or (with TRANS_A / TRANS_B) the transpose. The matmul op of src/defs/matmul.ts:
// forward C = A·B; backward dA = dC·Bᵀ and dB = Aᵀ·dC, where dC holds T targets stacked over
// the forward batch, so the saved forward operand is read at its matrix index mod its count.
//
// Layout: row-major float32 stacks. C is [p.mats, p.m, p.n] (p.count = mats·m·n elements);
// A is [mats_a, m, k] ([mats_a, k, m] with TRANS_A), B is [mats_b, k, n] ([mats_b, n, k] with
// TRANS_B).
// Threads: one invocation per element of C, index (wg.y * nwg.x + wg.x) * WG + lid.x, decoded
// as (b, i, j), j fastest; it sums its k products in order (deterministic).
// Edges: invocations past p.count return.

struct Params {
  count: u32,
  m: u32,
  n: u32,
  k: u32,
  mats_a: u32,
  mats_b: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let idx = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (idx >= p.count) {
    return;
  }
  let j = idx % p.n;
  let i = (idx / p.n) % p.m;
  let mat = idx / (p.n * p.m);
  let a0 = (mat % p.mats_a) * p.m * p.k;
  let b0 = (mat % p.mats_b) * p.k * p.n;
  var acc = 0.0;
  for (var t = 0u; t < p.k; t++) {
#if TRANS_A
    let av = a[a0 + t * p.m + i];
#else
    let av = a[a0 + i * p.k + t];
#endif
#if TRANS_B
    let bv = b[b0 + j * p.k + t];
#else
    let bv = b[b0 + t * p.n + j];
#endif
    acc += av * bv;
  }
  c[idx] = acc;
}
