/**
 * Bad inputs to explain() and the kernels behind its maps (issue 14, items 3, 4 and 5):
 *
 * - a non-finite value in host data is refused where it enters (upload: NonFiniteError with the
 *   count and the first position), before anything is allocated;
 * - non-finite values already on the GPU, where no check can see them inside the one
 *   submission, still give finite maps (normalised ones in [0, 1]); each normalising kernel is
 *   checked on NaN, ±Infinity and on finite values whose range overflows;
 * - bad options (null included), a model or input of the wrong kind, a destroyed input, an input
 *   of another engine: typed errors before anything is allocated.
 *
 * After every failure the engine holds what it held before and an explain equals the one before,
 * bit for bit (expectCleanFailure).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, METHODS, type ExplainOptions } from '../../src/attribution/explain';
import { channelWeights, combineMaps, guidedGradcam, spatialMaps } from '../../src/attribution/kernels';
import { GraphError, InvalidInputError, NonFiniteError, ShapeMismatchError } from '../../src/core/errors';
import { isInputGradient } from '../../src/methods/registry';
import { Engine } from '../../src/gpu/engine';
import type { Tensor } from '../../src/gpu/tensor';
import { Model } from '../../src/model/model';
import { unaryForward } from '../../src/ops/elementwise';
import { preprocessImage } from '../../src/ops/preprocess';
import { gradcamppAlpha, guidedRGBA, normalizeChannels } from '../../src/render/display';
import { overlay, readRGBA } from '../../src/render/overlay';
import { NETS } from '../cases/nets';
import { EXACT, expectAllclose, F32 } from '../util/compare';
import { getEngine } from '../util/gpu';
import { randn } from '../util/random';
import {
  ALL_METHODS,
  expectCleanFailure,
  expectFinite,
  explainValues,
  held,
  readExplanation,
  uploadBits,
} from '../util/reliability';

const F32_MAX = 3.4028234663852886e38;
const SHAPE = [1, 3, 11, 9]; // the plain net's input

let e: Engine;
let model: Model;
let x: Tensor;
let before: Map<string, Float32Array>;
const after = () => ({ model, x, before });

beforeAll(async () => {
  e = await getEngine();
  model = await Model.load(e, NETS.plain());
  x = e.upload(randn(297, 7), SHAPE, 'x');
  before = await explainValues(model, x);
});
afterAll(() => {
  x?.destroy();
  model?.destroy();
});

/** Read a tensor and destroy it. */
async function take(t: Tensor): Promise<Float32Array> {
  try {
    return await t.read();
  } finally {
    t.destroy();
  }
}

describe('non-finite host data is refused where it enters', () => {
  it('one +Infinity, −Infinity or NaN pixel: NonFiniteError naming the tensor, the count and the first position', async () => {
    for (const [v, shown] of [
      [Infinity, 'Infinity'],
      [-Infinity, '-Infinity'],
      [NaN, 'NaN'],
    ] as const) {
      const data = randn(297, 8);
      data[100] = v; // channel 1, row 0, column 1
      const err = await expectCleanFailure(
        e,
        () => e.upload(data, SHAPE, 'pixels'),
        NonFiniteError,
        new RegExp(`tensor 'pixels': 1 value is not finite \\(the first, ${shown}, at \\[0, 1, 0, 1\\]\\)`),
        after(),
      );
      expect([err.count, err.index, err.at, err.tensor]).toEqual([1, 100, '[0, 1, 0, 1]', "tensor 'pixels'"]);
      expect(Object.is(err.value, v)).toBe(true);
    }
  });

  it('several: the count of all of them and the first; an explain of the refused data never starts', async () => {
    const data = randn(297, 9);
    data[296] = -Infinity;
    data[5] = NaN;
    data[200] = Infinity;
    const err = await expectCleanFailure(
      e,
      async () => explain(model, e.upload(data, SHAPE), ALL_METHODS),
      NonFiniteError,
      /tensor 'input': 3 values are not finite \(the first, NaN, at \[0, 0, 0, 5\]\)/,
      after(),
    );
    expect(err.count).toBe(3);
  });

  it('normalisation constants that are not finite: InvalidInputError from preprocessImage, nothing uploaded', async () => {
    const image = { data: new Uint8ClampedArray(4 * 4 * 4).fill(200), width: 4, height: 4 };
    const size: [number, number] = [11, 9];
    for (const opts of [
      { size, mean: [0, NaN, 0] as const },
      { size, std: [1, Infinity, 1] as const },
      { size, std: [1, 0, 1] as const },
    ]) {
      await expectCleanFailure(
        e,
        () => preprocessImage(e, image, opts),
        InvalidInputError,
        /normalisation (mean|std)/,
        after(),
      );
    }
  });
});

describe('non-finite values already on the GPU: the maps are finite', () => {
  // `reaches`: a non-finite value gets past the first layer (a NaN does not: ReLU and max-pool
  // drop it); null: it depends on the weights.
  const cases: [string, (d: Float32Array) => void, boolean | null][] = [
    ['one +Infinity pixel', (d) => (d[100] = Infinity), true],
    ['one −Infinity pixel', (d) => (d[40] = -Infinity), true],
    ['one NaN pixel', (d) => (d[7] = NaN), false],
    ['every pixel NaN', (d) => d.fill(NaN), false],
    ['finite pixels of 3e38', (d) => d.fill(3e38), null],
  ];
  for (const [name, edit, reaches] of cases) {
    it(`${name}: every map of every method is finite, the normalised ones in [0, 1]`, async () => {
      const data = randn(297, 11);
      edit(data);
      const xb = uploadBits(e, data, SHAPE, 'x:non-finite');
      try {
        const r = await explain(model, xb, ALL_METHODS);
        const values = await readExplanation(r);
        r.destroy();
        // Where the case reaches the network, some activation, gradient or score is not finite.
        const inner = ['scores', 'activations', 'gradients'].flatMap((k) => Array.from(values.get(k)!));
        if (reaches !== null) {
          expect(
            inner.some((v) => !Number.isFinite(v)),
            'a non-finite value inside the network',
          ).toBe(reaches);
        }
        for (const m of METHODS) {
          for (const [k, v] of values) {
            if (!k.startsWith(`${m}.`)) continue;
            expectFinite(v, k);
            if (k.endsWith('.layer') || (k.endsWith('.input') && !isInputGradient(m))) {
              expect(Math.min(...v), k).toBeGreaterThanOrEqual(0);
              expect(Math.max(...v), k).toBeLessThanOrEqual(1);
            }
          }
        }
      } finally {
        xb.destroy();
      }
      expect(Array.from((await explainValues(model, x)).get('gradcam.input')!)).toEqual(
        Array.from(before.get('gradcam.input')!),
      );
    });
  }
});

describe('the kernels behind the maps, on NaN, ±Infinity and overflowing ranges', () => {
  it('cam_combine: a non-finite sum is stored as finite(sum) before the ReLU; min–max never NaN, also when max − min overflows', async () => {
    const A = uploadBits(e, [1, 2, Infinity, 3, NaN, -Infinity], [1, 1, 2, 3], 'A');
    const w = e.upload([1, 1], [2, 1, 1], 'w'); // slot 0 with the ReLU, slot 1 without
    const { raw, norm } = await combineMaps(e, A, w, 0b01);
    const r = await take(raw);
    const n = await take(norm);
    A.destroy();
    w.destroy();
    expectAllclose(r, [1, 2, F32_MAX, 3, 0, 0, 1, 2, F32_MAX, 3, 0, -F32_MAX], EXACT, 'raw');
    // Slot 0: range [0, F32_MAX]; slot 1: range [−F32_MAX, F32_MAX], which overflows.
    const unit = (v: number, lo: number, hi: number) => (v - lo) / (hi - lo);
    const want = [
      ...[1, 2, F32_MAX, 3, 0, 0].map((v) => unit(v, 0, F32_MAX)),
      ...[1, 2, F32_MAX, 3, 0, -F32_MAX].map((v) => unit(v, -F32_MAX, F32_MAX)),
    ];
    expectAllclose(n, want, F32, 'normalised');
  });

  it('cam_combine on finite values of ±3e38: the map spans [0, 1] exactly, where (v − min)/(max − min) would give NaN', async () => {
    const A = e.upload([-3e38, 3e38, 0, 1e38], [1, 1, 2, 2], 'A');
    const w = e.upload([1], [1, 1, 1], 'w');
    const { raw, norm } = await combineMaps(e, A, w, 0);
    raw.destroy();
    const n = await take(norm);
    A.destroy();
    w.destroy();
    expectFinite(n, 'normalised');
    expectAllclose(n, [0, 1, 0.5, (1e38 + 3e38) / 6e38], F32, 'normalised');
  });

  it('spatial_combine (HiResCAM): the same rule', async () => {
    const A = uploadBits(e, [1, 2, Infinity, 3, NaN, 4], [1, 1, 2, 3], 'A');
    const G = e.upload([1, 1, 1, 1, 1, 1], [1, 1, 2, 3], 'G');
    const { raw, norm } = await spatialMaps(e, A, G, ['hirescam']);
    const r = await take(raw);
    const n = await take(norm);
    A.destroy();
    G.destroy();
    expectAllclose(r, [1, 2, F32_MAX, 3, 0, 4], EXACT, 'raw');
    expectAllclose(
      n,
      [1, 2, F32_MAX, 3, 0, 4].map((v) => v / F32_MAX),
      F32,
      'normalised',
    );
  });

  it('channel_weights: the weights of every gradient method are finite for non-finite gradients', async () => {
    const A = e.upload([0.5, 1, 2, 0.25], [1, 1, 2, 2], 'A');
    const G = uploadBits(e, [Infinity, 1, NaN, -Infinity], [1, 1, 2, 2], 'G');
    const methods = ['gradcam', 'gradcam++', 'counterfactual', 'xgradcam'] as const;
    const w = e.empty([methods.length, 1, 1], 'weights');
    await channelWeights(e, A, G, w, methods);
    expectFinite(await take(w), 'weights');
    A.destroy();
    G.destroy();
  });

  it('guided_gradcam: the input-gradient maps are finite(g), times the map for Guided Grad-CAM', async () => {
    const g = uploadBits(e, [NaN, Infinity, -Infinity, 0.5], [1, 1, 2, 2], 'grad');
    const cam = e.upload([1, 0.5, 0.25, 0], [1, 1, 2, 2], 'cam');
    expectAllclose(await take(await guidedGradcam(e, null, 0, g)), [0, F32_MAX, -F32_MAX, 0.5], EXACT, 'backprop');
    expectAllclose(
      await take(await guidedGradcam(e, cam, 0, g)),
      [0, 0.5 * F32_MAX, -0.25 * F32_MAX, 0],
      F32,
      'guided grad-cam',
    );
    g.destroy();
    cam.destroy();
  });

  it('normalize_channels: extremes from the finite values, +Infinity at the top, −Infinity at the bottom, NaN as 0', async () => {
    const src = uploadBits(e, [NaN, 1, 2, Infinity, -Infinity, 1.5, NaN, NaN, NaN, NaN, NaN, NaN], [1, 2, 2, 3], 's');
    const mm = await take(await normalizeChannels(e, src, [0, 1], { scale: 'minmax' }));
    const sg = await take(await normalizeChannels(e, src, [0, 1], { scale: 'signed' }));
    src.destroy();
    // NaN → 0, clamped to [1, 2] → 1 → 0 in min–max; 0 → 0.5 signed.
    expectAllclose(mm, [0, 0, 1, 1, 0, 0.5, 0, 0, 0, 0, 0, 0], F32, 'min–max');
    expectAllclose(sg, [0.5, 0.75, 1, 1, 0, 0.875, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5], F32, 'signed');
  });

  it('gradcampp_alpha: finite coefficients for non-finite gradients', async () => {
    const A = e.upload([0.5, 1, 2, 0.25], [1, 1, 2, 2], 'A');
    const G = uploadBits(e, [Infinity, 1, NaN, -Infinity], [1, 1, 2, 2], 'G');
    expectFinite(await take(await gradcamppAlpha(e, A, G, [0])), 'alpha');
    A.destroy();
    G.destroy();
  });

  it('guided_rgb and overlay: NaN and ±Infinity draw as the documented finite values, bit for bit', async () => {
    // guided_rgb: max|v| of the finite values (2); NaN mid-grey, ±Infinity the extremes.
    const bad = uploadBits(e, [NaN, Infinity, -Infinity, 2, 0, 1, -1, 0.5, 0, 0, 0, 0], [3, 2, 2], 'g');
    const good = e.upload([0, 2, -2, 2, 0, 1, -1, 0.5, 0, 0, 0, 0], [3, 2, 2], 'g');
    const rgb = async (t: Tensor) => {
      const out = await guidedRGBA(e, t);
      try {
        return Array.from(await readRGBA(e, out, 2, 2));
      } finally {
        out.destroy();
      }
    };
    expect(await rgb(bad)).toEqual(await rgb(good));
    // overlay: NaN → 0, +Infinity → 1, −Infinity → 0 in the map; NaN → 0 in the image.
    const map = uploadBits(e, [NaN, Infinity, -Infinity, 0.5], [2, 2], 'map');
    const same = e.upload([0, 1, 0, 0.5], [2, 2], 'map');
    const img = uploadBits(e, [NaN, 1, 0.5, 0, 0, 0, 1, 1, 0.25, 0.5, 0.75, 1], [3, 2, 2], 'img');
    const img0 = e.upload([0, 1, 0.5, 0, 0, 0, 1, 1, 0.25, 0.5, 0.75, 1], [3, 2, 2], 'img');
    const opts = { colormap: 'turbo', opacity: 0.4 };
    const rgba = async (m: Tensor, i: Tensor) => {
      const t = await overlay(e, m, i, opts);
      try {
        return Array.from(await readRGBA(e, t, 2, 2));
      } finally {
        t.destroy();
      }
    };
    expect(await rgba(map, img)).toEqual(await rgba(same, img0));
    for (const t of [bad, good, map, same, img, img0]) t.destroy();
  });
});

describe('options, model and input: typed errors before anything is allocated', () => {
  it('options null, not an object, unknown keys, malformed methods, targets or layer', async () => {
    const cases: [unknown, typeof InvalidInputError, RegExp][] = [
      [null, InvalidInputError, /options must be an object or undefined, got null/],
      [5, InvalidInputError, /options must be an object or undefined, got number/],
      ['gradcam', InvalidInputError, /options must be an object or undefined, got 'gradcam'/],
      [['gradcam'], InvalidInputError, /options must be an object or undefined, got an array/],
      [{ method: ['gradcam'] }, InvalidInputError, /unknown option 'method'/],
      [{ methods: 'gradcam' }, InvalidInputError, /methods must be an array/],
      [{ methods: null }, InvalidInputError, /methods must be an array/],
      [{ methods: [] }, InvalidInputError, /no methods given/],
      [{ methods: ['gradcam', 'nope'] }, InvalidInputError, /unknown method 'nope'/],
      [
        { targets: 3 },
        InvalidInputError,
        /targets must be a list of class indices, \{ topK: k \}, \{ seed: vector \} or \{ above: threshold \}, got number/,
      ],
      [{ targets: null }, InvalidInputError, /targets must be/],
      [{ targets: { topK: 0 } }, InvalidInputError, /topK must be an integer in \[1, 5\], got 0/],
      [{ targets: { topK: '2' } }, InvalidInputError, /topK must be an integer/],
      [{ targets: [] }, InvalidInputError, /targets is an empty list/],
      [{ targets: [9] }, InvalidInputError, /target class 9 is not a class index/],
      [{ targets: [1.5] }, InvalidInputError, /target class 1.5/],
      [{ layer: 7 }, InvalidInputError, /layer must be a tensor or module name, got number/],
      [{ layer: 'nope' }, GraphError, /layer 'nope' is not in the graph/],
      [{ layer: 'logits' }, ShapeMismatchError, /attribution needs a 4-D/],
    ];
    for (const [opts, Err, message] of cases) {
      await expectCleanFailure(e, () => explain(model, x, opts as ExplainOptions), Err, message, after());
    }
  });

  it('not a Model, not a Tensor, a destroyed input, an input of the wrong shape', async () => {
    const gone = e.upload(randn(297, 3), SHAPE, 'gone');
    gone.destroy();
    const wrong = e.upload(randn(3 * 9 * 9, 3), [1, 3, 9, 9], 'wrong');
    const cases: [() => unknown, typeof InvalidInputError, RegExp][] = [
      [() => explain(null as unknown as Model, x), InvalidInputError, /first argument must be a Model, got null/],
      [() => explain({} as Model, x), InvalidInputError, /first argument must be a Model, got object/],
      [
        () => explain(model, null as unknown as Tensor),
        InvalidInputError,
        /model input 'image' must be a Tensor, got null/,
      ],
      [() => explain(model, [1, 2] as unknown as Tensor), InvalidInputError, /must be a Tensor, got object/],
      [() => explain(model, gone), InvalidInputError, /tensor 'gone'\) was destroyed/],
      [() => explain(model, wrong), ShapeMismatchError, /must be \[N, 3, 11, 9\], got \[1, 3, 9, 9\]/],
    ];
    for (const [call, Err, message] of cases) await expectCleanFailure(e, call, Err, message, after());
    wrong.destroy();
  });

  it('an input tensor of another engine: InvalidInputError before anything is allocated, on either engine; a dispatch, copy or read across engines too', async () => {
    const other = await Engine.create();
    try {
      const foreign = other.upload(randn(297, 7), SHAPE, 'foreign');
      const otherHeld = held(other);
      for (let i = 0; i < 3; i++) {
        await expectCleanFailure(
          e,
          () => explain(model, foreign, ALL_METHODS),
          InvalidInputError,
          /tensor 'foreign'\) belongs to another engine than the model/,
          after(),
        );
      }
      await expectCleanFailure(
        e,
        () => model.forward(foreign),
        InvalidInputError,
        /belongs to another engine/,
        after(),
      );
      // Below the model: every recorder refuses another engine's tensor before recording.
      // (An op allocates its output before it dispatches: called directly, inside a scope.)
      const relu = () => e.scope(() => unaryForward(e, 'relu', foreign));
      for (const call of [relu, () => e.copy(foreign), () => e.read(foreign)]) {
        await expectCleanFailure(e, call, InvalidInputError, /tensor 'foreign' belongs to another engine/, after());
      }
      expect(held(other)).toEqual(otherHeld);
      expect(Array.from(await foreign.read())).toEqual(Array.from(randn(297, 7)));
      foreign.destroy();
    } finally {
      other.destroy();
    }
  });
});
