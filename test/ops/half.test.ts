/**
 * Half-float weight storage (src/ops/half.ts): the packing of float32 values into IEEE halves,
 * checked with a decoder written here from the binary16 definition; then every kernel that
 * reads halves (the conv's tiled, 3x3 and gemm forward kernels; its conv, gemm and gather input
 * gradients through the SRC_F16 re-layouts; linear forward and backward; CAM's weights), each
 * forced, against the float64 CPU reference run on the weights the halves hold (decoded here),
 * so the tolerances are the float32 ones of each op. What storing in f16 costs against the
 * float32 weights is measured on whole networks in test/model/f16_weights.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { camWeights } from '../../src/attribution/kernels';
import { InvalidInputError } from '../../src/core/errors';
import { conv2dParams } from '../../src/defs/conv2d';
import type { Engine } from '../../src/gpu/engine';
import type { Tensor } from '../../src/gpu/tensor';
import { conv2dBackward, conv2dForward, conv2dPackWeights, type Conv2dVariant } from '../../src/ops/conv2d';
import { F16_MAX, isHalves, toHalves } from '../../src/ops/half';
import { linearBackward, linearForward } from '../../src/ops/linear';
import * as refConv from '../../src/reference/conv2d';
import * as refLinear from '../../src/reference/linear';
import { conv2dOutputShape } from '../../src/defs/conv2d';
import { hostTensor, numel } from '../../src/reference/tensor';
import { expectAllclose, f32Reduction } from '../util/compare';
import { getEngine } from '../util/gpu';
import { randn } from '../util/random';

/** The binary16 value of bits h (1 sign, 5 exponent, 10 fraction bits), from the definition. */
function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The values a tensor of halves holds (n of them), decoded on the host. */
async function decode(t: Tensor, n: number): Promise<Float64Array> {
  const f = await t.read();
  const words = new Uint32Array(f.buffer, f.byteOffset, f.length);
  return Float64Array.from({ length: n }, (_, j) => halfValue((words[j >> 1] >>> (16 * (j & 1))) & 0xffff));
}

/** The float32 values `ws` as the GPU stores them in halves. */
async function asStored(e: Engine, ws: Float32Array, shape: number[]): Promise<Float64Array> {
  return e.scope(async () => decode(await toHalves(e, e.upload(ws, shape)), ws.length));
}

describe('half-float storage', () => {
  it('stores representable values exactly and any other within one half step, two per word', async () => {
    const e = await getEngine();
    // Exact in binary16: integers, powers of two, the largest, the smallest normal and subnormal.
    const exact = [0, 1, -2, 0.5, 3.25, -1024, 2048 + 2, F16_MAX, -F16_MAX, 2 ** -14, 2 ** -24, -(2 ** -20), 7];
    const got = await asStored(e, Float32Array.from(exact), [exact.length]);
    expect(Array.from(got)).toEqual(exact);
    // Random normal-range values: one of the two neighbouring halves, so |err| ≤ 2^-10·|v|.
    const vs = randn(1001, 5, 3); // odd: the last word's upper half is padding
    const h = await asStored(e, vs, [vs.length]);
    let worst = 0;
    vs.forEach((v, i) => {
      if (Math.abs(v) < 2 ** -14) return;
      worst = Math.max(worst, Math.abs(h[i] - v) / Math.abs(v));
    });
    expect(worst).toBeGreaterThan(0); // most are not representable
    expect(worst).toBeLessThanOrEqual(2 ** -10);
    await e.scope(async () => {
      const t = await toHalves(e, e.upload(vs, [vs.length]));
      expect(t.shape).toEqual([501]);
      expect(isHalves(t)).toBe(true);
      expect(isHalves(t.reshape([1, 501]))).toBe(true); // views keep the mark
    });
    expect(e.liveTensors).toBe(0);
  });

  // Awkward shapes: channels not multiples of 4, groups, stride, 3×3 (the 3x3 kernel).
  const convCases = [
    { name: '3×3 pad 1, Cout 6, bias', x: [2, 3, 7, 5], w: [6, 3, 3, 3], p: { pads: [1, 1, 1, 1] }, bias: true },
    {
      name: 'stride 2, 2×3, Cout 9',
      x: [1, 5, 9, 8],
      w: [9, 5, 2, 3],
      p: { stride: [2, 2], pads: [0, 1, 1, 0] },
      bias: false,
    },
    { name: 'groups 2, Cout/g 5', x: [1, 6, 5, 6], w: [10, 3, 3, 3], p: { groups: 2, pads: [1, 1, 1, 1] }, bias: true },
  ];
  const forwardVariants: [string, Conv2dVariant][] = [
    ['direct (unpacks the halves first)', { kernel: 'direct', co: 4, ow: 4 }],
    ['tiled co 4', { kernel: 'tiled', co: 4 }],
    ['tiled co 8', { kernel: 'tiled', co: 8 }],
    ['gemm 32×32×16', { kernel: 'gemm' }],
    ['gemm 8×12×3', { kernel: 'gemm', tile: { tm: 8, tn: 12, tk: 3 } }],
  ];

  it.each(convCases)('conv with f16 packed weights, every kernel, equals the reference: $name', async (c) => {
    const e = await getEngine();
    const p = conv2dParams(c.p as Parameters<typeof conv2dParams>[0]);
    const xs = randn(numel(c.x), 1);
    const ws = randn(numel(c.w), 2, 0.5);
    const bs = c.bias ? randn(c.w[0], 3) : null;
    const yShape = conv2dOutputShape(c.x, c.w, p);
    const dys = randn(numel([2 * yShape[0], ...yShape.slice(1)]), 4); // T = 2 targets
    const stored = hostTensor(c.w, await asStored(e, ws, c.w));
    const x = hostTensor(c.x, xs);
    const wantY = refConv.conv2dForward(x, stored, bs ? hostTensor([c.w[0]], bs) : null, p, { relu: true });
    const dyShape = [2 * c.x[0], ...yShape.slice(1)];
    const wantDx = refConv.conv2dBackward(hostTensor(dyShape, dys), stored, p, c.x);
    const k = c.w[1] * c.w[2] * c.w[3];
    const fTol = f32Reduction(k + 1, Math.sqrt(k * 0.25 + 1));
    const bk = (c.w[0] / p.groups) * c.w[2] * c.w[3];
    const bTol = f32Reduction(bk, Math.sqrt(bk * 0.25));
    const variants: [string, Conv2dVariant][] = [...forwardVariants];
    if (c.w[2] === 3 && c.w[3] === 3 && p.stride[0] === 1) variants.push(['3x3 co 8', { kernel: '3x3', co: 8 }]);
    await e.scope(async () => {
      const packed = await conv2dPackWeights(e, e.upload(ws, c.w, 'w'), p.groups, { f16: true });
      expect(packed.f16).toBe(true);
      const plain = await conv2dPackWeights(e, e.upload(ws, c.w, 'w'), p.groups);
      expect(packed.data.size * 2).toBe(plain.data.size); // half the words
      const xt = e.upload(xs, c.x, 'x');
      const b = bs ? e.upload(bs, [c.w[0]], 'b') : null;
      for (const [name, variant] of variants) {
        const y = await conv2dForward(e, xt, packed, b, p, { variant, relu: true });
        expectAllclose(await y.read(), wantY.data, fTol, `forward ${name}, ${c.name}`);
      }
      const dy = e.upload(dys, dyShape, 'dy');
      for (const kernel of ['conv', 'gemm', 'gather'] as const) {
        const dx = await conv2dBackward(e, dy, packed, p, c.x, { kernel });
        expectAllclose(await dx.read(), wantDx.data, bTol, `backward ${kernel}, ${c.name}`);
      }
    });
    expect(e.liveTensors).toBe(0);
  });

  it('linear forward and backward and CAM weights read f16 weights, K and M odd (and K = 36)', async () => {
    const e = await getEngine();
    const [R, K, M] = [3, 37, 11];
    const xs = randn(R * K, 6);
    const ws = randn(M * K, 7, 0.3);
    const bs = randn(M, 8);
    const dys = randn(2 * R * M, 9);
    const stored = hostTensor([M, K], await asStored(e, ws, [M, K]));
    const wantY = refLinear.linearForward(hostTensor([R, K], xs), stored, hostTensor([M], bs));
    const wantDx = refLinear.linearBackward(hostTensor([2 * R, M], dys), stored);
    await e.scope(async () => {
      const w = await toHalves(e, e.upload(ws, [M, K]));
      const y = await linearForward(e, e.upload(xs, [R, K]), w, e.upload(bs, [M]), [M, K]);
      expectAllclose(await y.read(), wantY.data, f32Reduction(K + 1, Math.sqrt(K * 0.09 + 1)), 'linear forward');
      // K = 36, a multiple of 4: the forward's COLS4 kernel reads four halves as one vec2u.
      const K4 = 36;
      const stored4 = hostTensor([M, K4], await asStored(e, ws.subarray(0, M * K4), [M, K4]));
      const w4 = await toHalves(e, e.upload(ws.subarray(0, M * K4), [M, K4]));
      const y4 = await linearForward(e, e.upload(xs.subarray(0, R * K4), [R, K4]), w4, e.upload(bs, [M]), [M, K4]);
      expectAllclose(
        await y4.read(),
        refLinear.linearForward(hostTensor([R, K4], xs.subarray(0, R * K4)), stored4, hostTensor([M], bs)).data,
        f32Reduction(K4 + 1, Math.sqrt(K4 * 0.09 + 1)),
        'linear forward, K % 4 = 0',
      );
      const dx = await linearBackward(e, e.upload(dys, [2 * R, M]), w, [M, K]);
      expectAllclose(await dx.read(), wantDx.data, f32Reduction(M, Math.sqrt(M * 0.09)), 'linear backward');
      // Without its [M, K] shape a tensor of halves is refused.
      await expect(linearForward(e, e.upload(xs, [R, K]), w, null)).rejects.toThrow(/holds halves/);
      // CAM's weights: rows of W for the classes [4, 0, 10].
      const classes = e.upload([4, 0, 10], [3]);
      const out = e.zeros([1, 3, K]);
      await camWeights(e, w, classes, out, 0);
      const got = await out.read();
      [4, 0, 10].forEach((c, b) =>
        expect(Array.from(got.subarray(b * K, (b + 1) * K))).toEqual(
          Array.from(stored.data.subarray(c * K, (c + 1) * K)),
        ),
      );
    });
    expect(e.liveTensors).toBe(0);
  });

  it('toHalves refuses a shape that does not hold the words', async () => {
    const e = await getEngine();
    await e.scope(async () => {
      await expect(toHalves(e, e.upload([1, 2, 3], [3]), [1])).rejects.toThrow(InvalidInputError);
    });
  });
});
