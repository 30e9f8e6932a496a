/**
 * The CPU reference's tensor: a shape and float64 data, row-major (NCHW for images).
 * Plain on purpose: the reference is meant to be read.
 */
export interface HostTensor {
  shape: number[];
  data: Float64Array;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function hostTensor(shape: readonly number[], data?: ArrayLike<number>): HostTensor {
  const n = numel(shape);
  const out = { shape: [...shape], data: new Float64Array(n) };
  if (data) {
    if (data.length !== n) throw new Error(`hostTensor: ${data.length} values for shape [${shape}]`);
    out.data.set(data);
  }
  return out;
}

export function zerosLike(t: HostTensor): HostTensor {
  return hostTensor(t.shape);
}
