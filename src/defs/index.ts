/**
 * The op registry: every op the engine runs, by the name a GraphSpec node uses (`op`). Graph
 * analysis, both executors and the ONNX importer iterate this table; the executors' tables of
 * implementations (src/reference/ops.ts, src/ops/registry.ts) are typed over its keys, so a new
 * entry here fails to compile until both implement it.
 *
 * To add an op: an elementwise one is one entry in src/defs/elementwise.ts (its WGSL and its CPU
 * reference side by side); any other op is an OpDef here (src/defs/<op>.ts), a CPU reference
 * (src/reference/<op>.ts) and a GPU dispatcher (src/ops/<op>.ts) with their entries in the two
 * tables. docs/ARCHITECTURE.md walks through both.
 */
import { CONCAT } from './concat';
import { CONSTANT } from './constant';
import { CONV2D } from './conv2d';
import { BINARY, UNARY } from './elementwise';
import { PAD, SLICE, TRANSPOSE } from './layout';
import { LINEAR } from './linear';
import { MATMUL } from './matmul';
import type { OnnxRule, OpDef } from './op';
import { AVGPOOL2D, GLOBALAVGPOOL, MAXPOOL2D } from './pool';
import { REDUCEMEAN, REDUCESUM } from './reduce';
import { SOFTMAX } from './softmax';
import { FLATTEN, IDENTITY, RESHAPE } from './views';

export const OPS = {
  ...UNARY,
  ...BINARY,
  conv2d: CONV2D,
  maxpool2d: MAXPOOL2D,
  avgpool2d: AVGPOOL2D,
  globalavgpool: GLOBALAVGPOOL,
  linear: LINEAR,
  matmul: MATMUL,
  concat: CONCAT,
  constant: CONSTANT,
  reducemean: REDUCEMEAN,
  reducesum: REDUCESUM,
  transpose: TRANSPOSE,
  slice: SLICE,
  pad: PAD,
  softmax: SOFTMAX,
  flatten: FLATTEN,
  reshape: RESHAPE,
  identity: IDENTITY,
} as const;

export type OpType = keyof typeof OPS;

/** The checked parameters of each op type. */
export type OpParams = { [K in OpType]: (typeof OPS)[K] extends OpDef<infer P> ? P : never };

export const OP_TYPES = Object.keys(OPS) as OpType[];

export function isOpType(op: unknown): op is OpType {
  return typeof op === 'string' && Object.hasOwn(OPS, op);
}

/** The definition of an op type, with its parameter type. */
export function opDef<K extends OpType>(op: K): OpDef<OpParams[K]> {
  return OPS[op] as unknown as OpDef<OpParams[K]>;
}

/** Every ONNX operator some op converts from, with its rule. */
export function onnxRules(): Map<string, OnnxRule> {
  const rules = new Map<string, OnnxRule>();
  for (const op of OP_TYPES) {
    for (const [name, rule] of Object.entries(opDef(op).onnx ?? {})) {
      if (rules.has(name)) throw new Error(`ONNX operator '${name}' has two rules (the second in op '${op}')`);
      rules.set(name, rule);
    }
  }
  return rules;
}

export { type OpDef, type WeightSpec } from './op';
