// eigen_power: the top eigenvector of each row's symmetric positive semi-definite Gram matrix
// (eigen_gram.wgsl) by power iteration, v ← C v / max|C v|, from a fixed start vector:
//
//   start      v_p = 0.5 + (24 bits of a PCG hash of p)/2^24, in [0.5, 1.5): deterministic, not orthogonal to the
//              top eigenvector but for a set of measure zero (the all-ones vector would be: XXᵀ
//              of a matrix centred over the positions has it in its null space)
//   iteration  w = (C / c_max) v, c_max = max |C| (so no sum overflows); λ ≈ c_max · max|w|;
//              v ← w / max|w|; stop after p.iters iterations, or once max |v_new − v_old| ≤ p.tol
//   result     evec[s] = v / ‖v‖₂ (unit); info[s] = (λ, iterations run, last max |Δv|, c_max).
//              A zero matrix (or C v = 0) gives λ = 0, which eigen_project reads as "no component".
//
// The error after n iterations is about (λ₂/λ₁)ⁿ times the start vector's error: the closer the
// top two eigenvalues, the more iterations (docs/METHODS.md gives the numbers).
// Layout: C [S, D, D]; evec [S, D]; info [S, 4]; work [S, D] (SERIAL only).
// Threads, SERIAL (no barriers; an option, not faster on SwiftShader): one invocation per row s (global
// index (wg.y · nwg.x + wg.x) · WG + lid.x), the whole iteration serial with v in evec and
// C v in work; no barriers. The iterations do the same arithmetic in the same order as the
// workgroup variant (each entry of C v a serial dot product, the maxima exact), so both run the
// same number of them; only the final ‖v‖ is summed in another order (one rounding apart).
// Otherwise: one workgroup per row s (workgroup index wg.y · nwg.x + wg.x). v lives in workgroup
// memory (DMAX ≥ D floats, an override); invocation lid.x computes the entries p = lid.x,
// lid.x + WG, … of w = C v (a serial dot product over the row of C each), keeps them in evec
// (its own entries only, so no storage barrier), and updates the same entries of v after the
// workgroup's max reductions (sum_max_reduce.wgsl), whose results every invocation reads with
// workgroupUniformLoad so that the loop's exits are uniform.
// Edges: rows past S return (the workgroup variant: as a whole).
// SUBGROUPS (adapters with the `subgroups` feature; the workgroup variant only): the sums and
// maxima by subgroup operations (include/sum_max_reduce.wgsl), correct for any subgroup size.

#if SUBGROUPS
enable subgroups;
#endif

struct Params {
  rows: u32,
  d: u32,
  iters: u32,
  tol: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> C: array<f32>;
@group(0) @binding(2) var<storage, read_write> evec: array<f32>;
@group(0) @binding(3) var<storage, read_write> info: array<f32>;
#if SERIAL
@group(0) @binding(4) var<storage, read_write> work: array<f32>;
#endif

override WG: u32 = 64;
override DMAX: u32 = 64;

var<workgroup> v: array<f32, DMAX>;

#include "finite"
#include "sum_max_reduce"

// The reduction's result, the same value in every invocation and uniform for the analysis.
fn uniform_result() -> f32 {
  let r = workgroupUniformLoad(&red[0]);
  workgroupBarrier();
  return r;
}

fn start(q: u32) -> f32 {
  var h = q * 747796405u + 2891336453u;
  h = ((h >> ((h >> 28u) + 4u)) ^ h) * 277803737u;
  h = (h >> 22u) ^ h;
  return 0.5 + f32(h >> 8u) / 16777216.0;
}

#if SERIAL
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let s = (wg.y * nwg.x + wg.x) * WG + lid.x;
  if (s >= p.rows) {
    return;
  }
  let d = p.d;
  let base = s * d * d;
  let out = s * d;
  var cmax = 0.0;
  for (var q = 0u; q < d * d; q++) {
    cmax = max(cmax, abs(C[base + q]));
  }
  for (var q = 0u; q < d; q++) {
    evec[out + q] = start(q);
  }
  var lambda = 0.0;
  var change = 0.0;
  var it = 0u;
  if (cmax > 0.0) {
    loop {
      if (it >= p.iters) {
        break;
      }
      var wmax = 0.0;
      for (var a = 0u; a < d; a++) {
        var acc = 0.0;
        for (var b = 0u; b < d; b++) {
          acc += (C[base + a * d + b] / cmax) * evec[out + b];
        }
        work[out + a] = acc;
        wmax = max(wmax, abs(acc));
      }
      if (!(wmax > 0.0)) {
        lambda = 0.0;
        break;
      }
      change = 0.0;
      for (var a = 0u; a < d; a++) {
        let nv = work[out + a] / wmax;
        change = max(change, abs(nv - evec[out + a]));
        evec[out + a] = nv;
      }
      lambda = wmax;
      it++;
      if (change <= p.tol) {
        break;
      }
    }
  }
  var ss = 0.0;
  for (var a = 0u; a < d; a++) {
    ss += evec[out + a] * evec[out + a];
  }
  let len = sqrt(ss);
  for (var a = 0u; a < d; a++) {
    evec[out + a] = evec[out + a] / len;
  }
  info[s * 4u] = finite(lambda * cmax);
  info[s * 4u + 1u] = f32(it);
  info[s * 4u + 2u] = change;
  info[s * 4u + 3u] = cmax;
}
#else
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let s = wg.y * nwg.x + wg.x;
  if (s >= p.rows) {
    return;
  }
  let d = p.d;
  let base = s * d * d;
  let out = s * d;

  var m = 0.0;
  for (var q = lid.x; q < d * d; q += WG) {
    m = max(m, abs(C[base + q]));
  }
  max_reduce(lid.x, m);
  let cmax = uniform_result();

  for (var q = lid.x; q < d; q += WG) {
    v[q] = start(q);
  }
  workgroupBarrier();

  var lambda = 0.0;
  var change = 0.0;
  var it = 0u;
  if (cmax > 0.0) {
    loop {
      if (it >= p.iters) {
        break;
      }
      var wloc = 0.0;
      for (var a = lid.x; a < d; a += WG) {
        var acc = 0.0;
        for (var b = 0u; b < d; b++) {
          acc += (C[base + a * d + b] / cmax) * v[b];
        }
        evec[out + a] = acc;
        wloc = max(wloc, abs(acc));
      }
      max_reduce(lid.x, wloc);
      let wmax = uniform_result();
      if (!(wmax > 0.0)) {
        lambda = 0.0;
        break;
      }
      var cloc = 0.0;
      for (var a = lid.x; a < d; a += WG) {
        let nv = evec[out + a] / wmax;
        cloc = max(cloc, abs(nv - v[a]));
        v[a] = nv;
      }
      lambda = wmax;
      it++;
      max_reduce(lid.x, cloc);
      change = uniform_result();
      if (change <= p.tol) {
        break;
      }
    }
  }

  var ss = 0.0;
  for (var a = lid.x; a < d; a += WG) {
    ss += v[a] * v[a];
  }
  sum_reduce(lid.x, ss);
  let len = sqrt(uniform_result());
  for (var a = lid.x; a < d; a += WG) {
    evec[out + a] = v[a] / len;
  }
  if (lid.x == 0u) {
    info[s * 4u] = finite(lambda * cmax);
    info[s * 4u + 1u] = f32(it);
    info[s * 4u + 2u] = change;
    info[s * 4u + 3u] = cmax;
  }
}
#endif
