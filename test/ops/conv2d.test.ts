import { describe, expect, it } from 'vitest';
import { InvalidInputError, ShapeMismatchError } from '../../src/core/errors';
import {
  conv2dBackward,
  conv2dConfig,
  conv2dForward,
  conv2dPackWeights,
  GEMM_TILE,
  setConv2dConfig,
  type Conv2dBackwardOptions,
  type Conv2dVariant,
} from '../../src/ops/conv2d';
import { conv2dOutputShape, conv2dParams, type Conv2dParams } from '../../src/defs/conv2d';
import * as ref from '../../src/reference/conv2d';
import { hostTensor, numel } from '../../src/reference/tensor';
import { CENTRAL_DIFF, expectAllclose, f32Reduction, type Tol } from '../util/compare';
import {
  CONV_CONFIGS,
  HARDWARE_CONV as HARDWARE,
  SOFTWARE_CONV as SOFTWARE,
  useConvConfig,
  type ConvConfigCase,
} from '../util/conv-configs';
import { getEngine } from '../util/gpu';
import { numericGrad } from '../util/gradcheck';
import { randn } from '../util/random';

interface Case {
  name: string;
  x: number[]; // [N, Cin, H, W]
  w: number[]; // [Cout, Cin/g, KH, KW]
  p: Partial<Conv2dParams>;
  bias: boolean;
  relu: boolean;
}

// Awkward shapes: odd H/W, channel counts not divisible by 4, every attribute exercised.
const cases: Case[] = [
  {
    name: 'N=2, 3x3 pad 1, Cout 5, bias, relu',
    x: [2, 3, 7, 5],
    w: [5, 3, 3, 3],
    p: { pads: [1, 1, 1, 1] },
    bias: true,
    relu: true,
  },
  {
    name: 'stride 2, asymmetric pads',
    x: [1, 3, 9, 7],
    w: [6, 3, 3, 2],
    p: { stride: [2, 2], pads: [1, 0, 2, 1] },
    bias: false,
    relu: false,
  },
  {
    name: 'dilation 2',
    x: [1, 4, 9, 9],
    w: [6, 4, 3, 3],
    p: { dilation: [2, 2], pads: [2, 2, 2, 2] },
    bias: true,
    relu: false,
  },
  {
    name: 'groups 2, Cout/g 5',
    x: [2, 6, 5, 7],
    w: [10, 3, 3, 3],
    p: { groups: 2, pads: [1, 1, 1, 1] },
    bias: true,
    relu: true,
  },
  {
    name: 'depthwise, stride [2,1]',
    x: [1, 5, 7, 6],
    w: [5, 1, 3, 3],
    p: { groups: 5, stride: [2, 1], pads: [1, 1, 1, 1] },
    bias: true,
    relu: false,
  },
  {
    name: 'depthwise with multiplier 4',
    x: [1, 2, 5, 5],
    w: [8, 1, 3, 3],
    p: { groups: 2, pads: [1, 1, 1, 1] },
    bias: false,
    relu: true,
  },
  { name: '1x1 conv, N=2', x: [2, 7, 4, 5], w: [9, 7, 1, 1], p: {}, bias: true, relu: false },
  {
    name: 'several channel and pixel tiles, partial last ones',
    x: [2, 9, 10, 13],
    w: [12, 9, 3, 3],
    p: { pads: [1, 1, 1, 1] },
    bias: true,
    relu: true,
  },
  {
    name: 'pads past the kernel (3x3 pad 2, 1x1 pad 1 below)',
    x: [1, 4, 6, 5],
    w: [8, 4, 3, 3],
    p: { pads: [2, 2, 0, 1] },
    bias: true,
    relu: false,
  },
  {
    name: '1x1 stride 2 (phases without taps)',
    x: [1, 6, 7, 8],
    w: [8, 6, 1, 1],
    p: { stride: [2, 2] },
    bias: true,
    relu: false,
  },
  {
    name: '7x7 stride 2 pad 3, stride [3,2] phases',
    x: [1, 3, 13, 11],
    w: [8, 3, 7, 5],
    p: { stride: [3, 2], pads: [3, 2, 3, 2] },
    bias: false,
    relu: true,
  },
  { name: '1x1 conv, pad 1', x: [1, 5, 3, 6], w: [4, 5, 1, 1], p: { pads: [1, 1, 1, 1] }, bias: false, relu: false },
  {
    name: 'stride [2,3], dilation [2,1], asymmetric pads',
    x: [1, 3, 11, 10],
    w: [4, 3, 3, 3],
    p: { stride: [2, 3], dilation: [2, 1], pads: [0, 2, 1, 0] },
    bias: false,
    relu: false,
  },
];

/**
 * Kernel configurations, each one suite below: the engine's own choice per adapter (software,
 * GPU, untiled), and explicit per-call forward variants and backward kernels, which win over the
 * engine's config (fields they leave out come from it, or from the kernels' defaults).
 */
interface Setup {
  name: string;
  engine: ConvConfigCase['config'];
  forward?: Conv2dVariant;
  backward?: Conv2dBackwardOptions;
}

const setups: Setup[] = [
  ...CONV_CONFIGS.map((c) => ({ name: `the engine's config for ${c.name}`, engine: c.config })),
  // The direct kernel's tiles (no `kernel` field) were its only variants before the tiled kernels.
  { name: 'direct co 1 ow 1, gather', engine: SOFTWARE, forward: { co: 1, ow: 1 }, backward: { kernel: 'gather' } },
  {
    name: 'direct co 4 ow 4, conv co 4 (wg 32 from the engine)',
    engine: SOFTWARE,
    forward: { co: 4, ow: 4 },
    backward: { kernel: 'conv', co: 4 },
  },
  {
    name: 'direct co 4 ow 3, conv co 8 wg 16',
    engine: SOFTWARE,
    forward: { co: 4, ow: 3 },
    backward: { kernel: 'conv', co: 8, wg: 16 },
  },
  {
    name: 'direct co 1 ow 8 wg 32, gather wg 32',
    engine: HARDWARE,
    forward: { co: 1, ow: 8, wg: 32 },
    backward: { kernel: 'gather', wg: 32 },
  },
  {
    name: 'tiled co 4, conv (co 4 wg 64 from the engine)',
    engine: HARDWARE,
    forward: { kernel: 'tiled', co: 4 },
    backward: { kernel: 'conv' },
  },
  {
    name: 'tiled co 8, conv co 8 (wg 64 from the engine)',
    engine: HARDWARE,
    forward: { kernel: 'tiled', co: 8 },
    backward: { kernel: 'conv', co: 8 },
  },
  {
    name: 'tiled co 8 wg 32, conv co 8 wg 32',
    engine: HARDWARE,
    forward: { kernel: 'tiled', co: 8, wg: 32 },
    backward: { kernel: 'conv', co: 8, wg: 32 },
  },
  {
    name: '3x3 co 4, conv co 4 wg 64',
    engine: SOFTWARE,
    forward: { kernel: '3x3', co: 4 },
    backward: { kernel: 'conv', co: 4, wg: 64 },
  },
  // The implicit-GEMM kernel forced on the software adapter: the default tile, and tiles that
  // leave partial channel, pixel and K tiles everywhere (K slices of 3 and 5 split the taps).
  {
    name: 'gemm (default tile), gemm backward',
    engine: SOFTWARE,
    forward: { kernel: 'gemm' },
    backward: { kernel: 'gemm' },
  },
  {
    name: 'gemm 8×12×3, gemm backward 4×8×5',
    engine: SOFTWARE,
    forward: { kernel: 'gemm', tile: { tm: 8, tn: 12, tk: 3 } },
    backward: { kernel: 'gemm', tile: { tm: 4, tn: 8, tk: 5 } },
  },
  {
    name: '3x3 co 8 wg 32, gather wg 16',
    engine: HARDWARE,
    forward: { kernel: '3x3', co: 8, wg: 32 },
    backward: { kernel: 'gather', wg: 16 },
  },
];

/** The '3x3' kernel takes 3×3 stride-1, dilation-1 convs only. */
function applies(v: Conv2dVariant | undefined, c: Case): boolean {
  if (v?.kernel !== '3x3') return true;
  const p = conv2dParams(c.p);
  return c.w[2] === 3 && c.w[3] === 3 && p.stride.join() === '1,1' && p.dilation.join() === '1,1';
}

/** Dilation-1 convs: their input gradient can run as convs, one per stride phase ('conv' backward). */
function undilated(c: Case): boolean {
  return conv2dParams(c.p).dilation.join() === '1,1';
}

/** An explicit 'conv' or 'gemm' backward needs dilation 1 (the default falls back to the gather). */
function appliesBackward(o: Conv2dBackwardOptions | undefined, c: Case): boolean {
  return (o?.kernel !== 'conv' && o?.kernel !== 'gemm') || undilated(c);
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** How many of K taps (dilation d) reach one input row under stride s. */
function tapsPerInput(K: number, s: number, d: number): number {
  return Math.ceil(K / (s / gcd(s, d)));
}

/**
 * A forward output sums Cin/G·KH·KW products x·w of rms 0.5 (x ~ N(0, 1), w ~ N(0, 0.25)) and
 * the bias (rms 1); an input gradient sums Cout/G·(taps reaching it) products dy·w of rms 0.5.
 */
function forwardTol(c: Case): Tol {
  const k = c.w[1] * c.w[2] * c.w[3];
  const b = c.bias ? 1 : 0;
  return f32Reduction(k + b, Math.sqrt(k * 0.25 + b));
}

function backwardTol(c: Case): Tol {
  const p = conv2dParams(c.p);
  const k =
    (c.w[0] / p.groups) *
    tapsPerInput(c.w[2], p.stride[0], p.dilation[0]) *
    tapsPerInput(c.w[3], p.stride[1], p.dilation[1]);
  return f32Reduction(k, Math.sqrt(k * 0.25));
}

function data(c: Case, seed: number) {
  const Cout = c.w[0];
  return {
    xs: randn(numel(c.x), seed),
    ws: randn(numel(c.w), seed + 1, 0.5),
    bs: c.bias ? randn(Cout, seed + 2) : null,
  };
}

describe('conv2d reference', () => {
  it('matches a hand-computed 3x3 input with a 2x2 kernel', () => {
    // x = [[1, 2, 3],      w = [[1, 2],
    //      [4, 5, 6],           [3, 4]]
    //      [7, 8, 9]]
    // No padding, stride 1: y[i][j] = x[i][j]·1 + x[i][j+1]·2 + x[i+1][j]·3 + x[i+1][j+1]·4
    //   y00 = 1 + 4 + 12 + 20 = 37   y01 = 2 + 6 + 15 + 24 = 47
    //   y10 = 4 + 10 + 21 + 32 = 67  y11 = 5 + 12 + 24 + 36 = 77;  + bias 0.5 each.
    const x = hostTensor([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const w = hostTensor([1, 1, 2, 2], [1, 2, 3, 4]);
    const b = hostTensor([1], [0.5]);
    expect(Array.from(ref.conv2dForward(x, w, b, conv2dParams()).data)).toEqual([37.5, 47.5, 67.5, 77.5]);

    // Pads 1 all round, stride 2: OH = floor((3 + 2 − 2) / 2) + 1 = 2. Windows start at
    // rows/cols −1 and 1; taps outside the image are 0:
    //   y00 = x00·w11 = 4                 y01 = x01·w10 + x02·w11 = 6 + 12 = 18
    //   y10 = x10·w01 + x20·w11 = 8 + 28 = 36   y11 = 5·1 + 6·2 + 8·3 + 9·4 = 77
    const p2 = conv2dParams({ stride: [2, 2], pads: [1, 1, 1, 1] });
    expect(Array.from(ref.conv2dForward(x, w, null, p2).data)).toEqual([4, 18, 36, 77]);

    // Backward of the first conv with dy = all ones: dx[i][j] = sum of the weights whose tap
    // lands on (i, j): corners get one weight, edges two, the centre all four.
    //   [[1, 1+2, 2], [1+3, 1+2+3+4, 2+4], [3, 3+4, 4]]
    const dy = hostTensor([1, 1, 2, 2], [1, 1, 1, 1]);
    expect(Array.from(ref.conv2dBackward(dy, w, conv2dParams(), [1, 1, 3, 3]).data)).toEqual([
      1, 3, 2, 4, 10, 6, 3, 7, 4,
    ]);
    // fused ReLU clips: weights negated give −37 … −77 + 0.5, all clipped to 0
    const wn = hostTensor([1, 1, 2, 2], [-1, -2, -3, -4]);
    expect(Array.from(ref.conv2dForward(x, wn, b, conv2dParams(), { relu: true }).data)).toEqual([0, 0, 0, 0]);
  });

  // Smaller copies of the cases keep the finite differences quick.
  it.each(cases.filter((c) => numel(c.x) <= 400))('backward equals central differences: $name', (c) => {
    const p = conv2dParams(c.p);
    const { xs, ws, bs } = data(c, 20);
    const x = hostTensor(c.x, xs);
    const w = hostTensor(c.w, ws);
    const b = bs ? hostTensor([c.w[0]], bs) : null;
    const yShape = conv2dOutputShape(c.x, c.w, p);
    const dy = hostTensor(yShape, randn(numel(yShape), 23));
    const f = (xx: typeof x) => ref.conv2dForward(xx, w, b, p);
    expectAllclose(ref.conv2dBackward(dy, w, p, c.x).data, numericGrad(f, x, dy).data, CENTRAL_DIFF, c.name);
  });

  it('backward for T=3 targets equals three single-target backwards', () => {
    const c = cases[3];
    const p = conv2dParams(c.p);
    const w = hostTensor(c.w, randn(numel(c.w), 30));
    const yShape = conv2dOutputShape(c.x, c.w, p);
    const per = numel(yShape);
    const dys = randn(3 * per, 31);
    const all = ref.conv2dBackward(hostTensor([3 * yShape[0], ...yShape.slice(1)], dys), w, p, c.x);
    const dxPer = numel(c.x);
    for (let t = 0; t < 3; t++) {
      const one = ref.conv2dBackward(hostTensor(yShape, dys.subarray(t * per, (t + 1) * per)), w, p, c.x);
      expect(Array.from(all.data.subarray(t * dxPer, (t + 1) * dxPer))).toEqual(Array.from(one.data));
    }
  });
});

describe('conv2d shapes and errors', () => {
  it('fills defaults and computes output shapes', () => {
    expect(conv2dParams()).toEqual({ stride: [1, 1], pads: [0, 0, 0, 0], dilation: [1, 1], groups: 1 });
    expect(conv2dOutputShape([2, 3, 7, 5], [4, 3, 3, 3], conv2dParams())).toEqual([2, 4, 5, 3]);
    // (9 + 1 + 2 − 3) / 2 + 1 = 5, (7 + 0 + 1 − 2) / 2 + 1 = 4
    expect(conv2dOutputShape([1, 3, 9, 7], [6, 3, 3, 2], conv2dParams({ stride: [2, 2], pads: [1, 0, 2, 1] }))).toEqual(
      [1, 6, 5, 4],
    );
    // dilation 2 makes a 3x3 kernel span 5: 9 − 5 + 1 = 5
    expect(conv2dOutputShape([1, 4, 9, 9], [6, 4, 3, 3], conv2dParams({ dilation: [2, 2] }))).toEqual([1, 6, 5, 5]);
  });

  it('rejects bad attributes and shapes with typed errors', () => {
    expect(() => conv2dParams({ stride: [0, 1] })).toThrow(InvalidInputError);
    expect(() => conv2dParams({ pads: [1, 1, -1, 0] })).toThrow(InvalidInputError);
    expect(() => conv2dParams({ groups: 1.5 })).toThrow(InvalidInputError);
    const p = conv2dParams();
    expect(() => conv2dOutputShape([1, 3, 5, 5], [4, 2, 3, 3], p)).toThrow(ShapeMismatchError);
    expect(() => conv2dOutputShape([1, 3, 5, 5], [4, 2, 3, 3], p)).toThrow(/\[1, 3, 5, 5\].*\[4, 2, 3, 3\]/);
    expect(() => conv2dOutputShape([3, 5, 5], [4, 3, 3, 3], p)).toThrow(ShapeMismatchError);
    expect(() => conv2dOutputShape([1, 4, 5, 5], [6, 2, 3, 3], conv2dParams({ groups: 3 }))).toThrow(/not divisible/);
    expect(() => conv2dOutputShape([1, 4, 5, 5], [6, 1, 3, 3], conv2dParams({ groups: 4 }))).toThrow(/Cout 6/);
    expect(() => conv2dOutputShape([1, 3, 2, 2], [4, 3, 3, 3], p)).toThrow(/not positive/);
  });

  it('GPU dispatchers throw before allocating anything', async () => {
    const e = await getEngine();
    await e.scope(async () => {
      const x = e.upload(randn(75, 1), [1, 3, 5, 5]);
      const wBad = e.upload(randn(4 * 2 * 9, 2), [4, 2, 3, 3]);
      const w = e.upload(randn(4 * 3 * 9, 2), [4, 3, 3, 3]);
      const b5 = e.upload(randn(5, 3), [5]);
      const p = conv2dParams();
      const live = e.liveTensors;
      await expect(conv2dForward(e, x, wBad, null, p)).rejects.toThrow(ShapeMismatchError);
      await expect(conv2dForward(e, x, wBad, null, p)).rejects.toThrow(/\[1, 3, 5, 5\].*\[4, 2, 3, 3\]/);
      await expect(conv2dForward(e, x, w, b5, p)).rejects.toThrow(ShapeMismatchError);
      await expect(conv2dForward(e, x, w, null, p, { variant: { co: 2 as 1, ow: 4 } })).rejects.toThrow(
        InvalidInputError,
      );
      await expect(conv2dForward(e, x, w, null, p, { variant: { co: 4, ow: 9 } })).rejects.toThrow(InvalidInputError);
      await expect(conv2dForward(e, x, w, null, p, { variant: { kernel: 'tiled', co: 1 } })).rejects.toThrow(
        InvalidInputError,
      );
      const s2 = conv2dParams({ stride: [2, 2] });
      await expect(conv2dForward(e, x, w, null, s2, { variant: { kernel: '3x3', co: 4 } })).rejects.toThrow(
        /3x3 kernel needs a 3×3 kernel with stride 1/,
      );
      const d2 = conv2dParams({ dilation: [2, 2] });
      const dy2 = e.upload(randn(4 * 1, 5), [1, 4, 1, 1]);
      await expect(conv2dBackward(e, dy2, w, d2, [1, 3, 5, 5], { kernel: 'conv' })).rejects.toThrow(/needs dilation 1/);
      await expect(conv2dBackward(e, dy2, w, d2, [1, 3, 5, 5], { kernel: 'gemm' })).rejects.toThrow(
        /'gemm' needs dilation 1/,
      );
      // gemm tiles: multiples of 4, tk ≥ 1, within the invocation and workgroup-memory limits
      const lim = e.limits;
      const tooMany = {
        tm: 64,
        tn: 4 * (Math.floor((lim.maxComputeInvocationsPerWorkgroup * 16) / 64 / 4) + 1),
        tk: 1,
      };
      const tooBig = { tm: 4, tn: 4, tk: Math.floor(lim.maxComputeWorkgroupStorageSize / 32) + 1 };
      for (const [tile, why] of [
        [{ tm: 6, tn: 4, tk: 4 }, /tm must be a positive multiple of 4/],
        [{ tm: 4, tn: 0, tk: 4 }, /tn must be a positive multiple of 4/],
        [{ tm: 4, tn: 4, tk: 0 }, /tk must be a positive integer/],
        [tooMany, /invocations, the device allows/],
        [tooBig, /bytes of workgroup memory, the device allows/],
      ] as const) {
        await expect(conv2dForward(e, x, w, null, p, { variant: { kernel: 'gemm', tile } })).rejects.toThrow(why);
        await expect(conv2dBackward(e, dy2, w, p, [1, 3, 3, 3], { kernel: 'gemm', tile })).rejects.toThrow(
          InvalidInputError,
        );
      }
      dy2.destroy();
      // T·N = 3 rows is not a multiple of N = 2
      const dyBad = e.upload(randn(3 * 4 * 9, 4), [3, 4, 3, 3]);
      await expect(conv2dBackward(e, dyBad, w, p, [2, 3, 5, 5])).rejects.toThrow(ShapeMismatchError);
      await expect(conv2dBackward(e, dyBad, wBad, p, [1, 3, 5, 5])).rejects.toThrow(ShapeMismatchError);
      expect(e.liveTensors).toBe(live + 1); // only dyBad
    });
    expect(e.liveTensors).toBe(0);
  });

  it('chooses kernels per adapter and takes overrides', async () => {
    const e = await getEngine();
    const cfg = conv2dConfig(e);
    expect(cfg.tiled).toBe(true);
    expect(cfg.co).toBe(e.adapter.isSoftware ? 8 : 4);
    // GPUs get the implicit-GEMM kernel, software adapters the register tiles.
    expect(cfg.gemm).toEqual(e.adapter.isSoftware ? null : GEMM_TILE);
    try {
      expect(setConv2dConfig(e, { co: 4, wg: 16 })).toMatchObject({ tiled: true, co: 4, wg: 16 });
      expect(conv2dConfig(e).wg).toBe(16);
      expect(() => setConv2dConfig(e, { co: 2 as 4 })).toThrow(InvalidInputError);
      expect(() => setConv2dConfig(e, { wg: 0 })).toThrow(InvalidInputError);
      expect(() => setConv2dConfig(e, { gemm: { tm: 4, tn: 4, tk: 0 } })).toThrow(InvalidInputError);
      expect(setConv2dConfig(e, { gemm: { tm: 16, tn: 8, tk: 4 } }).gemm).toEqual({ tm: 16, tn: 8, tk: 4 });
    } finally {
      setConv2dConfig(e, cfg);
    }
  });
});

describe.each(setups)('conv2d on the GPU equals the reference: $name', (setup) => {
  useConvConfig(setup.engine);
  const { forward: variant, backward: opts } = setup;

  it.each(cases.filter((c) => applies(variant, c)))('forward $name', async (c) => {
    const e = await getEngine();
    expect(conv2dConfig(e)).toMatchObject(setup.engine);
    const p = conv2dParams(c.p);
    const { xs, ws, bs } = data(c, 40);
    const want = ref.conv2dForward(hostTensor(c.x, xs), hostTensor(c.w, ws), bs ? hostTensor([c.w[0]], bs) : null, p, {
      relu: c.relu,
    });
    await e.scope(async () => {
      const x = e.upload(xs, c.x, 'x');
      const w = e.upload(ws, c.w, 'w');
      const b = bs ? e.upload(bs, [c.w[0]], 'b') : null;
      const y = await conv2dForward(e, x, w, b, p, { relu: c.relu, variant });
      expect(y.shape).toEqual(want.shape);
      expectAllclose(await y.read(), want.data, forwardTol(c), `conv2d forward ${c.name}`);
    });
    expect(e.liveTensors).toBe(0);
  });

  it.each(cases.filter((c) => appliesBackward(opts, c)))('backward with T=3 targets: $name', async (c) => {
    const e = await getEngine();
    const p = conv2dParams(c.p);
    const ws = randn(numel(c.w), 50, 0.5);
    const yShape = conv2dOutputShape(c.x, c.w, p);
    const dyShape = [3 * yShape[0], ...yShape.slice(1)];
    const dys = randn(numel(dyShape), 51);
    const want = ref.conv2dBackward(hostTensor(dyShape, dys), hostTensor(c.w, ws), p, c.x);
    await e.scope(async () => {
      const w = e.upload(ws, c.w, 'w');
      const dy = e.upload(dys, dyShape, 'dy');
      const dx = await conv2dBackward(e, dy, w, p, c.x, opts);
      expect(dx.shape).toEqual([3 * c.x[0], ...c.x.slice(1)]);
      expectAllclose(await dx.read(), want.data, backwardTol(c), `conv2d backward ${c.name}`);
    });
    expect(e.liveTensors).toBe(0);
  });

  // The direct kernel and the gather backward read unpacked weights, the tiled kernels packed
  // ones: across the setups both directions of the re-layout run.
  it.each(cases.filter((c) => applies(variant, c) && appliesBackward(opts, c)))(
    'packed weights give the same forward and backward: $name',
    async (c) => {
      const e = await getEngine();
      const p = conv2dParams(c.p);
      const { xs, ws, bs } = data(c, 70);
      const yShape = conv2dOutputShape(c.x, c.w, p);
      const dys = randn(numel(yShape), 71);
      const wantY = ref.conv2dForward(
        hostTensor(c.x, xs),
        hostTensor(c.w, ws),
        bs ? hostTensor([c.w[0]], bs) : null,
        p,
      );
      const wantDx = ref.conv2dBackward(hostTensor(yShape, dys), hostTensor(c.w, ws), p, c.x);
      await e.scope(async () => {
        const x = e.upload(xs, c.x, 'x');
        const packed = await conv2dPackWeights(e, e.upload(ws, c.w, 'w'), p.groups);
        expect(packed.shape).toEqual(c.w);
        const b = bs ? e.upload(bs, [c.w[0]], 'b') : null;
        const dy = e.upload(dys, yShape, 'dy');
        const y = await conv2dForward(e, x, packed, b, p, { variant });
        expectAllclose(await y.read(), wantY.data, forwardTol(c), `forward from packed weights ${c.name}`);
        const dx = await conv2dBackward(e, dy, packed, p, c.x, opts);
        expectAllclose(await dx.read(), wantDx.data, backwardTol(c), `backward from packed weights ${c.name}`);
      });
      expect(e.liveTensors).toBe(0);
    },
  );
});

describe('conv2d gemm kernel: more pixel tiles than one grid dimension holds', () => {
  it('splits the pixel tiles over y, the workgroups past the last tile store nothing', async () => {
    const e = await getEngine();
    // 4-pixel tiles: 263683 pixels are 65921 tiles, above the 65535 limit: a 32961 × 2 grid,
    // whose last workgroup is past the last tile.
    const c: Case = {
      name: '1x1 1→5 over 263683 pixels',
      x: [1, 1, 1, 263683],
      w: [5, 1, 1, 1],
      p: {},
      bias: true,
      relu: true,
    };
    expect(Math.ceil(c.x[3] / 4)).toBeGreaterThan(e.limits.maxComputeWorkgroupsPerDimension);
    const p = conv2dParams(c.p);
    const { xs, ws, bs } = data(c, 80);
    const want = ref.conv2dForward(hostTensor(c.x, xs), hostTensor(c.w, ws), hostTensor([5], bs!), p, { relu: true });
    await e.scope(async () => {
      const x = e.upload(xs, c.x, 'x');
      const w = e.upload(ws, c.w, 'w');
      const b = e.upload(bs!, [5], 'b');
      const variant = { kernel: 'gemm', tile: { tm: 4, tn: 4, tk: 1 } } as const;
      const y = await conv2dForward(e, x, w, b, p, { relu: true, variant });
      expectAllclose(await y.read(), want.data, forwardTol(c), c.name);
    });
    expect(e.liveTensors).toBe(0);
  });
});

describe('conv2d forward and backward together', () => {
  it('forward then backward in one scope leaves nothing behind', async () => {
    const e = await getEngine();
    const c = cases[0];
    const p = conv2dParams(c.p);
    await e.scope(async () => {
      const x = e.upload(randn(numel(c.x), 60), c.x);
      const w = e.upload(randn(numel(c.w), 61), c.w);
      const y = await conv2dForward(e, x, w, null, p);
      const dx = await conv2dBackward(e, y, w, p, x.shape);
      expect(dx.shape).toEqual(c.x);
      await dx.read();
    });
    expect(e.liveTensors).toBe(0);
  });
});
