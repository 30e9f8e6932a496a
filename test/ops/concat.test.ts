import { describe, expect, it } from 'vitest';
import { InvalidInputError, ShapeMismatchError } from '../../src/core/errors';
import { concatBackward, concatForward } from '../../src/ops/concat';
import * as ref from '../../src/reference/concat';
import { hostTensor, numel, type HostTensor } from '../../src/reference/tensor';
import { CENTRAL_DIFF, EXACT, expectAllclose } from '../util/compare';
import { getEngine } from '../util/gpu';
import { numericGrad } from '../util/gradcheck';
import { randn } from '../util/random';

function random(shape: number[], seed: number): HostTensor {
  return hostTensor(shape, randn(numel(shape), seed));
}

describe('concat reference', () => {
  it.each([
    [
      [
        [2, 1, 3, 2],
        [2, 3, 3, 2],
        [2, 2, 3, 2],
      ],
      1,
    ],
    [
      [
        [2, 3, 2, 2],
        [2, 3, 1, 2],
      ],
      2,
    ],
    [
      [
        [3, 2],
        [3, 4],
      ],
      -1,
    ],
  ] as [number[][], number][])('backward equals central differences for every input: %j axis %i', (shapes, axis) => {
    const xs = shapes.map((s, i) => random(s, 30 + i));
    const ax = axis < 0 ? axis + shapes[0].length : axis; // the reference takes a non-negative axis
    const y = ref.concatForward(xs, ax);
    const dy = random(y.shape, 40);
    const dxs = ref.concatBackward(dy, shapes, ax);
    xs.forEach((x, j) => {
      const f = (v: HostTensor) =>
        ref.concatForward(
          xs.map((u, i) => (i === j ? v : u)),
          ax,
        );
      expectAllclose(dxs[j].data, numericGrad(f, x, dy).data, CENTRAL_DIFF, `dx${j}`);
    });
  });
});

describe('concat on the GPU equals the reference', () => {
  it('forward of 3 tensors with 1, 3, 5 channels', async () => {
    const e = await getEngine();
    const shapes = [
      [2, 1, 3, 5],
      [2, 3, 3, 5],
      [2, 5, 3, 5],
    ];
    const xs = shapes.map((s, i) => random(s, 50 + i));
    await e.scope(async () => {
      const y = await concatForward(
        e,
        xs.map((x) => e.upload(x.data, x.shape)),
      );
      expect(y.shape).toEqual([2, 9, 3, 5]);
      expectAllclose(await y.read(), ref.concatForward(xs).data, EXACT, 'concat forward');
    });
    expect(e.liveTensors).toBe(0);
  });

  it('forward of 2-D tensors [N, K] (default axis 1 and axis -1)', async () => {
    const e = await getEngine();
    const xs = [random([3, 4], 60), random([3, 7], 61)];
    await e.scope(async () => {
      const ts = xs.map((x) => e.upload(x.data, x.shape));
      const want = ref.concatForward(xs, 1).data;
      expectAllclose(await (await concatForward(e, ts)).read(), want, EXACT, 'concat 2-D');
      expectAllclose(await (await concatForward(e, ts, -1)).read(), want, EXACT, 'concat 2-D axis -1');
    });
    expect(e.liveTensors).toBe(0);
  });

  it('forward along axis 2 (height)', async () => {
    const e = await getEngine();
    const xs = [random([2, 3, 2, 4], 62), random([2, 3, 3, 4], 63)];
    await e.scope(async () => {
      const y = await concatForward(
        e,
        xs.map((x) => e.upload(x.data, x.shape)),
        2,
      );
      expectAllclose(await y.read(), ref.concatForward(xs, 2).data, EXACT, 'concat axis 2');
    });
    expect(e.liveTensors).toBe(0);
  });

  it('backward with T=2 targets over N=2', async () => {
    const e = await getEngine();
    const shapes = [
      [2, 1, 3, 5],
      [2, 3, 3, 5],
      [2, 5, 3, 5],
    ];
    const dy = random([4, 9, 3, 5], 70);
    await e.scope(async () => {
      const dxs = await concatBackward(e, e.upload(dy.data, dy.shape), shapes);
      const want = ref.concatBackward(dy, shapes);
      expect(dxs.map((d) => d.shape)).toEqual([
        [4, 1, 3, 5],
        [4, 3, 3, 5],
        [4, 5, 3, 5],
      ]);
      for (let i = 0; i < 3; i++) expectAllclose(await dxs[i].read(), want[i].data, EXACT, `concat dx${i}`);
    });
    expect(e.liveTensors).toBe(0);
  });

  it('typed errors for mismatched dims, bad axis, bad gradient; the engine still works after', async () => {
    const e = await getEngine();
    await e.scope(async () => {
      const a = e.upload(randn(2 * 3 * 4 * 4, 80), [2, 3, 4, 4]);
      const b = e.upload(randn(2 * 2 * 4 * 5, 81), [2, 2, 4, 5]);
      await expect(concatForward(e, [a, b])).rejects.toThrow(ShapeMismatchError);
      await expect(concatForward(e, [a, b])).rejects.toThrow(/\[2, 3, 4, 4\].*\[2, 2, 4, 5\]/);
      await expect(concatForward(e, [a, a], 0)).rejects.toThrow(InvalidInputError);
      await expect(concatForward(e, [a, a], 4)).rejects.toThrow(InvalidInputError);
      await expect(concatForward(e, [])).rejects.toThrow(InvalidInputError);
      // dy with the wrong channel total for these inputs
      const dy = e.upload(randn(4 * 5 * 4 * 4, 82), [4, 5, 4, 4]);
      await expect(
        concatBackward(e, dy, [
          [2, 3, 4, 4],
          [2, 3, 4, 4],
        ]),
      ).rejects.toThrow(ShapeMismatchError);
      const y = await concatForward(e, [a, a]);
      expect(y.shape).toEqual([2, 6, 4, 4]);
      const ys = await y.read();
      const as = await a.read();
      expect(ys[3 * 16]).toBe(as[0]); // input 2's channel 0 follows input 1's 3 channels
    });
    expect(e.liveTensors).toBe(0);
  });
});
