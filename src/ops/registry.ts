/**
 * The GPU implementation of every op of the registry (src/defs/index.ts): how the executor
 * (src/model/model.ts) runs a node forward and backward. Typed over the registry's keys, so an
 * op without a GPU implementation does not compile; the elementwise ops come from their table.
 *
 * Conventions: forward gets the node's inputs [N, ...]; backward gets dy [T·N, ...] (T targets
 * stacked on the batch dim) and exactly the forward tensors the op's definition says it saves,
 * and returns one gradient per input (null where `needs` is false or the input gets none).
 */
import { mapKeys, saved } from '../core/records';
import type { Shape } from '../core/shape';
import type { Conv2dParams } from '../defs/conv2d';
import { BINARY, PASS, UNARY, type BinaryOp, type BinaryType, type UnaryType } from '../defs/elementwise';
import type { OpParams, OpType } from '../defs/index';
import { reducedCount } from '../defs/reduce';
import type { Recorder } from '../gpu/recorder';
import type { Tensor } from '../gpu/tensor';
import { concatBackward, concatForward } from './concat';
import {
  conv2dBackward,
  conv2dConfig,
  conv2dForward,
  conv2dPackWeights,
  type Conv2dWeights,
  type PackedConv2dWeights,
} from './conv2d';
import { binaryBackward, binaryForward, unaryBackward, unaryForward } from './elementwise';
import {
  padBackward,
  padForward,
  reduceBackward,
  sliceBackward,
  sliceForward,
  transposeBackward,
  transposeForward,
} from './layout';
import { linearBackward, linearForward } from './linear';
import { matmulBackwardA, matmulBackwardB, matmulForward } from './matmul';
import { reduceForward } from './reduce';
import { isHalves, toHalves } from './half';
import {
  avgPool2dBackward,
  avgPool2dForward,
  globalAvgPoolBackward,
  globalAvgPoolForward,
  maxPool2dBackward,
  maxPool2dForward,
} from './pool';
import { softmaxBackward, softmaxForward } from './softmax';

/** A node's weights on the GPU, by key ('weight', 'bias'), as its op's load() left them. */
export type Weights = Readonly<Record<string, Tensor>>;

/** A gradient, and whether it shares storage with another live tensor (then accumulate out of place). */
export interface Grad {
  t: Tensor;
  shared: boolean;
}

export interface ForwardArgs<P> {
  params: P;
  inputs: readonly Tensor[];
  weights: Weights;
  /** The weights' shapes as the graph gives them (a packed conv weight has other dims). */
  weightShapes: Readonly<Record<string, Shape>>;
  /** The output's shape for this batch. */
  outShape: Shape;
  /** Fuse y = max(y, 0) into the store (only asked of ops with fusesRelu). */
  relu: boolean;
}

export interface BackwardArgs<P> {
  params: P;
  /** Gradient of the output, [T·N, ...]. */
  dy: Tensor;
  weights: Weights;
  weightShapes: Readonly<Record<string, Shape>>;
  /** The saved forward tensors (null where the op's definition does not save them). */
  saved: { readonly inputs: readonly (Tensor | null)[]; readonly output: Tensor | null };
  /** The forward inputs' shapes for this batch ([N, ...]). */
  inputShapes: readonly Shape[];
  /** Which inputs need a gradient. */
  needs: readonly boolean[];
  /** Guided backprop (changes ReLU's backward only). */
  guided: boolean;
}

/** How Model.load stores weights (ModelLoadOptions.weightStorage). */
export interface LoadOptions {
  /**
   * 'f16': the op may store the weights named in its `halves` as IEEE halves (src/ops/half.ts),
   * which its kernels read back and accumulate in float32; 'f32': as given.
   */
  weightStorage: 'f32' | 'f16';
}

export interface GpuOp<P> {
  /** At Model.load: turn the uploaded weights into what forward/backward read (default: as uploaded). */
  load?(e: Recorder, params: P, weights: Record<string, Tensor>, opts: LoadOptions): Promise<Record<string, Tensor>>;
  /** The weight keys load() may store as halves under weightStorage 'f16' (range-checked on the host first). */
  readonly halves?: readonly string[];
  /** The op can fuse a ReLU that alone reads its output into its own store. */
  readonly fusesRelu?: boolean;
  forward(e: Recorder, a: ForwardArgs<P>): Promise<Tensor>;
  backward(e: Recorder, a: BackwardArgs<P>): Promise<(Grad | null)[]>;
}

const own = (t: Tensor): Grad => ({ t, shared: false });
const view = (t: Tensor): Grad => ({ t, shared: true });

function unaryOp(op: UnaryType): GpuOp<Record<string, number>> {
  const from = UNARY[op].backward.from;
  return {
    forward: (e, a) => unaryForward(e, op, a.inputs[0], a.params),
    backward: async (e, a) => {
      const s = from === 'x' ? saved(a.saved.inputs[0], 'input') : saved(a.saved.output, 'output');
      return [own(await unaryBackward(e, op, a.dy, s, a.params, { guided: a.guided }))];
    },
  };
}

function binaryOp(op: BinaryType): GpuOp<Record<string, number>> {
  const def: BinaryOp = BINARY[op];
  return {
    forward: (e, a) => binaryForward(e, op, a.inputs[0], a.inputs[1], a.params),
    backward: async (e, a) => {
      const shapes = { a: a.inputShapes[0], b: a.inputShapes[1] };
      const out: (Grad | null)[] = [];
      for (const [j, which] of (['a', 'b'] as const).entries()) {
        if (!a.needs[j]) {
          out.push(null);
          continue;
        }
        // dy itself, where nothing was broadcast: a view, no kernel.
        const sameShape = a.inputShapes[j].every((d, i) => i === 0 || d === a.dy.shape[i]);
        if (def.backward[which] === PASS && sameShape) {
          out.push(view(a.dy.reshape(a.dy.shape)));
          continue;
        }
        const [sa, sb] = a.saved.inputs;
        out.push(own(await binaryBackward(e, op, which, a.dy, sa, sb, shapes, a.params)));
      }
      return out;
    },
  };
}

/** Conv weights as the conv kernels take them: packed (5-D, see conv2dPackWeights) or as given. */
function convWeights(w: Tensor, shape: Shape, p: Conv2dParams): Conv2dWeights {
  if (w.rank !== 5) return w;
  const packed: PackedConv2dWeights = { data: w, shape, groups: p.groups, f16: isHalves(w) };
  return packed;
}

/** Views (flatten, reshape, identity): the output and the gradient share the input's storage. */
const VIEW: GpuOp<unknown> = {
  forward: async (_e, a) => a.inputs[0].reshape(a.outShape),
  backward: async (_e, a) => [view(a.dy.reshape([a.dy.shape[0], ...a.inputShapes[0].slice(1)]))],
};

export const GPU_OPS: { readonly [K in OpType]: GpuOp<OpParams[K]> } = {
  ...mapKeys(UNARY, unaryOp),
  ...mapKeys(BINARY, binaryOp),
  conv2d: {
    fusesRelu: true,
    // Weights that the tiled kernels read are packed once here and kept only in that layout
    // (as halves with weightStorage 'f16'); the others (depthwise convs, or an engine on the
    // direct kernel) stay float32 as given.
    halves: ['weight'],
    async load(e, p, w, opts) {
      const weight = w.weight;
      if (!conv2dConfig(e).tiled || weight.shape[0] / p.groups < 4) return w;
      const packed = await conv2dPackWeights(e, weight, p.groups, { f16: opts.weightStorage === 'f16' });
      weight.destroy();
      return { ...w, weight: packed.data };
    },
    forward: (e, a) =>
      conv2dForward(
        e,
        a.inputs[0],
        convWeights(a.weights.weight, a.weightShapes.weight, a.params),
        a.weights.bias ?? null,
        a.params,
        {
          relu: a.relu,
        },
      ),
    backward: async (e, a) => [
      own(
        await conv2dBackward(
          e,
          a.dy,
          convWeights(a.weights.weight, a.weightShapes.weight, a.params),
          a.params,
          a.inputShapes[0],
        ),
      ),
    ],
  },
  maxpool2d: {
    forward: (e, a) => maxPool2dForward(e, a.inputs[0], a.params),
    backward: async (e, a) => [own(await maxPool2dBackward(e, a.dy, saved(a.saved.inputs[0], 'input'), a.params))],
  },
  avgpool2d: {
    forward: (e, a) => avgPool2dForward(e, a.inputs[0], a.params),
    backward: async (e, a) => [own(await avgPool2dBackward(e, a.dy, a.params, a.inputShapes[0]))],
  },
  globalavgpool: {
    forward: (e, a) => globalAvgPoolForward(e, a.inputs[0]),
    backward: async (e, a) => [own(await globalAvgPoolBackward(e, a.dy, a.inputShapes[0]))],
  },
  linear: {
    // With weightStorage 'f16' the weight matrix is stored as halves (the bias stays float32).
    halves: ['weight'],
    async load(e, _p, w, opts) {
      if (opts.weightStorage !== 'f16') return w;
      const halves = await toHalves(e, w.weight);
      w.weight.destroy();
      return { ...w, weight: halves };
    },
    forward: (e, a) => linearForward(e, a.inputs[0], a.weights.weight, a.weights.bias ?? null, a.weightShapes.weight),
    backward: async (e, a) => [own(await linearBackward(e, a.dy, a.weights.weight, a.weightShapes.weight))],
  },
  concat: {
    forward: (e, a) => concatForward(e, [...a.inputs], a.params.axis),
    backward: async (e, a) => {
      const parts = await concatBackward(e, a.dy, [...a.inputShapes], a.params.axis);
      return parts.map((t, j) => {
        if (a.needs[j]) return own(t);
        t.destroy();
        return null;
      });
    },
  },
  matmul: {
    forward: (e, a) => matmulForward(e, a.inputs[0], a.inputs[1]),
    backward: async (e, a) => {
      const [x, y] = [saved(a.saved.inputs[0], 'input a'), saved(a.saved.inputs[1], 'input b')];
      return [
        a.needs[0] ? own(await matmulBackwardA(e, a.dy, y)) : null,
        a.needs[1] ? own(await matmulBackwardB(e, a.dy, x)) : null,
      ];
    },
  },
  reducemean: {
    forward: (e, a) => reduceForward(e, a.inputs[0], a.params, true, a.outShape),
    backward: async (e, a) => [
      own(await reduceBackward(e, a.dy, a.params, a.inputShapes[0], 1 / reducedCount(a.inputShapes[0], a.params))),
    ],
  },
  reducesum: {
    forward: (e, a) => reduceForward(e, a.inputs[0], a.params, false, a.outShape),
    backward: async (e, a) => [own(await reduceBackward(e, a.dy, a.params, a.inputShapes[0], 1))],
  },
  transpose: {
    forward: (e, a) => transposeForward(e, a.inputs[0], a.params.perm),
    backward: async (e, a) => [own(await transposeBackward(e, a.dy, a.params.perm))],
  },
  slice: {
    forward: (e, a) => sliceForward(e, a.inputs[0], a.params),
    backward: async (e, a) => [own(await sliceBackward(e, a.dy, a.params, a.inputShapes[0]))],
  },
  pad: {
    forward: (e, a) => padForward(e, a.inputs[0], a.params),
    backward: async (e, a) => [own(await padBackward(e, a.dy, a.params, a.inputShapes[0]))],
  },
  // The weight itself, as a view made by the running recorder: freeing the activations (or the
  // recorder's scope) frees the view, never the weight.
  constant: {
    forward: async (e, a) => e.view(a.weights.value),
    backward: async () => [],
  },
  softmax: {
    forward: (e, a) => softmaxForward(e, a.inputs[0]),
    backward: async (e, a) => [own(await softmaxBackward(e, a.dy, saved(a.saved.output, 'output')))],
  },
  flatten: VIEW,
  reshape: VIEW,
  identity: VIEW,
};
