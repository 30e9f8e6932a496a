/**
 * What an op is, independent of where it runs: the shape of its description in a GraphSpec, its
 * parameters, its shape rule, what its backward pass reads, and how ONNX nodes become it. Pure
 * (no GPU, no shaders), so the graph, the CPU reference, the GPU executor and the ONNX importer
 * all build on it.
 *
 * The registry (src/defs/index.ts) holds one OpDef per op type; the CPU reference
 * (src/reference/ops.ts) and the GPU executor (src/ops/registry.ts) each hold one implementation
 * per op type, typed over the registry's keys, so an op missing from either is a compile error.
 */
import type { Shape } from '../core/shape';
import type { DeferredWeight } from './deferred';

/** A weight of a node: float32 values in PyTorch/ONNX layout. */
export interface WeightSpec {
  shape: number[];
  data: ArrayLike<number>;
}

/**
 * Attributes of a node as written in a GraphSpec: plain JSON values. `params` turns them into
 * an op's checked parameters.
 */
export type Attrs = Readonly<Record<string, unknown>>;

export interface OpDef<P> {
  /** Number of tensor inputs, or 'variadic' (one or more). */
  readonly inputs: number | 'variadic';
  /** Weights the node carries, by key: required or optional. */
  readonly weights?: Readonly<Record<string, 'required' | 'optional'>>;
  /** Check the attributes and fill in defaults. Throws InvalidInputError naming the attribute. */
  params(attrs: Attrs): P;
  /**
   * The output shape from the input shapes (batch dim first) and the weights' shapes. Throws
   * ShapeMismatchError (or InvalidInputError) naming the shapes.
   */
  shape(inputs: readonly Shape[], p: P, weights: Readonly<Record<string, Shape>>): number[];
  /**
   * What the backward pass reads besides the output gradient: forward inputs (by position)
   * and/or the forward output. The executors keep exactly these after the forward pass, and
   * hand only these to the backward implementations.
   */
  readonly saves: { readonly inputs?: readonly number[]; readonly output?: boolean };
  /**
   * What the output's dims mean, from the inputs': each tensor's dims carry labels ('N', 'C',
   * 'H', 'W' for an image batch) so that the graph can tell an NCHW activation (a layer to
   * explain) from an NHWC one of the same rank. 'nchw': the output is [N, C, H, W] (convs,
   * pools); 'first': the labels of the first input that has them and the output's rank
   * (elementwise ops, slices); 'none': unknown; or a function of the inputs' labels.
   */
  readonly layout: LayoutRule<P>;
  /** The output is input 0 with another shape (no kernel; its gradient is a view as well). */
  readonly view?: boolean;
  /** ONNX operators (default domain) that convert to this op, each with its rule. */
  readonly onnx?: Readonly<Record<string, OnnxRule>>;
}

/** Labels of a tensor's dims ('N', 'C', 'H', 'W', …), or null where unknown. */
export type Axes = readonly string[];

/** A function rule; declared as a method so that a rule of one op's parameters is an OpDef<P> of any P. */
type LayoutFn<P> = {
  rule(inputs: readonly (Axes | null)[], p: P, shapes: { inputs: readonly Shape[]; output: Shape }): Axes | null;
}['rule'];

export type LayoutRule<P> = 'nchw' | 'first' | 'none' | LayoutFn<P>;

export const NCHW: Axes = ['N', 'C', 'H', 'W'];

/** The output's labels by an op's rule. */
export function layoutOf<P>(
  rule: LayoutRule<P>,
  inputs: readonly (Axes | null)[],
  p: P,
  shapes: { inputs: readonly Shape[]; output: Shape },
): Axes | null {
  if (rule === 'nchw') return shapes.output.length === 4 ? NCHW : null;
  if (rule === 'none') return null;
  if (rule === 'first') return inputs.find((a) => a && a.length === shapes.output.length) ?? null;
  return rule(inputs, p, shapes);
}

/** The values as float32: the array itself when it is one (weights are not copied needlessly). */
export function asFloat32(data: Float32Array | Float64Array): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

/** A float constant as a weight of its own shape: its deferred weight, or its values as float32. */
export function constWeight(k: OnnxConst): WeightSpec {
  return k.deferred ?? { shape: [...k.dims], data: asFloat32(k.data) };
}

/** Identity at run time; keeps the parameter type of the definition. */
export function defineOp<P>(def: OpDef<P>): OpDef<P> {
  return def;
}

// ---------------------------------------------------------------------------------- ONNX rules

/**
 * The batch size in shape arithmetic at import, where it is not known: Shape gives this value
 * for dim 0. It is exact in float32 and float64, and any arithmetic on it (N·C, N/2) gives a
 * value of magnitude ≥ 2^30 that is not it, which `dependsOnBatch` tells apart from real sizes.
 */
export const BATCH = -(2 ** 40);

/** A value computed from the batch size (but not the batch size itself, unless it is BATCH). */
export function dependsOnBatch(v: number): boolean {
  return Number.isNaN(v) || v <= -(2 ** 30);
}

/** A constant of an ONNX graph (an initializer or a Constant node's value). */
export interface OnnxConst {
  dims: number[];
  data: Float32Array | Float64Array;
  /** False: integer values (shapes, axes). */
  float: boolean;
  /**
   * A large float initializer whose values are read only when the model is loaded
   * (src/defs/deferred.ts): its weight, while `data` throws DeferredValuesError. Rules make
   * weights of constants with constWeight, and transform them with mapWeight.
   */
  deferred?: DeferredWeight;
}

/** Typed access to an ONNX node's attributes, with defaults. */
export interface OnnxAttrs {
  has(name: string): boolean;
  int(name: string, dflt: number): number;
  float(name: string, dflt: number): number;
  ints(name: string): number[] | null;
  string(name: string, dflt: string): string;
  /** A tensor attribute's values (Constant's value, ConstantOfShape's value), or null. */
  tensorValue(name: string): OnnxConst | null;
}

/**
 * What a rule emits: a GraphSpec node named after the ONNX node, producing its (first) output,
 * or `output`, another of its outputs (Split), or with `temp` a fresh tensor between the nodes
 * one ONNX node becomes (emit returns the name).
 */
export interface EmittedNode {
  op: string;
  inputs: string[];
  attrs?: Record<string, unknown>;
  weights?: Record<string, WeightSpec>;
  output?: string;
  temp?: boolean;
}

/**
 * What the ONNX converter offers a rule while it converts one node. Every failure goes through
 * `fail`, which throws ModelFormatError naming the node.
 */
export interface OnnxContext {
  /** Version of the default operator set. */
  readonly opset: number;
  readonly attrs: OnnxAttrs;
  /** The node's input names ('' for an omitted optional input). */
  readonly inputs: readonly string[];
  /** The node's output names ('' for an omitted one). */
  readonly outputs: readonly string[];
  /** Input j, which must be a tensor computed from the graph input. */
  tensor(j: number): string;
  /** Input j as a constant, or null when it is computed or absent. */
  constantOrNull(j: number): OnnxConst | null;
  /** Input j, which must be a constant; `float` requires float values. */
  constant(j: number, what: string, kind?: 'float' | 'any'): OnnxConst;
  /** Shape of a computed tensor for batch 1. */
  shape(tensor: string): number[];
  /** Add a node; returns the tensor it produces. */
  emit(node: EmittedNode): string;
  /** The node's output is this constant (constant folding of shapes and weights). */
  alias(c: OnnxConst): void;
  fail(message: string): never;
  /** A 2-entry attribute (strides, dilations), default [1, 1]. */
  pair(name: string): [number, number];
  /** An axis attribute value normalised into [0, rank). */
  axis(value: number, rank: number): number;
  /** [top, left, bottom, right] from `pads` or `auto_pad` for a 2-D window over tensor `x`. */
  pads(
    x: string,
    kernel: [number, number],
    stride: [number, number],
    dilation: [number, number],
  ): [number, number, number, number];
  /**
   * x + c where x is the output of a conv or linear layer read only here and c holds one value
   * per channel: c becomes (part of) that layer's bias, and the layer produces the output.
   * Returns false (and changes nothing) where that does not apply.
   */
  foldBias(x: string, c: OnnxConst): boolean;
  /**
   * Input j as a tensor of rank `rank` for an elementwise op: a computed tensor of that rank,
   * or a constant, which becomes a 'constant' node (its dims aligned to the right as ONNX
   * broadcasting does, padded with 1s; dim 0 must then be 1: a constant does not vary over the
   * batch). Returns the tensor's name.
   */
  operand(j: number, rank: number): string;
  /** A constant as a 'constant' node of rank `rank` as `operand` makes it; returns its tensor. */
  constantTensor(k: OnnxConst, rank: number): string;
  /**
   * The node producing computed tensor `t` when only this node reads it (and it is not the
   * graph output): a candidate for fusing into this node. Null otherwise.
   */
  producer(t: string): Readonly<EmittedNode> | null;
  /** Drop the node producing `t` (one `producer` returned), whose work this node takes over. */
  remove(t: string): void;
}

export type OnnxRule = (ctx: OnnxContext) => void;
