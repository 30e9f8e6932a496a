/**
 * Dispatchers for the fused attribution shaders. Rows b = t·N + i (target t, image i)
 * throughout, like the batched gradients. Shaders: topk.wgsl,
 * channel_weights.wgsl, cam_weights.wgsl, cam_combine.wgsl, upsample_bilinear.wgsl,
 * guided_gradcam.wgsl.
 */
import type { Engine } from '../gpu/engine';
import { grid1d } from '../gpu/engine';
import { InvalidInputError } from '../core/errors';
import { Uniforms } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import topkCode from '../../shaders/topk.wgsl?raw';
import channelWeightsCode from '../../shaders/channel_weights.wgsl?raw';
import channelWeightsSerialCode from '../../shaders/channel_weights_serial.wgsl?raw';
import camWeightsCode from '../../shaders/cam_weights.wgsl?raw';
import combineCode from '../../shaders/cam_combine.wgsl?raw';
import upsampleCode from '../../shaders/upsample_bilinear.wgsl?raw';
import guidedCode from '../../shaders/guided_gradcam.wgsl?raw';

const WG_ELEMENTWISE = 256; // `override WG` of the one-invocation-per-element shaders
const WG_REDUCE = 64; // `override WG` of channel_weights and cam_combine (a power of two)
export const NONE = 0xffffffff;

/** Class ids [T·N] (row t·N + i: image i's t-th best class) from scores [N, K]. */
export async function topkClasses(e: Engine, scores: Tensor, t: number): Promise<Tensor> {
  const [n, k] = scores.shape;
  if (!Number.isInteger(t) || t < 1 || t > k)
    throw new InvalidInputError(`topK must be an integer in [1, ${k}], got ${t}`);
  const kern = await e.kernel({ name: 'topk', code: topkCode, overrides: { WG: 64 } });
  const classes = e.empty([t * n], 'classes');
  e.dispatch(kern, [scores, classes], new Uniforms().u32(n, k, t), [Math.ceil(n / 64), 1, 1]);
  return classes;
}

export interface WeightSlots {
  gradcam: number;
  counterfactual: number;
  gradcampp: number;
}

/**
 * Grad-CAM / counterfactual / Grad-CAM++ weights of every (row, channel) into their slots of
 * `weights` [M, B, K]. Kernel 'reduce' (channel_weights.wgsl): a workgroup per (row, channel)
 * with a workgroup-memory reduction, for GPUs; 'serial' (channel_weights_serial.wgsl): one
 * invocation per (row, channel) looping over the map, no barriers, for software adapters.
 * Default: 'serial' on software adapters, else 'reduce'.
 */
export async function channelWeights(
  e: Engine,
  A: Tensor,
  G: Tensor,
  weights: Tensor,
  slots: WeightSlots,
  opts: { kernel?: 'reduce' | 'serial' } = {},
): Promise<void> {
  const [n, k, h, w] = A.shape;
  const rows = G.shape[0];
  const kernel = opts.kernel ?? (e.adapter.isSoftware ? 'serial' : 'reduce');
  if (kernel !== 'reduce' && kernel !== 'serial') {
    throw new InvalidInputError(`channelWeights: unknown kernel '${kernel as string}' (reduce or serial)`);
  }
  const serial = kernel === 'serial';
  const kern = await e.kernel({
    name: serial ? 'channel_weights_serial' : 'channel_weights',
    code: serial ? channelWeightsSerialCode : channelWeightsCode,
    overrides: { WG: WG_REDUCE },
  });
  const u = new Uniforms().u32(rows, n, k, h * w, slots.gradcam, slots.counterfactual, slots.gradcampp);
  e.dispatch(kern, [A, G, weights], u, serial ? grid1d(rows * k, WG_REDUCE) : grid1d(rows * k, 1));
}

/** CAM weights: row classes[b] of the linear weight [C_out, K] into `slot` of `weights` [M, B, K]. */
export async function camWeights(
  e: Engine,
  linearWeight: Tensor,
  classes: Tensor,
  weights: Tensor,
  slot: number,
): Promise<void> {
  const rows = classes.size;
  const k = linearWeight.shape[1];
  const kern = await e.kernel({ name: 'cam_weights', code: camWeightsCode, overrides: { WG: WG_ELEMENTWISE } });
  e.dispatch(
    kern,
    [linearWeight, classes, weights],
    new Uniforms().u32(rows, k, slot),
    grid1d(rows * k, WG_ELEMENTWISE),
  );
}

/** Weighted channel sums, ReLU (per slot, from `reluMask`), min–max normalisation: raw and norm [M, B, h, w]. */
export async function combineMaps(
  e: Engine,
  A: Tensor,
  weights: Tensor,
  reluMask: number,
): Promise<{ raw: Tensor; norm: Tensor }> {
  const [n, k, h, w] = A.shape;
  const [m, rows] = weights.shape;
  const kern = await e.kernel({ name: 'cam_combine', code: combineCode, overrides: { WG: WG_REDUCE } });
  const raw = e.empty([m, rows, h, w], 'maps:raw');
  const norm = e.empty([m, rows, h, w], 'maps:normalised');
  e.dispatch(
    kern,
    [A, weights, raw, norm],
    new Uniforms().u32(m * rows, rows, n, k, h * w, reluMask),
    grid1d(m * rows, 1),
  );
  return { raw, norm };
}

/** Bilinear resize (half-pixel centres) of [..., h, w] to [..., H, W]. */
export async function upsampleBilinear(e: Engine, src: Tensor, H: number, W: number): Promise<Tensor> {
  const h = src.shape[src.rank - 2];
  const w = src.shape[src.rank - 1];
  const lead = src.shape.slice(0, -2);
  const dst = e.empty([...lead, H, W], `${src.label}:upsampled`);
  const kern = await e.kernel({ name: 'upsample_bilinear', code: upsampleCode, overrides: { WG: WG_ELEMENTWISE } });
  const u = new Uniforms().u32(dst.size, h, w, H, W).f32(h / H, w / W);
  e.dispatch(kern, [src, dst], u, grid1d(dst.size, WG_ELEMENTWISE));
  return dst;
}

/** cam: upsampled maps [M, B, H, W] (slot `slot` is Grad-CAM); guided [B, C, H, W]. */
export async function guidedGradcam(e: Engine, cam: Tensor, slot: number, guided: Tensor): Promise<Tensor> {
  const [rows, c, H, W] = guided.shape;
  const out = e.empty(guided.shape, 'guided-gradcam');
  const kern = await e.kernel({ name: 'guided_gradcam', code: guidedCode, overrides: { WG: WG_ELEMENTWISE } });
  e.dispatch(
    kern,
    [cam, guided, out],
    new Uniforms().u32(out.size, c, H * W, slot * rows * H * W),
    grid1d(out.size, WG_ELEMENTWISE),
  );
  return out;
}
