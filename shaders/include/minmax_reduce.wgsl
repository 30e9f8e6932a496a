// minmax_reduce: the minimum and the maximum over a workgroup of one pair of values per
// invocation, by a tree reduction in workgroup memory (log2(WG) halving steps, one barrier each),
// or, with SUBGROUPS, by subgroup operations (see below).
//
// Provides:
//   red_lo, red_hi                 workgroup arrays of WG f32: the reduction's scratch space.
//   minmax_reduce(lid, lo, hi)     vec2f(min of lo, max of hi) over the workgroup, the same in
//                                  every invocation; lid is the invocation's local_invocation_id.x.
//                                  An invocation with nothing to contribute passes lo = 3e38,
//                                  hi = −3e38 (or any pair inside the others' range).
//
// The including kernel declares `override WG: u32`, its workgroup size, a power of two, and
// every invocation of the workgroup calls minmax_reduce from uniform control flow (it holds
// barriers: a workgroup that returns early must return as a whole). The result is read from
// red_lo[0] and red_hi[0] after the last barrier, so a kernel that reduces a second time needs
// a workgroupBarrier() between its use of the first result and the second call.
//
// SUBGROUPS (the including kernel then starts with `enable subgroups;`): subgroupMin/Max within
// each subgroup; the subgroup's first active lane writes the result into its own slot red_*[lid],
// every other invocation writes the identity (3e38, −3e38) into its slot; after one barrier each
// subgroup reduces all WG slots, lane l reading slots l, l + S, l + 2S, … (S = the subgroup's
// active lanes), then subgroupMin/Max again. Lane index and S come from subgroupExclusiveAdd(1)
// and subgroupAdd(1), so nothing is assumed about which invocations form a subgroup nor about
// its size (4 to 128 in WebGPU; a subgroup may also be larger than the workgroup): every subgroup
// reads every slot. Two barriers (one before reuse of the slots), WG / S slot reads per invocation.

var<workgroup> red_lo: array<f32, WG>;
var<workgroup> red_hi: array<f32, WG>;

#if SUBGROUPS
fn minmax_reduce(lid: u32, lo: f32, hi: f32) -> vec2f {
  let lane = subgroupExclusiveAdd(1u);
  let size = subgroupAdd(1u);
  let slo = subgroupMin(lo);
  let shi = subgroupMax(hi);
  workgroupBarrier(); // a previous call's readers are done with the slots
  red_lo[lid] = select(3.0e38, slo, lane == 0u);
  red_hi[lid] = select(-3.0e38, shi, lane == 0u);
  workgroupBarrier();
  var a = 3.0e38;
  var b = -3.0e38;
  for (var j = lane; j < WG; j += size) {
    a = min(a, red_lo[j]);
    b = max(b, red_hi[j]);
  }
  return vec2f(subgroupMin(a), subgroupMax(b));
}
#else
fn minmax_reduce(lid: u32, lo: f32, hi: f32) -> vec2f {
  red_lo[lid] = lo;
  red_hi[lid] = hi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red_lo[lid] = min(red_lo[lid], red_lo[lid + s]);
      red_hi[lid] = max(red_hi[lid], red_hi[lid + s]);
    }
    workgroupBarrier();
  }
  return vec2f(red_lo[0], red_hi[0]);
}
#endif
