import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // One WebGPU device per file; SwiftShader already uses every core, so files run one by one.
    fileParallelism: false,
    pool: 'forks',
  },
});
