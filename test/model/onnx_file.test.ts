/**
 * loadOnnx in Node from files: a path (absolute or relative to the working directory), a file:
 * URL object or string, for the model and for the sidecar; a file that cannot be read is an
 * InvalidInputError naming it. (URLs and bytes: test/model/onnx_import.test.ts.)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidInputError, ModelFormatError } from '../../src/core/errors';
import { loadOnnx, onnxToGraphSpec, type FileSource } from '../../src/model/onnx';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { smallNet } from '../cases/onnx_nets';
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
