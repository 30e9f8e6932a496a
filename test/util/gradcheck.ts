/**
 * Central differences for the CPU reference's backward passes. For f: x → y and a random
 * upstream gradient dy, the backward must return dx with dx_i = ∂⟨dy, f(x)⟩/∂x_i, which is
 * estimated as (⟨dy, f(x + h·e_i)⟩ − ⟨dy, f(x − h·e_i)⟩) / 2h in float64.
 */
import { hostTensor, type HostTensor } from '../../src/reference/tensor';

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function numericGrad(f: (x: HostTensor) => HostTensor, x: HostTensor, dy: HostTensor, h = 1e-6): HostTensor {
  const dx = hostTensor(x.shape);
  const xp = hostTensor(x.shape, x.data);
  for (let i = 0; i < x.data.length; i++) {
    const v = x.data[i];
    xp.data[i] = v + h;
    const fp = dot(f(xp).data, dy.data);
    xp.data[i] = v - h;
    const fm = dot(f(xp).data, dy.data);
    xp.data[i] = v;
    dx.data[i] = (fp - fm) / (2 * h);
  }
  return dx;
}
