/**
 * The finiteness rule for host data: every float the engine takes from the host (uploaded
 * tensors, a model's weights) must be finite. Checked where the data enters (Recorder.upload,
 * Graph for weights), once, on the CPU; values computed on the GPU are the kernels' business
 * (the attribution maps are finite whatever comes in, docs/METHODS.md). Pure: no GPU.
 */
import { NonFiniteError } from './errors';

/** Throws NonFiniteError naming `what`, how many values are not finite and where the first is. */
export function checkFinite(data: ArrayLike<number>, shape: readonly number[], what: string): void {
  let first = -1;
  let count = 0;
  for (let i = 0; i < data.length; i++) {
    // v - v is 0 for every finite v, NaN for NaN and ±Infinity: one test for the three.
    const v = data[i];
    if (v - v !== 0) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (count === 0) return;
  throw new NonFiniteError(what, count, first, data[first], indexAt(first, shape));
}

/** The multi-index of flat index `i` in a row-major tensor of `shape`, as '[a, b, c]'. */
export function indexAt(i: number, shape: readonly number[]): string {
  const out: number[] = [];
  let rest = i;
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = Math.max(1, shape[d]);
    out.unshift(rest % n);
    rest = Math.floor(rest / n);
  }
  return `[${out.join(', ')}]`;
}
