/**
 * Smooth Grad-CAM++'s channel weights on the CPU (float64), in the steps of
 * src/attribution/smooth_gradcampp.ts: n noisy copies x + σ·z of every image (σ absolute; z
 * from the generator of src/methods/sampling.ts, copy s of image i), each copy's gradient at
 * the layer for the row's class, the means of g, g² and g³ over the copies, then Grad-CAM++'s
 * weight from them, with S_k = Σ_ab A_ab of the unperturbed activations. Rows b = t·N + i.
 */
import { noiseAt, noiseKey } from '../methods/sampling';
import { smoothGradcamppA } from '../methods/registry';
import type { RefModel } from './model';
import { hostTensor, type HostTensor } from './tensor';

export function smoothGradcamppWeights(
  model: RefModel,
  x: HostTensor,
  layer: string,
  A: HostTensor,
  rowClass: (b: number) => number,
  T: number,
  noise: { n: number; sigma: number; seed: number },
): HostTensor {
  const g = model.graph;
  const [N, C, H, W] = x.shape;
  const [, K, h, w] = A.shape;
  const chw = C * H * W;
  const Z = h * w;
  const S = noise.n;
  // 1. The copies, [S·N, C, H, W], row s·N + i.
  const copies = hostTensor([S * N, C, H, W]);
  for (let s = 0; s < S; s++) {
    for (let i = 0; i < N; i++) {
      const key = noiseKey(noise.seed, s, i);
      for (let e = 0; e < chw; e++) {
        copies.data[(s * N + i) * chw + e] = x.data[i * chw + e] + noise.sigma * noiseAt(key, e);
      }
    }
  }
  // 2. One backward over T·S·N rows, row (t·S + s)·N + i seeded with the class of row t·N + i.
  const values = model.forward(copies);
  const classes = values.get(g.scores)!.shape[1];
  const seeds = hostTensor([T * S * N, classes]);
  for (let t = 0; t < T; t++)
    for (let s = 0; s < S; s++)
      for (let i = 0; i < N; i++) seeds.data[((t * S + s) * N + i) * classes + rowClass(t * N + i)] = 1;
  const G = model.backward(values, seeds, layer, { from: g.scores });
  // 3. Per (row, channel): the moments at each position, the coefficient, the weight.
  const weights = hostTensor([T * N, K]);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < N; i++) {
      for (let k = 0; k < K; k++) {
        let sumA = 0;
        for (let j = 0; j < Z; j++) sumA += A.data[(i * K + k) * Z + j];
        let wk = 0;
        for (let j = 0; j < Z; j++) {
          let m1 = 0;
          let m2 = 0;
          let m3 = 0;
          for (let s = 0; s < S; s++) {
            const v = G.data[(((t * S + s) * N + i) * K + k) * Z + j];
            m1 += v / S;
            m2 += (v * v) / S;
            m3 += (v * v * v) / S;
          }
          wk += smoothGradcamppA(m2, m3, sumA) * Math.max(m1, 0);
        }
        weights.data[(t * N + i) * K + k] = wk;
      }
    }
  }
  return weights;
}
