/**
 * Decoding an ONNX file piece by piece (src/model/onnx_stream.ts) gives what decoding its bytes
 * whole gives: the same converted GraphSpec, weights included, for the shipped models and for
 * files whose layout the walk does not handle; large tensors land in buffers of their own.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ModelFormatError } from '../../src/core/errors';
import { convertGraph } from '../../src/model/onnx_convert';
import { decodeModel, defaultOpset, type OnnxModel } from '../../src/model/onnx_proto';
import { decodeModelFile, type RandomAccessFile } from '../../src/model/onnx_stream';
import { smallNet } from '../cases/onnx_nets';

/** The bytes as a file read at offsets, counting the bytes read. */
function inMemory(bytes: Uint8Array): RandomAccessFile & { bytesRead: number; largestRead: number } {
  return {
    size: bytes.length,
    bytesRead: 0,
    largestRead: 0,
    async read(offset, length) {
      if (offset < 0 || offset + length > bytes.length)
        throw new RangeError(`read past the end: ${offset} + ${length}`);
      this.bytesRead += length;
      this.largestRead = Math.max(this.largestRead, length);
      return bytes.slice(offset, offset + length);
    },
  };
}

const spec = (m: OnnxModel) => convertGraph(m.graph!, { opset: defaultOpset(m) });

describe('decodeModelFile', () => {
  it.each([
    ['fashion_cam', 0],
    ['fashion_cam', 1 << 16],
    ['fashion_deep', 0],
    ['fashion_deep', 1 << 16],
  ])('%s (tensors of ≥ %i bytes read on their own) converts as the whole file does', async (name, large) => {
    const bytes = new Uint8Array(readFileSync(`weights/${name}.onnx`));
    const file = inMemory(bytes);
    const streamed = await decodeModelFile(file, large);
    const whole = decodeModel(bytes);
    expect(streamed.metadata_props).toEqual(whole.metadata_props);
    expect(streamed.opset_import).toEqual(whole.opset_import);
    expect(streamed.graph!.initializer.map((t) => t.name)).toEqual(whole.graph!.initializer.map((t) => t.name));
    expect(spec(streamed)).toEqual(spec(whole));
    // Every byte read once (headers through a window may be read again, but not much).
    expect(file.bytesRead).toBeGreaterThanOrEqual(bytes.length);
    expect(file.bytesRead).toBeLessThan(bytes.length * 1.5);
    let largest = 0;
    let inTensors = 0;
    for (const t of streamed.graph!.initializer) {
      const raw = t.raw_data;
      if (!raw || raw.length < large) continue;
      // A buffer of its own: aligned, so the weights are views of it, and freed with it.
      expect(raw.byteOffset, t.name).toBe(0);
      expect(raw.buffer.byteLength, t.name).toBe(raw.length);
      largest = Math.max(largest, raw.length);
      inTensors += raw.length;
    }
    // No read is larger than the largest tensor or the rest of the file: it is never read whole.
    expect(inTensors).toBeGreaterThan(bytes.length / 2);
    expect(file.largestRead).toBeLessThanOrEqual(Math.max(largest, bytes.length - inTensors));
  });

  it('a file with float_data weights and a small graph converts as the whole file does', async () => {
    const bytes = smallNet();
    const streamed = await decodeModelFile(inMemory(bytes), 0);
    expect(spec(streamed)).toEqual(spec(decodeModel(bytes)));
  });

  it('a truncated, empty or random file fails as decodeModel does (decoded whole)', async () => {
    const bytes = new Uint8Array(readFileSync('weights/fashion_cam.onnx'));
    for (const bad of [
      bytes.slice(0, bytes.length >> 1),
      bytes.slice(0, 7),
      new Uint8Array(0),
      new Uint8Array(999).fill(0xff),
    ]) {
      let want = '';
      try {
        decodeModel(bad);
      } catch (e) {
        expect(e).toBeInstanceOf(ModelFormatError);
        want = (e as Error).message;
      }
      expect(want, 'decodeModel refuses it').not.toBe('');
      await expect(decodeModelFile(inMemory(bad), 0)).rejects.toThrow(want);
    }
  });
});
