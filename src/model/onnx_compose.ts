/**
 * ONNX operators the importer writes as several engine ops (no op of their own, each step
 * tested as an op): LayerNormalization (opset 17) becomes the same nodes its decomposed export
 * (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add) converts to, so both forms of a
 * model give one graph and one gradient.
 */
import type { OnnxContext } from '../defs/op';

export const COMPOSITE_RULES: Readonly<Record<string, (c: OnnxContext) => void>> = {
  /** y = (x − mean)/√(var + ε)·scale + bias over the axes from `axis` to the last. */
  LayerNormalization(c) {
    const x = c.tensor(0);
    const rank = c.shape(x).length;
    const axis = c.axis(c.attrs.int('axis', -1), rank);
    if (axis === 0) c.fail('normalising over the batch axis is not supported');
    if (c.attrs.int('stash_type', 1) !== 1) c.fail('only stash_type 1 (float32 statistics) is supported');
    if (c.outputs.slice(1).some((o) => o)) c.fail('the Mean and InvStdDev outputs are not supported');
    const eps = c.attrs.float('epsilon', 1e-5);
    const axes = [...Array(rank - axis).keys()].map((i) => axis + i);
    const temp = (op: string, inputs: string[], attrs?: Record<string, unknown>) =>
      c.emit({ op, inputs, attrs, temp: true });
    const mean = temp('reducemean', [x], { axes, keepdims: true });
    const d = temp('sub', [x, mean]);
    const variance = temp('reducemean', [temp('mul', [d, d])], { axes, keepdims: true });
    const epsilon = c.constantTensor({ dims: [], data: Float32Array.of(eps), float: true }, rank);
    const norm = temp('div', [d, temp('sqrt', [temp('add', [variance, epsilon])])]);
    const scaled = c.emit({ op: 'mul', inputs: [norm, c.operand(1, rank)], temp: !!c.inputs[2] });
    if (c.inputs[2]) c.emit({ op: 'add', inputs: [scaled, c.operand(2, rank)] });
  },
};
