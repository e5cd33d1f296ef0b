// Unit tests: pure modules under src/ run in Node (tfjs on the cpu/wasm backends).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'tests/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['src/kernels/vitest-setup.ts'],
  },
});
