/**
 * loadOnnx in Node from files: a path (absolute or relative to the working directory), a file:
 * URL object or string, for the model and for the sidecar; a file that cannot be read is an
 * InvalidInputError naming it. (URLs and bytes: test/model/onnx_import.test.ts.) Its deferred
 * weights (src/defs/deferred.ts): the model runs as the one loaded from the bytes, each is read
 * once into the same scratch buffer, and a file that changes or cannot be read before they are
 * is an InvalidInputError that leaves nothing on the GPU.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidInputError, ModelFormatError } from '../../src/core/errors';
import { isDeferred } from '../../src/defs/deferred';
import type { Engine } from '../../src/gpu/engine';
import { Model } from '../../src/model/model';
import { loadOnnx, onnxToGraphSpec, openFile, type FileSource } from '../../src/model/onnx';
import { convertGraph } from '../../src/model/onnx_convert';
import { defaultOpset } from '../../src/model/onnx_proto';
import { decodeModelFile, DEFERRED_TENSOR_BYTES, LARGE_TENSOR_BYTES } from '../../src/model/onnx_stream';
import type { GraphSpec } from '../../src/model/spec';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { constantOperandNet, deferNet, smallNet } from '../cases/onnx_nets';
import { expectAllclose, NETWORK } from '../util/compare';
import { randn } from '../util/random';
import { getEngine } from '../util/gpu';

const dir = mkdtempSync(join(tmpdir(), 'webgpu-cam-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bytes = smallNet();
const side = { mean: [0.4, 0.5, 0.6], std: [0.2, 0.2, 0.2], labels: ['x', 'y', 'z'] };
const modelPath = join(dir, 'small.onnx');
const sidecarPath = join(dir, 'small.json');
writeFileSync(modelPath, bytes);
writeFileSync(sidecarPath, JSON.stringify(side));
writeFileSync(join(dir, 'bad.json'), '{ not json');

describe('loadOnnx reads files in Node', () => {
  const want = onnxToGraphSpec(bytes, { sidecar: side });

  it.each<[string, FileSource, string | URL]>([
    ['absolute paths', modelPath, sidecarPath],
    [
      'paths relative to the working directory',
      relative(process.cwd(), modelPath),
      relative(process.cwd(), sidecarPath),
    ],
    ['file: URL objects', pathToFileURL(modelPath), pathToFileURL(sidecarPath)],
    ['file: URL strings', pathToFileURL(modelPath).href, pathToFileURL(sidecarPath).href],
  ])('%s (model and sidecar)', async (_what, model, sidecar) => {
    const e = await getEngine();
    const loaded = await loadOnnx(e, model, { sidecar });
    try {
      expect(loaded.labels).toEqual(['x', 'y', 'z']);
      expect(loaded.preprocessing).toEqual({ inputSize: [9, 9], mean: side.mean, std: side.std });
      // The weights were uploaded and released from the spec (the importer read the file itself).
      const released = want.spec.nodes.map((n) => (n.weights ? { ...n, weights: {} } : n));
      expect(loaded.spec).toEqual({ ...want.spec, nodes: released });
      // … and the model runs like the CPU reference on the weights decoded from the bytes.
      const xs = randn(2 * 3 * 9 * 9, 41);
      const ref = new RefModel(want.spec).forward(hostTensor([2, 3, 9, 9], xs)).get(want.spec.output)!;
      const got = await e.scope(async () => {
        const acts = await loaded.model.forward(e.upload(xs, [2, 3, 9, 9]));
        return acts.output.read();
      });
      expectAllclose(got, ref.data, NETWORK, 'the loaded model');
    } finally {
      loaded.model.destroy();
    }
    expect(e.liveTensors).toBe(0);
  });

  it('a shipped model with the sidecar next to it', async () => {
    const e = await getEngine();
    const { model, labels, preprocessing } = await loadOnnx(e, 'weights/fashion_cam.onnx', {
      sidecar: 'weights/fashion_cam.json',
    });
    try {
      const sidecar = JSON.parse(readFileSync('weights/fashion_cam.json', 'utf8')) as { labels: string[] };
      expect(labels).toEqual(sidecar.labels);
      expect(preprocessing?.inputSize).toEqual([96, 96]);
      expect(model.inputShape).toEqual([3, 96, 96]);
    } finally {
      model.destroy();
    }
  });

  it('a missing file is an InvalidInputError naming it; a sidecar that is not JSON a ModelFormatError', async () => {
    const e = await getEngine();
    const missing = join(dir, 'missing.onnx');
    await expect(loadOnnx(e, missing)).rejects.toThrow(InvalidInputError);
    await expect(loadOnnx(e, missing)).rejects.toThrow(`could not read the model '${missing}': ENOENT`);
    await expect(loadOnnx(e, pathToFileURL(missing))).rejects.toThrow(
      /could not read the model 'file:.*missing\.onnx'/,
    );
    await expect(loadOnnx(e, modelPath, { sidecar: join(dir, 'none.json') })).rejects.toThrow(
      /could not read the sidecar '.*none\.json'/,
    );
    await expect(loadOnnx(e, modelPath, { sidecar: join(dir, 'bad.json') })).rejects.toThrow(ModelFormatError);
    expect(e.liveTensors).toBe(0);
  });
});

/** The model's output for x [N, C, H, W], read back. */
async function run(e: Engine, model: Model, x: Float32Array, shape: number[]): Promise<Float32Array> {
  return e.scope(async () => (await model.forward(e.upload(x, shape))).output.read());
}

const reference = (spec: GraphSpec, x: Float32Array, shape: number[]) =>
  new RefModel(spec).forward(hostTensor(shape, x)).get(spec.output)!.data;

describe('loadOnnx of a path defers its large weights', () => {
  const net = deferNet();
  const netPath = join(dir, 'defer.onnx');
  writeFileSync(netPath, net);
  const eager = onnxToGraphSpec(net).spec;
  const shape = [2, 3, 8, 8];
  const xs = randn(2 * 3 * 8 * 8, 43);

  it('the model runs as the one loaded from the bytes, and like the CPU reference', async () => {
    const e = await getEngine();
    const fromPath = await loadOnnx(e, netPath);
    const fromBytes = await loadOnnx(e, net);
    try {
      const got = await run(e, fromPath.model, xs, shape);
      expect(got).toEqual(await run(e, fromBytes.model, xs, shape));
      expectAllclose(got, reference(eager, xs, shape), NETWORK, 'the model with deferred weights');
    } finally {
      fromPath.model.destroy();
      fromBytes.model.destroy();
    }
    expect(e.liveTensors).toBe(0);
  });

  it('Model.load reads each deferred weight once, all into one scratch buffer of the largest', async () => {
    const e = await getEngine();
    const file = await openFile(netPath, 'model');
    const into: { buffer: ArrayBufferLike; offset: number; length: number }[] = [];
    try {
      const recording = {
        ...file,
        readInto: (offset: number, b: Uint8Array) => {
          into.push({ buffer: b.buffer, offset: b.byteOffset, length: b.length });
          return file.readInto(offset, b);
        },
      };
      const m = await decodeModelFile(recording, LARGE_TENSOR_BYTES, DEFERRED_TENSOR_BYTES);
      const spec = convertGraph(m.graph!, { opset: defaultOpset(m) });
      const deferred = spec.nodes.flatMap((n) => Object.values(n.weights ?? {}).filter(isDeferred));
      // conv2's weight (BN folded in) and fc1's (transposed): 1.18 MB and 1.31 MB in the file.
      expect(deferred.map((w) => w.what).sort()).toEqual(['fc1', 'w2']);
      expect(into).toEqual([]);
      const model = await Model.load(e, spec, { releaseHostWeights: true });
      try {
        expect(into.length).toBe(2);
        expect(new Set(into.map((r) => r.buffer)).size).toBe(1);
        expect(into.every((r) => r.offset === 0)).toBe(true);
        const largest = Math.max(...into.map((r) => r.length));
        expect(largest).toBe(2048 * 160 * 4);
        expect(into[0].buffer.byteLength).toBe(largest);
        expect(spec.nodes.every((n) => Object.keys(n.weights ?? {}).length === 0)).toBe(true);
        expectAllclose(await run(e, model, xs, shape), reference(eager, xs, shape), NETWORK, 'Model.load');
      } finally {
        model.destroy();
      }
    } finally {
      await file.close();
    }
    expect(e.liveTensors).toBe(0);
  });

  it('a weight read row by row, a few rows at a time: the same model, with one scratch buffer', async () => {
    const e = await getEngine();
    const file = await openFile(netPath, 'model');
    const into: { buffer: ArrayBufferLike; length: number }[] = [];
    const fromBytes = await loadOnnx(e, net);
    try {
      const recording = {
        ...file,
        readInto: (offset: number, b: Uint8Array) => {
          into.push({ buffer: b.buffer, length: b.length });
          return file.readInto(offset, b);
        },
      };
      const m = await decodeModelFile(recording, LARGE_TENSOR_BYTES, DEFERRED_TENSOR_BYTES);
      const spec = convertGraph(m.graph!, { opset: defaultOpset(m) });
      // conv2's weight (BN folded in): 128 rows of 2304 floats, 7 rows (64.5 KB) per read; fc1's
      // (transposed) is read whole.
      const model = await Model.load(e, spec, { releaseHostWeights: true, deferredReadBytes: 1 << 16 });
      try {
        const rowReads = into.filter((r) => r.length <= 1 << 16);
        expect(rowReads.length).toBe(Math.ceil(128 / 7));
        expect(rowReads.reduce((n, r) => n + r.length, 0)).toBe(128 * 2304 * 4);
        expect(into.length).toBe(rowReads.length + 1);
        expect(new Set(into.map((r) => r.buffer)).size).toBe(1);
        expect(await run(e, model, xs, shape)).toEqual(await run(e, fromBytes.model, xs, shape));
      } finally {
        model.destroy();
      }
    } finally {
      fromBytes.model.destroy();
      await file.close();
    }
    expect(e.liveTensors).toBe(0);
  });

  it('a file that changes or cannot be read before or while its deferred weights are read: InvalidInputError, nothing left', async () => {
    const e = await getEngine();
    const path = join(dir, 'changing.onnx');
    // 'midway': the file changes after 5 of the rows read (64 KiB at a time) of conv2's weight,
    // whose pieces so far were uploaded and submitted.
    for (const failure of ['changed', 'closed', 'midway'] as const) {
      writeFileSync(path, net);
      const file = await openFile(path, 'model');
      let reads = 0;
      const counting = {
        ...file,
        readInto: async (offset: number, b: Uint8Array) => {
          if (failure === 'midway' && ++reads === 6) writeFileSync(path, net.subarray(0, net.length - 100));
          return file.readInto(offset, b);
        },
      };
      try {
        const m = await decodeModelFile(counting, LARGE_TENSOR_BYTES, DEFERRED_TENSOR_BYTES);
        const spec = convertGraph(m.graph!, { opset: defaultOpset(m) });
        if (failure === 'changed') writeFileSync(path, net.subarray(0, net.length - 100));
        if (failure === 'closed') await file.close();
        const before = e.liveTensors;
        const load = Model.load(e, spec, { releaseHostWeights: true, deferredReadBytes: 1 << 16 });
        await expect(load).rejects.toThrow(InvalidInputError);
        await expect(load).rejects.toThrow(
          failure === 'closed' ? `could not read the model '${path}'` : `the model '${path}' changed while being read`,
        );
        if (failure === 'midway') expect(reads).toBe(6);
        expect(e.liveTensors).toBe(before);
      } finally {
        if (failure !== 'closed') await file.close();
      }
    }
    expect(e.liveTensors).toBe(0);
  });

  it('a model whose rule reads a large constant value by value is converted with it read', async () => {
    const e = await getEngine();
    const bytes = constantOperandNet();
    const path = join(dir, 'constant.onnx');
    writeFileSync(path, bytes);
    const { model } = await loadOnnx(e, path);
    try {
      const x = randn(3 * 32 * 32, 44);
      const want = reference(onnxToGraphSpec(bytes).spec, x, [1, 3, 32, 32]);
      expectAllclose(await run(e, model, x, [1, 3, 32, 32]), want, NETWORK, 'the model with a constant operand');
    } finally {
      model.destroy();
    }
    expect(e.liveTensors).toBe(0);
  });
});
