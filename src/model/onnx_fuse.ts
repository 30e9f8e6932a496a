/**
 * Rewrites of an ONNX node list before conversion, where an exporter spelled out an operator
 * node by node: GELU before opset 20 is x·0.5·(1 + Erf(x/√2)) in five nodes, which becomes one
 * Gelu node (one kernel instead of five, one saved tensor instead of four, and a gate for guided
 * backprop). A chain is fused only when its inner tensors are read by nothing else; the Gelu
 * node takes the name of the chain's last node (so it stays in that module's scope).
 */
import { Attrs, tensorValues, type OnnxGraph, type OnnxNode } from './onnx_proto';

/** The scalar value of a constant tensor (an initializer or a Constant node), or null. */
type Scalar = (name: string) => number | null;

function scalars(g: OnnxGraph): Scalar {
  const values = new Map<string, number>();
  const put = (name: string, v: { data: ArrayLike<number> }) => {
    if (v.data.length === 1) values.set(name, v.data[0]);
  };
  // Only scalars are decoded (a weight is not copied here).
  for (const t of g.initializer) if (t.dims.every((d) => Number(d) === 1)) put(t.name ?? '', tensorValues(t));
  for (const n of g.node) {
    if (n.op_type !== 'Constant' || (n.domain && n.domain !== 'ai.onnx')) continue;
    const a = new Attrs(n);
    const t = a.tensor('value');
    if (t) put(n.output[0], tensorValues(t));
    else if (a.has('value_float')) values.set(n.output[0], a.float('value_float', NaN));
  }
  return (name) => values.get(name) ?? null;
}

const near = (v: number | null, want: number) => v !== null && Math.abs(v - want) <= 1e-6 * Math.abs(want);

export function fuseNodes(g: OnnxGraph): OnnxNode[] {
  const scalar = scalars(g);
  const uses = new Map<string, number>();
  for (const n of g.node) for (const i of n.input) uses.set(i, (uses.get(i) ?? 0) + 1);
  for (const o of g.output) uses.set(o.name ?? '', (uses.get(o.name ?? '') ?? 0) + 1);
  const producer = new Map<string, OnnxNode>();
  for (const n of g.node) for (const o of n.output) producer.set(o, n);
  const isOp = (n: OnnxNode | undefined, op: string) =>
    !!n && n.op_type === op && (!n.domain || n.domain === 'ai.onnx');
  /** The node producing t when t is read once (by the chain), with op type `op`. */
  const inner = (t: string, op: string) => {
    const n = producer.get(t);
    return isOp(n, op) && uses.get(t) === 1 ? n! : null;
  };
  /** [the operand that is the scalar `want`, the other], in either order, or null. */
  const withScalar = (n: OnnxNode, want: number): string | null => {
    const [a, b] = n.input;
    if (near(scalar(b), want)) return a;
    if (near(scalar(a), want)) return b;
    return null;
  };

  const dropped = new Set<OnnxNode>();
  const replaced = new Map<OnnxNode, OnnxNode>();
  for (const last of g.node) {
    // Mul(Mul(x, Add(Erf(Div(x, √2)), 1)), 0.5), operands of Mul and Add in either order.
    if (!isOp(last, 'Mul')) continue;
    const m = withScalar(last, 0.5);
    const mul = m === null ? null : inner(m, 'Mul');
    if (!mul) continue;
    for (const [x, s] of [
      [mul.input[0], mul.input[1]],
      [mul.input[1], mul.input[0]],
    ]) {
      const add = inner(s, 'Add');
      const e = add && withScalar(add, 1);
      const erf = e ? inner(e, 'Erf') : null;
      const div = erf ? inner(erf.input[0], 'Div') : null;
      if (!div || div.input[0] !== x || !near(scalar(div.input[1]), Math.SQRT2)) continue;
      for (const n of [mul, add!, erf!, div]) dropped.add(n);
      replaced.set(last, { name: last.name, op_type: 'Gelu', input: [x], output: [last.output[0]], attribute: [] });
      break;
    }
  }
  return g.node.filter((n) => !dropped.has(n)).map((n) => replaced.get(n) ?? n);
}
