/**
 * The attribution methods on the CPU, step by step, in the lecture's notation.
 *
 * A^k       the k-th feature map (h×w) of the chosen layer, for image i: A[i, k, :, :]
 * g^{kc}    ∂y^c/∂A^k, one gradient per (target, image) row b = t·N + i: G[b, k, :, :]
 * Z = h·w   the number of positions in a map
 *
 * Every map function returns one map per row b: [B, h, w].
 */
import {
  channelMethod,
  eigenMethod,
  spatialMethod,
  type ChannelMethodName,
  type EigenMethodName,
  type SpatialMethodName,
} from '../methods/registry';
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

/**
 * The eigenvalues (descending) and unit eigenvectors of a symmetric D×D matrix (row-major), by
 * the cyclic Jacobi method: rotations that zero each off-diagonal entry in turn, sweeps until
 * the off-diagonal part is below 1e-15 of the matrix's norm (float64; a few sweeps).
 * vectors[r] is the eigenvector of values[r].
 */
export function symmetricEigen(C: ArrayLike<number>, D: number): { values: number[]; vectors: Float64Array[] } {
  const a = Float64Array.from(C);
  const v = new Float64Array(D * D);
  for (let p = 0; p < D; p++) v[p * D + p] = 1;
  let norm = 0;
  for (let q = 0; q < D * D; q++) norm += a[q] * a[q];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < D; p++) for (let q = p + 1; q < D; q++) off += 2 * a[p * D + q] * a[p * D + q];
    if (off <= 1e-30 * norm) break;
    for (let p = 0; p < D; p++) {
      for (let q = p + 1; q < D; q++) {
        const apq = a[p * D + q];
        if (apq === 0) continue;
        // The rotation (c, s) with tan 2θ = 2 a_pq / (a_qq − a_pp), the smaller angle.
        const theta = (a[q * D + q] - a[p * D + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < D; r++) {
          const arp = a[r * D + p];
          const arq = a[r * D + q];
          a[r * D + p] = c * arp - s * arq;
          a[r * D + q] = s * arp + c * arq;
        }
        for (let r = 0; r < D; r++) {
          const apr = a[p * D + r];
          const aqr = a[q * D + r];
          a[p * D + r] = c * apr - s * aqr;
          a[q * D + r] = s * apr + c * aqr;
        }
        for (let r = 0; r < D; r++) {
          const vrp = v[r * D + p];
          const vrq = v[r * D + q];
          v[r * D + p] = c * vrp - s * vrq;
          v[r * D + q] = s * vrp + c * vrq;
        }
      }
    }
  }
  const order = Array.from({ length: D }, (_, p) => p).sort((x, y) => a[y * D + y] - a[x * D + x] || x - y);
  return {
    values: order.map((p) => a[p * D + p]),
    vectors: order.map((p) => Float64Array.from({ length: D }, (_, r) => v[r * D + p])),
  };
}

/**
 * The projection of a [Z, K] matrix X (row-major: X[j·K + k]), centred over its rows, onto its
 * first right singular vector v: p_j = Σ_k (X_jk − mean_j X_jk) v_k, with the sign for which
 * the largest |p_j| is positive (kept on a tie). v from the Gram matrix of the smaller side:
 * XᵀX (K×K, its top eigenvector is v) when K ≤ Z, else XXᵀ (Z×Z, its top eigenvector u gives
 * v = Xᵀu/‖Xᵀu‖). Also the two largest eigenvalues of the Gram matrix (σ₁², σ₂²) and the unit
 * direction v itself, with the projection's sign (the channels' loadings: p_j = Σ_k x_jk·v_k). A
 * matrix that is constant over its rows gives p = 0 and v = 0.
 */
export function firstComponent(
  X: ArrayLike<number>,
  Z: number,
  K: number,
): { projection: Float64Array; values: number[]; direction: Float64Array } {
  const x = new Float64Array(Z * K);
  for (let k = 0; k < K; k++) {
    let mean = 0;
    for (let j = 0; j < Z; j++) mean += X[j * K + k];
    mean /= Z;
    for (let j = 0; j < Z; j++) x[j * K + k] = X[j * K + k] - mean;
  }
  const channels = K <= Z;
  const D = channels ? K : Z;
  const C = new Float64Array(D * D);
  for (let p = 0; p < D; p++)
    for (let q = 0; q < D; q++) {
      let s = 0;
      if (channels) for (let j = 0; j < Z; j++) s += x[j * K + p] * x[j * K + q];
      else for (let k = 0; k < K; k++) s += x[p * K + k] * x[q * K + k];
      C[p * D + q] = s;
    }
  const { values, vectors } = symmetricEigen(C, D);
  let v = vectors[0];
  if (!channels) {
    const u = v;
    v = new Float64Array(K);
    for (let k = 0; k < K; k++) for (let j = 0; j < Z; j++) v[k] += x[j * K + k] * u[j];
  }
  let len = 0;
  for (let k = 0; k < K; k++) len += v[k] * v[k];
  len = Math.sqrt(len);
  const projection = new Float64Array(Z);
  const direction = new Float64Array(K);
  if (len > 0 && values[0] > 0) {
    for (let k = 0; k < K; k++) direction[k] = v[k] / len;
    for (let j = 0; j < Z; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[j * K + k] * direction[k];
      projection[j] = s;
    }
  }
  let lo = 0;
  let hi = 0;
  for (const p of projection) [lo, hi] = [Math.min(lo, p), Math.max(hi, p)];
  if (-lo > hi) {
    for (let j = 0; j < Z; j++) projection[j] = -projection[j];
    for (let k = 0; k < K; k++) direction[k] = -direction[k];
  }
  return { projection, values: [values[0] ?? 0, values[1] ?? 0], direction };
}

/**
 * An eigen method's map for every row, from its descriptor: X_jk = term(A^k_j, g^k_j) as a
 * [Z, K] matrix, its first principal component's projection (firstComponent), then ReLU if the
 * method has one. A: [N, K, h, w], G: [B, K, h, w] (only read when the method uses gradients).
 * Returns [B, h, w]; row b uses image b % N.
 */
export function eigenMap(method: EigenMethodName, A: HostTensor, G: HostTensor): HostTensor {
  const d = eigenMethod(method);
  const [, K, h, w] = A.shape;
  const Z = h * w;
  return componentMaps(A, G.shape[0], d.relu, (b, i, k, j) =>
    d.term.ref(A.data[(i * K + k) * Z + j], d.gradients ? G.data[(b * K + k) * Z + j] : 0, {}),
  );
}

/**
 * The eigenSmooth option of a channel method: per row, the first principal component of the
 * weighted activations X_jk = w_k·A^k_j (firstComponent) instead of Σ_k w_k A^k, then ReLU unless
 * `relu` is false. A: [N, K, h, w], weights [B, K]. Returns [B, h, w].
 */
export function eigenSmoothMap(A: HostTensor, weights: HostTensor, relu: boolean): HostTensor {
  const [, K, h, w] = A.shape;
  const Z = h * w;
  return componentMaps(
    A,
    weights.shape[0],
    relu,
    (b, i, k, j) => weights.data[b * K + k] * A.data[(i * K + k) * Z + j],
  );
}

/**
 * Per row b (image i = b % N of A [N, K, h, w]): the [Z, K] matrix X_jk = entry(b, i, k, j), its
 * first principal component's projection (firstComponent), then ReLU if asked. Returns [B, h, w].
 */
function componentMaps(
  A: HostTensor,
  B: number,
  relu: boolean,
  entry: (b: number, i: number, k: number, j: number) => number,
): HostTensor {
  const [N, K, h, w] = A.shape;
  const Z = h * w;
  const out = hostTensor([B, h, w]);
  for (let b = 0; b < B; b++) {
    const i = b % N;
    const X = new Float64Array(Z * K);
    for (let k = 0; k < K; k++) for (let j = 0; j < Z; j++) X[j * K + k] = entry(b, i, k, j);
    const { projection } = firstComponent(X, Z, K);
    for (let j = 0; j < Z; j++) out.data[b * Z + j] = relu ? Math.max(projection[j], 0) : projection[j];
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
