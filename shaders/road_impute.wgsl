// road_impute: a chunk of ROAD's batch (src/methods/road.ts): images with the pixels of one
// order and percentile removed and filled by noisy linear imputation. Image q = p.first + b of the
// whole batch is, for map row r = q / per and u = (q mod per) / P, j = q mod P: order
// o = p.o0 + u (0 MoRF, 1 LeRF) at percentile j, from image i = r mod n of x. Pixel t is removed
// when ranks[r, t] < k (MoRF) or ≥ hw − k (LeRF), k = counts[j].
//
// Per channel the removed values v solve the sparse system A·v = b,
//   (A·v)_t = S_t·v_t − Σ_{s removed} w_ts·v_s,   b_t = Σ_{s kept} w_ts·x_s,
// s over t's in-image neighbours (direct 1/6, diagonal 1/12), S_t their weights' sum. A is
// symmetric positive definite (some pixel is kept), so conjugate gradients from v = 0 solve it:
// at most p.max_iter iterations, stopping once ‖r‖ ≤ p.tol·‖b‖ (the recursively updated
// residual). Then out_t = v_t + p.sigma·normal(key, c·hw + t), key = pcg(pcg(pcg(seed) + o·P + j) + r);
// kept pixels are copied from x.
//
// Layout: x [n, C, hw] f32; ranks [R, hw] u32; order [R, p2] u32 (row r's pixels by rank, the
// sort of metric_bitonic: the removed pixels are slots 0 … k − 1 for MoRF, hw − k … hw − 1 for
// LeRF); counts [P] f32 (integers); out [B, C, hw] f32; work [B·C, 3, hw] f32 (per system CG's r
// and A·d by unknown u < k, and d by pixel, 0 at kept pixels so that A·d reads every neighbour);
// stats [total·C, 2] f32 (per system of the whole batch: iterations, final ‖r‖/‖b‖).
// Threads: one workgroup per system (chunk image b, channel c) = wg.y * nwg.x + wg.x; invocation
// lid.x owns unknowns u = lid.x, lid.x + WG, … < k: it alone writes their v (in out), r, A·d and
// d, so only d, read at the neighbours, needs a storage barrier before A·d. Interior pixels read
// their 8 neighbours without bounds checks (S = 1). The dot products are workgroup tree
// reductions (sum_max_reduce.wgsl), the stopping test a workgroupUniformLoad so that the loop
// stays in uniform control flow.
// Edges: workgroups past p.systems return as a whole; neighbours outside the image do not exist
// (they count in neither S nor the sums).

struct Params {
  systems: u32,
  first: u32,
  per: u32,
  np: u32,
  o0: u32,
  p2: u32,
  h: u32,
  w: u32,
  c: u32,
  n: u32,
  max_iter: u32,
  seed: u32,
  tol: f32,
  sigma: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> ranks: array<u32>;
@group(0) @binding(3) var<storage, read> order: array<u32>;
@group(0) @binding(4) var<storage, read> counts: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> work: array<f32>;
@group(0) @binding(7) var<storage, read_write> stats: array<f32>;

override WG: u32 = 256;

#include "sum_max_reduce"
#include "pcg_normal"

// The system's constants, set once per invocation.
var<private> rank0: u32;
var<private> slot0: u32;
var<private> k: u32;
var<private> lerf: bool;

fn is_removed(t: u32) -> bool {
  let hw = p.h * p.w;
  let rk = ranks[rank0 + t];
  return select((rk < k), (rk >= hw - k), lerf);
}

// .x: Σ w_ts·f_s over pixel t's in-image neighbours s, with f_s = x[base + s] over the kept s
// alone (from_x: b_t), or f_s = work[base + s] over all s (d, which is 0 at kept pixels);
// .y: S_t, the sum of their weights.
fn neighbours(t: u32, base: u32, from_x: bool) -> vec2f {
  let y = i32(t / p.w);
  let xx = i32(t % p.w);
  let h = i32(p.h);
  let w = i32(p.w);
  var acc = vec2f(0.0);
  for (var m = 0; m < 8; m++) {
    // m < 4: direct neighbours (−1, 0), (1, 0), (0, −1), (0, 1); then the diagonals.
    var dy = 0;
    var dx = 0;
    switch m {
      case 0: { dy = -1; }
      case 1: { dy = 1; }
      case 2: { dx = -1; }
      case 3: { dx = 1; }
      case 4: { dy = -1; dx = -1; }
      case 5: { dy = -1; dx = 1; }
      case 6: { dy = 1; dx = -1; }
      default: { dy = 1; dx = 1; }
    }
    let yy = y + dy;
    let x2 = xx + dx;
    if (yy < 0 || yy >= h || x2 < 0 || x2 >= w) {
      continue;
    }
    let wt = select(1.0 / 12.0, 1.0 / 6.0, m < 4);
    let s = u32(yy * w + x2);
    acc.y += wt;
    if (from_x) {
      if (!is_removed(s)) {
        acc.x += wt * x[base + s];
      }
    } else {
      acc.x += wt * work[base + s];
    }
  }
  return acc;
}

// (A·d)_t's neighbour part: Σ w_ts·d_s over t's neighbours and S_t, with d in work[base …].
fn d_sum(t: u32, base: u32) -> vec2f {
  let y = t / p.w;
  let xx = t % p.w;
  if (y > 0u && y + 1u < p.h && xx > 0u && xx + 1u < p.w) {
    let up = base + t - p.w;
    let dn = base + t + p.w;
    let direct = work[up] + work[dn] + work[base + t - 1u] + work[base + t + 1u];
    let diag = work[up - 1u] + work[up + 1u] + work[dn - 1u] + work[dn + 1u];
    return vec2f(direct / 6.0 + diag / 12.0, 1.0);
  }
  return neighbours(t, base, false);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let sys = wg.y * nwg.x + wg.x;
  if (sys >= p.systems) {
    return;
  }
  let hw = p.h * p.w;
  let b = sys / p.c;
  let c = sys % p.c;
  let q = p.first + b;
  let r = q / p.per;
  let u0 = (q % p.per) / p.np;
  let j = q % p.np;
  let o = p.o0 + u0;
  rank0 = r * hw;
  k = u32(counts[j]);
  lerf = o == 1u;
  slot0 = r * p.p2 + select(0u, hw - k, lerf);
  let xb = ((r % p.n) * p.c + c) * hw;
  let ob = sys * hw;
  let rb = sys * 3u * hw; // r, by unknown
  let db = rb + hw; // d, by pixel
  let ab = db + hw; // A·d, by unknown

  // x copied, d = 0 everywhere; then at the unknowns v = 0, r = d = b.
  for (var t = lid.x; t < hw; t += WG) {
    out[ob + t] = x[xb + t];
    work[db + t] = 0.0;
  }
  storageBarrier();
  var part = 0.0;
  for (var u = lid.x; u < k; u += WG) {
    let t = order[slot0 + u];
    let bt = neighbours(t, xb, true).x;
    out[ob + t] = 0.0;
    work[rb + u] = bt;
    work[db + t] = bt;
    part += bt * bt;
  }
  storageBarrier();
  sum_reduce(lid.x, part);
  let bb = workgroupUniformLoad(&red[0]);
  var rr = bb;
  let tol2 = p.tol * p.tol;
  var it = 0u;
  for (; it < p.max_iter; it++) {
    if (rr <= tol2 * bb) {
      break;
    }
    workgroupBarrier();
    // A·d and d·A·d.
    var dad = 0.0;
    for (var u = lid.x; u < k; u += WG) {
      let t = order[slot0 + u];
      let nb = d_sum(t, db);
      let dt = work[db + t];
      let ad = nb.y * dt - nb.x;
      work[ab + u] = ad;
      dad += dt * ad;
    }
    storageBarrier(); // every read of d above before the update of d below
    sum_reduce(lid.x, dad);
    let alpha = rr / workgroupUniformLoad(&red[0]);
    workgroupBarrier();
    var rn = 0.0;
    for (var u = lid.x; u < k; u += WG) {
      let t = order[slot0 + u];
      out[ob + t] += alpha * work[db + t];
      let rt = work[rb + u] - alpha * work[ab + u];
      work[rb + u] = rt;
      rn += rt * rt;
    }
    sum_reduce(lid.x, rn);
    let next = workgroupUniformLoad(&red[0]);
    let beta = next / rr;
    for (var u = lid.x; u < k; u += WG) {
      let t = order[slot0 + u];
      work[db + t] = work[rb + u] + beta * work[db + t];
    }
    storageBarrier();
    rr = next;
  }
  if (lid.x == 0u) {
    let g = (p.first * p.c + sys) * 2u;
    stats[g] = f32(it);
    stats[g + 1u] = select(0.0, sqrt(rr / bb), bb > 0.0);
  }
  if (p.sigma > 0.0) {
    let key = pcg(pcg(pcg(p.seed) + o * p.np + j) + r);
    for (var u = lid.x; u < k; u += WG) {
      let t = order[slot0 + u];
      out[ob + t] += p.sigma * normal(key, c * hw + t);
    }
  }
}
