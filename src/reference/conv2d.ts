/**
 * 2-D convolution on the CPU (cross-correlation, as in PyTorch and ONNX): forward, and backward
 * with respect to the input. The parameters and the output-shape rule are the op's definition
 * (src/defs/conv2d.ts), shared with the GPU dispatcher.
 *
 * N batch, Cin / Cout input / output channels, H×W input size, KH×KW kernel size, OH×OW output
 * size, g groups, T targets.
 *   x is (N, Cin, H, W), w is (Cout, Cin/g, KH, KW), b is (Cout), y is (N, Cout, OH, OW).
 *   Output channel co belongs to group co / (Cout/g) and reads only the Cin/g input channels of
 *   that group.
 */
import { ShapeMismatchError } from '../core/errors';
import { conv2dOutputShape, type Conv2dParams } from '../defs/conv2d';
import { shapeStr, type Shape } from '../core/shape';
import { hostTensor, type HostTensor } from './tensor';

/**
 * y[n, co, oh, ow] = b[co] + Σ_{ci in co's group, kh, kw} x[n, ci, ih, iw] · w[co, ci − group start, kh, kw]
 *   with ih = oh·sh − pad_top + kh·dh, iw = ow·sw − pad_left + kw·dw; x outside the image is 0.
 * With opts.relu, y = max(y, 0).
 */
export function conv2dForward(
  x: HostTensor,
  w: HostTensor,
  b: HostTensor | null,
  p: Conv2dParams,
  opts: { relu?: boolean } = {},
): HostTensor {
  const [N, Cout, OH, OW] = conv2dOutputShape(x.shape, w.shape, p);
  const [, Cin, H, W] = x.shape;
  const [, CinG, KH, KW] = w.shape;
  const CoutG = Cout / p.groups;
  const [sh, sw] = p.stride;
  const [pt, pl] = p.pads;
  const [dh, dw] = p.dilation;
  const y = hostTensor([N, Cout, OH, OW]);
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < Cout; co++) {
      const ci0 = Math.floor(co / CoutG) * CinG; // first input channel of co's group
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let s = b ? b.data[co] : 0;
          for (let c = 0; c < CinG; c++) {
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * sh - pt + kh * dh;
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * sw - pl + kw * dw;
                if (iw < 0 || iw >= W) continue;
                s += x.data[((n * Cin + ci0 + c) * H + ih) * W + iw] * w.data[((co * CinG + c) * KH + kh) * KW + kw];
              }
            }
          }
          y.data[((n * Cout + co) * OH + oh) * OW + ow] = opts.relu ? Math.max(s, 0) : s;
        }
      }
    }
  }
  return y;
}

/**
 * Gradient with respect to the input, for T targets: dy is (T·N, Cout, OH, OW), dx is
 * (T·N, Cin, H, W). Written as a gather, the way the shader computes it: input pixel (ih, iw)
 * received tap (kh, kw) of output (oh, ow) when oh·sh = ih + pad_top − kh·dh (and likewise for
 * w), so
 *   dx[b, ci, ih, iw] = Σ_{co in ci's group, kh, kw with integer in-range oh, ow} dy[b, co, oh, ow] · w[co, ci − group start, kh, kw].
 * The bias and a fused ReLU are not part of this (the ReLU's backward is a separate op).
 */
export function conv2dBackward(dy: HostTensor, w: HostTensor, p: Conv2dParams, inputShape: Shape): HostTensor {
  const [N, Cout, OH, OW] = conv2dOutputShape(inputShape, w.shape, p);
  const ok =
    dy.shape.length === 4 && dy.shape[0] % N === 0 && dy.shape[1] === Cout && dy.shape[2] === OH && dy.shape[3] === OW;
  if (!ok) {
    throw new ShapeMismatchError(
      `conv2dBackward: gradient ${shapeStr(dy.shape)} does not match the output [T·${N}, ${Cout}, ${OH}, ${OW}] of input ${shapeStr(inputShape)} and weight ${shapeStr(w.shape)}`,
    );
  }
  const TN = dy.shape[0];
  const [, Cin, H, W] = inputShape;
  const [, CinG, KH, KW] = w.shape;
  const CoutG = Cout / p.groups;
  const [sh, sw] = p.stride;
  const [pt, pl] = p.pads;
  const [dh, dw] = p.dilation;
  const dx = hostTensor([TN, Cin, H, W]);
  for (let b = 0; b < TN; b++) {
    for (let ci = 0; ci < Cin; ci++) {
      const g = Math.floor(ci / CinG);
      const c = ci - g * CinG; // ci's index inside its group, the weight's second axis
      for (let ih = 0; ih < H; ih++) {
        for (let iw = 0; iw < W; iw++) {
          let s = 0;
          for (let kh = 0; kh < KH; kh++) {
            const ohs = ih + pt - kh * dh; // = oh·sh
            if (ohs < 0 || ohs % sh !== 0 || ohs / sh >= OH) continue;
            const oh = ohs / sh;
            for (let kw = 0; kw < KW; kw++) {
              const ows = iw + pl - kw * dw; // = ow·sw
              if (ows < 0 || ows % sw !== 0 || ows / sw >= OW) continue;
              const ow = ows / sw;
              for (let co = g * CoutG; co < (g + 1) * CoutG; co++) {
                s += dy.data[((b * Cout + co) * OH + oh) * OW + ow] * w.data[((co * CinG + c) * KH + kh) * KW + kw];
              }
            }
          }
          dx.data[((b * Cin + ci) * H + ih) * W + iw] = s;
        }
      }
    }
  }
  return dx;
}
