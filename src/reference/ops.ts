/**
 * The CPU reference implementation of every op of the registry (src/defs/index.ts), as the
 * reference executor (src/reference/model.ts) runs them. Typed over the registry's keys, so an
 * op without a reference does not compile; the elementwise ops come from their table.
 *
 * Conventions as on the GPU (src/ops/registry.ts): forward gets the inputs [N, ...]; backward
 * gets dy [T·N, ...] and exactly the forward tensors the op's definition saves, and returns one
 * gradient per input (null where `needs` is false).
 */
import { mapKeys, saved } from '../core/records';
import type { Shape } from '../core/shape';
import { BINARY, UNARY, type BinaryType, type UnaryType } from '../defs/elementwise';
import type { OpParams, OpType } from '../defs/index';
import { concatBackward, concatForward } from './concat';
import { conv2dBackward, conv2dForward } from './conv2d';
import { binaryBackward, binaryForward, unaryBackward, unaryForward } from './elementwise';
import { padBackward, padForward, sliceBackward, sliceForward, transposeBackward, transposeForward } from './layout';
import { linearBackward, linearForward } from './linear';
import { matmulBackwardA, matmulBackwardB, matmulForward } from './matmul';
import { reduceBackward, reduceForward } from './reduce';
import {
  avgPool2dBackward,
  avgPool2dForward,
  globalAvgPoolBackward,
  globalAvgPoolForward,
  maxPool2dBackward,
  maxPool2dForward,
} from './pool';
import { softmaxBackward, softmaxForward } from './softmax';
import { hostTensor, type HostTensor } from './tensor';

export type HostWeights = Readonly<Record<string, HostTensor>>;

export interface RefForwardArgs<P> {
  params: P;
  inputs: readonly HostTensor[];
  weights: HostWeights;
  /** The output's shape for this batch. */
  outShape: Shape;
}

export interface RefBackwardArgs<P> {
  params: P;
  dy: HostTensor;
  weights: HostWeights;
  /** The saved forward tensors (null where the op's definition does not save them). */
  saved: { readonly inputs: readonly (HostTensor | null)[]; readonly output: HostTensor | null };
  inputShapes: readonly Shape[];
  needs: readonly boolean[];
  guided: boolean;
}

export interface RefOp<P> {
  forward(a: RefForwardArgs<P>): HostTensor;
  backward(a: RefBackwardArgs<P>): (HostTensor | null)[];
}

function unaryOp(op: UnaryType): RefOp<Record<string, number>> {
  const from = UNARY[op].backward.from;
  return {
    forward: (a) => unaryForward(op, a.inputs[0], a.params),
    backward: (a) => {
      const s = from === 'x' ? saved(a.saved.inputs[0], 'input') : saved(a.saved.output, 'output');
      return [unaryBackward(op, a.dy, s, a.params, { guided: a.guided })];
    },
  };
}

function binaryOp(op: BinaryType): RefOp<Record<string, number>> {
  return {
    forward: (a) => binaryForward(op, a.inputs[0], a.inputs[1]),
    backward: (a) => {
      const shapes = { a: a.inputShapes[0], b: a.inputShapes[1] };
      const [sa, sb] = a.saved.inputs;
      return (['a', 'b'] as const).map((which, j) =>
        a.needs[j] ? binaryBackward(op, which, a.dy, sa, sb, shapes) : null,
      );
    },
  };
}

/** Views: the output is the input's data with the output's shape; the gradient likewise. */
const VIEW: RefOp<unknown> = {
  forward: (a) => hostTensor(a.outShape, a.inputs[0].data),
  backward: (a) => [hostTensor([a.dy.shape[0], ...a.inputShapes[0].slice(1)], a.dy.data)],
};

export const REF_OPS: { readonly [K in OpType]: RefOp<OpParams[K]> } = {
  ...mapKeys(UNARY, unaryOp),
  ...mapKeys(BINARY, binaryOp),
  conv2d: {
    forward: (a) => conv2dForward(a.inputs[0], a.weights.weight, a.weights.bias ?? null, a.params),
    backward: (a) => [conv2dBackward(a.dy, a.weights.weight, a.params, a.inputShapes[0])],
  },
  maxpool2d: {
    forward: (a) => maxPool2dForward(a.inputs[0], a.params),
    backward: (a) => [maxPool2dBackward(a.dy, saved(a.saved.inputs[0], 'input'), a.params)],
  },
  avgpool2d: {
    forward: (a) => avgPool2dForward(a.inputs[0], a.params),
    backward: (a) => [avgPool2dBackward(a.dy, a.params, a.inputShapes[0])],
  },
  globalavgpool: {
    forward: (a) => globalAvgPoolForward(a.inputs[0]),
    backward: (a) => [globalAvgPoolBackward(a.dy, a.inputShapes[0])],
  },
  linear: {
    forward: (a) => linearForward(a.inputs[0], a.weights.weight, a.weights.bias ?? null),
    backward: (a) => [linearBackward(a.dy, a.weights.weight)],
  },
  concat: {
    forward: (a) => concatForward([...a.inputs], a.params.axis),
    backward: (a) => concatBackward(a.dy, a.inputShapes, a.params.axis).map((d, j) => (a.needs[j] ? d : null)),
  },
  matmul: {
    forward: (a) => matmulForward(a.inputs[0], a.inputs[1]),
    backward: (a) => {
      const [x, y] = [saved(a.saved.inputs[0], 'input a'), saved(a.saved.inputs[1], 'input b')];
      return [a.needs[0] ? matmulBackwardA(a.dy, y) : null, a.needs[1] ? matmulBackwardB(a.dy, x) : null];
    },
  },
  reducemean: {
    forward: (a) => reduceForward(a.inputs[0], a.params, true, a.outShape),
    backward: (a) => [reduceBackward(a.dy, a.params, a.inputShapes[0], true)],
  },
  reducesum: {
    forward: (a) => reduceForward(a.inputs[0], a.params, false, a.outShape),
    backward: (a) => [reduceBackward(a.dy, a.params, a.inputShapes[0], false)],
  },
  transpose: {
    forward: (a) => transposeForward(a.inputs[0], a.params.perm),
    backward: (a) => [transposeBackward(a.dy, a.params.perm)],
  },
  slice: {
    forward: (a) => sliceForward(a.inputs[0], a.params),
    backward: (a) => [sliceBackward(a.dy, a.params, a.inputShapes[0])],
  },
  pad: {
    forward: (a) => padForward(a.inputs[0], a.params),
    backward: (a) => [padBackward(a.dy, a.params, a.inputShapes[0])],
  },
  constant: {
    forward: (a) => hostTensor(a.weights.value.shape, a.weights.value.data),
    backward: () => [],
  },
  softmax: {
    forward: (a) => softmaxForward(a.inputs[0]),
    backward: (a) => [softmaxBackward(a.dy, saved(a.saved.output, 'output'))],
  },
  flatten: VIEW,
  reshape: VIEW,
  identity: VIEW,
};
