// sum_max_reduce: the sum or the maximum over a workgroup of one value per invocation, by a
// tree reduction in workgroup memory (log2(WG) halving steps, one barrier each).
//
// Provides:
//   red                  a workgroup array of WG f32: the reductions' scratch space.
//   sum_reduce(lid, v)   the sum of v over the workgroup, the same in every invocation (the
//                        tree's order, so the same bits on every run); lid is the invocation's
//                        local_invocation_id.x. An invocation with nothing to add passes 0.
//   max_reduce(lid, v)   the maximum of v likewise; an invocation with nothing to contribute
//                        passes a value no larger than the others' (e.g. the lowest f32).
//
// The including kernel declares `override WG: u32`, its workgroup size, a power of two, and
// every invocation of the workgroup calls these from uniform control flow (they hold barriers:
// a workgroup that returns early must return as a whole). The result is read from red[0] after
// the last barrier, so a kernel that reduces again needs a workgroupBarrier() between its use
// of one result and the next call.

var<workgroup> red: array<f32, WG>;

fn sum_reduce(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red[lid] = red[lid] + red[lid + s];
    }
    workgroupBarrier();
  }
  return red[0];
}

fn max_reduce(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red[lid] = max(red[lid], red[lid + s]);
    }
    workgroupBarrier();
  }
  return red[0];
}
