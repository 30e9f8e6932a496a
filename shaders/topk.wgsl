// topk: the T highest-scoring classes of each image, written as class ids for the rows of a
// batched backward pass.
//
// Layout: scores [N, K] row-major. classes [T·N] float32 (class ids are exact in f32 below
// 2^24): row b = t·N + i holds image i's t-th best class, so it lines up with the seed
// gradients and every [T·N, …] gradient tensor.
// Order: T selection passes over K scores, each taking the best (score, index) pair that comes
// strictly after the previous one in the order "higher score first, lower index first on ties".
// NaN scores are never selected; a pass that finds nothing writes K.
// Threads: one invocation per image (N is small), each pass a loop over the K scores.
// With SUBGROUPS (adapters with the `subgroups` feature): one workgroup per image (workgroup
// index wg.x = i); in each pass invocation lid takes the best candidate among scores lid,
// lid + WG, …; subgroupMax of the candidates' scores (as u32 keys in the scores' order,
// order_key, so that ±Infinity and "none" compare exactly), then subgroupMin of the indices of
// the lanes holding that key, give the subgroup's best; its first active lane stores it in its own
// slot of workgroup memory (every other invocation stores "none"), and after a barrier every
// subgroup reduces all WG slots the same way (lane l: slots l, l + S, …, S the subgroup's active
// lanes from subgroupAdd(1)), so every invocation knows the pass's winner. Nothing is assumed
// about the subgroup size or which invocations form a subgroup. Two barriers per pass.
// Edges: invocations (workgroups with SUBGROUPS) past N return; T ≤ K is checked by the
// dispatcher.

#if SUBGROUPS
enable subgroups;
#endif

struct Params {
  n: u32,
  k: u32,
  t: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> classes: array<f32>;

override WG: u32 = 64;

// NaN by its bits: a compiler may fold `v != v` to false (WGSL lets it assume no NaN), and
// SwiftShader did so in the subgroup variant.
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

#if SUBGROUPS
var<workgroup> slot_key: array<u32, WG>;
var<workgroup> slot_k: array<u32, WG>;

// A u32 in the order of the (non-NaN) f32 scores, −Infinity and +Infinity included, 0 below all
// of them (−Infinity maps to 0x007fffff): the sign bit flipped for v ≥ 0, every bit for v < 0.
// −0 is taken as +0, so that equal scores have equal keys.
fn order_key(v: f32) -> u32 {
  let bits = bitcast<u32>(select(v, 0.0, v == 0.0));
  return select(bits ^ 0x80000000u, ~bits, (bits >> 31u) == 1u);
}

// The best of the subgroup's candidates (key, k), k == p.k meaning none (its key is 0, below
// every score's): the highest key, on ties the lowest k. Uniform control flow.
fn subgroup_best(key: u32, k: u32) -> vec2u {
  let best_key = subgroupMax(select(0u, key, k < p.k));
  let best_k = subgroupMin(select(p.k, k, k < p.k && key == best_key));
  return vec2u(best_key, best_k);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = wg.x;
  if (i >= p.n) {
    return;
  }
  let lane = subgroupExclusiveAdd(1u);
  let size = subgroupAdd(1u);
  var prev = vec2u(0u, 0u); // (key, k) of the previous pass's winner
  for (var t = 0u; t < p.t; t++) {
    // This invocation's best candidate after the previous winner (keys order like scores).
    var best = vec2u(0u, p.k);
    for (var k = lid.x; k < p.k; k += WG) {
      let v = scores[i * p.k + k];
      if (is_nan(v)) {
        continue;
      }
      let key = order_key(v);
      let after_prev = t == 0u || key < prev.x || (key == prev.x && k > prev.y);
      if (after_prev && (best.y == p.k || key > best.x)) {
        best = vec2u(key, k);
      }
    }
    let sb = subgroup_best(best.x, best.y);
    workgroupBarrier(); // the previous pass's readers are done with the slots
    slot_key[lid.x] = sb.x;
    slot_k[lid.x] = select(p.k, sb.y, lane == 0u);
    workgroupBarrier();
    var w = vec2u(0u, p.k);
    for (var j = lane; j < WG; j += size) {
      let c = vec2u(slot_key[j], slot_k[j]);
      if (c.y < p.k && (w.y == p.k || c.x > w.x || (c.x == w.x && c.y < w.y))) {
        w = c;
      }
    }
    prev = subgroup_best(w.x, w.y);
    if (lid.x == 0u) {
      classes[t * p.n + i] = f32(prev.y);
    }
  }
}
#else
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= p.n) {
    return;
  }
  var prev_v = 0.0;
  var prev_k = 0u;
  for (var t = 0u; t < p.t; t++) {
    var best_v = 0.0;
    var best_k = p.k;
    // Once a pass found nothing, so do the later ones.
    for (var k = 0u; k < p.k && (t == 0u || prev_k < p.k); k++) {
      let v = scores[i * p.k + k];
      if (is_nan(v)) {
        continue;
      }
      let after_prev = t == 0u || v < prev_v || (v == prev_v && k > prev_k);
      let better = best_k == p.k || v > best_v;
      if (after_prev && better) {
        best_v = v;
        best_k = k;
      }
    }
    classes[t * p.n + i] = f32(best_k);
    prev_v = best_v;
    prev_k = best_k;
  }
}
#endif
