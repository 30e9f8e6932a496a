/**
 * Every typed error names itself with a string (`name`), so that the name survives a minifier,
 * which renames classes: the name is the class's exported name, on the instance and in the
 * stack's first line. The same check runs on the built package in test/package/consumer.test.ts
 * (plain Node and a minified Vite bundle in Chromium).
 */
import { describe, expect, it } from 'vitest';
import * as errors from '../../src/core/errors';

const classes = Object.entries(errors as Record<string, unknown>).filter(
  (e): e is [string, new (...args: never[]) => Error] => typeof e[1] === 'function' && e[1].prototype instanceof Error,
);

describe('error names', () => {
  it('src/core/errors.ts exports the typed errors', () => {
    expect(classes.map(([k]) => k)).toEqual(expect.arrayContaining(['WebGpuCamError', 'ModelFormatError']));
    expect(classes.length).toBeGreaterThanOrEqual(11);
  });

  it.each(classes)('%s names itself', (exported, C) => {
    // Every constructor takes strings or numbers first, but UnsupportedOperatorError (a list of operators).
    const args =
      C === errors.UnsupportedOperatorError ? [[{ opType: 'a', count: 1, firstNode: 'b' }], []] : ['a', 'b', []];
    const e = new (C as unknown as new (...a: unknown[]) => Error)(...args);
    expect(e).toBeInstanceOf(errors.WebGpuCamError);
    expect(e.name).toBe(exported);
    expect(String(e).startsWith(`${exported}: `)).toBe(true);
    expect(e.stack?.split('\n')[0].startsWith(`${exported}: `)).toBe(true);
  });
});
