// pool_gather: which windows of a 2-D pool contain one input cell, along one axis (rows or
// columns), for the backward kernels that gather (one invocation per input-gradient cell):
// avgpool2d_backward.wgsl and maxpool2d_backward.wgsl.
//
// Window o covers cells o·s − pad ... o·s − pad + k − 1 of the axis (k the window size, s the
// stride, pad the leading padding). Input cell i (≥ 0) lies in the windows o with
//   first_window(i, pad, k, s) ≤ o < end_window(i, pad, s, n)
// where n is the number of windows along the axis; the range is empty when no window holds i
// (gaps when s > k, the cells floor mode drops).
//
// Reads nothing of the including kernel.

// Smallest o >= 0 with o * s - pad + k - 1 >= i, i.e. ceil((i + pad - k + 1) / s).
fn first_window(i: i32, pad: i32, k: i32, s: i32) -> i32 {
  let num = i + pad - k + 1;
  if (num <= 0) {
    return 0;
  }
  return (num + s - 1) / s;
}

// One past the largest o with o * s - pad <= i, i.e. floor((i + pad) / s) + 1, at most n.
fn end_window(i: i32, pad: i32, s: i32, n: i32) -> i32 {
  return min((i + pad) / s + 1, n);
}
