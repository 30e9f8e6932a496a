/**
 * Pooling on the CPU: max pool, average pool, global average pool, forward and backward.
 * Sizes: N batch, C channels, H×W input, OH×OW output, KH×KW window, SH×SW stride,
 * pads [top, left, bottom, right]. Output cell (oh, ow) looks at input rows
 * oh·SH − top … oh·SH − top + KH − 1 and the matching columns; cells outside the input are
 * padding. The output-size rule and the parameter defaults are shared with the GPU dispatcher
 * (src/ops/pool.ts: pool2dParams, pool2dOutputShape).
 */
import { pool2dOutputShape, type Pool2dParams } from '../defs/pool';
import { hostTensor, type HostTensor } from './tensor';

/**
 * Row and column of the maximum of window (oh, ow) in channel map `plane` (offset of x[n, c]).
 * Padding never wins. Ties go to the first maximum in scan order (row-major over the window),
 * as in PyTorch.
 */
function windowArgmax(x: HostTensor, plane: number, oh: number, ow: number, p: Pool2dParams): [number, number] {
  const [, , H, W] = x.shape;
  let best = -Infinity;
  let bh = -1;
  let bw = -1;
  for (let i = 0; i < p.kernel[0]; i++) {
    const ih = oh * p.stride[0] - p.pads[0] + i;
    if (ih < 0 || ih >= H) continue;
    for (let j = 0; j < p.kernel[1]; j++) {
      const iw = ow * p.stride[1] - p.pads[1] + j;
      if (iw < 0 || iw >= W) continue;
      const v = x.data[plane + ih * W + iw];
      if (bh < 0 || v > best) {
        best = v;
        bh = ih;
        bw = iw;
      }
    }
  }
  return [bh, bw];
}

/** x: [N, C, H, W] → y: [N, C, OH, OW], the maximum of each window. */
export function maxPool2dForward(x: HostTensor, p: Pool2dParams): HostTensor {
  const [N, C, OH, OW] = pool2dOutputShape(x.shape, p);
  const [, , H, W] = x.shape;
  const y = hostTensor([N, C, OH, OW]);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const plane = (n * C + c) * H * W;
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const [bh, bw] = windowArgmax(x, plane, oh, ow, p);
          y.data[((n * C + c) * OH + oh) * OW + ow] = x.data[plane + bh * W + bw];
        }
      }
    }
  }
  return y;
}

/**
 * dy: [T·N, C, OH, OW] for T targets; x: [N, C, H, W] the saved forward input.
 * Each output's gradient goes to the one input cell that won its window (the first maximum);
 * gradient row b uses forward image b % N. Returns dx: [T·N, C, H, W].
 */
export function maxPool2dBackward(dy: HostTensor, x: HostTensor, p: Pool2dParams): HostTensor {
  const [N, C, H, W] = x.shape;
  const [, , OH, OW] = pool2dOutputShape(x.shape, p);
  const B = dy.shape[0];
  const dx = hostTensor([B, C, H, W]);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const plane = ((b % N) * C + c) * H * W;
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const [bh, bw] = windowArgmax(x, plane, oh, ow, p);
          dx.data[((b * C + c) * H + bh) * W + bw] += dy.data[((b * C + c) * OH + oh) * OW + ow];
        }
      }
    }
  }
  return dx;
}

/**
 * The number average-pool window (oh, ow) divides by. countIncludePad: the window clipped to
 * the padded input [−top, H + bottom) × [−left, W + right) (PyTorch's rule: a ceil-mode window
 * hanging past the padding does not count the cells beyond it); otherwise the valid cells only.
 */
export function avgPoolDivisor(H: number, W: number, oh: number, ow: number, p: Pool2dParams): number {
  const [top, left, bottom, right] = p.pads;
  let h0 = oh * p.stride[0] - top;
  let w0 = ow * p.stride[1] - left;
  let h1 = Math.min(h0 + p.kernel[0], H + bottom);
  let w1 = Math.min(w0 + p.kernel[1], W + right);
  if (p.countIncludePad) return (h1 - h0) * (w1 - w0);
  h0 = Math.max(h0, 0);
  w0 = Math.max(w0, 0);
  h1 = Math.min(h1, H);
  w1 = Math.min(w1, W);
  return (h1 - h0) * (w1 - w0);
}

/** x: [N, C, H, W] → y: [N, C, OH, OW], the sum of each window's valid cells / the divisor. */
export function avgPool2dForward(x: HostTensor, p: Pool2dParams): HostTensor {
  const [N, C, OH, OW] = pool2dOutputShape(x.shape, p);
  const [, , H, W] = x.shape;
  const y = hostTensor([N, C, OH, OW]);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const plane = (n * C + c) * H * W;
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let sum = 0;
          for (let i = 0; i < p.kernel[0]; i++) {
            const ih = oh * p.stride[0] - p.pads[0] + i;
            if (ih < 0 || ih >= H) continue;
            for (let j = 0; j < p.kernel[1]; j++) {
              const iw = ow * p.stride[1] - p.pads[1] + j;
              if (iw < 0 || iw >= W) continue;
              sum += x.data[plane + ih * W + iw];
            }
          }
          y.data[((n * C + c) * OH + oh) * OW + ow] = sum / avgPoolDivisor(H, W, oh, ow, p);
        }
      }
    }
  }
  return y;
}

/**
 * dy: [T·N, C, OH, OW]; inputShape: the forward input's shape [N, C, H, W] (only C, H, W are
 * used). Each output spreads dy / divisor over its window's valid cells. Returns [T·N, C, H, W].
 */
export function avgPool2dBackward(dy: HostTensor, p: Pool2dParams, inputShape: readonly number[]): HostTensor {
  const [, C, H, W] = inputShape;
  const [, , OH, OW] = pool2dOutputShape(inputShape, p);
  const B = dy.shape[0];
  const dx = hostTensor([B, C, H, W]);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const g = dy.data[((b * C + c) * OH + oh) * OW + ow] / avgPoolDivisor(H, W, oh, ow, p);
          for (let i = 0; i < p.kernel[0]; i++) {
            const ih = oh * p.stride[0] - p.pads[0] + i;
            if (ih < 0 || ih >= H) continue;
            for (let j = 0; j < p.kernel[1]; j++) {
              const iw = ow * p.stride[1] - p.pads[1] + j;
              if (iw < 0 || iw >= W) continue;
              dx.data[((b * C + c) * H + ih) * W + iw] += g;
            }
          }
        }
      }
    }
  }
  return dx;
}

/** x: [N, C, H, W] → y: [N, C, 1, 1], the mean of each channel map. */
export function globalAvgPoolForward(x: HostTensor): HostTensor {
  const [N, C, H, W] = x.shape;
  const y = hostTensor([N, C, 1, 1]);
  for (let nc = 0; nc < N * C; nc++) {
    let sum = 0;
    for (let i = 0; i < H * W; i++) sum += x.data[nc * H * W + i];
    y.data[nc] = sum / (H * W);
  }
  return y;
}

/** dy: [T·N, C, 1, 1]; inputShape [N, C, H, W]. Every cell of a map gets dy / (H·W). */
export function globalAvgPoolBackward(dy: HostTensor, inputShape: readonly number[]): HostTensor {
  const [, C, H, W] = inputShape;
  const B = dy.shape[0];
  const dx = hostTensor([B, C, H, W]);
  for (let bc = 0; bc < B * C; bc++) {
    for (let i = 0; i < H * W; i++) dx.data[bc * H * W + i] = dy.data[bc] / (H * W);
  }
  return dx;
}
