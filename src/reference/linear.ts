/**
 * Linear (fully connected) layer on the CPU, PyTorch layout: y = x·Wᵀ + b.
 * Sizes: N batch, K input features, M output features; x [N, K], W [M, K], b [M].
 */
import { hostTensor, type HostTensor } from './tensor';

/** x: [N, K], w: [M, K], b: [M] or null → y: [N, M], y[n, m] = Σ_k x[n, k]·w[m, k] + b[m]. */
export function linearForward(x: HostTensor, w: HostTensor, b: HostTensor | null): HostTensor {
  const [N, K] = x.shape;
  const M = w.shape[0];
  const y = hostTensor([N, M]);
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) {
      let sum = b ? b.data[m] : 0;
      for (let k = 0; k < K; k++) sum += x.data[n * K + k] * w.data[m * K + k];
      y.data[n * M + m] = sum;
    }
  }
  return y;
}

/** dy: [T·N, M] for T targets; w: [M, K] → dx: [T·N, K], dx[b, k] = Σ_m dy[b, m]·w[m, k]. */
export function linearBackward(dy: HostTensor, w: HostTensor): HostTensor {
  const [B, M] = dy.shape;
  const K = w.shape[1];
  const dx = hostTensor([B, K]);
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) {
      let sum = 0;
      for (let m = 0; m < M; m++) sum += dy.data[b * M + m] * w.data[m * K + k];
      dx.data[b * K + k] = sum;
    }
  }
  return dx;
}
