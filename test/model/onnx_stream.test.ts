/**
 * Decoding an ONNX file piece by piece (src/model/onnx_stream.ts) gives what decoding its bytes
 * whole gives: the same converted GraphSpec, weights included, for the shipped models and for
 * files whose layout the walk does not handle; large tensors land in buffers of their own.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ModelFormatError } from '../../src/core/errors';
import { DeferredValuesError, isDeferred, type Scratch } from '../../src/defs/deferred';
import { convertGraph } from '../../src/model/onnx_convert';
import { decodeModel, defaultOpset, type OnnxModel } from '../../src/model/onnx_proto';
import { decodeModelFile, type RandomAccessFile } from '../../src/model/onnx_stream';
import type { GraphSpec } from '../../src/model/spec';
import { constantOperandNet, deferNet, smallNet } from '../cases/onnx_nets';

/** The bytes as a file read at offsets, counting the bytes read, and the buffers read into. */
function inMemory(
  bytes: Uint8Array,
): RandomAccessFile & { bytesRead: number; largestRead: number; into: ArrayBufferLike[] } {
  return {
    size: bytes.length,
    bytesRead: 0,
    largestRead: 0,
    into: [],
    async read(offset, length) {
      if (offset < 0 || offset + length > bytes.length)
        throw new RangeError(`read past the end: ${offset} + ${length}`);
      this.bytesRead += length;
      this.largestRead = Math.max(this.largestRead, length);
      return bytes.slice(offset, offset + length);
    },
    async readInto(offset, into) {
      this.into.push(into.buffer);
      into.set(await this.read(offset, into.length));
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

/** Scratch buffers as Model.load makes them: per slot one, as large as the largest read into it. */
function scratchOf(spec: GraphSpec): Scratch & { buffers: Float32Array[] } {
  const sizes: number[] = [];
  for (const n of spec.nodes)
    for (const w of Object.values(n.weights ?? {}))
      if (isDeferred(w)) w.deferred.slots.forEach((m, k) => (sizes[k] = Math.max(sizes[k] ?? 0, m)));
  const buffers = sizes.map((m) => new Float32Array(m));
  return Object.assign((slot: number, length: number) => buffers[slot].subarray(0, length), { buffers });
}

/** Every weight's values, the deferred ones read (and copied out of the scratch) one by one. */
async function weightValues(spec: GraphSpec, scratch: Scratch): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  for (const n of spec.nodes) {
    for (const [key, w] of Object.entries(n.weights ?? {})) {
      out[`${n.name}.${key}`] = isDeferred(w) ? (await w.deferred.read(scratch)).slice() : Float32Array.from(w.data);
    }
  }
  return out;
}

describe('deferred tensors', () => {
  const bytes = deferNet();
  const whole = decodeModel(bytes);
  const eager = spec(whole);
  const raw = (name: string) => {
    const t = whole.graph!.initializer.find((i) => i.name === name)!;
    return new Float32Array(new Uint8Array(t.raw_data!).buffer);
  };
  const plain = (name: string) => Float32Array.from(whole.graph!.initializer.find((i) => i.name === name)!.float_data);

  it('are not read while decoding and converting; read, they equal the eager conversion', async () => {
    const file = inMemory(bytes);
    const lazy = spec(await decodeModelFile(file, 1 << 16, 0));
    // Every raw FLOAT tensor deferred: their bytes (97 % of the file) not read yet; the field
    // headers are read through windows of a few KiB.
    const deferredNames = ['w2', 'fc1', 'fc2', 'mm'];
    expect(deferredNames.reduce((n, t) => n + raw(t).byteLength, 0)).toBeGreaterThan(0.95 * bytes.length);
    expect(file.bytesRead).toBeLessThan(bytes.length / 10);
    const deferred = lazy.nodes.flatMap((n) => Object.entries(n.weights ?? {}).filter(([, w]) => isDeferred(w)));
    expect(deferred.length).toBe(4);
    expect(lazy.nodes.map((n) => [n.name, n.op, n.inputs, n.output, n.attrs, n.folded])).toEqual(
      eager.nodes.map((n) => [n.name, n.op, n.inputs, n.output, n.attrs, n.folded]),
    );
    const scratch = scratchOf(lazy);
    const got = await weightValues(lazy, scratch);
    expect(got).toEqual(await weightValues(eager, scratchOf(eager)));
    // Each deferred tensor read once, into slot 0's buffer: one scratch buffer for the file's values.
    expect(file.into.length).toBe(4);
    expect(new Set(file.into).size).toBe(1);
    expect(file.into[0]).toBe(scratch.buffers[0].buffer);
    expect(scratch.buffers[0].length).toBe(Math.max(...deferredNames.map((t) => raw(t).length)));
  });

  it('a BatchNormalization folds into a deferred conv weight as w·γ/√(σ² + ε), per output channel', async () => {
    const lazy = spec(await decodeModelFile(inMemory(bytes), 1 << 16, 0));
    const conv2 = lazy.nodes.find((n) => n.name === 'conv2')!;
    expect(conv2.folded).toEqual(['bn2']);
    const w = conv2.weights!.weight;
    expect(isDeferred(w)).toBe(true);
    const got = await (isDeferred(w) ? w.deferred.read(scratchOf(lazy)) : Promise.reject(new Error('not deferred')));
    const [w2, g, v] = [raw('w2'), plain('g2'), plain('v2')];
    const per = w2.length / g.length;
    const eps = Math.fround(1e-3); // a float attribute
    const want = Float32Array.from(
      w2,
      (x, i) => x * (g[Math.floor(i / per)] / Math.sqrt(v[Math.floor(i / per)] + eps)),
    );
    expect(got).toEqual(want);
    // Read a few rows at a time (5 output channels, the last read 3), the same values.
    if (!isDeferred(w)) return;
    expect(w.deferred.rows).toBe(128);
    const rows: number[] = [];
    const scratch = scratchOf(lazy);
    for (let first = 0; first < 128; first += 5)
      rows.push(...(await w.deferred.read(scratch, first, Math.min(5, 128 - first))));
    expect(Float32Array.from(rows)).toEqual(want);
  });

  it('Gemm and MatMul weights are transposed and scaled where they are read', async () => {
    const lazy = spec(await decodeModelFile(inMemory(bytes), 1 << 16, 0));
    const got = await weightValues(lazy, scratchOf(lazy));
    // fc1: B [K, M], transB = 0, alpha 0.5 → [M, K]; fc2: [M, K], alpha 2; head: B [K, M] → [M, K].
    const transposed = (b: Float32Array, [k, m]: number[], alpha: number) => {
      const out = new Float32Array(k * m);
      for (let i = 0; i < k; i++) for (let j = 0; j < m; j++) out[j * k + i] = alpha * b[i * m + j];
      return out;
    };
    expect(got['fc1.weight']).toEqual(transposed(raw('fc1'), [2048, 160], 0.5));
    expect(got['fc2.weight']).toEqual(Float32Array.from(raw('fc2'), (x) => 2 * x));
    expect(got['head.weight']).toEqual(transposed(raw('mm'), [64, 10], 1));
  });

  it('a rule that reads a deferred tensor value by value meets DeferredValuesError', async () => {
    const b = constantOperandNet();
    const lazy = await decodeModelFile(inMemory(b), 1 << 16, 1 << 20);
    expect(lazy.graph!.initializer.find((t) => t.name === 'k')!.deferred).toBeDefined();
    expect(() => spec(lazy)).toThrow(DeferredValuesError);
    // Not deferred, it converts.
    expect(spec(await decodeModelFile(inMemory(b), 1 << 16))).toEqual(spec(decodeModel(b)));
  });
});
