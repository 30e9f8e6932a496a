/**
 * The attribution methods on the CPU, step by step, in the lecture's notation.
 *
 * A^k       the k-th feature map (h×w) of the chosen layer, for image i: A[i, k, :, :]
 * g^{kc}    ∂y^c/∂A^k, one gradient per (target, image) row b = t·N + i: G[b, k, :, :]
 * Z = h·w   the number of positions in a map
 *
 * Every map function returns one map per row b: [B, h, w].
 */
import { channelMethod, spatialMethod, type ChannelMethodName, type SpatialMethodName } from '../methods/registry';
import type { Sums, Term } from '../methods/types';
import { hostTensor, type HostTensor } from './tensor';

/**
 * The weights of a gradient channel method for every row and channel, from its descriptor
 * (src/methods/registry.ts): for each (b, k), the first-pass sums Σ_ij term(a, g) over the
 * channel's positions, then the second-pass sums (whose terms may read the first), then the
 * weight from the sums and Z. E.g. Grad-CAM: sum_g = Σ_ij g, α = sum_g / Z.
 * A: [N, K, h, w], G: [B, K, h, w] (row b uses image b % N). Returns [B, K].
 */
export function channelWeights(method: ChannelMethodName, A: HostTensor, G: HostTensor): HostTensor {
  const d = channelMethod(method);
  if (d.source !== 'gradients' || !d.weight) throw new Error(`${method} has no gradient weights`);
  const [N, K, h, w] = A.shape;
  const B = G.shape[0];
  const Z = h * w;
  const out = hostTensor([B, K]);
  const pass = (terms: Readonly<Record<string, Term>>, a0: number, g0: number, prev: Sums): Record<string, number> => {
    const sums: Record<string, number> = {};
    for (const [name, term] of Object.entries(terms)) {
      let s = 0;
      for (let ij = 0; ij < Z; ij++) s += term.ref(A.data[a0 + ij], G.data[g0 + ij], prev);
      sums[name] = s;
    }
    return sums;
  };
  for (let b = 0; b < B; b++) {
    const i = b % N;
    for (let k = 0; k < K; k++) {
      const a0 = (i * K + k) * Z;
      const g0 = (b * K + k) * Z;
      const first = pass(d.sums, a0, g0, {});
      const all = { ...first, ...pass(d.sums2 ?? {}, a0, g0, first) };
      out.data[b * K + k] = d.weight.ref(all, Z);
    }
  }
  return out;
}

/**
 * A spatial method's map for every row, from its descriptor: L_ij = Σ_k term(A^k_ij, g^k_ij),
 * then ReLU if the method has one. A: [N, K, h, w], G: [B, K, h, w]. Returns [B, h, w].
 */
export function spatialMap(method: SpatialMethodName, A: HostTensor, G: HostTensor): HostTensor {
  const d = spatialMethod(method);
  const [N, K, h, w] = A.shape;
  const B = G.shape[0];
  const Z = h * w;
  const out = hostTensor([B, h, w]);
  for (let b = 0; b < B; b++) {
    const i = b % N;
    for (let ij = 0; ij < Z; ij++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += d.term.ref(A.data[(i * K + k) * Z + ij], G.data[(b * K + k) * Z + ij], {});
      out.data[b * Z + ij] = d.relu ? Math.max(s, 0) : s;
    }
  }
  return out;
}

/** CAM: w^c_k is row c of the linear layer after global average pooling, for the class c of each row b. */
export function camWeights(linearWeight: HostTensor, rowClasses: readonly number[]): HostTensor {
  const [, K] = linearWeight.shape;
  const B = rowClasses.length;
  const out = hostTensor([B, K]);
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) out.data[b * K + k] = linearWeight.data[rowClasses[b] * K + k];
  }
  return out;
}

/** L^c_ij = Σ_k w_k A^k_ij, then ReLU unless `relu` is false (CAM is shown signed). */
export function weightedSum(A: HostTensor, weights: HostTensor, relu: boolean): HostTensor {
  const [N, K, h, w] = A.shape;
  const B = weights.shape[0];
  const Z = h * w;
  const out = hostTensor([B, h, w]);
  for (let b = 0; b < B; b++) {
    const i = b % N;
    for (let ij = 0; ij < Z; ij++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += weights.data[b * K + k] * A.data[(i * K + k) * Z + ij];
      out.data[b * Z + ij] = relu ? Math.max(s, 0) : s;
    }
  }
  return out;
}

/** Per map: (L − min) / (max − min); a constant map becomes all zeros. */
export function normalizeMinMax(maps: HostTensor): HostTensor {
  const B = maps.shape[0];
  const Z = maps.data.length / B;
  const out = hostTensor(maps.shape);
  for (let b = 0; b < B; b++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let j = 0; j < Z; j++) {
      lo = Math.min(lo, maps.data[b * Z + j]);
      hi = Math.max(hi, maps.data[b * Z + j]);
    }
    const range = hi - lo;
    for (let j = 0; j < Z; j++) out.data[b * Z + j] = range > 0 ? (maps.data[b * Z + j] - lo) / range : 0;
  }
  return out;
}

/**
 * Bilinear resize of [B, h, w] maps to [B, H, W] with half-pixel centres (PyTorch
 * align_corners=False, OpenCV INTER_LINEAR): output pixel (y, x) samples the source at
 * ((y + 0.5)·h/H − 0.5, (x + 0.5)·w/W − 0.5), clamped at the border.
 */
export function upsampleBilinear(maps: HostTensor, H: number, W: number): HostTensor {
  const [B, h, w] = maps.shape;
  const out = hostTensor([B, H, W]);
  const source = (dst: number, scale: number, size: number) => {
    const s = Math.max((dst + 0.5) * scale - 0.5, 0);
    const i0 = Math.min(Math.floor(s), size - 1);
    const i1 = Math.min(i0 + 1, size - 1);
    return { i0, i1, f: s - i0 };
  };
  for (let b = 0; b < B; b++) {
    for (let y = 0; y < H; y++) {
      const sy = source(y, h / H, h);
      for (let x = 0; x < W; x++) {
        const sx = source(x, w / W, w);
        const at = (yy: number, xx: number) => maps.data[(b * h + yy) * w + xx];
        const top = at(sy.i0, sx.i0) * (1 - sx.f) + at(sy.i0, sx.i1) * sx.f;
        const bottom = at(sy.i1, sx.i0) * (1 - sx.f) + at(sy.i1, sx.i1) * sx.f;
        out.data[(b * H + y) * W + x] = top * (1 - sy.f) + bottom * sy.f;
      }
    }
  }
  return out;
}

/** Guided Grad-CAM: the upsampled Grad-CAM map [B, H, W] times guided backprop [B, C, H, W], per channel. */
export function guidedGradcam(upsampled: HostTensor, guided: HostTensor): HostTensor {
  const [B, C, H, W] = guided.shape;
  const out = hostTensor(guided.shape);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let p = 0; p < H * W; p++)
        out.data[(b * C + c) * H * W + p] = upsampled.data[b * H * W + p] * guided.data[(b * C + c) * H * W + p];
  return out;
}
