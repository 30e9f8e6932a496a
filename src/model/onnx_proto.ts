/**
 * Reading ONNX files: the protobuf is decoded by protobufjs's static code for the official
 * schema (onnx_pb.js, generated from onnx.proto, ONNX 1.12, by scripts/gen-onnx-pb.mjs), then
 * turned into plain objects. Static code decodes with plain functions, so a page whose
 * Content-Security-Policy forbids 'unsafe-eval' can read models. This file also reads the two
 * things every converter needs from them: tensor values (TensorProto → Float32Array or
 * integers) and node attributes.
 */
import { sizeOf } from '../core/shape';
import { ModelFormatError } from '../core/errors';
import { DeferredValuesError, DeferredWeight, type Deferred } from '../defs/deferred';
import type { OnnxConst } from '../defs/op';
import { onnx } from './onnx_pb.js';

// The subset of the schema's messages the importer reads (field names as in onnx.proto).

export interface OnnxTensor {
  name?: string;
  dims: number[];
  data_type?: number;
  float_data: number[];
  int32_data: number[];
  int64_data: number[];
  double_data: number[];
  raw_data?: Uint8Array;
  data_location?: number;
  /**
   * Not a protobuf field: the raw_data of a large FLOAT initializer, left in the file and read
   * when the model is loaded (decodeModelFile's deferred tensors, src/defs/deferred.ts).
   */
  deferred?: Deferred;
}

export interface OnnxAttribute {
  name?: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensor;
  floats: number[];
  ints: number[];
}

export interface OnnxNode {
  input: string[];
  output: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute: OnnxAttribute[];
}

export interface OnnxDim {
  dim_value?: number;
  dim_param?: string;
}

export interface OnnxValueInfo {
  name?: string;
  type?: { tensor_type?: { elem_type?: number; shape?: { dim: OnnxDim[] } } };
}

export interface OnnxGraph {
  name?: string;
  node: OnnxNode[];
  initializer: OnnxTensor[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
}

export interface OnnxModel {
  ir_version?: number;
  opset_import: { domain?: string; version?: number }[];
  producer_name?: string;
  graph?: OnnxGraph;
  metadata_props: { key?: string; value?: string }[];
}

/** TensorProto.DataType values the importer reads. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7, FLOAT16: 10, DOUBLE: 11 } as const;
const TYPE_NAMES: Record<number, string> = {
  0: 'UNDEFINED',
  1: 'FLOAT',
  2: 'UINT8',
  3: 'INT8',
  4: 'UINT16',
  5: 'INT16',
  6: 'INT32',
  7: 'INT64',
  8: 'STRING',
  9: 'BOOL',
  10: 'FLOAT16',
  11: 'DOUBLE',
  12: 'UINT32',
  13: 'UINT64',
  16: 'BFLOAT16',
};

export function dataTypeName(t: number): string {
  return TYPE_NAMES[t] ?? `type ${t}`;
}

/**
 * Decode a serialized ModelProto. Throws ModelFormatError for bytes that are not one (truncated,
 * random, another message): protobuf decoding is a single linear pass, so it fails fast.
 */
export function decodeModel(bytes: Uint8Array): OnnxModel {
  if (bytes.length === 0) throw new ModelFormatError('not an ONNX model: the file is empty');
  const type = onnx.ModelProto;
  let obj: OnnxModel;
  try {
    const msg = type.decode(bytes);
    // longs as numbers (dims and ints fit), bytes kept as views, repeated fields always arrays.
    obj = type.toObject(msg, { longs: Number, arrays: true }) as OnnxModel;
  } catch (e) {
    throw new ModelFormatError(`not an ONNX model: the protobuf does not decode (${(e as Error).message})`);
  }
  return checkModel(obj);
}

/** The checks every decoded model passes: a graph with nodes, a default operator set. */
export function checkModel(obj: OnnxModel): OnnxModel {
  if (!obj.graph) throw new ModelFormatError('not an ONNX model: the ModelProto has no graph');
  if (!obj.opset_import.some((o) => !o.domain || o.domain === 'ai.onnx')) {
    throw new ModelFormatError('not an ONNX model: it imports no version of the default operator set (opset_import)');
  }
  const g = obj.graph;
  if (g.node.length === 0) throw new ModelFormatError(`the ONNX graph '${g.name ?? ''}' has no nodes`);
  return obj;
}

/** The version of the default ('' or 'ai.onnx') operator set the model imports. */
export function defaultOpset(model: OnnxModel): number {
  const o = model.opset_import.find((x) => !x.domain || x.domain === 'ai.onnx');
  return o?.version ?? 1;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fromRaw(raw: Uint8Array, bytesPer: number, count: number, what: string): DataView {
  if (raw.length !== bytesPer * count) {
    throw new ModelFormatError(`${what}: raw_data has ${raw.length} bytes, expected ${bytesPer * count}`);
  }
  return new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
}

/** IEEE 754 half-precision bits → number. */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/**
 * The values of a TensorProto, row-major: float types as a Float32Array, integer types as a
 * Float64Array of exact integers. Reads the typed fields or raw_data (little-endian).
 */
export function tensorValues(t: OnnxTensor): OnnxConst {
  const what = `tensor '${t.name ?? ''}'`;
  const dims = t.dims.map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ModelFormatError(`${what}: invalid dims [${dims.join(', ')}]`);
  }
  if (t.deferred) {
    // Values read at Model.load: the weight, and `data` for any rule that wants them now.
    const deferred = new DeferredWeight(dims, t.deferred, t.name ?? '');
    return {
      dims,
      float: true,
      deferred,
      get data(): Float32Array {
        throw new DeferredValuesError(`${what}: its values are read from the file when the model is loaded`);
      },
    };
  }
  if (t.data_location === 1) {
    throw new ModelFormatError(
      `${what}: its data is stored in an external file; save the model with all tensors inside`,
    );
  }
  const n = sizeOf(dims);
  const raw = t.raw_data && t.raw_data.length > 0 ? t.raw_data : null;
  let data: Float32Array | Float64Array;
  let float = true;
  switch (t.data_type ?? 0) {
    case DataType.FLOAT:
      if (raw) {
        const v = fromRaw(raw, 4, n, what);
        // Aligned: a view of the file's bytes (no copy: a large model's weights are most of the
        // file, and the file is in memory anyway). Unaligned: new Uint8Array(view) copies into a
        // fresh, aligned buffer.
        if (LITTLE_ENDIAN && raw.byteOffset % 4 === 0) data = new Float32Array(raw.buffer, raw.byteOffset, n);
        else if (LITTLE_ENDIAN) data = new Float32Array(new Uint8Array(raw).buffer);
        else {
          data = new Float32Array(n);
          for (let i = 0; i < n; i++) data[i] = v.getFloat32(i * 4, true);
        }
      } else data = Float32Array.from(t.float_data);
      break;
    case DataType.DOUBLE:
      if (raw) {
        const v = fromRaw(raw, 8, n, what);
        data = new Float32Array(n);
        for (let i = 0; i < n; i++) data[i] = v.getFloat64(i * 8, true);
      } else data = Float32Array.from(t.double_data);
      break;
    case DataType.FLOAT16: {
      // raw_data holds 2-byte halves; int32_data holds one half's bits per element.
      if (raw) {
        const v = fromRaw(raw, 2, n, what);
        data = new Float32Array(n);
        for (let i = 0; i < n; i++) data[i] = halfToFloat(v.getUint16(i * 2, true));
      } else data = Float32Array.from(t.int32_data, halfToFloat);
      break;
    }
    case DataType.INT64:
      float = false;
      if (raw) {
        const v = fromRaw(raw, 8, n, what);
        data = new Float64Array(n);
        for (let i = 0; i < n; i++) data[i] = Number(v.getBigInt64(i * 8, true));
      } else data = Float64Array.from(t.int64_data.map(Number));
      break;
    case DataType.INT32:
      float = false;
      if (raw) {
        const v = fromRaw(raw, 4, n, what);
        data = new Float64Array(n);
        for (let i = 0; i < n; i++) data[i] = v.getInt32(i * 4, true);
      } else data = Float64Array.from(t.int32_data);
      break;
    default:
      throw new ModelFormatError(
        `${what}: element type ${dataTypeName(t.data_type ?? 0)} is not supported (FLOAT, FLOAT16, DOUBLE, INT32, INT64 are)`,
      );
  }
  if (data.length !== n) {
    throw new ModelFormatError(`${what}: ${data.length} values for dims [${dims.join(', ')}] (${n} expected)`);
  }
  return { dims, data, float };
}

/** Typed access to a node's attributes, with defaults. */
export class Attrs {
  readonly #byName = new Map<string, OnnxAttribute>();

  constructor(node: OnnxNode) {
    for (const a of node.attribute) this.#byName.set(a.name ?? '', a);
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  int(name: string, dflt: number): number {
    const a = this.#byName.get(name);
    return a ? Number(a.i ?? 0) : dflt;
  }

  float(name: string, dflt: number): number {
    const a = this.#byName.get(name);
    return a ? (a.f ?? 0) : dflt;
  }

  ints(name: string): number[] | null {
    const a = this.#byName.get(name);
    return a ? a.ints.map(Number) : null;
  }

  string(name: string, dflt: string): string {
    const a = this.#byName.get(name);
    return a?.s ? new TextDecoder().decode(a.s) : dflt;
  }

  tensor(name: string): OnnxTensor | null {
    return this.#byName.get(name)?.t ?? null;
  }

  tensorValue(name: string): ReturnType<typeof tensorValues> | null {
    const t = this.tensor(name);
    return t ? tensorValues(t) : null;
  }
}
