import os from 'node:os';
import { defineConfig } from 'vitest/config';

// Integration tests mostly wait on real servers (Prometheus scrapes every second), so two files at
// a time keep a 2-core machine busy without starving Prometheus, PostgreSQL and the Go instances.
const workers = Math.min(4, Math.max(2, Math.floor(os.availableParallelism() / 2)));

/**
 * Two projects, told apart by file name (test/test-projects.test.ts keeps the names honest):
 * - unit: every test/**\/*.test.ts that is not *.int.test.ts. Needs nothing but Node and the npm
 *   dependencies: no go, prometheus, postgres, redis, chromium or system fonts, no global setup.
 * - integration: test/**\/*.int.test.ts. Runs against real programs; its global setup builds the Go
 *   test bed and starts Prometheus and PostgreSQL once for the whole project (inject('testbed')).
 * `npx vitest run` (npm test) runs both; `--project unit` or `--project integration` one of them.
 */
export const INTEGRATION_GLOB = 'test/**/*.int.test.ts';
export const UNIT_GLOB = 'test/**/*.test.ts';

export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: workers,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    // loopback requests in files that import nock would each wait 40 ms on Nagle + delayed ACK
    setupFiles: ['test/support/no-delay.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [UNIT_GLOB],
          exclude: [INTEGRATION_GLOB],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: [INTEGRATION_GLOB],
          globalSetup: ['test/global-setup.ts'],
        },
      },
    ],
  },
});
