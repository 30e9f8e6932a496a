/**
 * Command-line argument parsers shared by the benchmark scripts (commander's argParser): a
 * refused value is an InvalidArgumentError, which commander prints with the option's name
 * before it exits with status 1.
 */
import { InvalidArgumentError } from 'commander';

/** A non-negative integer (repetitions, warm-up runs, counts). */
export function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 0) {
    throw new InvalidArgumentError(`must be a non-negative integer, got '${v}'`);
  }
  return n;
}
