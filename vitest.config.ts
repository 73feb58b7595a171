import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // 2-core CI: two files at a time keeps mesh tests (several libp2p nodes each) from starving each other.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
