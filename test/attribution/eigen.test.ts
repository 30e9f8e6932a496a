/**
 * The eigen methods (Eigen-CAM, Eigen-Grad-CAM): the CPU reference's eigen-decomposition
 * against closed forms, the GPU's power iteration against the reference on both sides of the
 * Gram matrix (channels, positions), its convergence where the top two eigenvalues are close,
 * the sign fix, and explain()'s plan (no backward pass for Eigen-CAM alone; the same map for
 * every target). The goldens from PyTorch's SVD are in pytorch.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { applicableMethods, explain } from '../../src/attribution/explain';
import { Graph } from '../../src/model/graph';
import type { GraphSpec } from '../../src/model/spec';
import { checkEigenLayer, EIGEN_ITERATIONS, EIGEN_MAX_SIDE, EIGEN_TOL, eigenMaps } from '../../src/attribution/kernels';
import { InvalidInputError, MethodNotApplicableError } from '../../src/core/errors';
import { isChannel, METHODS, type EigenMethodName } from '../../src/methods/registry';
import { Model } from '../../src/model/model';
import { eigenMap, firstComponent, normalizeMinMax, symmetricEigen } from '../../src/reference/attribution';
import { explainReference } from '../../src/reference/explain';
import { RefModel } from '../../src/reference/model';
import { hostTensor, type HostTensor } from '../../src/reference/tensor';
import { FIXTURES, fixtureKey, loadFixture, type FixtureMaps } from '../cases/fixtures';
import { NETS } from '../cases/nets';
import { EXACT, expectAllclose, F32, F64, MAPS, maxAbs, NETWORK, U32 } from '../util/compare';
import { getEngine } from '../util/gpu';
import { randn, rng } from '../util/random';

/** Orthonormal columns (Gram–Schmidt, float64) of n random vectors of length m, each also orthogonal to `against`. */
function orthonormal(m: number, n: number, seed: number, against: Float64Array[] = []): Float64Array[] {
  const r = rng(seed);
  const out: Float64Array[] = [];
  while (out.length < n) {
    const v = Float64Array.from({ length: m }, () => r() - 0.5);
    for (const u of [...against, ...out]) {
      let d = 0;
      for (let i = 0; i < m; i++) d += v[i] * u[i];
      for (let i = 0; i < m; i++) v[i] -= d * u[i];
    }
    const len = Math.hypot(...v);
    out.push(v.map((x) => x / len));
  }
  return out;
}

/**
 * Activations [1, K, h, w] with a known spectrum: A^k_j = μ_k + Σ_r σ_r U_jr V_kr, U's columns
 * orthonormal and of mean 0 over the positions, V's orthonormal, so the centred [Z, K] matrix
 * has singular values σ (before the rounding to float32).
 */
function spectrum(K: number, h: number, w: number, sigma: number[], seed: number): Float32Array {
  const Z = h * w;
  const ones = Float64Array.from({ length: Z }, () => 1 / Math.sqrt(Z));
  const U = orthonormal(Z, sigma.length, seed, [ones]);
  const V = orthonormal(K, sigma.length, seed + 1);
  const out = new Float32Array(K * Z);
  for (let k = 0; k < K; k++)
    for (let j = 0; j < Z; j++) {
      let s = 1 + 0.1 * k;
      sigma.forEach((sg, r) => (s += sg * U[r][j] * V[r][k]));
      out[k * Z + j] = s;
    }
  return out;
}

/** The start vector of eigen_power.wgsl (the same PCG hash, in u32 arithmetic). */
function startVector(d: number): Float64Array {
  return Float64Array.from({ length: d }, (_, q) => {
    let h = (Math.imul(q, 747796405) + 2891336453) >>> 0;
    h = Math.imul(((h >>> ((h >>> 28) + 4)) ^ h) >>> 0, 277803737) >>> 0;
    h = ((h >>> 22) ^ h) >>> 0;
    return 0.5 + (h >>> 8) / 16777216;
  });
}

async function gpuEigen(
  A: HostTensor,
  G: HostTensor | null,
  m: EigenMethodName,
  rows: number,
  opts: { iterations?: number; tol?: number; kernel?: 'reduce' | 'serial' } = {},
) {
  const e = await getEngine();
  return e.scope(async () => {
    const { raw, norm, info } = await eigenMaps(
      e,
      e.upload(A.data, A.shape),
      G ? e.upload(G.data, G.shape) : null,
      [m],
      rows,
      opts,
    );
    return { raw: await raw.read(), norm: await norm.read(), info: await info[0].read() };
  });
}

describe('the CPU reference', () => {
  it('Jacobi: the eigenpairs of small symmetric matrices in closed form', () => {
    // [[2, 1], [1, 2]]: 3 with (1, 1)/√2, 1 with (1, −1)/√2.
    const two = symmetricEigen([2, 1, 1, 2], 2);
    expectAllclose(two.values, [3, 1], F64, 'values');
    const s = Math.SQRT1_2;
    expectAllclose(
      two.vectors[0].map((v) => v * Math.sign(two.vectors[0][0])),
      [s, s],
      F64,
      'top vector',
    );
    // A diagonal matrix in a rotated basis: Q diag(5, 2, 0.5) Qᵀ with Q a random rotation.
    const Q = orthonormal(3, 3, 7);
    const lam = [5, 2, 0.5];
    const M = Array.from({ length: 9 }, (_, i) =>
      lam.reduce((acc, l, r) => acc + l * Q[r][Math.floor(i / 3)] * Q[r][i % 3], 0),
    );
    const got = symmetricEigen(M, 3);
    expectAllclose(got.values, lam, { atol: 1e-14, rtol: 1e-14 }, 'rotated values');
    const top = got.vectors[0];
    const sign = Math.sign(top[0] * Q[0][0]);
    expectAllclose(
      top.map((v) => v * sign),
      Q[0],
      { atol: 1e-14, rtol: 0 },
      'rotated top vector',
    );
  });

  it('firstComponent: ‖p‖² = σ₁² on both sides of the Gram matrix, and p = X v with XᵀX v = σ₁² v', () => {
    for (const [Z, K] of [
      [20, 6], // channels side (K ≤ Z)
      [6, 20], // positions side (Z < K)
    ]) {
      const X = randn(Z * K, Z * 100 + K);
      const { projection: p, values, direction } = firstComponent(X, Z, K);
      const norm2 = p.reduce((a, v) => a + v * v, 0);
      expect(Math.abs(norm2 - values[0]) / values[0]).toBeLessThan(1e-12);
      expect(values[0]).toBeGreaterThan(values[1]);
      // v = Xcᵀ p / σ₁² must be a unit eigenvector of XcᵀXc with eigenvalue σ₁².
      const xc = new Float64Array(Z * K);
      for (let k = 0; k < K; k++) {
        let mean = 0;
        for (let j = 0; j < Z; j++) mean += X[j * K + k] / Z;
        for (let j = 0; j < Z; j++) xc[j * K + k] = X[j * K + k] - mean;
      }
      const v = Float64Array.from({ length: K }, (_, k) => {
        let s = 0;
        for (let j = 0; j < Z; j++) s += xc[j * K + k] * p[j];
        return s / values[0];
      });
      expect(Math.abs(Math.hypot(...v) - 1)).toBeLessThan(1e-12);
      // The returned direction (the channels' loadings) is that v, with the projection's sign.
      expectAllclose(direction, v, { atol: 1e-12, rtol: 0 }, `direction Z=${Z} K=${K}`);
      const Cv = Float64Array.from({ length: K }, (_, k) => {
        let s = 0;
        for (let j = 0; j < Z; j++) {
          let xv = 0;
          for (let q = 0; q < K; q++) xv += xc[j * K + q] * v[q];
          s += xc[j * K + k] * xv;
        }
        return s;
      });
      expectAllclose(
        Cv,
        Array.from(v, (x) => x * values[0]),
        { atol: 1e-12 * values[0], rtol: 0 },
        `Z=${Z} K=${K}`,
      );
      // The sign: the largest |p| is positive.
      expect(Math.max(...p)).toBeGreaterThanOrEqual(-Math.min(...p));
    }
  });
});

describe('the GPU against the CPU reference', () => {
  // Channels side: K = 5 ≤ Z = 7·9; positions side: K = 24 > Z = 4·5. T = 3 targets, N = 2.
  it.each([
    ['channels', 5, 7, 9],
    ['positions', 24, 4, 5],
  ] as const)('%s side of the Gram matrix, both methods', async (_side, K, h, w) => {
    const [N, T] = [2, 3];
    const Z = h * w;
    const A = hostTensor([N, K, h, w], randn(N * K * Z, 11).map(Math.abs));
    const G = hostTensor([T * N, K, h, w], randn(T * N * K * Z, 12, 0.1));
    for (const m of ['eigencam', 'eigengradcam'] as const) {
      const want = eigenMap(m, A, G);
      const got = await gpuEigen(A, m === 'eigengradcam' ? G : null, m, T * N, { kernel: 'reduce' });
      // The serial variant (software adapters) runs the same iterations; its final ‖v‖ is summed
      // in another order, one float32 rounding of the unit vector (F32, relative to the map).
      const serial = await gpuEigen(A, m === 'eigengradcam' ? G : null, m, T * N, { kernel: 'serial' });
      expect(Array.from(serial.info)).toEqual(Array.from(got.info));
      expectAllclose(serial.raw, got.raw, { atol: 4 * F32.rtol * maxAbs(got.raw), rtol: 0 }, `${m} serial vs reduce`);
      // Float32 Gram matrices and projections of order-1 terms (up to a few hundred, NETWORK's
      // scale), the eigenvector converged to float32 precision (info[2] below): NETWORK on the
      // raw map relative to its largest value, MAPS on the normalised one.
      expectAllclose(got.raw, want.data, { atol: NETWORK.rtol * maxAbs(want.data), rtol: 0 }, `${m} raw`);
      expectAllclose(got.norm, normalizeMinMax(want).data, MAPS, `${m} normalised`);
      const S = m === 'eigencam' ? N : T * N;
      for (let s = 0; s < S; s++)
        expect(got.info[s * 4 + 1], `${m} row ${s} iterations`).toBeLessThan(EIGEN_ITERATIONS);
    }
    expect((await getEngine()).liveTensors).toBe(0);
  });

  it('the sign fix: −A gives the same Eigen-CAM map (bit for bit)', async () => {
    const [K, h, w] = [6, 5, 7];
    const a = randn(K * h * w, 21);
    const A = hostTensor([1, K, h, w], a);
    const negA = hostTensor(
      [1, K, h, w],
      a.map((v) => -v),
    );
    const plus = await gpuEigen(A, null, 'eigencam', 1);
    const minus = await gpuEigen(negA, null, 'eigencam', 1);
    expect(maxAbs(plus.raw)).toBeGreaterThan(0);
    expectAllclose(minus.raw, plus.raw, EXACT, 'map of −A'); // negation is exact, the rest the same arithmetic
  });

  it('power iteration where the top two eigenvalues are close: λ₂/λ₁ = 0.95² ≈ 0.90', async () => {
    const [K, h, w] = [8, 6, 5];
    const Z = h * w;
    const sigma = [1, 0.95, 0.5, 0.3];
    const A = hostTensor([1, K, h, w], spectrum(K, h, w, sigma, 31));
    const G = hostTensor([1, K, h, w], new Float32Array(K * Z));
    const want = eigenMap('eigencam', A, G);
    const scale = maxAbs(want.data);
    // The start vector's angle to the top eigenvector, from the reference's Gram matrix.
    const X = new Float64Array(Z * K);
    for (let k = 0; k < K; k++) for (let j = 0; j < Z; j++) X[j * K + k] = A.data[k * Z + j];
    const { values } = firstComponent(X, Z, K);
    const ratio = values[1] / values[0];
    expect(ratio).toBeGreaterThan(0.89);
    expect(ratio).toBeLessThan(0.91);
    const C = new Float64Array(K * K);
    const xc = new Float64Array(Z * K);
    for (let k = 0; k < K; k++) {
      let mean = 0;
      for (let j = 0; j < Z; j++) mean += X[j * K + k] / Z;
      for (let j = 0; j < Z; j++) xc[j * K + k] = X[j * K + k] - mean;
    }
    for (let p = 0; p < K; p++)
      for (let q = 0; q < K; q++) for (let j = 0; j < Z; j++) C[p * K + q] += xc[j * K + p] * xc[j * K + q];
    const e1 = symmetricEigen(C, K).vectors[0];
    const v0 = startVector(K);
    const along = Math.abs(v0.reduce((acc, v, k) => acc + v * e1[k], 0));
    const tan0 = Math.sqrt(Math.max(v0.reduce((acc, v) => acc + v * v, 0) - along * along, 0)) / along;
    // After n iterations tan θ_n ≤ tan θ_0 · rationⁿ, and the map's error X(v_n − v) is at most
    // σ₁·‖v_n − v‖ ≤ 2σ₁ tan θ_n, i.e. ≤ 2·√Z·tan θ_n of the map's largest |value| (‖p‖ = σ₁,
    // max|p| ≥ σ₁/√Z); below that, float32's floor (NETWORK's scale).
    const floor = NETWORK.rtol * scale;
    const rows: string[] = [];
    let first = 0;
    const errs = new Map<number, number>();
    for (const n of [5, 20, 80, 160]) {
      const got = await gpuEigen(A, null, 'eigencam', 1, { iterations: n, tol: 0 });
      let err = 0;
      for (let j = 0; j < Z; j++) err = Math.max(err, Math.abs(got.raw[j] - want.data[j]));
      const bound = 2 * Math.sqrt(Z) * tan0 * ratio ** n * scale;
      rows.push(
        `n = ${n}: max error ${(err / scale).toExponential(2)} of max|p| (bound ${(bound / scale).toExponential(2)})`,
      );
      // n iterations, or fewer where v stopped changing at all in float32 (max |Δv| = 0 ≤ tol).
      expect(got.info[1] === n || (got.info[1] < n && got.info[2] === 0), `n = ${n}: ${got.info[1]} iterations`).toBe(
        true,
      );
      expect(err, `n = ${n}`).toBeLessThanOrEqual(bound + floor);
      if (n === 5) first = err;
      errs.set(n, err);
    }
    // Between 20 and 80 iterations (far from both the start and float32's floor) the error
    // shrinks by λ₂/λ₁ per iteration, as the theory says.
    const rate = (errs.get(80)! / errs.get(20)!) ** (1 / 60);
    rows.push(`measured rate per iteration (n = 20 → 80): ${rate.toFixed(4)}`);
    expect(Math.abs(rate - ratio)).toBeLessThan(0.02);
    // Five iterations are far from converged here (so the bound above is what holds the check).
    expect(first).toBeGreaterThan(10 * floor);
    // The defaults: stop when max |Δv| ≤ EIGEN_TOL, or after EIGEN_ITERATIONS.
    const def = await gpuEigen(A, null, 'eigencam', 1);
    let err = 0;
    for (let j = 0; j < Z; j++) err = Math.max(err, Math.abs(def.raw[j] - want.data[j]));
    rows.push(
      `defaults (≤ ${EIGEN_ITERATIONS} iterations, tol ${EIGEN_TOL}): ${def.info[1]} iterations, last max|Δv| ${def.info[2].toExponential(2)}, max error ${(err / scale).toExponential(2)} of max|p|`,
    );
    console.log(`power iteration, λ₂/λ₁ = ${ratio.toFixed(4)}, tan θ₀ = ${tan0.toFixed(3)}:\n  ${rows.join('\n  ')}`);
    expect(err).toBeLessThanOrEqual(floor);
    expect(def.info[2]).toBeLessThanOrEqual(EIGEN_TOL);
    expect(Math.abs(def.info[0] - values[0]) / values[0]).toBeLessThan(1e3 * U32); // λ₁ itself
  });

  it('bad options and a layer too large on both sides get typed errors, before anything is allocated', async () => {
    const e = await getEngine();
    expect(() => checkEigenLayer(EIGEN_MAX_SIDE + 1, EIGEN_MAX_SIDE + 1, 1)).toThrow(MethodNotApplicableError);
    expect(() => checkEigenLayer(EIGEN_MAX_SIDE + 1, 7, 7)).not.toThrow(); // the positions side is small
    const A = e.upload(randn(2 * 16, 3), [1, 2, 4, 4]);
    const live = e.liveTensors;
    await expect(eigenMaps(e, A, null, ['eigencam'], 1, { iterations: 0 })).rejects.toThrow(InvalidInputError);
    await expect(eigenMaps(e, A, null, ['eigencam'], 1, { tol: -1 })).rejects.toThrow(/tol/);
    await expect(eigenMaps(e, A, null, ['eigengradcam'], 1)).rejects.toThrow(/needs the gradients/);
    await expect(eigenMaps(e, A, null, ['eigencam'], 1, { kernel: 'fast' as never })).rejects.toThrow(/unknown kernel/);
    expect(e.liveTensors).toBe(live);
    A.destroy();
  });
});

describe('explain() with the eigen methods', () => {
  it('applicableMethods leaves the eigen methods out where K and h·w both exceed EIGEN_MAX_SIDE', () => {
    const K = EIGEN_MAX_SIDE + 1;
    const big = (hw: number): GraphSpec => ({
      name: 'big',
      input: { name: 'image', shape: [K, hw, hw] },
      output: 'logits',
      nodes: [
        { op: 'relu', name: 'relu', inputs: ['image'], output: 'relu' },
        { op: 'globalavgpool', name: 'gap', inputs: ['relu'], output: 'gap' },
        { op: 'flatten', name: 'flat', inputs: ['gap'], output: 'flat', attrs: { axis: 1 } },
        {
          op: 'linear',
          name: 'fc',
          inputs: ['flat'],
          output: 'logits',
          weights: { weight: { shape: [2, K], data: randn(2 * K, 61) }, bias: { shape: [2], data: [0, 0] } },
        },
      ],
    });
    expect(applicableMethods(new Graph(big(46)), 'relu')).not.toContain('eigencam'); // 46² = 2116 positions
    expect(applicableMethods(new Graph(big(45)), 'relu')).toEqual(expect.arrayContaining(['eigencam', 'eigengradcam']));
  });

  it('Eigen-CAM alone runs no backward pass, and its map is the same for every target', async () => {
    const e = await getEngine();
    const model = await Model.load(e, NETS.plain());
    const input = e.upload(randn(2 * 297, 41), [2, 3, 11, 9]);
    const d0 = e.stats.dispatches;
    const alone = await explain(model, input, { methods: ['eigencam'], targets: { topK: 3 } });
    const aloneDispatches = e.stats.dispatches - d0;
    expect(alone.gradients).toBeNull();
    const maps = await alone.maps.eigencam!.input.read();
    const S = 2 * 11 * 9; // one target's maps, N = 2 images
    expect(maxAbs(maps)).toBeGreaterThan(0);
    for (let t = 1; t < 3; t++)
      expectAllclose(maps.subarray(t * S, (t + 1) * S), maps.subarray(0, S), EXACT, `target ${t}`);
    const d1 = e.stats.dispatches;
    const withGrad = await explain(model, input, { methods: ['eigencam', 'eigengradcam'], targets: { topK: 3 } });
    expect(withGrad.gradients).not.toBeNull();
    expect(e.stats.dispatches - d1).toBeGreaterThan(aloneDispatches + 4); // the backward pass and Eigen-Grad-CAM's 4
    expectAllclose(await withGrad.maps.eigencam!.input.read(), maps, EXACT, 'Eigen-CAM with or without a backward');
    alone.destroy();
    withGrad.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });
});

describe('the eigenSmooth option of the channel methods', () => {
  // The CPU reference against PyTorch: float64 both (Jacobi vs torch.linalg.svd), the fixtures
  // with 9 digits; the same tolerances as pytorch.test.ts's REF_TOL and REF_MAP_TOL.
  const REF_TOL = { atol: 1e-8, rtol: 1e-6 };
  const REF_MAP_TOL = { atol: 1e-6, rtol: 1e-6 };

  it.each(FIXTURES)('fixture %s: the CPU reference and the GPU equal PyTorch', async (name) => {
    const fx = loadFixture(name);
    const methods = (['gradcam', 'gradcam++', 'cam'] as const).filter((m) => m !== 'cam' || fx.expected.cam);
    const opts = { methods, targets: fx.targets, layer: fx.layer, eigenSmooth: true };
    const ref = explainReference(new RefModel(fx.graph), hostTensor(fx.input.shape, fx.input.data), opts);
    const e = await getEngine();
    const model = await Model.load(e, fx.graph);
    const input = e.upload(fx.input.data, fx.input.shape);
    const r = await explain(model, input, opts);
    for (const m of methods) {
      const want = fx.expected[`eigensmooth:${fixtureKey(m)}`] as FixtureMaps;
      expect(want, `golden values for ${m}`).toBeDefined();
      const got = ref.maps[m]!;
      expectAllclose(got.raw!.data, want.map.data, REF_TOL, `reference ${m} map`);
      expectAllclose(got.layer!.data, want.map_norm.data, REF_MAP_TOL, `reference ${m} normalised`);
      expectAllclose(got.input!.data, want.map_up.data, REF_MAP_TOL, `reference ${m} upsampled`);
      const maps = r.maps[m]!;
      const raw = await maps.raw.read();
      expectAllclose(raw, want.map.data, { atol: NETWORK.rtol * maxAbs(want.map.data), rtol: 0 }, `GPU ${m} map`);
      expectAllclose(await maps.layer.read(), want.map_norm.data, MAPS, `GPU ${m} normalised`);
      expectAllclose(await maps.input.read(), want.map_up.data, MAPS, `GPU ${m} upsampled`);
      // The weights are the method's own, unchanged by the option.
      expectAllclose(
        await maps.weights.read(),
        (fx.expected[fixtureKey(m)] as FixtureMaps).weights!.data,
        NETWORK,
        `${m} weights`,
      );
    }
    r.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });

  it('the GPU equals the CPU reference for every channel method, T = 3, N = 2, and a non-boolean is refused', async () => {
    const e = await getEngine();
    const spec = NETS.residual();
    const model = await Model.load(e, spec);
    const [c, h, w] = spec.input.shape;
    const xs = randn(2 * c * h * w, 51);
    const input = e.upload(xs, [2, c, h, w]);
    const methods = METHODS.filter(isChannel).filter((m) => m !== 'cam');
    const opts = { methods, targets: { topK: 3 }, eigenSmooth: true };
    const r = await explain(model, input, opts);
    const ref = explainReference(new RefModel(spec), hostTensor([2, c, h, w], xs), opts);
    const plain = await explain(model, input, { ...opts, eigenSmooth: false });
    const plainRaw: Partial<Record<string, Float32Array>> = {};
    for (const m of methods) plainRaw[m] = await plain.maps[m]!.raw.read();
    for (const m of methods) {
      const want = ref.maps[m]!;
      const raw = await r.maps[m]!.raw.read();
      expectAllclose(raw, want.raw!.data, { atol: NETWORK.rtol * maxAbs(want.raw!.data), rtol: 0 }, `${m} raw`);
      expectAllclose(await r.maps[m]!.input.read(), want.input!.data, MAPS, `${m} upsampled`);
      // Not the plain weighted sum.
      expect(maxAbs(Array.from(raw, (v, i) => v - plainRaw[m]![i])), m).toBeGreaterThan(0);
    }
    await expect(explain(model, input, { eigenSmooth: 'yes' as never })).rejects.toThrow(
      /eigenSmooth must be true or false/,
    );
    r.destroy();
    plain.destroy();
    input.destroy();
    model.destroy();
    expect(e.liveTensors).toBe(0);
  });
});
