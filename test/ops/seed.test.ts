import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/core/errors';
import { seedGradients } from '../../src/ops/seed';
import * as ref from '../../src/reference/seed';
import { EXACT, expectAllclose } from '../util/compare';
import { getEngine } from '../util/gpu';

describe('seed gradients reference', () => {
  it('row t·N + i is sign·onehot(classes[t])', () => {
    const g = ref.seedGradients([2, 0], 2, 3, -1);
    expect(g.shape).toEqual([4, 3]);
    expect(Array.from(g.data)).toEqual([0, 0, -1, 0, 0, -1, -1, 0, 0, -1, 0, 0]);
  });
});

describe('seed gradients on the GPU equal the reference', () => {
  it.each([1, -1] as const)('T=4 over N=2, K=10, sign %i', async (sign) => {
    const e = await getEngine();
    const classes = [3, 0, 9, 3];
    await e.scope(async () => {
      const g = await seedGradients(e, classes, 2, 10, sign);
      expect(g.shape).toEqual([8, 10]);
      expectAllclose(await g.read(), ref.seedGradients(classes, 2, 10, sign).data, EXACT, 'seeds');
    });
    expect(e.liveTensors).toBe(0);
  });

  it('Int32Array classes, K=1000, into a pooled buffer that held other data', async () => {
    const e = await getEngine();
    const classes = new Int32Array([999, 1, 500]);
    await e.scope(async () => {
      // Dirty a buffer of the same size class first: the kernel must write every element.
      await e.upload(new Float32Array(3 * 1000).fill(7), [3, 1000]).read();
    });
    await e.scope(async () => {
      const g = await seedGradients(e, classes, 1, 1000);
      expectAllclose(await g.read(), ref.seedGradients(classes, 1, 1000).data, EXACT, 'seeds K=1000');
    });
    expect(e.liveTensors).toBe(0);
  });

  it('typed error naming the bad class index and K; the engine still works after', async () => {
    const e = await getEngine();
    await expect(seedGradients(e, [1, 10], 2, 10)).rejects.toThrow(InvalidInputError);
    await expect(seedGradients(e, [1, 10], 2, 10)).rejects.toThrow(/class index 10 .*K=10/);
    await expect(seedGradients(e, [-1], 2, 10)).rejects.toThrow(/class index -1/);
    await expect(seedGradients(e, [1.5], 2, 10)).rejects.toThrow(InvalidInputError);
    await expect(seedGradients(e, [], 2, 10)).rejects.toThrow(InvalidInputError);
    expect(() => ref.seedGradients([4], 1, 4)).toThrow(/class index 4 .*K=4/);
    await e.scope(async () => {
      const g = await seedGradients(e, [1], 1, 3);
      expect(Array.from(await g.read())).toEqual([0, 1, 0]);
    });
    expect(e.liveTensors).toBe(0);
  });
});
