/**
 * Matrix product of two computed tensors (attention-like blocks): A [N, …, M, K] · B [N, …, K, P]
 * → [N, …, M, P], one product per index of the leading dims (equal in A and B, the batch
 * first). Backward: dA = dC·Bᵀ, dB = Aᵀ·dC. CPU reference: src/reference/matmul.ts; GPU
 * dispatcher: src/ops/matmul.ts (shaders/matmul.wgsl).
 *
 * ONNX MatMul is this op when both inputs are computed, and a linear layer over the last axis
 * when B is a constant matrix (nn.Linear on [N, H, W, C] exports as MatMul + Add).
 */
import { ShapeMismatchError } from '../core/errors';
import { shapeStr, type Shape } from '../core/shape';
import { transposedWeight } from './linear';
import { constWeight, defineOp } from './op';

/** [N, …, M, P]; throws ShapeMismatchError unless A [N, …, M, K] and B [N, …, K, P] match. */
export function matmulShape(a: Shape, b: Shape): number[] {
  const r = a.length;
  const ok = r >= 3 && b.length === r && a.slice(0, r - 2).every((d, i) => d === b[i]) && a[r - 1] === b[r - 2];
  if (!ok) {
    throw new ShapeMismatchError(
      `matmul: ${shapeStr(a)} · ${shapeStr(b)}: expected [N, …, M, K] · [N, …, K, P] with equal leading dims (rank ≥ 3)`,
    );
  }
  return [...a.slice(0, r - 1), b[r - 1]];
}

export const MATMUL = defineOp<Record<string, never>>({
  inputs: 2,
  params: () => ({}),
  shape: ([a, b]) => matmulShape(a, b),
  layout: 'none',
  saves: { inputs: [0, 1] },
  onnx: {
    MatMul(c) {
      const k = c.constantOrNull(1);
      if (c.constantOrNull(0)) c.fail('a constant left-hand side is not supported');
      const x = c.tensor(0);
      if (!k) {
        const y = c.tensor(1);
        const [sa, sb] = [c.shape(x), c.shape(y)];
        try {
          matmulShape(sa, sb);
        } catch (e) {
          c.fail(`two computed tensors ${(e as Error).message.replace(/^matmul: /, '')}`);
        }
        return void c.emit({ op: 'matmul', inputs: [x, y] });
      }
      if (!k.float) c.fail('the weight is an integer tensor');
      if (k.dims.length !== 2) c.fail(`a constant right-hand side must be a 2-D weight [K, M], got dims [${k.dims}]`);
      c.emit({ op: 'linear', inputs: [x], weights: { weight: transposedWeight(constWeight(k), 1) } });
    },
  },
});
