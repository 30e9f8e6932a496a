/**
 * Fusing one method's maps from several layers into one map at the input resolution (explain()
 * with a list of layers; docs/METHODS.md, "Several layers at once"). Pure: the GPU path
 * (src/attribution/multilayer.ts, shaders/multilayer_fuse.wgsl) and the CPU reference
 * (src/reference/multilayer.ts) both take the rules and the constant from here.
 *
 *   'mean'      pytorch-grad-cam's aggregation of several target layers: per layer the method's
 *               map at the input resolution (ReLU'd, min–max normalised, upsampled, normalised
 *               again: the `input` map), then their mean over the layers, min–max normalised.
 *   'layercam'  LayerCAM's fusion (Jiang et al. 2021): per layer the map at the layer's
 *               resolution M (`raw`), scaled to tanh(γ·M / max M) for every layer but the deepest
 *               (the paper's equation for shallow layers, γ = 2) and to M / max M for the deepest,
 *               upsampled to the input, then their element-wise maximum, min–max normalised.
 */
import { channelMethod, isChannel, isEigen, isSpatial, type Method } from './registry';

export const FUSIONS = ['mean', 'layercam'] as const;
export type Fusion = (typeof FUSIONS)[number];

/** γ of LayerCAM's scaling tanh(γ·M / max M) of a shallow layer's map. */
export const LAYERCAM_GAMMA = 2;

export function isFusion(x: unknown): x is Fusion {
  return (FUSIONS as readonly unknown[]).includes(x);
}

/**
 * Whether a method's maps can be computed at several layers at once and fused: the channel
 * methods with gradient weights, the spatial and the eigen methods (each layer's map from that
 * layer's activations and gradients, all non-negative). Not CAM (it needs the GAP → linear head
 * after the layer, which at most one layer of a list has), Smooth Grad-CAM++ (its noisy copies'
 * passes), the perturbation and input-gradient methods.
 */
export function isFusable(m: Method): boolean {
  return (isChannel(m) && channelMethod(m).source === 'gradients') || isSpatial(m) || isEigen(m);
}
