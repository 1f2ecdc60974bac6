/**
 * vitest globalSetup: build the aegis-api test bed, start Prometheus and PostgreSQL once per run,
 * and hand test files what they need through `inject('testbed')` (type: TestbedContext).
 * A missing go, prometheus or postgres fails the whole run with the Debian package to install.
 */
import type { TestProject } from 'vitest/node';
import { startTestbed } from './support/testbed.ts';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const bed = await startTestbed();
  project.provide('testbed', bed.context);
  const { prometheusUrl, postgres } = bed.context;
  console.log(
    `[testbed] ready in ${Date.now() - started} ms: Prometheus ${prometheusUrl}, ` +
      `PostgreSQL ${postgres.host}:${postgres.port}, aegis-api ${bed.context.aegisApiBinary}`,
  );
  return async () => {
    const t = Date.now();
    await bed.stop();
    console.log(`[testbed] stopped in ${Date.now() - t} ms`);
  };
}
