/**
 * Linear (fully connected) layer on the CPU, PyTorch layout: y = x·Wᵀ + b over the last axis.
 * Sizes: K input features, M output features; x [N, …, K], W [M, K], b [M]; R = the number of
 * rows of K values (N times the dims between).
 */
import { hostTensor, type HostTensor } from './tensor';

/** y[r, m] = Σ_k x[r, k]·w[m, k] + b[m] for every row r; y: [N, …, M]. */
export function linearForward(x: HostTensor, w: HostTensor, b: HostTensor | null): HostTensor {
  const K = x.shape[x.shape.length - 1];
  const R = x.data.length / K;
  const M = w.shape[0];
  const y = hostTensor([...x.shape.slice(0, -1), M]);
  for (let r = 0; r < R; r++) {
    for (let m = 0; m < M; m++) {
      let sum = b ? b.data[m] : 0;
      for (let k = 0; k < K; k++) sum += x.data[r * K + k] * w.data[m * K + k];
      y.data[r * M + m] = sum;
    }
  }
  return y;
}

/** dy: [T·N, …, M] for T targets; w: [M, K] → dx: [T·N, …, K], dx[r, k] = Σ_m dy[r, m]·w[m, k]. */
export function linearBackward(dy: HostTensor, w: HostTensor): HostTensor {
  const M = dy.shape[dy.shape.length - 1];
  const R = dy.data.length / M;
  const K = w.shape[1];
  const dx = hostTensor([...dy.shape.slice(0, -1), K]);
  for (let r = 0; r < R; r++) {
    for (let k = 0; k < K; k++) {
      let sum = 0;
      for (let m = 0; m < M; m++) sum += dy.data[r * M + m] * w.data[m * K + k];
      dx.data[r * K + k] = sum;
    }
  }
  return dx;
}
