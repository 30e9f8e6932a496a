/**
 * CPU reference (float64) of matmul on stacks of matrices: c[s] = a[s]·b[s] over the leading
 * dims, and its backward for dc [T·N, …] (a forward operand's matrix s is read for gradient
 * matrix s mod its count).
 */
import { hostTensor, type HostTensor } from './tensor';

const mats = (s: readonly number[]) => s.slice(0, -2).reduce((x, y) => x * y, 1);

/** out[s] = opA(a[s mod |a|]) · opB(b[s mod |b|]), op the transpose where asked. */
function product(a: HostTensor, b: HostTensor, out: number[], ta: boolean, tb: boolean): HostTensor {
  const c = hostTensor(out);
  const [m, n] = out.slice(-2);
  const [ra, ca] = a.shape.slice(-2);
  const [rb, cb] = b.shape.slice(-2);
  const k = ta ? ra : ca;
  const [na, nb] = [mats(a.shape), mats(b.shape)];
  for (let s = 0; s < mats(out); s++) {
    const [a0, b0] = [(s % na) * ra * ca, (s % nb) * rb * cb];
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let t = 0; t < k; t++) {
          const av = ta ? a.data[a0 + t * ca + i] : a.data[a0 + i * ca + t];
          const bv = tb ? b.data[b0 + j * cb + t] : b.data[b0 + t * cb + j];
          sum += av * bv;
        }
        c.data[(s * m + i) * n + j] = sum;
      }
    }
  }
  return c;
}

export function matmulForward(a: HostTensor, b: HostTensor): HostTensor {
  return product(a, b, [...a.shape.slice(0, -1), b.shape[b.shape.length - 1]], false, false);
}

/** da = dc·bᵀ. */
export function matmulBackwardA(dc: HostTensor, b: HostTensor): HostTensor {
  const r = dc.shape.length;
  return product(dc, b, [...dc.shape.slice(0, r - 1), b.shape[r - 2]], false, true);
}

/** db = aᵀ·dc. */
export function matmulBackwardB(dc: HostTensor, a: HostTensor): HostTensor {
  const r = dc.shape.length;
  return product(a, dc, [...dc.shape.slice(0, r - 2), a.shape[r - 1], dc.shape[r - 1]], true, false);
}
