/**
 * Hand-built ONNX models for the importer's tests, encoded by protobufjs's reflection from the
 * official schema (the importer's decoder, the static code in src/model/onnx_pb.js, is not
 * involved in writing them).
 *
 *   const bytes = onnxModel({
 *     input: ['x', [1, 3, 8, 8]],
 *     output: 'y',
 *     initializers: [floatTensor('w', [4, 3, 3, 3], data)],
 *     nodes: [node('Conv', ['x', 'w'], ['y'], { pads: [1, 1, 1, 1] })],
 *   });
 *
 * Attribute values: integer → INT, number[] → INTS, string → STRING, f(x) → FLOAT,
 * fs([…]) → FLOATS, a tensor from floatTensor/intTensor → TENSOR.
 */
import protobuf from 'protobufjs';
import schema from '../../src/model/onnx.proto?raw';

const root = protobuf.parse(schema, { keepCase: true }).root;
export const ModelProto = root.lookupType('onnx.ModelProto');
export const TensorProto = root.lookupType('onnx.TensorProto');

const FLOAT = 1;
const INT64 = 7;

export interface TensorObj {
  name: string;
  dims: number[];
  data_type: number;
  float_data?: number[];
  int64_data?: number[];
  raw_data?: Uint8Array;
}

/** A FLOAT tensor; `raw` stores it in raw_data (little-endian) instead of float_data. */
export function floatTensor(name: string, dims: number[], data: ArrayLike<number>, raw = false): TensorObj {
  if (raw) return { name, dims, data_type: FLOAT, raw_data: new Uint8Array(Float32Array.from(data).buffer) };
  return { name, dims, data_type: FLOAT, float_data: Array.from(data) };
}

/** An INT64 tensor (shapes, axes); `raw` stores it in raw_data. */
export function intTensor(name: string, dims: number[], data: number[], raw = false): TensorObj {
  if (raw)
    return { name, dims, data_type: INT64, raw_data: new Uint8Array(BigInt64Array.from(data.map(BigInt)).buffer) };
  return { name, dims, data_type: INT64, int64_data: data };
}

export const f = (x: number) => ({ float: x });
export const fs = (x: number[]) => ({ floats: x });
export type AttrValue = number | number[] | string | TensorObj | { float: number } | { floats: number[] };

function attribute(name: string, v: AttrValue): object {
  if (typeof v === 'number') return { name, type: 2, i: v };
  if (typeof v === 'string') return { name, type: 3, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: 7, ints: v };
  if ('float' in v) return { name, type: 1, f: v.float };
  if ('floats' in v) return { name, type: 6, floats: v.floats };
  return { name, type: 4, t: v };
}

export interface NodeObj {
  op_type: string;
  input: string[];
  output: string[];
  name?: string;
  domain?: string;
  attribute: object[];
}

export function node(
  op: string,
  inputs: string[],
  outputs: string[],
  attrs: Record<string, AttrValue> = {},
  name?: string,
): NodeObj {
  return {
    op_type: op,
    input: inputs,
    output: outputs,
    ...(name ? { name } : {}),
    attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
  };
}

export interface ModelDef {
  /** name and dims; a string dim is symbolic (dim_param) */
  input: [string, (number | string)[]];
  output: string | string[];
  nodes: NodeObj[];
  initializers?: TensorObj[];
  opset?: number;
  metadata?: Record<string, string>;
  /** elem_type of the input (default FLOAT) */
  inputType?: number;
  name?: string;
}

function valueInfo(name: string, dims: (number | string)[] | null, elemType = FLOAT): object {
  const shape = dims
    ? { dim: dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) }
    : undefined;
  return { name, type: { tensor_type: { elem_type: elemType, ...(shape ? { shape } : {}) } } };
}

/** The plain ModelProto object (edit it, then encode with encodeModel). */
export function modelObject(def: ModelDef): Record<string, unknown> {
  const outputs = Array.isArray(def.output) ? def.output : [def.output];
  return {
    ir_version: 7,
    producer_name: 'onnx_builder.ts',
    opset_import: [{ domain: '', version: def.opset ?? 13 }],
    graph: {
      name: def.name ?? 'test',
      node: def.nodes,
      initializer: def.initializers ?? [],
      input: [valueInfo(def.input[0], def.input[1], def.inputType)],
      output: outputs.map((o) => valueInfo(o, null)),
    },
    metadata_props: Object.entries(def.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
}

export function encodeModel(obj: Record<string, unknown>): Uint8Array {
  const err = ModelProto.verify(obj);
  if (err) throw new Error(`onnx_builder: invalid ModelProto: ${err}`);
  return ModelProto.encode(ModelProto.fromObject(obj)).finish();
}

export function onnxModel(def: ModelDef): Uint8Array {
  return encodeModel(modelObject(def));
}
