import { describe, expect, it } from 'vitest';
import { InvalidInputError, ShapeMismatchError } from '../../src/core/errors';
import {
  avgPool2dBackward,
  avgPool2dForward,
  globalAvgPoolBackward,
  globalAvgPoolForward,
  maxPool2dBackward,
  maxPool2dForward,
} from '../../src/ops/pool';
import { pool2dOutputShape, pool2dParams, type Pool2dParams } from '../../src/defs/pool';
import * as ref from '../../src/reference/pool';
import { hostTensor, numel } from '../../src/reference/tensor';
import { CENTRAL_DIFF, EXACT, expectAllclose, F32, F64, f32Reduction, maxAbs } from '../util/compare';
import { getEngine } from '../util/gpu';
import { numericGrad } from '../util/gradcheck';
import { randn, rng } from '../util/random';

/** n distinct values, at least 0.1 apart, in shuffled order: finite differences never cross a tie. */
function distinct(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const v = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.125); // exact in float32
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  return Float32Array.from(v);
}

/** Values on a coarse grid (multiples of 0.5 in [-2, 2]): most windows hold ties. */
function manyTies(n: number, seed: number): Float32Array {
  return randn(n, seed).map((v) => Math.max(-2, Math.min(2, Math.round(v * 2) / 2)));
}

// Geometries with odd sizes, stride 2, overlapping windows (kernel 3 stride 2), symmetric and
// asymmetric padding, and ceil mode with a last window that hangs past the padding.
const CASES: { name: string; shape: number[]; attrs: Parameters<typeof pool2dParams>[0] }[] = [
  { name: 'k3 s2 pad 1, 7×5', shape: [2, 3, 7, 5], attrs: { kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1] } },
  {
    name: 'k3 s2 asymmetric pads, ceil',
    shape: [2, 2, 9, 7],
    attrs: { kernel: [3, 3], stride: [2, 2], pads: [0, 1, 2, 0], ceilMode: true },
  },
  { name: 'k2 s2 ceil, 6×7', shape: [1, 3, 6, 7], attrs: { kernel: [2, 2], ceilMode: true } },
  {
    name: 'k2×3 s1×2 pads [1,0,0,2], ceil',
    shape: [2, 2, 5, 5],
    attrs: { kernel: [2, 3], stride: [1, 2], pads: [1, 0, 0, 2], ceilMode: true },
  },
  // Windows that do not overlap: the 'windows' backward kernel applies. Exactly tiling the
  // input, leaving gaps (stride > kernel), and padded.
  { name: 'k2 s2 tiling 6×8', shape: [2, 3, 6, 8], attrs: { kernel: [2, 2] } },
  { name: 'k2 s3×2 gaps, 8×7', shape: [1, 2, 8, 7], attrs: { kernel: [2, 2], stride: [3, 2] } },
  { name: 'k2 s2 pad 1, 5×5', shape: [1, 2, 5, 5], attrs: { kernel: [2, 2], pads: [1, 1, 1, 1] } },
];

/** How many windows can cover one input cell: the length of the sums in the backward passes. */
function overlap(p: Pool2dParams): number {
  return Math.ceil(p.kernel[0] / p.stride[0]) * Math.ceil(p.kernel[1] / p.stride[1]);
}

/** The max-pool backward kernels that apply to a geometry ('windows' needs disjoint windows). */
function maxBackwardKernels(attrs: Parameters<typeof pool2dParams>[0]): ('windows' | 'argmax' | 'gather')[] {
  const p = pool2dParams(attrs);
  const disjoint = p.stride[0] >= p.kernel[0] && p.stride[1] >= p.kernel[1];
  return disjoint ? ['windows', 'argmax', 'gather'] : ['argmax', 'gather'];
}

describe('pool2d parameters and output shape', () => {
  it('defaults follow ONNX: stride = kernel, no pads, floor mode, countIncludePad false', () => {
    expect(pool2dParams({ kernel: [3, 2] })).toEqual({
      kernel: [3, 2],
      stride: [3, 2],
      pads: [0, 0, 0, 0],
      ceilMode: false,
      countIncludePad: false,
    });
  });

  // Expected sizes printed by PyTorch 1.13: F.max_pool2d(torch.zeros(1, 1, H, H), k, s, p, ceil_mode=c)
  it.each([
    [5, 3, 2, 1, true, 3],
    [6, 3, 2, 1, true, 4],
    [6, 3, 2, 0, true, 3],
    [7, 2, 2, 0, true, 4],
    [7, 2, 2, 0, false, 3],
    [8, 3, 3, 1, true, 3], // the ceil window would start in the bottom padding: dropped
    [5, 2, 3, 0, true, 2],
    [9, 4, 3, 2, true, 4],
    [4, 3, 2, 1, false, 2],
  ])('H=%i k=%i s=%i pad=%i ceil=%s gives %i (as PyTorch)', (H, k, s, pad, ceilMode, want) => {
    const p = pool2dParams({ kernel: [k, k], stride: [s, s], pads: [pad, pad, pad, pad], ceilMode });
    expect(pool2dOutputShape([2, 3, H, H], p)).toEqual([2, 3, want, want]);
  });

  it('uses each side of asymmetric padding', () => {
    // rows: (9 + 0 + 2 − 3)/2 + 1 = 5; cols: (7 + 1 + 0 − 3)/2 = 2.5 → ceil 3, + 1 = 4
    expect(pool2dOutputShape([1, 1, 9, 7], pool2dParams(CASES[1].attrs))).toEqual([1, 1, 5, 4]);
  });

  it('rejects a wrong rank, an empty output, and pads as large as the kernel with typed errors', () => {
    const p = pool2dParams({ kernel: [3, 3] });
    expect(() => pool2dOutputShape([3, 8, 8], p)).toThrow(ShapeMismatchError);
    expect(() => pool2dOutputShape([1, 1, 2, 8], p)).toThrow(ShapeMismatchError);
    expect(() => pool2dParams({ kernel: [2, 2], pads: [0, 2, 0, 0] })).toThrow(InvalidInputError);
    expect(() => pool2dParams({ kernel: [0, 2] })).toThrow(InvalidInputError);
    expect(() => pool2dParams({ kernel: [2, 2], stride: [1, 1.5] })).toThrow(InvalidInputError);
  });
});

describe('pool reference', () => {
  it.each(CASES)('max pool backward equals central differences ($name)', ({ shape, attrs }) => {
    const p = pool2dParams(attrs);
    const x = hostTensor(shape, distinct(numel(shape), 1));
    const dy = hostTensor(pool2dOutputShape(shape, p), randn(numel(pool2dOutputShape(shape, p)), 2));
    const f = (t: typeof x) => ref.maxPool2dForward(t, p);
    expectAllclose(ref.maxPool2dBackward(dy, x, p).data, numericGrad(f, x, dy).data, CENTRAL_DIFF);
  });

  it.each(CASES.flatMap((c) => [false, true].map((countIncludePad) => ({ ...c, countIncludePad }))))(
    'avg pool backward equals central differences ($name, countIncludePad=$countIncludePad)',
    ({ shape, attrs, countIncludePad }) => {
      const p = pool2dParams({ ...attrs, countIncludePad });
      const yShape = pool2dOutputShape(shape, p);
      const x = hostTensor(shape, randn(numel(shape), 3));
      const dy = hostTensor(yShape, randn(numel(yShape), 4));
      const f = (t: typeof x) => ref.avgPool2dForward(t, p);
      expectAllclose(ref.avgPool2dBackward(dy, p, shape).data, numericGrad(f, x, dy).data, CENTRAL_DIFF);
    },
  );

  it('global average pool backward equals central differences', () => {
    const x = hostTensor([2, 3, 5, 7], randn(210, 5));
    const dy = hostTensor([2, 3, 1, 1], randn(6, 6));
    expectAllclose(
      ref.globalAvgPoolBackward(dy, x.shape).data,
      numericGrad(ref.globalAvgPoolForward, x, dy).data,
      CENTRAL_DIFF,
    );
  });

  // Printed by PyTorch 1.13: F.avg_pool2d(torch.arange(42.).reshape(1, 1, 6, 7), 3, 2, 1,
  // ceil_mode=True, count_include_pad=...). The last row/column of windows hangs past the
  // padding; with count_include_pad PyTorch divides by the window clipped to the padded input.
  it.each([
    [
      true,
      [
        1.7777777777777777, 3.6666666666666665, 5, 4, 9.666666666666666, 16, 18, 13, 19, 30, 32, 22.333333333333332,
        11.833333333333334, 18.5, 19.5, 13.5,
      ],
    ],
    [false, [4, 5.5, 7.5, 9, 14.5, 16, 18, 19.5, 28.5, 30, 32, 33.5, 35.5, 37, 39, 40.5]],
  ])('avg pool forward equals PyTorch in ceil mode (countIncludePad=%s)', (countIncludePad, want) => {
    const p = pool2dParams({ kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1], ceilMode: true, countIncludePad });
    const x = hostTensor(
      [1, 1, 6, 7],
      Array.from({ length: 42 }, (_, i) => i),
    );
    const y = ref.avgPool2dForward(x, p);
    expect(y.shape).toEqual([1, 1, 4, 4]);
    expectAllclose(y.data, want, F64); // PyTorch printed 17 significant digits
  });
});

// A tie on purpose: overlapping 2×2 windows (stride 1) over a map full of equal maxima.
// PyTorch 1.13 gives y = all 3 and this dx for dy = 1..6 (the first maximum in row-major
// window order takes the gradient).
const TIE_X = [1, 3, 3, 0, 3, 2, 3, 1, 0, 3, 1, 1];
const TIE_DY = [1, 2, 3, 4, 5, 6];
const TIE_DX = [0, 3, 3, 0, 4, 0, 11, 0, 0, 0, 0, 0];
const TIE_P = pool2dParams({ kernel: [2, 2], stride: [1, 1] });

describe('max pool ties', () => {
  it('reference gives the gradient to the first maximum, like PyTorch', () => {
    const x = hostTensor([1, 1, 3, 4], TIE_X);
    expect(Array.from(ref.maxPool2dForward(x, TIE_P).data)).toEqual([3, 3, 3, 3, 3, 3]);
    expect(Array.from(ref.maxPool2dBackward(hostTensor([1, 1, 2, 3], TIE_DY), x, TIE_P).data)).toEqual(TIE_DX);
  });

  it('GPU gives the gradient to the same cell', async () => {
    const e = await getEngine();
    await e.scope(async () => {
      const x = e.upload(TIE_X, [1, 1, 3, 4]);
      const dx = await maxPool2dBackward(e, e.upload(TIE_DY, [1, 1, 2, 3]), x, TIE_P);
      expect(Array.from(await dx.read())).toEqual(TIE_DX);
    });
    expect(e.liveTensors).toBe(0);
  });

  it.each(['argmax', 'gather'] as const)(
    'GPU equals the reference exactly on data full of ties (T=3, N=2, k3 s2 padded, %s)',
    async (kernel) => {
      const e = await getEngine();
      const p = pool2dParams({ kernel: [3, 3], stride: [2, 2], pads: [1, 0, 1, 1], ceilMode: true });
      const shape = [2, 3, 7, 6];
      const yShape = pool2dOutputShape(shape, p);
      const dyShape = [6, ...yShape.slice(1)];
      const xs = manyTies(numel(shape), 7);
      const dys = Float32Array.from({ length: numel(dyShape) }, (_, i) => 1 + (i % 17)); // exact sums
      await e.scope(async () => {
        const x = e.upload(xs, shape);
        const y = await maxPool2dForward(e, x, p);
        const dx = await maxPool2dBackward(e, e.upload(dys, dyShape), x, p, { kernel });
        const hx = hostTensor(shape, xs);
        expect(Array.from(await y.read())).toEqual(Array.from(ref.maxPool2dForward(hx, p).data));
        expect(Array.from(await dx.read())).toEqual(
          Array.from(ref.maxPool2dBackward(hostTensor(dyShape, dys), hx, p).data),
        );
      });
      expect(e.liveTensors).toBe(0);
    },
  );
});

describe('pooling on the GPU equals the reference', () => {
  const T = 3;

  it.each(CASES.flatMap((c) => maxBackwardKernels(c.attrs).map((kernel) => ({ ...c, kernel }))))(
    'max pool forward and backward with T=3 ($name, $kernel)',
    async ({ shape, attrs, kernel }) => {
      const e = await getEngine();
      const p: Pool2dParams = pool2dParams(attrs);
      const yShape = pool2dOutputShape(shape, p);
      const dyShape = [T * shape[0], ...yShape.slice(1)];
      const xs = randn(numel(shape), 10);
      const dys = randn(numel(dyShape), 11);
      await e.scope(async () => {
        const x = e.upload(xs, shape);
        const y = await maxPool2dForward(e, x, p);
        const dx = await maxPool2dBackward(e, e.upload(dys, dyShape), x, p, { kernel });
        expect(y.shape).toEqual(yShape);
        expect(dx.shape).toEqual([T * shape[0], ...shape.slice(1)]);
        const hx = hostTensor(shape, xs);
        expectAllclose(await y.read(), ref.maxPool2dForward(hx, p).data, EXACT, 'max pool forward');
        // a cell sums dy (rms 1) from the overlapping windows whose maximum it holds
        expectAllclose(
          await dx.read(),
          ref.maxPool2dBackward(hostTensor(dyShape, dys), hx, p).data,
          f32Reduction(overlap(p), Math.sqrt(overlap(p))),
          'max pool backward',
        );
      });
      expect(e.liveTensors).toBe(0);
    },
  );

  it.each(CASES.flatMap((c) => [false, true].map((countIncludePad) => ({ ...c, countIncludePad }))))(
    'avg pool forward and backward with T=3 ($name, countIncludePad=$countIncludePad)',
    async ({ shape, attrs, countIncludePad }) => {
      const e = await getEngine();
      const p = pool2dParams({ ...attrs, countIncludePad });
      const yShape = pool2dOutputShape(shape, p);
      const dyShape = [T * shape[0], ...yShape.slice(1)];
      const xs = randn(numel(shape), 12);
      const dys = randn(numel(dyShape), 13);
      await e.scope(async () => {
        const x = e.upload(xs, shape);
        const y = await avgPool2dForward(e, x, p);
        const dx = await avgPool2dBackward(e, e.upload(dys, dyShape), p, shape);
        expect(dx.shape).toEqual([T * shape[0], ...shape.slice(1)]);
        // a window's sum of k = kh·kw values (rms 1) divided by its count ≥ 1; backward: a cell
        // sums dy / count (|dy / count| ≤ |dy|, rms 1) from the windows that overlap it
        const k = p.kernel[0] * p.kernel[1];
        expectAllclose(
          await y.read(),
          ref.avgPool2dForward(hostTensor(shape, xs), p).data,
          f32Reduction(k, Math.sqrt(k)),
          'avg pool forward',
        );
        expectAllclose(
          await dx.read(),
          ref.avgPool2dBackward(hostTensor(dyShape, dys), p, shape).data,
          f32Reduction(overlap(p), Math.sqrt(overlap(p))),
          'avg pool backward',
        );
      });
      expect(e.liveTensors).toBe(0);
    },
  );

  // [2,5,7,9]: 63 cells, under one 64-wide workgroup; [1,3,20,21]: 420 cells, several per thread;
  // each by both kernels (a workgroup per map, one invocation per map).
  it.each(
    (['reduce', 'serial'] as const).flatMap((kernel) =>
      [
        [2, 5, 7, 9],
        [1, 3, 20, 21],
        [3, 1, 1, 1],
      ].map((shape) => [shape, kernel] as const),
    ),
  )('global average pool %j, T=3, kernel %s', async (shape, kernel) => {
    const e = await getEngine();
    const [N, C] = shape;
    const xs = randn(numel(shape), 14, 3);
    const dys = randn(T * N * C, 15);
    await e.scope(async () => {
      const y = await globalAvgPoolForward(e, e.upload(xs, shape), { kernel });
      const dx = await globalAvgPoolBackward(e, e.upload(dys, [T * N, C, 1, 1]), shape);
      expect(y.shape).toEqual([N, C, 1, 1]);
      // the mean of Z = H·W values of rms 3: Z terms of rms 3/Z, partial sums 3/√Z
      const Z = shape[2] * shape[3];
      expectAllclose(
        await y.read(),
        ref.globalAvgPoolForward(hostTensor(shape, xs)).data,
        f32Reduction(Z, 3 / Math.sqrt(Z)),
        'GAP forward',
      );
      expectAllclose(
        await dx.read(),
        ref.globalAvgPoolBackward(hostTensor([T * N, C, 1, 1], dys), shape).data,
        F32, // dy / Z
        'GAP backward',
      );
    });
    expect(e.liveTensors).toBe(0);
  });

  // 'reduce': 66000 maps are 66000 workgroups > 65535; 'serial': 64 maps per workgroup, so
  // 65536·64 + 64 maps of one cell. grid1d splits either over y.
  it.each([
    ['reduce', [1, 66000, 1, 3]],
    ['serial', [1, 65536 * 64 + 64, 1, 1]],
  ] as const)(
    'global average pool over more workgroups than one grid row holds (2-D grid), kernel %s',
    async (kernel, shape) => {
      const e = await getEngine();
      const [, maps, , z] = shape;
      const xs = randn(numel(shape), 16);
      await e.scope(async () => {
        const y = await globalAvgPoolForward(e, e.upload(xs, shape), { kernel });
        // means of z values; over this many of them the tails matter: the largest mean of |x|
        // bounds the partial sums
        const meanAbs = Array.from({ length: maps }, (_, i) => {
          let s = 0;
          for (let j = 0; j < z; j++) s += Math.abs(xs[z * i + j]);
          return s / z;
        });
        expectAllclose(
          await y.read(),
          ref.globalAvgPoolForward(hostTensor(shape, xs)).data,
          f32Reduction(z, maxAbs(meanAbs)),
          'GAP forward',
        );
      });
      expect(e.liveTensors).toBe(0);
    },
  );

  it('throws typed errors for bad shapes before allocating anything', async () => {
    const e = await getEngine();
    const p = pool2dParams({ kernel: [2, 2] });
    await e.scope(async () => {
      const x3 = e.upload(randn(48, 1), [3, 4, 4]);
      const x = e.upload(randn(32, 1), [2, 1, 4, 4]);
      const dyBad = e.upload(randn(3 * 4, 1), [3, 1, 2, 2]); // 3 is not a multiple of N=2
      const dyGap = e.upload(randn(4, 1), [2, 2, 1, 1]); // C=2, forward has C=1
      const live = e.liveTensors;
      await expect(maxPool2dForward(e, x3, p)).rejects.toThrow(ShapeMismatchError);
      await expect(avgPool2dForward(e, x3, p)).rejects.toThrow(ShapeMismatchError);
      await expect(maxPool2dBackward(e, dyBad, x, p)).rejects.toThrow(ShapeMismatchError);
      const overlap = pool2dParams({ kernel: [3, 3], stride: [2, 2] });
      const dyOk = e.upload(randn(numel(pool2dOutputShape(x.shape, overlap)), 3), pool2dOutputShape(x.shape, overlap));
      await expect(maxPool2dBackward(e, dyOk, x, overlap, { kernel: 'windows' })).rejects.toThrow(/do not overlap/);
      dyOk.destroy();
      await expect(avgPool2dBackward(e, dyBad, p, x.shape)).rejects.toThrow(ShapeMismatchError);
      await expect(globalAvgPoolForward(e, x3)).rejects.toThrow(ShapeMismatchError);
      await expect(globalAvgPoolForward(e, x, { kernel: 'tree' as never })).rejects.toThrow(/unknown kernel 'tree'/);
      await expect(globalAvgPoolBackward(e, dyGap, x.shape)).rejects.toThrow(ShapeMismatchError);
      await expect(maxPool2dForward(e, x, pool2dParams({ kernel: [5, 5] }))).rejects.toThrow(/smaller than kernel/);
      expect(e.liveTensors).toBe(live);
    });
    expect(e.liveTensors).toBe(0);
  });
});
