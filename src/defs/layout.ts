/**
 * Ops that move elements without arithmetic, on tensors of any rank (batch dim first, never
 * moved, sliced or padded): transpose (a permutation of the other dims), slice (a strided window
 * of them) and pad (a constant border around them). Their gradients move the elements back:
 * transpose by the inverse permutation, slice by scattering into zeros, pad by slicing.
 * CPU reference: src/reference/layout.ts; GPU dispatchers: src/ops/layout.ts (one gather
 * kernel for all six directions).
 *
 * ONNX rules here: Transpose, Slice, Split (one slice node per output), Pad, and the reshapes of
 * axes Squeeze / Unsqueeze; each of a constant input (shape arithmetic) is folded.
 */
import { InvalidInputError, ShapeMismatchError } from '../core/errors';
import { shapeStr, sizeOf, type Shape } from '../core/shape';
import { defineOp, type Attrs, type OnnxConst, type OnnxContext } from './op';

const ints = (v: unknown): v is number[] => Array.isArray(v) && v.every((d) => Number.isInteger(d));

// ------------------------------------------------------------------------------------ transpose

export interface TransposeParams {
  /** Output dim d is input dim perm[d]; perm[0] = 0 (the batch stays first). */
  perm: number[];
}

function transposeParams(a: Attrs): TransposeParams {
  const perm = a.perm;
  if (!ints(perm) || perm[0] !== 0 || [...perm].sort((x, y) => x - y).some((d, i) => d !== i)) {
    throw new InvalidInputError(
      `transpose: perm must be a permutation of 0..rank-1 with perm[0] = 0 (the batch stays first), got ${JSON.stringify(perm)}`,
    );
  }
  return { perm: [...perm] };
}

/** The permutation that undoes `perm`. */
export function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, d) => (inv[p] = d));
  return inv;
}

/** A constant's values transposed (shape arithmetic at import never needs this; weights may). */
function transposeConst(k: OnnxConst, perm: readonly number[]): OnnxConst {
  const out = perm.map((p) => k.dims[p]);
  const strides = k.dims.map((_, d) => sizeOf(k.dims.slice(d + 1)));
  const data = new Float64Array(k.data.length);
  for (let i = 0; i < data.length; i++) {
    let [r, src] = [i, 0];
    for (let d = out.length - 1; d >= 0; d--) {
      src += (r % out[d]) * strides[perm[d]];
      r = Math.floor(r / out[d]);
    }
    data[i] = k.data[src];
  }
  return { dims: out, data: k.float ? Float32Array.from(data) : data, float: k.float };
}

export const TRANSPOSE = defineOp<TransposeParams>({
  inputs: 1,
  params: transposeParams,
  shape([x], p) {
    if (p.perm.length !== x.length) {
      throw new ShapeMismatchError(
        `transpose: perm [${p.perm}] has ${p.perm.length} entries for a ${x.length}-D input`,
      );
    }
    return p.perm.map((d) => x[d]);
  },
  layout: ([x], p) => (x ? p.perm.map((d) => x[d]) : null),
  saves: {},
  onnx: {
    Transpose(c) {
      const k = c.constantOrNull(0);
      const rank = k ? k.dims.length : c.shape(c.tensor(0)).length;
      const perm = c.attrs.ints('perm') ?? [...Array(rank).keys()].reverse();
      if (perm.length !== rank) c.fail(`perm [${perm}] has ${perm.length} entries for a ${rank}-D input`);
      if (k) return c.alias(transposeConst(k, perm));
      if (perm[0] !== 0) c.fail(`perm [${perm}] moves the batch axis; only permutations that keep dim 0 are supported`);
      c.emit({ op: 'transpose', inputs: [c.tensor(0)], attrs: { perm } });
    },
  },
});

// ---------------------------------------------------------------------------------------- slice

export interface SliceParams {
  /** Per dim after the batch: ONNX semantics (negative counts from the end; ends clamp). */
  starts: number[];
  ends: number[];
  /** Non-zero; negative walks backwards. */
  steps: number[];
}

/** The window a slice reads: per dim after the batch, its first index, step and length. */
export interface SliceWindow {
  begin: number[];
  step: number[];
  size: number[];
}

/** ONNX Slice's index rules for one dim of size `dim`: first index and length (≥ 0). */
function sliceDim(dim: number, start: number, end: number, step: number): [number, number] {
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = Math.min(Math.max(start, 0), dim);
    end = Math.min(Math.max(end, 0), dim);
    return [start, Math.max(0, Math.ceil((end - start) / step))];
  }
  start = Math.min(Math.max(start, 0), dim - 1);
  end = Math.min(Math.max(end, -1), dim - 1);
  return [start, Math.max(0, Math.ceil((start - end) / -step))];
}

/** The window of slice `p` over input `x` (batch first). Throws if it is empty. */
export function sliceWindow(x: Shape, p: SliceParams): SliceWindow {
  const rest = x.slice(1);
  if (p.starts.length !== rest.length) {
    throw new ShapeMismatchError(
      `slice: starts/ends/steps have ${p.starts.length} entries for the ${rest.length} dims after the batch of ${shapeStr(x)}`,
    );
  }
  const w: SliceWindow = { begin: [], step: [], size: [] };
  rest.forEach((d, i) => {
    const [b, n] = sliceDim(d, p.starts[i], p.ends[i], p.steps[i]);
    if (n < 1) throw new ShapeMismatchError(`slice: dim ${i + 1} of ${shapeStr(x)} gives an empty slice`);
    w.begin.push(b);
    w.step.push(p.steps[i]);
    w.size.push(n);
  });
  return w;
}

function sliceParams(a: Attrs): SliceParams {
  const { starts, ends } = a;
  const steps = a.steps ?? (ints(starts) ? starts.map(() => 1) : undefined);
  const ok =
    ints(starts) &&
    ints(ends) &&
    ints(steps) &&
    starts.length === ends.length &&
    steps.length === starts.length &&
    steps.every((s) => s !== 0);
  if (!ok) {
    throw new InvalidInputError(
      `slice: starts, ends and steps must be integer lists of one length (steps non-zero), got ${JSON.stringify(a)}`,
    );
  }
  return { starts: [...starts], ends: [...ends], steps: [...steps] };
}

/** Indices Infinity-like in ONNX (INT64_MAX / INT64_MIN) arrive as huge doubles: clamp them. */
const clampIndex = (v: number) => Math.max(Math.min(v, 2 ** 31 - 1), -(2 ** 31));

/** A slice of a constant (shape arithmetic: `x.shape[2:]`), per axis (all steps 1 or not). */
function sliceConst(k: OnnxConst, axes: number[], starts: number[], ends: number[], steps: number[]): OnnxConst {
  const begin = k.dims.map(() => 0);
  const step = k.dims.map(() => 1);
  const size = [...k.dims];
  axes.forEach((ax, i) => {
    const [b, n] = sliceDim(k.dims[ax], starts[i], ends[i], steps[i]);
    [begin[ax], step[ax], size[ax]] = [b, steps[i], n];
  });
  const strides = k.dims.map((_, d) => sizeOf(k.dims.slice(d + 1)));
  const data = new Float64Array(sizeOf(size));
  for (let i = 0; i < data.length; i++) {
    let [r, src] = [i, 0];
    for (let d = size.length - 1; d >= 0; d--) {
      src += (begin[d] + (r % size[d]) * step[d]) * strides[d];
      r = Math.floor(r / size[d]);
    }
    data[i] = k.data[src];
  }
  return { dims: size, data: k.float ? Float32Array.from(data) : data, float: k.float };
}

/** Integer values of input j (a 1-D constant), or of attribute `attr` (older opsets). */
function intList(c: OnnxContext, j: number, attr: string, what: string): number[] | null {
  if (c.opset >= 10 || !attr) {
    if (!c.inputs[j]) return null;
    const k = c.constant(j, what);
    if (k.float) c.fail(`the ${what} must be an integer tensor`);
    return [...k.data].map(clampIndex);
  }
  return c.attrs.ints(attr)?.map(clampIndex) ?? null;
}

/**
 * Slice params over all dims after the batch from ONNX's per-axis lists: the other dims whole;
 * the batch axis may only be named with its whole range.
 */
function sliceOverRest(
  c: OnnxContext,
  rank: number,
  axes: number[],
  starts: number[],
  ends: number[],
  steps: number[],
): SliceParams {
  const p: SliceParams = { starts: [], ends: [], steps: [] };
  for (let d = 1; d < rank; d++) [p.starts[d - 1], p.ends[d - 1], p.steps[d - 1]] = [0, 2 ** 31 - 1, 1];
  axes.forEach((a, i) => {
    const ax = c.axis(a, rank);
    if (ax === 0) {
      if (starts[i] !== 0 || steps[i] !== 1 || ends[i] < 2 ** 31 - 1) c.fail('slicing the batch axis is not supported');
      return;
    }
    [p.starts[ax - 1], p.ends[ax - 1], p.steps[ax - 1]] = [starts[i], ends[i], steps[i]];
  });
  return p;
}

export const SLICE = defineOp<SliceParams>({
  inputs: 1,
  params: sliceParams,
  shape([x], p) {
    return [x[0], ...sliceWindow(x, p).size];
  },
  layout: 'first',
  saves: {},
  onnx: {
    Slice(c) {
      const starts = intList(c, 1, 'starts', 'starts') ?? c.fail('no starts');
      const ends = intList(c, 2, 'ends', 'ends') ?? c.fail('no ends');
      const k = c.constantOrNull(0);
      const rank = k ? k.dims.length : c.shape(c.tensor(0)).length;
      const axes = intList(c, 3, 'axes', 'axes') ?? starts.map((_, i) => i);
      const steps = (c.opset >= 10 ? intList(c, 4, '', 'steps') : null) ?? starts.map(() => 1);
      if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
        c.fail('starts, ends, axes and steps differ in length');
      }
      if (steps.includes(0)) c.fail('a step of 0');
      if (k)
        return c.alias(
          sliceConst(
            k,
            axes.map((a) => c.axis(a, rank)),
            starts,
            ends,
            steps,
          ),
        );
      c.emit({ op: 'slice', inputs: [c.tensor(0)], attrs: { ...sliceOverRest(c, rank, axes, starts, ends, steps) } });
    },
    // Split: each used output is a slice along the axis.
    Split(c) {
      const x = c.tensor(0);
      const shape = c.shape(x);
      const ax = c.axis(c.attrs.int('axis', 0), shape.length);
      if (ax === 0) c.fail('splitting the batch axis is not supported');
      const outs = c.outputs;
      let sizes: number[] | null = c.opset >= 13 ? intList(c, 1, '', 'split') : c.attrs.ints('split');
      if (!sizes) {
        const parts = c.opset >= 18 ? c.attrs.int('num_outputs', outs.length) : outs.length;
        const each = Math.ceil(shape[ax] / parts);
        sizes = Array.from({ length: parts }, (_, i) => Math.min(each, shape[ax] - i * each));
      }
      if (sizes.length !== outs.length || sizes.some((s) => s < 1) || sizes.reduce((a, b) => a + b, 0) !== shape[ax]) {
        c.fail(`split sizes [${sizes}] do not divide dim ${ax} (${shape[ax]}) into ${outs.length} outputs`);
      }
      let at = 0;
      sizes.forEach((s, i) => {
        const p = sliceOverRest(c, shape.length, [ax], [at], [at + s], [1]);
        at += s;
        if (outs[i]) c.emit({ op: 'slice', inputs: [x], attrs: { ...p }, output: outs[i] });
      });
    },
  },
});

// ------------------------------------------------------------------------------------------ pad

export interface PadParams {
  /** Per dim after the batch: elements added before ([0, rank-1)) then after ([rank-1, …)). */
  pads: number[];
  /** The value of the added elements. */
  value: number;
}

function padParams(a: Attrs): PadParams {
  const pads = a.pads;
  const value = a.value ?? 0;
  if (!ints(pads) || pads.length % 2 !== 0 || pads.some((d) => d < 0) || typeof value !== 'number') {
    throw new InvalidInputError(
      `pad: pads must be an even-length list of non-negative integers and value a number, got ${JSON.stringify(a)}`,
    );
  }
  return { pads: [...pads], value };
}

export const PAD = defineOp<PadParams>({
  inputs: 1,
  params: padParams,
  shape([x], p) {
    const r = x.length - 1;
    if (p.pads.length !== 2 * r) {
      throw new ShapeMismatchError(`pad: ${p.pads.length} pads for the ${r} dims after the batch of ${shapeStr(x)}`);
    }
    return [x[0], ...x.slice(1).map((d, i) => d + p.pads[i] + p.pads[r + i])];
  },
  layout: 'first',
  saves: {},
  onnx: {
    // Constant mode; zero pads of H and W are folded into a following conv or average pool
    // (their rules ask for it), all-zero pads vanish.
    Pad(c) {
      const mode = c.attrs.string('mode', 'constant');
      if (mode !== 'constant') c.fail(`mode '${mode}' is not supported (only 'constant')`);
      const x = c.tensor(0);
      const rank = c.shape(x).length;
      let pads = c.opset >= 11 ? intList(c, 1, '', 'pads') : c.attrs.ints('pads');
      if (!pads) c.fail('no pads');
      let value = c.opset >= 11 ? 0 : c.attrs.float('value', 0);
      if (c.opset >= 11 && c.inputs[2]) {
        const k = c.constant(2, 'constant value');
        if (k.data.length !== 1) c.fail('the constant value must be a scalar');
        value = k.data[0];
      }
      const axes = c.opset >= 18 ? intList(c, 3, '', 'axes') : null;
      const full = new Array<number>(2 * rank).fill(0);
      const on = axes ? axes.map((a) => c.axis(a, rank)) : [...Array(rank).keys()];
      if (pads!.length !== 2 * on.length) c.fail(`${pads!.length} pads for ${on.length} axes`);
      on.forEach((ax, i) => {
        full[ax] = pads![i];
        full[rank + ax] = pads![on.length + i];
      });
      pads = full;
      if (pads.some((d) => d < 0)) c.fail(`negative pads [${pads}] (cropping) are not supported`);
      if (pads[0] !== 0 || pads[rank] !== 0) c.fail('padding the batch axis is not supported');
      if (pads.every((d) => d === 0)) return void c.emit({ op: 'identity', inputs: [x] });
      c.emit({
        op: 'pad',
        inputs: [x],
        attrs: { pads: [...pads.slice(1, rank), ...pads.slice(rank + 1)], value },
      });
    },
    Squeeze: (c) => axesRule(c, 'squeeze'),
    Unsqueeze: (c) => axesRule(c, 'unsqueeze'),
  },
});

/**
 * A conv's or average pool's input x produced by a zero pad of H and W only (a 4-D 'pad' node
 * read by nothing else): the pad node is dropped and the layer reads the pad's input with
 * `pads` (its own, [top, left, bottom, right]) grown by the pad's. Null (nothing changed) for
 * any other input. The caller must count the padded zeros as the pad did (an average pool
 * then counts padding in its divisor).
 */
export function foldZeroPad(
  c: OnnxContext,
  x: string,
  pads: readonly [number, number, number, number],
): { x: string; pads: [number, number, number, number] } | null {
  const node = c.producer(x);
  if (!node || node.op !== 'pad') return null;
  const p = padParams(node.attrs ?? {});
  if (p.value !== 0 || p.pads.length !== 6 || p.pads[0] !== 0 || p.pads[3] !== 0) return null;
  c.remove(x);
  const [, t, l, , b, r] = p.pads;
  return { x: node.inputs[0], pads: [pads[0] + t, pads[1] + l, pads[2] + b, pads[3] + r] };
}

// ---------------------------------------------------------------------- squeeze and unsqueeze

/** Squeeze / Unsqueeze: a reshape of a computed tensor (never of the batch axis), folded on constants. */
function axesRule(c: OnnxContext, kind: 'squeeze' | 'unsqueeze'): void {
  const k = c.constantOrNull(0);
  const dims = k ? k.dims : c.shape(c.tensor(0));
  const list = c.opset >= 13 ? intList(c, 1, '', 'axes') : c.attrs.ints('axes');
  let out: number[];
  if (kind === 'squeeze') {
    const axes = (list ?? dims.flatMap((d, i) => (d === 1 && (k || i > 0) ? [i] : []))).map((a) =>
      c.axis(a, dims.length),
    );
    if (axes.some((a) => dims[a] !== 1)) c.fail(`cannot squeeze axes [${axes}] of dims [${dims}]: not all are 1`);
    if (!k && axes.includes(0)) c.fail('squeezing the batch axis is not supported');
    out = dims.filter((_, i) => !axes.includes(i));
  } else {
    if (!list) c.fail('no axes');
    const rank = dims.length + list!.length;
    const axes = list!.map((a) => c.axis(a, rank));
    if (!k && axes.includes(0)) c.fail('unsqueezing before the batch axis is not supported');
    out = [];
    let src = 0;
    for (let i = 0; i < rank; i++) out.push(axes.includes(i) ? 1 : dims[src++]);
  }
  if (k) return c.alias({ ...k, dims: out });
  c.emit({ op: 'reshape', inputs: [c.tensor(0)], attrs: { shape: out.slice(1) } });
}
