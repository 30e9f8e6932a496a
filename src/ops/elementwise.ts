/**
 * The elementwise ops on the GPU: every entry of the table in src/defs/elementwise.ts runs on one
 * templated kernel per arity and direction, its WGSL expression and scalar parameters pasted in:
 * elementwise_unary.wgsl, elementwise_unary_backward.wgsl, elementwise_binary.wgsl and
 * elementwise_binary_backward.wgsl. Same names and argument order as the CPU reference
 * (src/reference/elementwise.ts); `attrs` are the node's attributes, checked by the op's
 * definition before anything is allocated.
 *
 * Sizes: N batch, T targets; gradients are [T·N, ...] over saved forward tensors [N, ...].
 */
import { InvalidInputError, ShapeMismatchError } from '../core/errors';
import { broadcastStrides, sizeOf, type Shape } from '../core/shape';
import {
  broadcastShape,
  BINARY,
  PASS,
  UNARY,
  type BinaryOp,
  type BinaryType,
  type UnaryOp,
  type UnaryType,
} from '../defs/elementwise';
import type { Attrs } from '../defs/op';
import type { Recorder } from '../gpu/recorder';
import { grid1d } from '../gpu/engine';
import { defineKernel, fillTemplate, generatedKernel } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import unaryCode from '../../shaders/elementwise_unary.wgsl?raw';
import unaryBackwardCode from '../../shaders/elementwise_unary_backward.wgsl?raw';
import binaryCode from '../../shaders/elementwise_binary.wgsl?raw';
import binaryBackwardCode from '../../shaders/elementwise_binary_backward.wgsl?raw';
import { includesNamed } from './includes';
import { targetsOf } from './util';

const WG = 256; // `override WG` of the four templates
/** Must equal the dims the templates' shape arrays hold (array<vec4u, 2>). */
export const MAX_RANK = 8;

const DIMS = 'array<vec4u, 2>';

/**
 * The template with the op's parts filled in: {{params}} its scalars as f32 fields, {{includes}}
 * the #include lines of the snippets it calls.
 */
function fill(
  template: string,
  scalars: readonly string[],
  parts: Record<string, string>,
  includes: readonly string[] = [],
): string {
  return fillTemplate(template, {
    ...parts,
    params: scalars.map((s) => `${s}: f32,`).join('\n  '),
    includes: includes.map((n) => `#include "${n}"`).join('\n'),
  });
}

function scalarDecl(scalars: readonly string[]): Record<string, 'f32'> {
  return Object.fromEntries(scalars.map((s) => [s, 'f32' as const]));
}

function unaryKernels(op: UnaryType) {
  const def: UnaryOp = UNARY[op];
  const forward = generatedKernel(`elementwise.${op}:forward`, () =>
    defineKernel({
      name: `elementwise_unary.${op}`,
      code: fill(unaryCode, def.scalars, { f: def.forward.wgsl }, def.includes),
      params: { count: 'u32', ...scalarDecl(def.scalars) },
      bindings: ['src', 'dst'],
      includes: includesNamed(def.includes),
    }),
  );
  const backward = generatedKernel(`elementwise.${op}:backward`, () =>
    defineKernel({
      name: `elementwise_unary_backward.${op}`,
      code: fill(unaryBackwardCode, def.scalars, { df: def.backward.wgsl, saved: def.backward.from }, def.includes),
      params: { count: 'u32', scount: 'u32', ...scalarDecl(def.scalars) },
      bindings: ['grad', 'saved', 'dst'],
      includes: includesNamed(def.includes),
    }),
  );
  return { def, forward, backward };
}

/** y = f(x) elementwise. */
export async function unaryForward(e: Recorder, op: UnaryType, x: Tensor, attrs: Attrs = {}): Promise<Tensor> {
  const { def, forward } = unaryKernels(op);
  const p = def.params(attrs);
  const vec4 = x.size % 4 === 0;
  const k = await e.kernel(forward, { defines: { VEC4: vec4 }, overrides: { WG } });
  const y = e.empty(x.shape, op);
  const count = vec4 ? x.size / 4 : x.size;
  e.dispatch(k, { src: x, dst: y }, { count, ...p }, grid1d(count, WG));
  return y;
}

/**
 * dy: [T·N, ...] gradients of the output; saved: [N, ...] the forward input or output (whichever
 * the op's gradient reads, `backward.from`). Returns dx like dy. With `guided`, an op that guided
 * backprop changes (ReLU) also blocks negative gradients.
 */
export async function unaryBackward(
  e: Recorder,
  op: UnaryType,
  dy: Tensor,
  saved: Tensor,
  attrs: Attrs = {},
  opts: { guided?: boolean } = {},
): Promise<Tensor> {
  const { def, backward } = unaryKernels(op);
  targetsOf(dy.shape, saved.shape, `${op} backward`);
  const p = def.params(attrs);
  const vec4 = saved.size % 4 === 0;
  const k = await e.kernel(backward, {
    defines: { VEC4: vec4, GUIDED: !!opts.guided && def.guided },
    overrides: { WG },
  });
  const dx = e.empty(dy.shape, `${op}:dx`);
  const q = vec4 ? 4 : 1;
  const u = { count: dy.size / q, scount: saved.size / q, ...p };
  e.dispatch(k, { grad: dy, saved, dst: dx }, u, grid1d(dy.size / q, WG));
  return dx;
}

/** `v` padded to MAX_RANK entries. */
function dims8(v: readonly number[]): number[] {
  return [...v, ...new Array<number>(MAX_RANK - v.length).fill(0)];
}

function checkRank(s: Shape, what: string): void {
  if (s.length > MAX_RANK) throw new ShapeMismatchError(`${what}: rank ${s.length} is above ${MAX_RANK}`);
}

function binaryKernels(op: BinaryType) {
  const def: BinaryOp = BINARY[op];
  const forward = generatedKernel(`elementwise.${op}:forward`, () =>
    defineKernel({
      name: `elementwise_binary.${op}`,
      code: fill(binaryCode, def.scalars, { f: def.forward.wgsl }),
      params: {
        count: 'u32',
        rank: 'u32',
        out_dims: DIMS,
        a_strides: DIMS,
        b_strides: DIMS,
        ...scalarDecl(def.scalars),
      },
      bindings: ['lhs', 'rhs', 'dst'],
    }),
  );
  const backward = (which: 'a' | 'b') => {
    const g = def.backward[which];
    return generatedKernel(`elementwise.${op}:backward:${which}`, () =>
      defineKernel({
        name: `elementwise_binary_backward.${op}.${which}`,
        code: fill(binaryBackwardCode, def.scalars, { grad: g === PASS ? 'dy' : g.wgsl }),
        params: {
          count: 'u32',
          rank: 'u32',
          n: 'u32',
          fwd: 'u32',
          reduce: 'u32',
          own_dims: DIMS,
          red_dims: DIMS,
          out_strides: DIMS,
          a_strides: DIMS,
          b_strides: DIMS,
          ...scalarDecl(def.scalars),
        },
        bindings: ['grad', 'lhs', 'rhs', 'dst'],
      }),
    );
  };
  return { def, forward, backward };
}

/** y = f(a, b) with broadcasting (same rank; each dim equal, or 1 in one of them). */
export async function binaryForward(
  e: Recorder,
  op: BinaryType,
  a: Tensor,
  b: Tensor,
  attrs: Attrs = {},
): Promise<Tensor> {
  const { def, forward } = binaryKernels(op);
  const p = def.params(attrs);
  let out: number[];
  try {
    out = broadcastShape(a.shape, b.shape);
  } catch (err) {
    throw new ShapeMismatchError(`${op}: '${a.label}' and '${b.label}': ${(err as Error).message}`);
  }
  checkRank(out, op);
  const same = sizeOf(a.shape) === sizeOf(out) && sizeOf(b.shape) === sizeOf(out);
  const vec4 = same && sizeOf(out) % 4 === 0;
  const k = await e.kernel(forward, { defines: { SAME: same, VEC4: vec4 }, overrides: { WG } });
  const y = e.empty(out, op);
  const count = vec4 ? y.size / 4 : y.size;
  const u = {
    count,
    rank: out.length,
    out_dims: dims8(out),
    a_strides: dims8(broadcastStrides(a.shape, out)),
    b_strides: dims8(broadcastStrides(b.shape, out)),
    ...p,
  };
  e.dispatch(k, { lhs: a, rhs: b, dst: y }, u, grid1d(count, WG));
  return y;
}

/**
 * The gradient of input `which` for T targets: dy [T·N, ...out]; a, b the saved forward inputs
 * [N, ...] (null for one the op does not save); shapes: the forward inputs' shapes. Returns a new
 * tensor [T·N, ...that input's dims], summed over the dims it was broadcast along.
 */
export async function binaryBackward(
  e: Recorder,
  op: BinaryType,
  which: 'a' | 'b',
  dy: Tensor,
  a: Tensor | null,
  b: Tensor | null,
  shapes: { a: Shape; b: Shape },
  attrs: Attrs = {},
): Promise<Tensor> {
  const { def, backward } = binaryKernels(op);
  const p = def.params(attrs);
  const fwd = broadcastShape(shapes.a, shapes.b);
  checkRank(fwd, op);
  targetsOf(dy.shape, fwd, `${op} backward`);
  const g = def.backward[which];
  const reads = g !== PASS && g.reads !== false;
  if (reads && (!a || !b)) {
    throw new InvalidInputError(`${op} backward: the gradient of '${which}' reads both saved forward inputs`);
  }
  const own = shapes[which];
  const rows = dy.shape[0];
  const out = [rows, ...fwd.slice(1)];
  const ownDims = [rows, ...own.slice(1)];
  const redDims = out.map((d, i) => (ownDims[i] === 1 && d !== 1 ? d : 1));
  const reduce = sizeOf(redDims);
  // Without broadcasting anywhere, every tensor is read at the gradient's own index.
  const same = reduce === 1 && (!reads || (sizeOf(shapes.a) === sizeOf(fwd) && sizeOf(shapes.b) === sizeOf(fwd)));
  const dx = e.empty(ownDims, `${op}:d${which}`);
  const k = await e.kernel(backward(which), {
    defines: { SAME: same, LHS: reads, RHS: reads },
    overrides: { WG },
  });
  const u = {
    count: dx.size,
    rank: out.length,
    n: fwd[0],
    fwd: sizeOf(fwd),
    reduce,
    own_dims: dims8(ownDims),
    red_dims: dims8(redDims),
    out_strides: dims8(broadcastStrides(out, out)),
    a_strides: dims8(broadcastStrides(shapes.a, fwd)),
    b_strides: dims8(broadcastStrides(shapes.b, fwd)),
    ...p,
  };
  e.dispatch(k, { grad: dy, lhs: reads ? a : null, rhs: reads ? b : null, dst: dx }, u, grid1d(dx.size, WG));
  return dx;
}
