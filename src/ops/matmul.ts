/**
 * matmul forward and backward on stacks of matrices (shaders/matmul.wgsl). a [N, …, M, K],
 * b [N, …, K, P] → c [N, …, M, P]; the backward takes dc [T·N, …, M, P] (T targets stacked on
 * the batch) and the saved a and b [N, …], and returns da [T·N, …, M, K] and db [T·N, …, K, P].
 */
import { sizeOf } from '../core/shape';
import { matmulShape } from '../defs/matmul';
import { grid1d } from '../gpu/engine';
import { defineKernel } from '../gpu/kernel';
import type { Recorder } from '../gpu/recorder';
import type { Tensor } from '../gpu/tensor';
import matmulCode from '../../shaders/matmul.wgsl?raw';

const WG = 256;

const MATMUL = defineKernel({
  name: 'matmul',
  code: matmulCode,
  params: { count: 'u32', m: 'u32', n: 'u32', k: 'u32', mats_a: 'u32', mats_b: 'u32' },
  bindings: ['a', 'b', 'c'],
});

/** Number of matrices in a stack of the last two dims. */
const mats = (s: readonly number[]) => sizeOf(s.slice(0, -2));

async function product(
  e: Recorder,
  a: Tensor,
  b: Tensor,
  out: number[],
  k: number,
  trans: { a: boolean; b: boolean },
  label: string,
): Promise<Tensor> {
  const kern = await e.kernel(MATMUL, { defines: { TRANS_A: trans.a, TRANS_B: trans.b }, overrides: { WG } });
  const c = e.empty(out, label);
  const [m, n] = out.slice(-2);
  e.dispatch(
    kern,
    { a, b, c },
    { count: c.size, m, n, k, mats_a: mats(a.shape), mats_b: mats(b.shape) },
    grid1d(c.size, WG),
  );
  return c;
}

export function matmulForward(e: Recorder, a: Tensor, b: Tensor): Promise<Tensor> {
  const out = matmulShape(a.shape, b.shape);
  return product(e, a, b, out, a.shape[a.rank - 1], { a: false, b: false }, 'matmul');
}

/** da = dc·bᵀ: [T·N, …, M, K]. */
export function matmulBackwardA(e: Recorder, dc: Tensor, b: Tensor): Promise<Tensor> {
  const r = dc.rank;
  return product(
    e,
    dc,
    b,
    [...dc.shape.slice(0, r - 1), b.shape[r - 2]],
    dc.shape[r - 1],
    { a: false, b: true },
    'matmul:da',
  );
}

/** db = aᵀ·dc: [T·N, …, K, P]. */
export function matmulBackwardB(e: Recorder, dc: Tensor, a: Tensor): Promise<Tensor> {
  const r = dc.rank;
  return product(
    e,
    a,
    dc,
    [...dc.shape.slice(0, r - 2), a.shape[r - 1], dc.shape[r - 1]],
    dc.shape[r - 2],
    { a: true, b: false },
    'matmul:db',
  );
}
