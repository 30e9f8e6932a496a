// perturbation_weights: the channel weights of a batch of (image, channel) jobs of a
// perturbation method, for every target. Job j = j0 + b is image i = j / K, channel k = j % K;
// for each target t, row r = t·N + i with class cls = classes[r]:
//   SCORE (Score-CAM)       w = probs[b, cls], the masked input's probability of the class;
//   otherwise (Ablation-CAM) w = (y − y_k) / y with y = base[i, cls] (the unablated score) and
//                            y_k = probs[b, cls] (the ablated one's score); w = 0 where y = 0.
// SEED (seed-vector targets, T = 1): row r = i has no class but a vector v = seeds[r, :] over the
// classes, and each score above is its dot product with v: Σ_c v_c·probs[b, c] (and
// y = Σ_c v_c·base[i, c]).
// Written to weights[slot, r, k], through finite() (finite.wgsl: NaN → 0, ±Infinity → ±F32_MAX).
//
// Layout: probs [count, classes] (probabilities or scores of the batch), base [N, classes]
// (Ablation-CAM only), classes [T·N] (float32 class ids; not SEED), seeds [T·N, classes]
// (SEED only), weights [M, T·N, K], row-major.
// Threads: one invocation per (job, target) pair, e = b·T + t (global id
// gid.y * nwg.x·WG + gid.x = e).
// Edges: invocations past count·T return. A row of class −1 (padding) gets weight 0.

struct Params {
  count: u32,
  j0: u32,
  n: u32,
  k: u32,
  t: u32,
  classes: u32,
  slot: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> probs: array<f32>;
#if SCORE
#else
@group(0) @binding(2) var<storage, read> base: array<f32>;
#endif
#if SEED
#else
@group(0) @binding(3) var<storage, read> classes: array<f32>;
#endif
@group(0) @binding(4) var<storage, read_write> weights: array<f32>;
#if SEED
@group(0) @binding(5) var<storage, read> seeds: array<f32>;
#endif

override WG: u32 = 256;

#include "finite"

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = gid.y * nwg.x * WG + gid.x;
  if (e >= p.count * p.t) {
    return;
  }
  let b = e / p.t;
  let t = e % p.t;
  let j = p.j0 + b;
  let i = j / p.k;
  let k = j % p.k;
  let rows = p.t * p.n;
  let r = t * p.n + i;
#if SEED
  var v = 0.0;
#if SCORE
#else
  var y = 0.0;
#endif
  for (var c = 0u; c < p.classes; c++) {
    let s = seeds[r * p.classes + c];
    v += s * probs[b * p.classes + c];
#if SCORE
#else
    y += s * base[i * p.classes + c];
#endif
  }
  let padding = false;
#else
  // Class −1 (a padding row of the { above } targets): weight 0, so a zero map.
  let cf = classes[r];
  let cls = u32(max(cf, 0.0));
  let v = probs[b * p.classes + cls];
#if SCORE
#else
  let y = base[i * p.classes + cls];
#endif
  let padding = cf < 0.0;
#endif
#if SCORE
  let w = v;
#else
  let w = select(0.0, (y - v) / y, y != 0.0);
#endif
  weights[(p.slot * rows + r) * p.k + k] = select(finite(w), 0.0, padding);
}
