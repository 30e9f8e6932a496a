/**
 * The channel-weight kernels (workgroup reduction for GPUs, serial loop for software adapters)
 * against the CPU reference: Grad-CAM, counterfactual and Grad-CAM++ weights for T·N rows.
 */
import { describe, expect, it } from 'vitest';
import { channelWeights, NONE } from '../../src/attribution/kernels';
import { gradcamppWeights, gradcamWeights } from '../../src/reference/attribution';
import { hostTensor } from '../../src/reference/tensor';
import { expectAllclose, f32Reduction, maxAbs } from '../util/compare';
import { getEngine } from '../util/gpu';
import { randn } from '../util/random';

describe('channel weights', () => {
  // Z = 7×9 = 63 (not a multiple of the workgroup), K = 5, N = 2 images, T = 3 targets.
  const [N, K, h, w, T] = [2, 5, 7, 9, 3];
  const Z = h * w;
  const As = randn(N * K * Z, 1).map(Math.abs); // activations after a ReLU
  const Gs = randn(T * N * K * Z, 2, 0.01); // small: S·g stays far from −2 (Grad-CAM++'s pole)
  const A = hostTensor([N, K, h, w], As);
  const G = hostTensor([T * N, K, h, w], Gs);
  const want = {
    gradcam: gradcamWeights(G).data,
    counterfactual: gradcamWeights(G, -1).data,
    gradcampp: gradcamppWeights(A, G).data,
  };
  // Means over Z of gradients of random sign (partial sums √Z·0.01, divided by Z); Grad-CAM++'s
  // weights sum Z terms a·ReLU(g) of one sign, so its partial sums reach the result.
  const meanTol = f32Reduction(Z, (Math.sqrt(Z) * 0.01) / Z);
  const ppTol = f32Reduction(Z, maxAbs(want.gradcampp));

  it.each(['reduce', 'serial'] as const)('%s kernel equals the reference, every slot order', async (kernel) => {
    const e = await getEngine();
    const rows = T * N;
    for (const slots of [
      { gradcam: 0, counterfactual: 1, gradcampp: 2 },
      { gradcam: 2, counterfactual: NONE, gradcampp: 0 },
    ]) {
      await e.scope(async () => {
        const out = e.zeros([3, rows, K]);
        await channelWeights(e, e.upload(As, A.shape), e.upload(Gs, G.shape), out, slots, { kernel });
        const got = await out.read();
        const slot = (s: number) => got.subarray(s * rows * K, (s + 1) * rows * K);
        expectAllclose(slot(slots.gradcam), want.gradcam, meanTol, `${kernel} Grad-CAM`);
        expectAllclose(slot(slots.gradcampp), want.gradcampp, ppTol, `${kernel} Grad-CAM++`);
        if (slots.counterfactual !== NONE) {
          expectAllclose(slot(slots.counterfactual), want.counterfactual, meanTol, `${kernel} counterfactual`);
        } else {
          expect(Array.from(slot(1)).every((v) => v === 0)).toBe(true); // the unused slot is untouched
        }
      });
    }
    expect(e.liveTensors).toBe(0);
  });
});
