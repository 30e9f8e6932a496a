/**
 * A constant tensor of the graph: no inputs, one weight `value`, which is its output. It is not
 * batched: its shape is the weight's, and where it meets computed tensors (the operand of a
 * binary op: a squeeze-excitation scale, a LayerNorm weight, GELU's 0.5) its dim 0 is 1 and
 * broadcasts over the batch. The ONNX importer makes one for a constant operand of an op that
 * has no weight slot for it; constants only feed the binary elementwise ops (the Graph checks).
 * It has no gradient: nothing it produces depends on the input.
 */
import { ShapeMismatchError } from '../core/errors';
import { shapeStr } from '../core/shape';
import { defineOp } from './op';

export const CONSTANT = defineOp<Record<string, never>>({
  inputs: 0,
  weights: { value: 'required' },
  params: () => ({}),
  shape(_inputs, _p, w) {
    const s = w.value;
    if (s.length < 1 || s[0] !== 1) {
      throw new ShapeMismatchError(
        `constant: the value must have dim 0 = 1 (it broadcasts over the batch), got ${shapeStr(s)}`,
      );
    }
    return [...s];
  },
  layout: 'none',
  saves: {},
});
