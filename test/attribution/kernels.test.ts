/**
 * The channel-weight kernels (workgroup reduction for GPUs, serial loop for software adapters),
 * generated from the methods' descriptors, against the CPU reference: the weights of every
 * gradient channel method of the registry for T·N rows, in several slot orders.
 */
import { describe, expect, it } from 'vitest';
import { channelWeights } from '../../src/attribution/kernels';
import { channelMethod, isChannel, METHODS, type ChannelMethodName } from '../../src/methods/registry';
import { channelWeights as refWeights } from '../../src/reference/attribution';
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
  const gradientMethods = METHODS.filter(isChannel).filter((m) => channelMethod(m).source === 'gradients');
  const want = Object.fromEntries(gradientMethods.map((m) => [m, refWeights(m, A, G).data])) as Record<
    ChannelMethodName,
    Float64Array
  >;
  // Means over Z of gradients of random sign (partial sums √Z·0.01, divided by Z); Grad-CAM++'s
  // weights sum Z terms a·ReLU(g) of one sign, so its partial sums reach the result; XGrad-CAM's
  // Σ g·A (partial sums √Z·0.01·max A) is divided by Σ A (Z terms of one sign: partial sums reach
  // it), so its error relative to the result adds the two.
  const meanTol = f32Reduction(Z, (Math.sqrt(Z) * 0.01) / Z);
  const tol: Record<string, ReturnType<typeof f32Reduction>> = {
    gradcam: meanTol,
    counterfactual: meanTol,
    'gradcam++': f32Reduction(Z, maxAbs(want['gradcam++'])),
    xgradcam: f32Reduction(4 * Z, maxAbs(want.xgradcam)),
  };

  it.each(['reduce', 'serial'] as const)('%s kernel equals the reference, every slot order', async (kernel) => {
    const e = await getEngine();
    const rows = T * N;
    const orders: ChannelMethodName[][] = [gradientMethods, [...gradientMethods].reverse(), ['gradcam++', 'gradcam']];
    for (const methods of orders) {
      await e.scope(async () => {
        // One slot more than the methods: it must stay untouched.
        const out = e.zeros([methods.length + 1, rows, K]);
        await channelWeights(e, e.upload(As, A.shape), e.upload(Gs, G.shape), out, methods, { kernel });
        const got = await out.read();
        const slot = (s: number) => got.subarray(s * rows * K, (s + 1) * rows * K);
        methods.forEach((m, s) => expectAllclose(slot(s), want[m], tol[m], `${kernel} ${m} in slot ${s}`));
        expect(Array.from(slot(methods.length)).every((v) => v === 0)).toBe(true);
      });
    }
    expect(e.liveTensors).toBe(0);
  });
});
