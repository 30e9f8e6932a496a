/**
 * Softmax over the classes of [N, K] scores. Attribution differentiates the scores before it
 * (src/model/graph.ts `scores`), but a graph may end in one. CPU reference: src/reference/softmax.ts;
 * GPU dispatcher: src/ops/softmax.ts.
 */
import { ShapeMismatchError } from '../core/errors';
import { shapeStr } from '../core/shape';
import { defineOp } from './op';

export const SOFTMAX = defineOp<Record<string, never>>({
  inputs: 1,
  params: () => ({}),
  shape([x]) {
    if (x.length !== 2) throw new ShapeMismatchError(`expects a 2-D input [N, K], got ${shapeStr(x)}`);
    return [...x];
  },
  // dx = y ⊙ (dy − Σ dy⊙y) reads the forward output.
  saves: { output: true },
  layout: 'none',
  onnx: {
    Softmax(c) {
      const x = c.tensor(0);
      const rank = c.shape(x).length;
      const axis = c.axis(c.attrs.int('axis', c.opset >= 13 ? -1 : 1), rank);
      if (rank !== 2 || axis !== 1) c.fail('only a softmax over the classes of [N, K] scores is supported');
      c.emit({ op: 'softmax', inputs: [x] });
    },
  },
});
