/** Checks shared by the op dispatchers. */
import { ShapeMismatchError } from '../core/errors';
import { shapeStr, type Shape } from '../core/shape';

export function expectRank(shape: Shape, rank: number, what: string): void {
  if (shape.length !== rank) {
    throw new ShapeMismatchError(`${what}: expected a ${rank}-D tensor, got ${shape.length}-D ${shapeStr(shape)}`);
  }
}

/**
 * A gradient tensor for T targets over a forward batch: its leading dim is a multiple of the
 * forward tensor's N, the other dims equal. Returns T.
 */
export function targetsOf(grad: Shape, fwd: Shape, what: string): number {
  const ok = grad.length === fwd.length && grad[0] % fwd[0] === 0 && grad.slice(1).every((d, i) => d === fwd[i + 1]);
  if (!ok) {
    throw new ShapeMismatchError(
      `${what}: gradient ${shapeStr(grad)} does not match forward tensor ${shapeStr(fwd)} (leading dim must be T·N)`,
    );
  }
  return grad[0] / fwd[0];
}
