/**
 * The ONNX importer in headless Chromium (Vite-served): the static decoder (src/model/onnx_pb.js)
 * reads the model in the page, and the page's forward pass equals the CPU reference of the same model
 * converted here in Node.
 */
import { describe, expect, it } from 'vitest';
import { onnxToGraphSpec } from '../../src/model/onnx';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { smallNet } from '../cases/onnx_nets';
import { expectAllclose, NETWORK } from '../util/compare';
import { randn } from '../util/random';
import { withPage } from './browser';

describe('ONNX import in headless Chromium', () => {
  it.each([false, true])('loadOnnx (from a blob URL: %s) runs like the CPU reference', (viaUrl) =>
    withPage(async (page) => {
      const x = randn(2 * 3 * 9 * 9, 90);
      const got = await page.run<{ probs: Float32Array; labels: string[]; ops: string[]; bytes: Uint8Array }>(
        'onnx-load',
        { x, viaUrl },
      );
      // The page encoded the same bytes as Node does.
      expect([...got.bytes]).toEqual([...smallNet()]);
      const { spec, labels } = onnxToGraphSpec(smallNet());
      expect(got.labels).toEqual(labels);
      expect(got.ops).toEqual(spec.nodes.map((n) => n.op));
      const want = new RefModel(spec).forward(hostTensor([2, 3, 9, 9], x)).get(spec.output)!;
      expectAllclose(got.probs, want.data, NETWORK, 'probabilities');
    }),
  );
});
