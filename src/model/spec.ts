/**
 * The model description: a DAG of nodes over named tensors, each node one op of the registry
 * (src/defs/index.ts).
 * ONNX import maps onto it op for op (BatchNormalization folded into the conv before it).
 * Plain data, so it can be written by hand, built in code, or stored as JSON.
 *
 * Batch: `input.shape` is [C, H, W] (the batch N is chosen per run).
 * Weights: float32 arrays in PyTorch/ONNX layouts: conv weight [Cout, Cin/groups, KH, KW],
 * linear weight [M, K] (y = x·Wᵀ + b). A weight may also be deferred (src/defs/deferred.ts:
 * loadOnnx of a path leaves its large ones in the file): its values are read when Model.load
 * uploads it, and its `data` throws until then, so such a spec is for Model.load only.
 */

import type { OpType } from '../defs/index';
import type { WeightSpec } from '../defs/op';

export type { OpType, WeightSpec };

export interface Conv2dAttrs {
  /** [sh, sw], default [1, 1] */
  stride?: [number, number];
  /** [top, left, bottom, right], default zeros */
  pads?: [number, number, number, number];
  /** [dh, dw], default [1, 1] */
  dilation?: [number, number];
  /** default 1 */
  groups?: number;
}

export interface Pool2dAttrs {
  kernel: [number, number];
  /** default = kernel */
  stride?: [number, number];
  /** [top, left, bottom, right], default zeros */
  pads?: [number, number, number, number];
  /** round output size up (ONNX ceil_mode), default false */
  ceilMode?: boolean;
  /** avg pool only: count padded zeros in the divisor (PyTorch default true, ONNX default false) */
  countIncludePad?: boolean;
}

export interface NodeSpec {
  /** An op of the registry (src/defs/index.ts). */
  op: OpType;
  name: string;
  inputs: string[];
  output: string;
  /** conv2d: Conv2dAttrs; pools: Pool2dAttrs; reshape: { shape: number[] } without batch;
   *  concat: { axis: number } (default 1); flatten: { axis: 1 };
   *  clip: { min?: number, max?: number } (defaults -Infinity, +Infinity; ReLU6 is 0, 6) */
  attrs?: Record<string, unknown>;
  /** conv2d: weight, bias?; linear: weight, bias? */
  weights?: Record<string, WeightSpec>;
  /**
   * Names of the nodes folded into this one, in order (the ONNX importer folds a
   * BatchNormalization or a bias Add into the conv or linear layer before it). The node then
   * produces the output of the last of them; its own output and those of the others are gone.
   * Layer names use it (src/model/layers.ts); the executors ignore it.
   */
  folded?: string[];
}

export interface GraphSpec {
  name?: string;
  input: { name: string; shape: [number, number, number] };
  output: string;
  nodes: NodeSpec[];
  /** Optional class names, index-aligned with the output. */
  labels?: string[];
}
