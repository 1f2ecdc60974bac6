import os from 'node:os';
import { defineConfig } from 'vitest/config';

// Integration tests mostly wait on real servers (Prometheus scrapes every second), so two files at
// a time keep a 2-core machine busy without starving Prometheus, PostgreSQL and the Go instances.
const workers = Math.min(4, Math.max(2, Math.floor(os.availableParallelism() / 2)));

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    maxWorkers: workers,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
