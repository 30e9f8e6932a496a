/**
 * The benchmark scripts' shared argument parser (bench/args.ts), and that `npm run bench` and
 * `npm run bench:perturbation` refuse bad options with a message and exit status 1 (before, a bad
 * count made `npm run bench` exit 2 without a word).
 */
import { describe, expect, it, vi } from 'vitest';
import { InvalidArgumentError } from 'commander';
import { nonNegativeInt } from '../../bench/args';

describe('nonNegativeInt', () => {
  it('takes non-negative integers', () => {
    expect(nonNegativeInt('0')).toBe(0);
    expect(nonNegativeInt('15')).toBe(15);
  });

  it.each(['', ' ', '-1', '1.5', 'x', 'NaN', 'Infinity'])('refuses %j with an InvalidArgumentError', (v) => {
    expect(() => nonNegativeInt(v)).toThrow(InvalidArgumentError);
    expect(() => nonNegativeInt(v)).toThrow(`must be a non-negative integer, got '${v}'`);
  });

  it.each([
    ['bench', '../../bench/cli'],
    ['bench:perturbation', '../../bench/perturbation_layers'],
  ])('%s --reps x exits with status 1 and says why', async (_name, module) => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
      written.push(String(s));
      return true;
    });
    try {
      const { main } = (await import(module)) as { main: (argv: string[]) => Promise<number> };
      await expect(main(['--reps', 'x'])).resolves.toBe(1);
    } finally {
      spy.mockRestore();
    }
    expect(written.join('')).toMatch(/--reps <n>.*must be a non-negative integer, got 'x'/);
  });

  it('bench:perturbation refuses a method that is not a perturbation method, with status 1', async () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const { main } = await import('../../bench/perturbation_layers');
      await expect(main(['--methods', 'gradcam'])).resolves.toBe(1);
      expect(err).toHaveBeenCalledWith(expect.stringMatching(/'gradcam' is not a perturbation method/));
    } finally {
      err.mockRestore();
    }
  });
});
