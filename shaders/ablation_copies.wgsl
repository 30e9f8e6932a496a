// ablation_copies: Ablation-CAM's edited activations for a batch of (image, channel) jobs. Job
// j = j0 + b is image i = j / K, channel k = j % K: out[b] is image i's activations with
// channel k set to zero, every other channel copied.
//
// Layout: A [N, K, h, w], out [count, K, h, w], row-major; z = h·w.
// Threads: one invocation per element of out (global id gid.y * nwg.x·WG + gid.x = e).
// VEC4 (K·z % 4 == 0, so that every image's activations and every copy start at a multiple of 4
// floats): one invocation per 4 consecutive elements 4e … 4e + 3 of out, read and written as
// one vec4, each component zeroed where it lies in channel k (a vec4 may span two channels).
// UPDATE (src/attribution/perturbation.ts): out already holds the previous batch, jobs
// j0 − count + b, each of the same image as job j0 + b (so count < K and the two channels
// differ); only the two channels change: one invocation per (b, r) with r < 2z (e = b·2z + r):
// r < z restores cell r of the previous job's channel from A, the others zero cell r − z of the
// new job's channel.
// Edges: invocations past count·K·z (UPDATE: count·2z; VEC4: count·K·z/4) return.

struct Params {
  count: u32,
  j0: u32,
  k: u32,
  z: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
#if VEC4
@group(0) @binding(1) var<storage, read> A: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;
#else
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#endif

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = gid.y * nwg.x * WG + gid.x;
  let per = p.k * p.z;
#if UPDATE
  let two = 2u * p.z;
  if (e >= p.count * two) {
    return;
  }
  let b = e / two;
  let r = e % two;
  let j = p.j0 + b;
  let i = j / p.k;
  if (r < p.z) {
    let at = ((j - p.count) % p.k) * p.z + r; // the previous job's channel, cell r
    out[b * per + at] = A[i * per + at];
  } else {
    out[b * per + (j % p.k) * p.z + (r - p.z)] = 0.0;
  }
#elif VEC4
  let per4 = per / 4u;
  if (e >= p.count * per4) {
    return;
  }
  let b = e / per4;
  let r4 = e % per4; // vec4 index within the copy
  let j = p.j0 + b;
  let i = j / p.k;
  let r = r4 * 4u; // its first element: channel · z + position
  let zero = vec4<bool>(r / p.z == j % p.k, (r + 1u) / p.z == j % p.k, (r + 2u) / p.z == j % p.k,
                        (r + 3u) / p.z == j % p.k);
  out[e] = select(A[i * per4 + r4], vec4f(0.0), zero);
#else
  if (e >= p.count * per) {
    return;
  }
  let b = e / per;
  let r = e % per; // channel · z + position
  let j = p.j0 + b;
  let i = j / p.k;
  out[e] = select(A[i * per + r], 0.0, r / p.z == j % p.k);
#endif
}
