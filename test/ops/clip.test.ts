import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/core/errors';
import { unaryBackward, unaryForward } from '../../src/ops/elementwise';
import * as ref from '../../src/reference/elementwise';
import { hostTensor } from '../../src/reference/tensor';
import type { GraphSpec } from '../../src/model/spec';
import { gpuNetwork, refNetwork } from '../cases/network';
import { CENTRAL_DIFF, EXACT, expectAllclose, NETWORK } from '../util/compare';
import { getEngine } from '../util/gpu';
import { numericGrad } from '../util/gradcheck';
import { randn } from '../util/random';

/** Values at least `gap` away from both bounds (finite differences across the kinks). */
function awayFrom(xs: Float32Array, bounds: number[], gap = 0.05): Float32Array {
  for (let i = 0; i < xs.length; i++) for (const b of bounds) if (Math.abs(xs[i] - b) < gap) xs[i] = b + gap;
  return xs;
}

const BOUNDS: [number, number][] = [
  [0, 6], // ReLU6
  [-1, 0.5],
  [-Infinity, 0.25],
  [-0.5, Infinity],
];

describe('clip reference', () => {
  it.each(BOUNDS)('backward equals central differences, [%s, %s]', (lo, hi) => {
    const x = hostTensor([2, 3, 5, 7], awayFrom(randn(210, 1, 4), [lo, hi]));
    const dy = hostTensor([2, 3, 5, 7], randn(210, 2));
    const bounds = { min: lo, max: hi };
    const f = (t: typeof x) => ref.unaryForward('clip', t, bounds);
    const got = ref.unaryBackward('clip', dy, f(x), bounds);
    expectAllclose(got.data, numericGrad(f, x, dy).data, CENTRAL_DIFF);
  });

  it('ReLU6 clamps to [0, 6] and passes gradients strictly inside only', () => {
    const x = hostTensor([1, 6], [-2, 0, 3, 6, 7, 5.999]);
    const relu6 = { min: 0, max: 6 };
    const y = ref.unaryForward('clip', x, relu6);
    expect([...y.data]).toEqual([0, 0, 3, 6, 6, 5.999]);
    const dy = hostTensor([1, 6], [1, 1, 1, 1, 1, 1]);
    expect([...ref.unaryBackward('clip', dy, y, relu6).data]).toEqual([0, 0, 1, 0, 0, 1]);
  });
});

describe('clip on the GPU equals the reference', () => {
  it.each(BOUNDS)('forward and backward (T=3 targets over N=2), [%s, %s]', async (lo, hi) => {
    const e = await getEngine();
    const xs = randn(2 * 3 * 5 * 7, 10, 4);
    const dys = randn(6 * 3 * 5 * 7, 11);
    await e.scope(async () => {
      const bounds = { min: lo, max: hi };
      const x = e.upload(xs, [2, 3, 5, 7]);
      const y = await unaryForward(e, 'clip', x, bounds);
      const want = ref.unaryForward('clip', hostTensor([2, 3, 5, 7], xs), bounds);
      expectAllclose(await y.read(), want.data, EXACT, 'clip forward'); // a clamp
      const dy = e.upload(dys, [6, 3, 5, 7]);
      // from the saved input and from the saved output: the same mask
      for (const saved of [x, y]) {
        const dx = await unaryBackward(e, 'clip', dy, saved, bounds);
        const wantDx = ref.unaryBackward('clip', hostTensor([6, 3, 5, 7], dys), hostTensor([2, 3, 5, 7], xs), bounds);
        expectAllclose(await dx.read(), wantDx.data, EXACT, 'clip backward'); // dy or 0
      }
    });
    expect(e.liveTensors).toBe(0);
  });

  it('rejects min > max with a typed error, before allocating', async () => {
    const e = await getEngine();
    const x = e.upload(randn(8, 3), [1, 8]);
    await expect(unaryForward(e, 'clip', x, { min: 1, max: 0 })).rejects.toThrow(InvalidInputError);
    await expect(unaryForward(e, 'clip', x, { min: 1, max: 0 })).rejects.toThrow(/min ≤ max/);
    x.destroy();
    expect(e.liveTensors).toBe(0);
  });
});

/** conv → ReLU6 → conv → clip[-0.5, 0.5] → GAP → linear: clip nodes in a whole network. */
function clipNet(): GraphSpec {
  const w = (shape: number[], seed: number, scale: number) => ({
    shape,
    data: randn(
      shape.reduce((a, b) => a * b, 1),
      seed,
      scale,
    ),
  });
  return {
    input: { name: 'image', shape: [3, 8, 7] },
    output: 'logits',
    nodes: [
      {
        op: 'conv2d',
        name: 'conv1',
        inputs: ['image'],
        output: 'conv1',
        attrs: { pads: [1, 1, 1, 1] },
        weights: { weight: w([5, 3, 3, 3], 1, 1.5), bias: w([5], 2, 1) },
      },
      { op: 'clip', name: 'relu6', inputs: ['conv1'], output: 'relu6', attrs: { min: 0, max: 6 } },
      {
        op: 'conv2d',
        name: 'conv2',
        inputs: ['relu6'],
        output: 'conv2',
        weights: { weight: w([4, 5, 3, 3], 3, 0.2), bias: w([4], 4, 0.1) },
      },
      { op: 'clip', name: 'clip2', inputs: ['conv2'], output: 'clip2', attrs: { min: -0.5, max: 0.5 } },
      { op: 'globalavgpool', name: 'gap', inputs: ['clip2'], output: 'gap' },
      { op: 'flatten', name: 'flat', inputs: ['gap'], output: 'flat' },
      { op: 'linear', name: 'logits', inputs: ['flat'], output: 'logits', weights: { weight: w([3, 4], 5, 1) } },
    ],
  };
}

describe('clip in a network', () => {
  it('GPU executor equals the CPU reference (forward, backward to a layer and to the input, guided)', async () => {
    const e = await getEngine();
    const c = { n: 2, t: 2, layer: 'relu6' };
    const gpu = await gpuNetwork(e, clipNet(), c);
    const want = refNetwork(clipNet(), c);
    expectAllclose(gpu.output, want.output, NETWORK, 'output');
    expectAllclose(gpu.gradLayer, want.gradLayer, NETWORK, 'gradient at relu6');
    expectAllclose(gpu.gradInput, want.gradInput, NETWORK, 'gradient at the input');
    // Clip nodes are guided-backprop gates (they also block negative gradients): the guided
    // gradient equals the reference's and is not the plain one.
    expectAllclose(gpu.gradInputGuided, want.gradInputGuided, NETWORK, 'guided gradient at the input');
    const differs = want.gradInputGuided.some((v, i) => Math.abs(v - want.gradInput[i]) > 1e-3);
    expect(differs).toBe(true);
    // Both bounds of the ReLU6 are hit (or the test would not exercise them).
    const acts = [...new Set(want.layerActivation)];
    expect(acts).toContain(0);
    expect(acts).toContain(6);
    expect(e.liveTensors).toBe(0);
  });
});
