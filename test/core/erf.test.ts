/** The float64 erf of the CPU reference against an independent one (Python's math.erf, C libm). */
import { describe, expect, it } from 'vitest';
import { erf } from '../../src/core/erf';

// /usr/bin/python3 -c "import math; print([math.erf(v) for v in X])", for the X below.
const X = [-5, -3.2, -2.0001, -2, -1.5, -0.7, -0.1, 0, 1e-8, 0.3, 0.9999, 1.99, 2, 2.5, 3.7, 5.9, 6.5];
const PYTHON = [
  -0.9999999999984626, -0.9999939742388483, -0.9953243313041966, -0.9953222650189527, -0.9661051464753108,
  -0.6778011938374184, -0.1124629160182849, 0.0, 1.1283791670955126e-8, 0.3286267594591274, 0.8426592780487595,
  0.995111413199617, 0.9953222650189527, 0.999593047982555, 0.9999998328489421, 0.9999999999999999, 1.0,
];

describe('erf (float64)', () => {
  it('equals libm to a few float64 roundings, on both branches and at their seam', () => {
    X.forEach((x, i) => {
      const want = PYTHON[i];
      expect(Math.abs(erf(x) - want), `erf(${x})`).toBeLessThanOrEqual(4e-16 * Math.max(1, Math.abs(want)));
    });
  });

  it('is odd and NaN-preserving', () => {
    for (const x of [0.25, 1.7, 2.3, 4]) expect(erf(-x)).toBe(-erf(x));
    expect(erf(NaN)).toBeNaN();
    expect(erf(Infinity)).toBe(1);
  });
});
