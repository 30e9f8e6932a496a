// channel_weights: the channel weights of every requested channel method (Grad-CAM,
// counterfactual, Grad-CAM++, XGrad-CAM, …) for every (row b, channel k), from one read of the
// gradients. A template: src/attribution/kernels.ts fills the {{…}} parts in from the methods'
// descriptors (src/methods/registry.ts): the per-channel sums over the map's positions that the
// methods need (a first pass; a second pass for sums whose terms read first-pass sums, such as
// Grad-CAM++'s S_k = Σ_ab A_ab), and each method's weight from the sums, written to its slot.
// Inside the generated parts: a = A^k_ij, g = G^k_ij, z = f32(Z), sum_<name> a finished sum.
//
// Layout: A [N, K, h, w] the layer's activations; G [B, K, h, w] the gradients dy^c/dA, row
// b = t·N + i belongs to image i = b % N. Z = h·w. Output weights [M, B, K]: method slot s is
// written at ((s·B + b)·K + k).
// Threads: with SERIAL (software adapters, where barriers are slow) one invocation per (b, k),
// index (wg.y · nwg.x + wg.x) · WG + lid.x = b·K + k, summing its whole map in a loop.
// Otherwise one workgroup per (b, k), workgroup index wg.y · nwg.x + wg.x = b·K + k: its WG
// invocations stride over the Z positions, then each sum is reduced in workgroup memory: by a
// tree (log2(WG) barriers), or with SUBGROUPS (adapters with the `subgroups` feature) by
// subgroupAdd within each subgroup and one exchange of the subgroups' sums through workgroup
// memory (reduce_sums_sg: correct for any subgroup size and any grouping of the invocations).
// Edges: invocations (or workgroups, uniformly, before any barrier) past B·K return.

#if SUBGROUPS
enable subgroups;
#endif

#include "finite"
#include "gradcampp"

struct Params {
  rows: u32,
  n: u32,
  k: u32,
  z: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> weights: array<f32>;

override WG: u32 = 64;

// Number of first-pass sums, of second-pass sums, and the larger of the two.
const NSUM1: u32 = {{nsum1}}u;
const NSUM2: u32 = {{nsum2}}u;
const NRED: u32 = {{nred}}u;

#if SERIAL
#elif SUBGROUPS
var<workgroup> red: array<array<f32, NRED>, WG>;

// The sums s[0 .. n) over the workgroup, the same in every invocation: subgroupAdd within each
// subgroup; the subgroup's first active lane stores its sums in its own slot red[lid], every
// other invocation stores zeros in its slot; after a barrier every subgroup adds all WG slots,
// lane l taking slots l, l + S, l + 2S, … with S the subgroup's active lanes (lane and S from
// subgroupExclusiveAdd(1) and subgroupAdd(1): no assumption on the subgroup size, which may
// even exceed WG, nor on which invocations form a subgroup), and subgroupAdd again. The order
// of the additions is fixed by the grouping, so a run repeats bit for bit on one device.
// Called in uniform control flow; begins with a barrier, so it may be called twice.
fn reduce_sums_sg(lid: u32, s: ptr<function, array<f32, NRED>>, n: u32) {
  let lane = subgroupExclusiveAdd(1u);
  let size = subgroupAdd(1u);
  workgroupBarrier();
  for (var q = 0u; q < n; q++) {
    let t = subgroupAdd((*s)[q]);
    red[lid][q] = select(0.0, t, lane == 0u);
  }
  workgroupBarrier();
  for (var q = 0u; q < n; q++) {
    var acc = 0.0;
    for (var j = lane; j < WG; j += size) {
      acc += red[j][q];
    }
    (*s)[q] = subgroupAdd(acc);
  }
}
#else
var<workgroup> red: array<array<f32, NRED>, WG>;

// Tree reduction of red[·][0 .. n) over the workgroup into red[0][·]; red[lane] holds this
// invocation's partial sums on entry. Called in uniform control flow.
fn reduce_sums(lane: u32, n: u32) {
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      for (var q = 0u; q < n; q++) {
        red[lane][q] += red[lane + s][q];
      }
    }
    workgroupBarrier();
  }
}
#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
#if SERIAL
  let id = (wg.y * nwg.x + wg.x) * WG + lid.x;
  let lane = 0u;
  let stride = 1u;
#else
  let id = wg.y * nwg.x + wg.x;
  let lane = lid.x;
  let stride = WG;
#endif
  if (id >= p.rows * p.k) {
    return;
  }
  let b = id / p.k;
  let k = id % p.k;
  let i = b % p.n;
  let a_base = (i * p.k + k) * p.z;
  let g_base = (b * p.k + k) * p.z;
  let z = f32(p.z);

  // First pass: the sums over this invocation's share of the map.
  var s1: array<f32, NRED>;
  for (var j = lane; j < p.z; j += stride) {
    let a = A[a_base + j];
    let g = G[g_base + j];
    {{add1}}
  }
#if SERIAL
#elif SUBGROUPS
  reduce_sums_sg(lane, &s1, NSUM1);
#else
  for (var q = 0u; q < NSUM1; q++) {
    red[lane][q] = s1[q];
  }
  reduce_sums(lane, NSUM1);
  for (var q = 0u; q < NSUM1; q++) {
    s1[q] = red[0][q];
  }
  workgroupBarrier();
#endif
  {{let1}}

#if PASS2
  // Second pass: sums whose terms read the first pass's.
  var s2: array<f32, NRED>;
  for (var j = lane; j < p.z; j += stride) {
    let a = A[a_base + j];
    let g = G[g_base + j];
    {{add2}}
  }
#if SERIAL
#elif SUBGROUPS
  reduce_sums_sg(lane, &s2, NSUM2);
#else
  for (var q = 0u; q < NSUM2; q++) {
    red[lane][q] = s2[q];
  }
  reduce_sums(lane, NSUM2);
  for (var q = 0u; q < NSUM2; q++) {
    s2[q] = red[0][q];
  }
#endif
  {{let2}}
#endif

  if (lane == 0u) {
    {{write}}
  }
}
