// ablation_copies: Ablation-CAM's edited activations for a batch of (image, channel) jobs. Job
// j = j0 + b is image i = j / K, channel k = j % K: out[b] is image i's activations with
// channel k set to zero, every other channel copied.
//
// The copying itself is not done here: before the first batch of a size, each out[b] is filled
// with image i's activations by a buffer copy (Recorder.copyRange, in
// src/attribution/perturbation.ts); this kernel then zeroes channel k of every copy: one
// invocation per (b, r), r < z (e = b·z + r), zeroing cell r.
// UPDATE: out already holds the previous batch, jobs j0 − count + b, each of the same image as
// job j0 + b (so count < K and the two channels differ); only the two channels change: one
// invocation per (b, r) with r < 2z (e = b·2z + r): r < z restores cell r of the previous job's
// channel from A, the others zero cell r − z of the new job's channel.
//
// Layout: A [N, K, h, w] (read by UPDATE only), out [count, K, h, w], row-major; z = h·w.
// Threads: global id gid.y * nwg.x·WG + gid.x = e, as above.
// Edges: invocations past count·z (UPDATE: count·2z) return.

struct Params {
  count: u32,
  j0: u32,
  k: u32,
  z: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
#if UPDATE
@group(0) @binding(1) var<storage, read> A: array<f32>;
#endif
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

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
#else
  if (e >= p.count * p.z) {
    return;
  }
  let b = e / p.z;
  out[b * per + ((p.j0 + b) % p.k) * p.z + e % p.z] = 0.0;
#endif
}
