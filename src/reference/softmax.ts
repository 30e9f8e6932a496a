/** Softmax over the last axis of [N, K] on the CPU. */
import { hostTensor, type HostTensor } from './tensor';

/** y[n, k] = exp(x[n, k] − m) / Σ_j exp(x[n, j] − m), m = max_j x[n, j] (so exp never overflows). */
export function softmaxForward(x: HostTensor): HostTensor {
  const [n, k] = x.shape;
  const y = hostTensor(x.shape);
  for (let r = 0; r < n; r++) {
    let m = -Infinity;
    for (let j = 0; j < k; j++) m = Math.max(m, x.data[r * k + j]);
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.exp(x.data[r * k + j] - m);
    for (let j = 0; j < k; j++) y.data[r * k + j] = Math.exp(x.data[r * k + j] - m) / s;
  }
  return y;
}

/**
 * dy: [T·N, K] gradient of the output for T targets; y: [N, K] the saved softmax output.
 * The Jacobian is diag(y) − y yᵀ, so dx = y ⊙ (dy − Σ_k dy_k·y_k), row by row; gradient row r
 * uses y row r mod N.
 */
export function softmaxBackward(dy: HostTensor, y: HostTensor): HostTensor {
  const [rows, k] = dy.shape;
  const n = y.shape[0];
  const dx = hostTensor(dy.shape);
  for (let r = 0; r < rows; r++) {
    const yr = (r % n) * k;
    let dot = 0;
    for (let j = 0; j < k; j++) dot += dy.data[r * k + j] * y.data[yr + j];
    for (let j = 0; j < k; j++) dx.data[r * k + j] = y.data[yr + j] * (dy.data[r * k + j] - dot);
  }
  return dx;
}
