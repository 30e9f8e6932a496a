/**
 * Images and huge inputs (issue 14, item 6): the size of an image file read from its header
 * (PNG, JPEG, GIF, WebP, BMP, AVIF) without decoding it; a 20000 × 20000 PNG of a few tens of KB
 * refused from its header with ImageTooLargeError; preprocessImage refusing an image over the
 * pixel budget before it reads, copies or uploads anything; and after a huge input fails, the
 * pool holds nothing big. The demo's side (checking a file before the browser decodes it) is in
 * test/browser/demo-reliability.test.ts.
 */
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain } from '../../src/attribution/explain';
import { ImageTooLargeError, InvalidInputError, ResourceLimitError } from '../../src/core/errors';
import { checkImageFile, MAX_IMAGE_PIXELS, readImageHeader } from '../../src/core/image';
import type { Engine } from '../../src/gpu/engine';
import type { Tensor } from '../../src/gpu/tensor';
import { Model } from '../../src/model/model';
import { preprocessImage } from '../../src/ops/preprocess';
import { NETS } from '../cases/nets';
import { getEngine } from '../util/gpu';
import { randn } from '../util/random';
import { expectCleanFailure, expectSameValues, explainValues, held } from '../util/reliability';

const SHAPE = [1, 3, 11, 9];

let e: Engine;
let model: Model;
let x: Tensor;
let before: Map<string, Float32Array>;
const after = () => ({ model, x, before });

beforeAll(async () => {
  e = await getEngine();
  model = await Model.load(e, NETS.plain());
  x = e.upload(randn(297, 51), SHAPE, 'x');
  before = await explainValues(model, x);
});
afterAll(() => {
  x?.destroy();
  model?.destroy();
});

const be32 = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const le16 = (v: number) => [v & 255, (v >>> 8) & 255];
const le32 = (v: number) => [...le16(v & 0xffff), ...le16(v >>> 16)];
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function pngChunk(type: string, data: Uint8Array): number[] {
  const body = Uint8Array.from([...ascii(type), ...data]);
  return [...be32(data.length), ...body, ...be32(crc32(body))];
}

/**
 * A real PNG of width × height 1-bit grey pixels, all black: rows of zeros compress ~1000:1, so
 * a 20000 × 20000 image (1.6 GB as RGBA) is a file of about 50 KB.
 */
function blackPng(width: number, height: number): Uint8Array {
  const ihdr = Uint8Array.from([...be32(width), ...be32(height), 1, 0, 0, 0, 0]);
  const row = Math.ceil(width / 8) + 1; // filter byte + packed bits
  const idat = deflateSync(new Uint8Array(row * height), { level: 9 });
  return Uint8Array.from([
    0x89,
    ...ascii('PNG\r\n\x1a\n'),
    ...pngChunk('IHDR', ihdr),
    ...pngChunk('IDAT', idat),
    ...pngChunk('IEND', new Uint8Array(0)),
  ]);
}

describe('image sizes from file headers', () => {
  it('PNG, GIF, BMP (both DIB headers), WebP (VP8, VP8L, VP8X), JPEG (after metadata), AVIF', () => {
    const jpeg = (w: number, h: number, app = 0) =>
      Uint8Array.from([
        0xff,
        0xd8,
        ...(app ? [0xff, 0xe1, (app + 2) >> 8, (app + 2) & 255, ...new Array(app).fill(7)] : []),
        0xff,
        0xdb,
        0,
        4,
        0,
        0, // a 2-byte DQT segment
        0xff,
        0xc2,
        0,
        11,
        8,
        h >> 8,
        h & 255,
        w >> 8,
        w & 255,
        3,
        1,
        0x22,
        0,
      ]);
    const cases: [string, Uint8Array, [string, number, number]][] = [
      ['png', blackPng(300, 200), ['png', 300, 200]],
      ['gif', Uint8Array.from([...ascii('GIF89a'), ...le16(640), ...le16(480), 0, 0, 0]), ['gif', 640, 480]],
      [
        'bmp',
        Uint8Array.from([
          ...ascii('BM'),
          ...le32(0),
          0,
          0,
          0,
          0,
          ...le32(54),
          ...le32(40),
          ...le32(800),
          ...le32(-600),
        ]),
        ['bmp', 800, 600],
      ],
      [
        'bmp core',
        Uint8Array.from([
          ...ascii('BM'),
          ...le32(0),
          0,
          0,
          0,
          0,
          ...le32(26),
          ...le32(12),
          ...le16(64),
          ...le16(32),
          1,
          0,
          24,
          0,
        ]),
        ['bmp', 64, 32],
      ],
      [
        'webp lossy',
        Uint8Array.from([
          ...ascii('RIFF'),
          ...le32(0),
          ...ascii('WEBPVP8 '),
          ...le32(0),
          0,
          0,
          0,
          0x9d,
          0x01,
          0x2a,
          ...le16(1024),
          ...le16(768),
        ]),
        ['webp', 1024, 768],
      ],
      [
        'webp lossless',
        // 14 bits width − 1, 14 bits height − 1: 4000 × 3000.
        (() => {
          const bits = 3999 | (2999 << 14);
          return Uint8Array.from([
            ...ascii('RIFF'),
            ...le32(0),
            ...ascii('WEBPVP8L'),
            ...le32(0),
            0x2f,
            ...le32(bits),
            0,
            0,
            0,
            0,
            0,
          ]);
        })(),
        ['webp', 4000, 3000],
      ],
      [
        'webp extended',
        Uint8Array.from([
          ...ascii('RIFF'),
          ...le32(0),
          ...ascii('WEBPVP8X'),
          ...le32(10),
          0,
          0,
          0,
          0,
          0x3f,
          0x9c,
          0,
          0x1f,
          0x4e,
          0,
          0,
        ]),
        ['webp', 40000, 20000],
      ],
      ['jpeg', jpeg(1920, 1080), ['jpeg', 1920, 1080]],
      ['jpeg after 60 KB of metadata', jpeg(20000, 20000, 60000), ['jpeg', 20000, 20000]],
      [
        'avif',
        Uint8Array.from([
          ...be32(20),
          ...ascii('ftypavif'),
          0,
          0,
          0,
          0,
          ...ascii('mif1'),
          ...be32(20),
          ...ascii('ispe'),
          0,
          0,
          0,
          0,
          ...be32(4032),
          ...be32(3024),
        ]),
        ['avif', 4032, 3024],
      ],
    ];
    for (const [name, bytes, [format, width, height]] of cases) {
      expect(readImageHeader(bytes), name).toEqual({ format, width, height });
    }
    // Unknown formats, and headers cut before the size: null, and checkImageFile says why.
    const jpegCut = jpeg(1920, 1080, 60000).subarray(0, 30000);
    for (const bytes of [
      new Uint8Array(0),
      Uint8Array.from(ascii('not an image at all')),
      jpegCut,
      blackPng(3, 3).subarray(0, 20),
    ]) {
      expect(readImageHeader(bytes)).toBeNull();
      expect(() => checkImageFile(bytes, { name: "'f'" })).toThrow(
        /'f': its pixel size cannot be read from the file header/,
      );
    }
  });

  it('a 20000 × 20000 PNG of a few tens of KB is refused from its header, before anything decodes it', () => {
    const bomb = blackPng(20000, 20000);
    expect(bomb.length).toBeLessThan(431_000);
    const t0 = performance.now();
    let error: unknown = null;
    try {
      checkImageFile(bomb, { name: "'bomb.png'" });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ImageTooLargeError);
    expect(error).toBeInstanceOf(ResourceLimitError);
    expect((error as Error).message).toBe(
      `'bomb.png' (png) is 20000×20000 = 400000000 pixels, more than the budget of ${MAX_IMAGE_PIXELS} pixels; scale it down first`,
    );
    expect([(error as ImageTooLargeError).width, (error as ImageTooLargeError).height]).toEqual([20000, 20000]);
    expect(performance.now() - t0, 'ms: the header is read, nothing inflated').toBeLessThan(50);
    // Within the budget: the header, unchanged.
    expect(checkImageFile(blackPng(8192, 4096))).toEqual({ format: 'png', width: 8192, height: 4096 });
    expect(() => checkImageFile(blackPng(8192, 4097))).toThrow(ImageTooLargeError);
  });
});

describe('huge inputs on the GPU', () => {
  it('preprocessImage: an image over the budget is refused before its data is read, copied or uploaded', async () => {
    // The data is not even there: the size is checked first.
    const huge = { data: new Uint8ClampedArray(4), width: 20000, height: 20000 };
    await expectCleanFailure(
      e,
      () => preprocessImage(e, huge, { size: [11, 9] }),
      ImageTooLargeError,
      /image is 20000×20000 = 400000000 pixels, more than the budget/,
      after(),
    );
    await expectCleanFailure(
      e,
      () => preprocessImage(e, { data: new Uint8ClampedArray(12), width: 2, height: 2 }, { size: [11, 9] }),
      InvalidInputError,
      /image data has 12 bytes; 2×2 RGBA needs 16/,
      after(),
    );
  });

  it('a batch too big to explain: ResourceLimitError, and the pool gives back what the failed call had taken', async () => {
    // A wide net (2×2×2 input, 64 channels at the layer, 50 classes) and N images whose input
    // and activations fit one storage binding but whose gradients at the layer (T = 50 rows per
    // image) do not: the explain allocates its forward pass, then fails.
    const K = 64;
    const C = 50;
    const wide = await Model.load(e, {
      name: 'wide',
      input: { name: 'x', shape: [2, 2, 2] },
      output: 'logits',
      nodes: [
        {
          op: 'conv2d',
          name: 'conv',
          inputs: ['x'],
          output: 'conv',
          weights: { weight: { shape: [K, 2, 1, 1], data: randn(2 * K, 52) } },
        },
        { op: 'relu', name: 'relu', inputs: ['conv'], output: 'relu' },
        { op: 'globalavgpool', name: 'gap', inputs: ['relu'], output: 'gap' },
        { op: 'flatten', name: 'flat', inputs: ['gap'], output: 'flat' },
        {
          op: 'linear',
          name: 'logits',
          inputs: ['flat'],
          output: 'logits',
          weights: { weight: { shape: [C, K], data: randn(C * K, 53) } },
        },
      ],
    });
    const max = Math.min(e.limits.maxStorageBufferBindingSize, e.limits.maxBufferSize);
    const n = Math.ceil(max / (4 * C * K * 4)) + 1;
    const big = e.upload(new Float32Array(n * 8).fill(0.5), [n, 2, 2, 2], 'big-batch');
    const was = held(e);
    await expect(explain(wide, big, { methods: ['gradcam'], targets: { topK: C } })).rejects.toThrow(
      ResourceLimitError,
    );
    const now = held(e);
    expect(now.tensors).toBe(was.tensors);
    expect(now.liveBytes).toBe(was.liveBytes);
    // Without the trim after a failure the pool would keep the failed forward pass (the layer's
    // activations: 32 times the input).
    expect(now.heldBytes, 'pool bytes held after the failure').toBeLessThanOrEqual(was.heldBytes);
    big.destroy();
    wide.destroy();
    e.trim();
    expectSameValues(await explainValues(model, x), before, 'explain after the failure');
  });
});
