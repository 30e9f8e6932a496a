/**
 * Decoding an ONNX file piece by piece, for a file the importer reads itself (a path in Node):
 * the large tensors' raw_data is read straight into buffers of its own, each one aligned at 0,
 * and everything else is decoded by the same static protobuf code as decodeModel. So the file is
 * never in memory whole, no weight is copied to align it, and once the converted graph's weights
 * are uploaded and released (Model.load's `releaseHostWeights`), the host memory they held can
 * be collected tensor by tensor.
 *
 * The walk reads only field headers (tag and length, with protobufjs's Reader) to find, in the
 * ModelProto, its graph (field 7), in the graph, its initializers (field 5), and in each large
 * initializer its raw_data (field 9). The other fields are read as they are and decoded as one
 * message each: a protobuf message is the concatenation of its fields, so the ModelProto without
 * its graph, the GraphProto without its large initializers and a TensorProto without its
 * raw_data are messages too. The pieces are put back together in their order. A file whose
 * layout the walk does not expect (no graph or several, a length past the end, a group wire
 * type) is decoded whole instead, by decodeModel, which then gives the typed errors.
 *
 * With `deferBytes` (loadOnnx of a path: DEFERRED_TENSOR_BYTES), the FLOAT initializers with at
 * least that much raw_data are not read at all: their tensors carry a `deferred` reader instead
 * (src/defs/deferred.ts), which reads the values, whole or some rows of dim 0 at a time, into
 * Model.load's scratch buffers from the same file, still open.
 */
import $protobuf from 'protobufjs/minimal.js';
import { ModelFormatError } from '../core/errors';
import type { Deferred } from '../defs/deferred';
import { checkModel, decodeModel, type OnnxModel } from './onnx_proto';
import { onnx } from './onnx_pb.js';

/** A file read at given offsets. */
export interface RandomAccessFile {
  readonly size: number;
  /** `length` bytes from `offset`, in a new buffer of their own. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** `into.length` bytes from `offset`, into `into` (a deferred tensor's scratch buffer). */
  readInto(offset: number, into: Uint8Array): Promise<void>;
}

/** Initializers with at least this many bytes of raw_data are read into buffers of their own. */
export const LARGE_TENSOR_BYTES = 1 << 16;

/**
 * FLOAT initializers with at least this many bytes of raw_data are deferred by loadOnnx of a
 * path: left in the file, read when Model.load uploads them (src/defs/deferred.ts).
 */
export const DEFERRED_TENSOR_BYTES = 1 << 20;

const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_RAW_DATA = 9;
/** A field header is at most two varints: 10 + 10 bytes. */
const HEADER_BYTES = 20;
const WINDOW = 1 << 12;

interface Field {
  number: number;
  wire: number;
  /** The header's first byte. */
  start: number;
  /** The payload's first byte (wire type 2), or the byte after the header. */
  data: number;
  /** The byte after the field. */
  end: number;
}

/** The layout is not one the walk handles: decode the file whole instead. */
class Unexpected extends Error {}

/** Field headers read through a window, so that a walk over many small fields reads in blocks. */
class Headers {
  #window: Uint8Array = new Uint8Array(0);
  #at = 0;

  constructor(private readonly file: RandomAccessFile) {}

  /** The field whose header starts at `offset`, within a message ending at `limit`. */
  async field(offset: number, limit: number): Promise<Field> {
    const want = Math.min(HEADER_BYTES, limit - offset);
    if (offset < this.#at || offset + want > this.#at + this.#window.length) {
      this.#at = offset;
      this.#window = await this.file.read(offset, Math.min(WINDOW, limit - offset));
    }
    const r = $protobuf.Reader.create(this.#window.subarray(offset - this.#at));
    const tag = r.uint32();
    const wire = tag & 7;
    let end: number;
    let data: number;
    if (wire === 2) {
      const len = r.uint32();
      data = offset + r.pos;
      end = data + len;
    } else if (wire === 0 || wire === 1 || wire === 5) {
      r.skipType(wire);
      data = offset + r.pos;
      end = data;
    } else throw new Unexpected(`wire type ${wire}`);
    if (end > limit || tag >>> 3 === 0) throw new Unexpected('a field past its message');
    return { number: tag >>> 3, wire, start: offset, data, end };
  }

  /** The fields of the message in [start, end). */
  async fields(start: number, end: number): Promise<Field[]> {
    const out: Field[] = [];
    for (let at = start; at < end;) {
      const f = await this.field(at, end);
      out.push(f);
      at = f.end;
    }
    return out;
  }
}

/** The bytes of the given ranges, read (adjacent ranges in one read) and concatenated. */
async function readRanges(file: RandomAccessFile, ranges: readonly [number, number][]): Promise<Uint8Array> {
  const merged: [number, number][] = [];
  for (const [s, e] of ranges) {
    const last = merged[merged.length - 1];
    if (last && last[1] === s) last[1] = e;
    else merged.push([s, e]);
  }
  const total = merged.reduce((n, [s, e]) => n + (e - s), 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const [s, e] of merged) {
    out.set(await file.read(s, e - s), at);
    at += e - s;
  }
  return out;
}

const range = (f: Field): [number, number] => [f.start, f.end];

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const FLOAT = 1;

/**
 * A large initializer: its fields but raw_data, decoded, and raw_data read into its own buffer,
 * or, with at least `deferBytes` of FLOAT values, left in the file: its `deferred` reads them.
 */
async function largeTensor(
  file: RandomAccessFile,
  headers: Headers,
  t: Field,
  deferBytes: number,
): Promise<{ tensor: onnx.TensorProto; deferred: Deferred | null }> {
  const fields = await headers.fields(t.data, t.end);
  const raw = fields.filter((f) => f.number === TENSOR_RAW_DATA && f.wire === 2);
  const rest = fields.filter((f) => !(f.number === TENSOR_RAW_DATA && f.wire === 2));
  const tensor = onnx.TensorProto.decode(await readRanges(file, rest.map(range)));
  // The last occurrence of a bytes field wins, as in any protobuf decoder.
  const last = raw[raw.length - 1];
  if (!last) return { tensor, deferred: null };
  const bytes = last.end - last.data;
  const count = tensor.dims.reduce<number>((n, d) => n * Number(d), 1);
  // Only what tensorValues would take as it is: FLOAT raw_data of the dims' size, in the file.
  const plain =
    LITTLE_ENDIAN &&
    tensor.data_type === FLOAT &&
    tensor.data_location !== 1 &&
    tensor.float_data.length === 0 &&
    tensor.dims.every((d) => Number(d) >= 0) &&
    bytes === count * 4;
  if (bytes >= deferBytes && plain) {
    const rows = tensor.dims.length > 0 ? Number(tensor.dims[0]) : 0;
    return { tensor, deferred: fileValues(file, last.data, count, rows) };
  }
  tensor.raw_data = await file.read(last.data, bytes);
  return { tensor, deferred: null };
}

/** `count` floats at `offset` of the file, `rows` rows of them, read into scratch slot 0. */
function fileValues(file: RandomAccessFile, offset: number, count: number, rows: number): Deferred {
  const per = rows > 0 ? count / rows : count;
  return {
    slots: [count],
    slot: 0,
    rows,
    async read(scratch, first = 0, n = rows) {
      const length = rows > 0 ? n * per : count;
      const out = scratch(0, length);
      await file.readInto(offset + first * per * 4, new Uint8Array(out.buffer, out.byteOffset, length * 4));
      return out;
    },
  };
}

/**
 * Decode the ModelProto of a file read piece by piece (see the file comment). Throws
 * ModelFormatError as decodeModel does; a file whose layout the walk does not handle is read
 * whole and decoded by decodeModel.
 *
 * `deferBytes`: FLOAT initializers with at least that many bytes of raw_data are not read: their
 * tensors have no raw_data but a `deferred` that reads the values from `file`, which must then
 * stay open and unchanged until the model is loaded (default: none deferred).
 */
export async function decodeModelFile(
  file: RandomAccessFile,
  largeBytes = LARGE_TENSOR_BYTES,
  deferBytes = Infinity,
): Promise<OnnxModel> {
  if (file.size === 0) return decodeModel(new Uint8Array(0));
  let pieces: Awaited<ReturnType<typeof decodePieces>>;
  try {
    pieces = await decodePieces(file, Math.min(largeBytes, deferBytes), deferBytes);
  } catch {
    // An unexpected layout (Unexpected) or bytes that do not decode: decodeModel on the whole
    // file says what is wrong, with its typed errors.
    return decodeModel(await file.read(0, file.size));
  }
  const { model, graph, deferred } = pieces;
  model.graph = graph;
  let obj: OnnxModel;
  try {
    obj = onnx.ModelProto.toObject(model, { longs: Number, arrays: true }) as OnnxModel;
  } catch (e) {
    throw new ModelFormatError(`not an ONNX model: the protobuf does not decode (${(e as Error).message})`);
  }
  // toObject keeps the schema's fields only: the deferred readers join their tensors here.
  const init = obj.graph?.initializer ?? [];
  for (const [i, d] of deferred) init[i].deferred = d;
  return checkModel(obj);
}

async function decodePieces(
  file: RandomAccessFile,
  largeBytes: number,
  deferBytes: number,
): Promise<{ model: onnx.ModelProto; graph: onnx.GraphProto; deferred: Map<number, Deferred> }> {
  const headers = new Headers(file);
  const top = await headers.fields(0, file.size);
  const graphs = top.filter((f) => f.number === MODEL_GRAPH);
  if (graphs.length !== 1 || graphs[0].wire !== 2) throw new Unexpected('not one graph');
  const model = onnx.ModelProto.decode(await readRanges(file, top.filter((f) => f !== graphs[0]).map(range)));

  const inGraph = await headers.fields(graphs[0].data, graphs[0].end);
  const isInit = (f: Field) => f.number === GRAPH_INITIALIZER && f.wire === 2;
  const large = (f: Field) => isInit(f) && f.end - f.data >= largeBytes;
  const graph = onnx.GraphProto.decode(await readRanges(file, inGraph.filter((f) => !large(f)).map(range)));
  // The initializers in file order: the small ones as decoded with the graph, the large ones read here.
  const small = [...graph.initializer];
  const all: onnx.ITensorProto[] = [];
  const deferred = new Map<number, Deferred>();
  for (const f of inGraph) {
    if (!isInit(f)) continue;
    if (large(f)) {
      const t = await largeTensor(file, headers, f, deferBytes);
      if (t.deferred) deferred.set(all.length, t.deferred);
      all.push(t.tensor);
    } else all.push(small.shift()!);
  }
  graph.initializer = all;
  return { model, graph, deferred };
}
