/**
 * The ceiling (FMA-bound and copy kernels) and the per-kernel table: each conv at a fixed shape,
 * forward and input-gradient backward, with the engine's default kernels and, for comparison,
 * the kernels they replaced ('direct' forward with a 4-channel × 4-pixel tile, 'gather'
 * backward) and the other family of tiled kernels: the implicit-GEMM kernel where the default
 * is register-tiled (software adapters), the register tiles where the default is the GEMM (GPUs).
 */
import type { Engine } from '../src/gpu/engine';
import { defineKernel } from '../src/gpu/kernel';
import type { Tensor } from '../src/gpu/tensor';
import {
  conv2dBackward,
  conv2dConfig,
  conv2dForward,
  conv2dPackWeights,
  defaultConv2dVariant,
  GEMM_TILE,
  type Conv2dBackwardOptions,
  type Conv2dVariant,
} from '../src/ops/conv2d';
import { conv2dOutputShape, conv2dParams, type Conv2dParams } from '../src/defs/conv2d';
import { linearBackward, linearForward } from '../src/ops/linear';
import { measure, type Measured } from './measure';
import { benchRandn } from './nets';
import fmaCode from './fma.wgsl?raw';
import copyCode from './copy.wgsl?raw';

const FMA = defineKernel({
  name: 'bench_fma',
  code: fmaCode,
  params: { iters: 'u32', count: 'u32', seed: 'f32', pad: 'u32' },
  bindings: ['y'],
});
const COPY = defineKernel({ name: 'bench_copy', code: copyCode, params: { count: 'u32' }, bindings: ['x', 'y'] });

export interface Ceiling {
  fmaGflops: number;
  copyGBps: number;
  fma: Measured;
  copy: Measured;
}

/** Median time, GPU time where the device has timestamps. */
export function timeOf(m: Measured): number {
  return m.gpuMs ?? m.wallMs;
}

/** Fastest run's time, GPU time where the device has timestamps. */
export function bestOf(m: Measured): number {
  return m.minGpuMs ?? m.minMs;
}

export async function ceiling(e: Engine, smoke: boolean, tick: () => void): Promise<Ceiling> {
  const WG = 64;
  const groups = smoke ? 4 : 256;
  const inv = groups * WG;
  const iters = smoke ? 16 : 1000;
  const fk = await e.kernel(FMA, { overrides: { WG } });
  const y = e.empty([inv], 'fma');
  const fma = await measure(
    e,
    async () => {
      e.dispatch(fk, { y }, { iters, count: inv, seed: 0.5, pad: 0 }, [groups, 1, 1]);
      await e.flush();
    },
    { warmup: 1, reps: smoke ? 1 : 5, tick },
  );
  y.destroy();

  const n4 = smoke ? 1 << 12 : 1 << 21; // vec4s: 32 MiB per buffer in the full run
  const ck = await e.kernel(COPY, { overrides: { WG: 256 } });
  const a = e.zeros([n4 * 4], 'copy-src');
  const b = e.empty([n4 * 4], 'copy-dst');
  const [gx, gy] = [Math.min(Math.ceil(n4 / 256), 65535), Math.ceil(Math.ceil(n4 / 256) / 65535)];
  const copy = await measure(
    e,
    async () => {
      e.dispatch(ck, { x: a, y: b }, { count: n4 }, [gx, gy, 1]);
      await e.flush();
    },
    { warmup: 1, reps: smoke ? 1 : 5, tick },
  );
  a.destroy();
  b.destroy();
  // The ceiling is what the adapter can do: the fastest run.
  return {
    fmaGflops: (inv * iters * 64) / bestOf(fma) / 1e6,
    copyGBps: (n4 * 32) / bestOf(copy) / 1e6,
    fma,
    copy,
  };
}

export interface ConvShape {
  name: string;
  /** [N, Cin, H, W] */
  x: number[];
  /** [Cout, Cin/g, KH, KW] */
  w: number[];
  p: Partial<Conv2dParams>;
}

/** Realistic shapes at sizes SwiftShader runs in tens of milliseconds. */
export const CONV_SHAPES: ConvShape[] = [
  { name: '3×3 32→32, 24×24', x: [1, 32, 24, 24], w: [32, 32, 3, 3], p: { pads: [1, 1, 1, 1] } },
  { name: '3×3 64→64, 24×24', x: [1, 64, 24, 24], w: [64, 64, 3, 3], p: { pads: [1, 1, 1, 1] } },
  { name: '3×3 128→128, 12×12', x: [1, 128, 12, 12], w: [128, 128, 3, 3], p: { pads: [1, 1, 1, 1] } },
  { name: '3×3 256→256, 12×12', x: [1, 256, 12, 12], w: [256, 256, 3, 3], p: { pads: [1, 1, 1, 1] } },
  { name: '1×1 64→64, 24×24', x: [1, 64, 24, 24], w: [64, 64, 1, 1], p: {} },
  { name: '1×1 256→256, 12×12', x: [1, 256, 12, 12], w: [256, 256, 1, 1], p: {} },
  {
    name: 'depthwise 3×3 128, 24×24',
    x: [1, 128, 24, 24],
    w: [128, 1, 3, 3],
    p: { pads: [1, 1, 1, 1], groups: 128 },
  },
  { name: '3×3 s2 64→128, 24→12', x: [1, 64, 24, 24], w: [128, 64, 3, 3], p: { pads: [1, 1, 1, 1], stride: [2, 2] } },
  { name: '1×1 s2 64→128, 24→12', x: [1, 64, 24, 24], w: [128, 64, 1, 1], p: { stride: [2, 2] } },
];

export const SMOKE_SHAPES: ConvShape[] = [
  { name: '3×3 8→8, 8×8', x: [1, 8, 8, 8], w: [8, 8, 3, 3], p: { pads: [1, 1, 1, 1] } },
];

export interface KernelRow {
  kernel: string;
  shape: string;
  /**
   * Which implementation: the engine's default now, the one it replaced, or the other tiled
   * family ('gemm' on software adapters, 'tiled' on GPUs).
   */
  impl: 'default' | 'before' | 'other';
  /** The variant that ran. */
  variant: string;
  flop: number;
  /** Median time (GPU time where available). */
  ms: number;
  /** Fastest run (GPU time where available). */
  bestMs: number;
  wallMs: number;
  /** At the median time. */
  gflops: number;
  /** At the fastest run. */
  bestGflops: number;
  /** bestGflops / the FMA ceiling (itself the fastest run). */
  ofPeak: number;
  /** Backward rows: this backward's median time / the default forward's median time of the same shape. */
  vsForward?: number;
  /** The same for the fastest runs (less affected by other load on the machine). */
  vsForwardBest?: number;
}

export function convFlops(s: ConvShape): number {
  const p = conv2dParams(s.p);
  const out = conv2dOutputShape(s.x, s.w, p);
  return 2 * out[0] * out[1] * out[2] * out[3] * s.w[1] * s.w[2] * s.w[3];
}

export async function kernelTable(
  e: Engine,
  shapes: ConvShape[],
  peak: number,
  reps: number,
  tick: () => void,
): Promise<KernelRow[]> {
  const rows: KernelRow[] = [];
  const cfg = conv2dConfig(e);
  for (const s of shapes) {
    const p = conv2dParams(s.p);
    const flop = convFlops(s);
    const out = conv2dOutputShape(s.x, s.w, p);
    await e.scope(async () => {
      const x = e.upload(
        benchRandn(
          s.x.reduce((a, b) => a * b, 1),
          1,
          1,
        ),
        s.x,
        'x',
      );
      const w = e.upload(
        benchRandn(
          s.w.reduce((a, b) => a * b, 1),
          2,
          0.1,
        ),
        s.w,
        'w',
      );
      const b = e.upload(benchRandn(s.w[0], 3, 0.1), [s.w[0]], 'b');
      const dy = e.upload(
        benchRandn(
          out.reduce((a, c) => a * c, 1),
          4,
          1,
        ),
        out,
        'dy',
      );
      // The model holds packed weights when the tiled kernels run; time what a model runs.
      const packed = cfg.tiled && s.w[0] / p.groups >= 4 ? await conv2dPackWeights(e, w, p.groups) : null;
      const wm = packed ?? w;
      const opts = { warmup: 1, reps, tick };
      const row = (kernel: string, impl: KernelRow['impl'], variant: string, m: Measured): KernelRow => {
        const ms = timeOf(m);
        const best = bestOf(m);
        return {
          kernel,
          shape: s.name,
          impl,
          variant,
          flop,
          ms,
          bestMs: best,
          wallMs: m.wallMs,
          gflops: flop / ms / 1e6,
          bestGflops: flop / best / 1e6,
          ofPeak: flop / best / 1e6 / peak,
        };
      };
      const fwd = async (variant?: Conv2dVariant) => {
        return measure(
          e,
          async () => {
            const y = await conv2dForward(e, x, variant?.kernel === 'direct' ? w : wm, b, p, { relu: true, variant });
            await e.flush();
            return () => y.destroy();
          },
          opts,
        );
      };
      const bwd = async (o: Conv2dBackwardOptions) => {
        return measure(
          e,
          async () => {
            const dx = await conv2dBackward(e, dy, o.kernel === 'gather' ? w : wm, p, s.x, o);
            await e.flush();
            return () => dx.destroy();
          },
          opts,
        );
      };
      const dv = defaultConv2dVariant(s.w, p, out, cfg);
      const f = row('conv2d forward', 'default', variantName(dv), await fwd());
      rows.push(f);
      if (dv.kernel !== 'direct') {
        rows.push(row('conv2d forward', 'before', 'direct co4×ow4', await fwd({ kernel: 'direct', co: 4, ow: 4 })));
      }
      // The other tiled family, where the shape takes the tiled kernels at all.
      if (dv.kernel !== 'direct') {
        const other: Conv2dVariant =
          dv.kernel === 'gemm'
            ? {
                kernel: s.w[2] === 3 && s.w[3] === 3 && p.stride.every((v) => v === 1) ? '3x3' : 'tiled',
                co: 4,
                wg: 64,
              }
            : { kernel: 'gemm', tile: GEMM_TILE };
        rows.push(row('conv2d forward', 'other', variantName(other), await fwd(other)));
      }
      const undilated = p.dilation.every((v) => v === 1);
      const bk = cfg.tiled && undilated ? (cfg.gemm && s.x[1] / p.groups >= 4 ? 'gemm' : 'conv') : 'gather';
      const phased = p.stride.some((v) => v > 1) ? `${p.stride[0] * p.stride[1]} phase convs` : 'conv';
      const bName = (k: 'conv' | 'gemm' | 'gather', co: number) =>
        k === 'gather'
          ? 'gather'
          : `${phased} on flipped weights, ${k === 'gemm' ? `gemm ${(cfg.gemm ?? GEMM_TILE).tm}×${(cfg.gemm ?? GEMM_TILE).tn}×${(cfg.gemm ?? GEMM_TILE).tk}` : `co${co}`}`;
      const bwdRow = async (impl: KernelRow['impl'], variant: string, o: Conv2dBackwardOptions) => {
        const r = row('conv2d backward (input)', impl, variant, await bwd(o));
        r.vsForward = r.ms / f.ms;
        r.vsForwardBest = r.bestMs / f.bestMs;
        rows.push(r);
      };
      await bwdRow('default', bName(bk, cfg.co), {});
      if (bk !== 'gather') {
        const o = bk === 'gemm' ? 'conv' : 'gemm';
        await bwdRow('other', bName(o, 4), o === 'conv' ? { kernel: 'conv', co: 4, wg: 64 } : { kernel: 'gemm' });
        await bwdRow('before', 'gather', { kernel: 'gather' });
      }
      packed?.data.destroy();
    });
  }
  return rows;
}

function variantName(v: Conv2dVariant): string {
  if (v.kernel === 'gemm') {
    const t = v.tile ?? GEMM_TILE;
    return `gemm ${t.tm}×${t.tn}×${t.tk}`;
  }
  return v.kernel === 'direct' ? `direct co${v.co}×ow${v.ow}` : `${v.kernel} co${v.co}×4×4px, wg ${v.wg}`;
}

/** Linear 512→1000 forward and backward (the classifier of a ResNet-18), for completeness. */
export async function linearRows(e: Engine, peak: number, reps: number, tick: () => void): Promise<KernelRow[]> {
  const [N, K, M] = [1, 512, 1000];
  const flop = 2 * N * K * M;
  return e.scope(async () => {
    const x: Tensor = e.upload(benchRandn(N * K, 5, 1), [N, K]);
    const w: Tensor = e.upload(benchRandn(M * K, 6, 0.05), [M, K]);
    const b: Tensor = e.upload(benchRandn(M, 7, 0.1), [M]);
    const dy: Tensor = e.upload(benchRandn(5 * M, 8, 1), [5, M]);
    const opts = { warmup: 1, reps, tick };
    const f = await measure(
      e,
      async () => {
        const y = await linearForward(e, x, w, b);
        await e.flush();
        return () => y.destroy();
      },
      opts,
    );
    const bk = await measure(
      e,
      async () => {
        const dx = await linearBackward(e, dy, w);
        await e.flush();
        return () => dx.destroy();
      },
      opts,
    );
    const mk = (kernel: string, m: Measured, fl: number): KernelRow => ({
      kernel,
      shape: kernel.includes('backward') ? '512→1000, T=5' : '512→1000',
      impl: 'default',
      variant: 'linear',
      flop: fl,
      ms: timeOf(m),
      bestMs: bestOf(m),
      wallMs: m.wallMs,
      gflops: fl / timeOf(m) / 1e6,
      bestGflops: fl / bestOf(m) / 1e6,
      ofPeak: fl / bestOf(m) / 1e6 / peak,
    });
    return [mk('linear forward', f, flop), mk('linear backward (input)', bk, 5 * flop)];
  });
}
