// sum_max_reduce: the sum or the maximum over a workgroup of one value per invocation, by a
// tree reduction in workgroup memory (log2(WG) halving steps, one barrier each), or with
// SUBGROUPS by subgroup operations (below).
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
//
// SUBGROUPS (the including kernel then starts with `enable subgroups;`): subgroupAdd / Max
// within each subgroup; the subgroup's first active lane writes the result into its own slot
// red[lid], every other invocation the identity (0, or the lowest f32); after a barrier every
// subgroup reduces all WG slots, lane l reading l, l + S, … (S the subgroup's active lanes, lane
// and S from subgroupExclusiveAdd(1) and subgroupAdd(1)), and reduces once more within itself.
// Nothing is assumed about the subgroup size or which invocations form a subgroup. The order of
// the additions is fixed by the grouping, so a run repeats bit for bit on one device. The result
// is returned to every invocation, and invocation 0 stores it in red[0], readable after the next
// barrier (a workgroupUniformLoad(&red[0]) is one). Each call begins with a barrier, so no
// barrier is needed between two calls.

var<workgroup> red: array<f32, WG>;

#if SUBGROUPS
fn sum_reduce(lid: u32, v: f32) -> f32 {
  let lane = subgroupExclusiveAdd(1u);
  let size = subgroupAdd(1u);
  let t = subgroupAdd(v);
  workgroupBarrier(); // a previous call's readers are done with the slots
  red[lid] = select(0.0, t, lane == 0u);
  workgroupBarrier();
  var acc = 0.0;
  for (var j = lane; j < WG; j += size) {
    acc += red[j];
  }
  let r = subgroupAdd(acc);
  workgroupBarrier(); // every subgroup has read the slots
  if (lid == 0u) {
    red[0] = r;
  }
  return r;
}

fn max_reduce(lid: u32, v: f32) -> f32 {
  let lane = subgroupExclusiveAdd(1u);
  let size = subgroupAdd(1u);
  let t = subgroupMax(v);
  workgroupBarrier(); // a previous call's readers are done with the slots
  red[lid] = select(-0x1.fffffep+127f, t, lane == 0u);
  workgroupBarrier();
  var acc = -0x1.fffffep+127f;
  for (var j = lane; j < WG; j += size) {
    acc = max(acc, red[j]);
  }
  let r = subgroupMax(acc);
  workgroupBarrier(); // every subgroup has read the slots
  if (lid == 0u) {
    red[0] = r;
  }
  return r;
}
#else
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
#endif
