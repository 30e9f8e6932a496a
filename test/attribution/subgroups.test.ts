/**
 * The subgroup variants of the attribution reductions (channel weights, the min/max of
 * cam_combine, spatial_combine and eigen_project, eigen_power's sums and maxima, top-k), each forced on and off, against the
 * CPU reference on awkward sizes: maps of 1 position and of fewer positions than a subgroup,
 * position counts that are not multiples of the subgroup (4 on SwiftShader) or of the workgroup
 * (64), many channels, classes fewer than, equal to and above the workgroup size, ties, NaN and
 * −Infinity scores. The adapter must have 'subgroups' (SwiftShader does): without it this file
 * fails, saying so, instead of testing the plain kernels alone.
 */
import { describe, expect, it } from 'vitest';
import {
  channelWeights,
  combineMaps,
  eigenMaps,
  reductionConfig,
  setReductionConfig,
  spatialMaps,
  topkClasses,
} from '../../src/attribution/kernels';
import { InvalidInputError } from '../../src/core/errors';
import { Engine } from '../../src/gpu/engine';
import { channelMethod, isChannel, METHODS, type ChannelMethodName } from '../../src/methods/registry';
import {
  channelWeights as refWeights,
  eigenMap,
  normalizeMinMax,
  spatialMap,
  weightedSum,
} from '../../src/reference/attribution';
import { hostTensor } from '../../src/reference/tensor';
import { expectAllclose, f32Reduction, MAPS, maxAbs, NETWORK } from '../util/compare';
import { getEngine } from '../util/gpu';
import { randn, rng } from '../util/random';

async function subgroupEngine(): Promise<Engine> {
  const e = await getEngine();
  const f = [...e.device.features].sort().join(', ');
  expect(
    e.device.features.has('subgroups'),
    `the device lacks the 'subgroups' feature (features: ${f}): the subgroup kernels cannot be tested here`,
  ).toBe(true);
  return e;
}

// [N, K, h, w, T]: one position; fewer positions than a subgroup; 63 (not a multiple of 4 nor
// 64) with many channels; 130 (above the workgroup, not a multiple).
const SHAPES = [
  [1, 70, 1, 1, 3],
  [2, 5, 1, 3, 2],
  [1, 67, 7, 9, 2],
  [2, 3, 10, 13, 1],
] as const;

describe('subgroup reductions', () => {
  it("the engine chose them because the device has 'subgroups', and they can be forced off and on", async () => {
    const e = await subgroupEngine();
    const c = reductionConfig(e);
    expect(c.subgroups).toBe(true);
    // Software adapters keep the serial channel weights (much faster there than any workgroup kernel).
    expect(c.channelWeights).toBe(e.adapter.isSoftware ? 'serial' : 'subgroup');
    expect(setReductionConfig(e, { subgroups: false, channelWeights: 'reduce' }).subgroups).toBe(false);
    expect(reductionConfig(e)).toMatchObject({ subgroups: false, channelWeights: 'reduce' });
    expect(setReductionConfig(e, c)).toMatchObject({ subgroups: true, channelWeights: c.channelWeights });
  });

  it.each(SHAPES)('channel weights, N %i K %i %i×%i T %i: every kernel equals the reference', async (...shape) => {
    const [N, K, h, w, T] = shape;
    const Z = h * w;
    const e = await subgroupEngine();
    const As = randn(N * K * Z, 11).map(Math.abs);
    const Gs = randn(T * N * K * Z, 12, 0.01);
    const A = hostTensor([N, K, h, w], As);
    const G = hostTensor([T * N, K, h, w], Gs);
    const methods = METHODS.filter(isChannel).filter((m) => channelMethod(m).source === 'gradients');
    const meanTol = f32Reduction(Z, (Math.sqrt(Z) * 0.01) / Z);
    const want = Object.fromEntries(methods.map((m) => [m, refWeights(m, A, G).data])) as Record<
      ChannelMethodName,
      Float64Array
    >;
    const tol = {
      gradcam: meanTol,
      counterfactual: meanTol,
      'gradcam++': f32Reduction(Z, maxAbs(want['gradcam++'])),
      xgradcam: f32Reduction(4 * Z, maxAbs(want.xgradcam)),
    } as Record<ChannelMethodName, ReturnType<typeof f32Reduction>>;
    const rows = T * N;
    for (const kernel of ['subgroup', 'reduce', 'serial'] as const) {
      await e.scope(async () => {
        const out = e.zeros([methods.length, rows, K]);
        await channelWeights(e, e.upload(As, A.shape), e.upload(Gs, G.shape), out, methods, { kernel });
        const got = await out.read();
        methods.forEach((m, s) =>
          expectAllclose(got.subarray(s * rows * K, (s + 1) * rows * K), want[m], tol[m], `${kernel} ${m}`),
        );
      });
    }
    expect(e.liveTensors).toBe(0);
  });

  it.each(SHAPES)('cam_combine, N %i K %i %i×%i T %i: subgroup and plain min/max equal the reference', async (...s) => {
    const [N, K, h, w, T] = s;
    const Z = h * w;
    const rows = T * N;
    const e = await subgroupEngine();
    const As = randn(N * K * Z, 21).map(Math.abs);
    const Ws = randn(2 * rows * K, 22); // 2 slots: ReLU on slot 0, signed slot 1 (as CAM)
    const A = hostTensor([N, K, h, w], As);
    const raw = new Float64Array(2 * rows * Z);
    for (let m = 0; m < 2; m++) {
      const wm = hostTensor([rows, K], Ws.subarray(m * rows * K, (m + 1) * rows * K));
      raw.set(weightedSum(A, wm, m === 0).data, m * rows * Z);
    }
    const norm = normalizeMinMax(hostTensor([2 * rows, h, w], raw)).data;
    const tol = f32Reduction(K, Math.sqrt(K) * maxAbs(As));
    const got: Record<string, Float32Array> = {};
    for (const subgroups of [true, false]) {
      await e.scope(async () => {
        const r = await combineMaps(e, e.upload(As, A.shape), e.upload(Ws, [2, rows, K]), 0b01, { subgroups });
        expectAllclose(await r.raw.read(), raw, tol, `raw, subgroups ${subgroups}`);
        got[String(subgroups)] = await r.norm.read();
        // A one-position map is constant: all zeros.
        expectAllclose(got[String(subgroups)], norm, Z === 1 ? { atol: 0, rtol: 0 } : MAPS, `norm, ${subgroups}`);
      });
    }
    // The same raw values in both; min and max are exact, so the normalised maps agree bit for bit.
    expect(Array.from(got.true)).toEqual(Array.from(got.false));
    expect(e.liveTensors).toBe(0);
  });

  it('spatial and eigen maps: subgroup and plain min/max equal the reference', async () => {
    const e = await subgroupEngine();
    const [N, K, h, w, T] = [2, 6, 5, 7, 2];
    const As = randn(N * K * h * w, 31);
    const Gs = randn(T * N * K * h * w, 32, 0.1);
    const A = hostTensor([N, K, h, w], As);
    const G = hostTensor([T * N, K, h, w], Gs);
    const hires = spatialMap('hirescam', A, G);
    const eig = eigenMap('eigengradcam', A, G);
    for (const subgroups of [true, false]) {
      await e.scope(async () => {
        const a = e.upload(As, A.shape);
        const g = e.upload(Gs, G.shape);
        const s = await spatialMaps(e, a, g, ['hirescam'], { subgroups });
        expectAllclose(await s.raw.read(), hires.data, NETWORK, `hirescam raw, subgroups ${subgroups}`);
        expectAllclose(await s.norm.read(), normalizeMinMax(hires).data, MAPS, `hirescam norm, ${subgroups}`);
        const r = await eigenMaps(e, a, g, ['eigengradcam'], T * N, { subgroups });
        const atol = NETWORK.rtol * maxAbs(eig.data);
        expectAllclose(await r.raw.read(), eig.data, { atol, rtol: 0 }, `eigengradcam raw, ${subgroups}`);
        expectAllclose(await r.norm.read(), normalizeMinMax(eig).data, MAPS, `eigengradcam norm, ${subgroups}`);
        for (const t of r.info) t.destroy();
      });
    }
    expect(e.liveTensors).toBe(0);
  });

  // The T best classes by an independent rule: NaN left out, sorted by score then index.
  const best = (row: Float32Array, t: number) =>
    Array.from(row, (v, k) => [v, k] as const)
      .filter(([v]) => !Number.isNaN(v))
      .sort((a, b) => (a[0] !== b[0] ? (a[0] > b[0] ? -1 : 1) : a[1] - b[1]))
      .slice(0, t)
      .map(([, k]) => k);

  it.each([
    [3, 1, 1],
    [2, 3, 3],
    [1, 64, 5],
    [3, 65, 4],
    [2, 1000, 7],
  ])('top-k, N %i K %i T %i: subgroup and loop equal the reference (ties, NaN, −Infinity)', async (N, K, T) => {
    const e = await subgroupEngine();
    const r = rng(41 + K);
    // Scores from 8 values (many ties), with NaN and −Infinity sprinkled in.
    const scores = Float32Array.from({ length: N * K }, () => {
      const u = r();
      return u < 0.1 ? NaN : u < 0.2 ? -Infinity : Math.floor(r() * 8) - 4;
    });
    const want: number[] = [];
    const per = Array.from({ length: N }, (_, i) => best(scores.subarray(i * K, (i + 1) * K), T));
    for (let t = 0; t < T; t++) for (let i = 0; i < N; i++) want.push(per[i][t] ?? K); // K: none left
    for (const subgroups of [true, false]) {
      await e.scope(async () => {
        // As raw bytes: upload() refuses non-finite values, which a model's scores can hold.
        const bytes = e.uploadBytes(new Uint8Array(scores.buffer), 'scores:bits');
        const classes = await topkClasses(e, e.slice(bytes, 0, [N, K], 'scores'), T, { subgroups });
        expect(Array.from(await classes.read()), `subgroups ${subgroups}`).toEqual(want);
      });
    }
    expect(e.liveTensors).toBe(0);
  });

  it("forcing the subgroup kernels on a device without 'subgroups' is a typed error; the default is off", async () => {
    const e = await Engine.create({ subgroups: false, timestamps: false });
    try {
      expect(e.device.features.has('subgroups')).toBe(false);
      expect(reductionConfig(e).subgroups).toBe(false);
      expect(() => setReductionConfig(e, { subgroups: true })).toThrow(InvalidInputError);
      expect(() => setReductionConfig(e, { channelWeights: 'subgroup' })).toThrow(/'subgroups'/);
      const scores = e.upload(new Float32Array([1, 3, 2]), [1, 3]);
      await expect(topkClasses(e, scores, 2, { subgroups: true })).rejects.toThrow(/'subgroups'/);
      const classes = await topkClasses(e, scores, 2);
      expect(Array.from(await classes.read())).toEqual([1, 2]);
    } finally {
      e.destroy();
    }
  });
});
