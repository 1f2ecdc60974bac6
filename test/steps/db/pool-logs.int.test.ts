/**
 * Connection pool exhaustion as the runbook describes it: "connection pool exhausted" in the
 * application's logs. Here the logs are the test bed's Go service's own log file, read through the
 * same PodLogReader interface the Kubernetes source implements.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { PodLogReader } from '../../../src/steps/db/step.ts';
import {
  type AegisApi,
  createDatabase,
  dropDatabase,
  startAegisApi,
  type TestDatabase,
  waitFor,
} from '../../support/testbed.ts';
import { runDbStep } from './support.ts';

const testbed = inject('testbed');
let api: AegisApi;
let db: TestDatabase;

/** Reads the service's log file as the logs of one pod, and remembers exactly what it handed out. */
function logFileReader(pod: string): PodLogReader & { served: string[] } {
  const reader = {
    served: [] as string[],
    recentLogs: async () => {
      const lines = (await api.readLog()).split('\n').filter((l) => l.length > 0);
      reader.served = lines;
      return [{ pod, lines }];
    },
  };
  return reader;
}

beforeAll(async () => {
  [api, db] = await Promise.all([
    startAegisApi(testbed, { pathologies: ['pool-exhausted-log'], pods: 1, loadRps: 20 }),
    createDatabase(testbed, 'db_pool'),
  ]);
});

afterAll(async () => {
  await api?.stop();
  if (db) await dropDatabase(testbed, db.name);
});

describe('connection pool exhaustion in the service logs', () => {
  it('counts the lines the service wrote and proposes the runbook pool size, within max_connections', async () => {
    await waitFor('the service to log pool exhaustion', async () =>
      (await api.readLog()).includes('connection pool exhausted'),
    );
    const logs = logFileReader('aegis-api-testbed-0');
    const { result } = await runDbStep(db.url, 'connections', { podLogs: logs });

    const expected = logs.served.filter((l) => l.toLowerCase().includes('connection pool exhausted')).length;
    expect(expected).toBeGreaterThan(0);
    const f = result.findings.find((x) => x.id === 'db.pool');
    expect(f?.severity).toBe('warning');
    expect(f?.title).toBe(
      `Connection pool exhausted: ${expected} log line${expected === 1 ? '' : 's'} in 1 of 1 pods`,
    );
    expect(f?.advice?.quickFix).toEqual([
      '# Check and increase pool size\nkubectl edit configmap aegis-config -n aegis\n# Update: database.max_connections: 100',
    ]);
    expect(result.proposals).toEqual([
      expect.objectContaining({
        action: 'set_pool_size',
        change: { what: 'database.max_connections in ConfigMap aegis-config', from: 'unknown', to: '100' },
        danger: false,
      }),
    ]);
    expect(result.headline).toMatch(
      new RegExp(`^Connection pool exhausted: ${expected} log lines in 1 of 1 pods WARNING; connections `),
    );
  });

  it('reports no exhaustion once the pathology is off and the logs have moved on', async () => {
    await api.setPathology('pool-exhausted-log', false);
    await api.setPathology('excessive-logging', true); // the service keeps writing other lines
    const lineCount = async () => (await api.readLog()).split('\n').length;
    const atSwitch = await lineCount();
    await waitFor('requests after the switch', async () => (await lineCount()) > atSwitch + 50);
    // Only lines written after requests in flight at the switch have finished count as "recent" here.
    const before = await lineCount();
    await waitFor('the service to keep logging', async () => (await lineCount()) > before + 50);
    const recent: PodLogReader = {
      recentLogs: async () => [
        { pod: 'aegis-api-testbed-0', lines: (await api.readLog()).split('\n').slice(before) },
      ],
    };
    const { result } = await runDbStep(db.url, 'connections', { podLogs: recent });
    const f = result.findings.find((x) => x.id === 'db.pool');
    expect(f?.severity).toBe('normal');
    expect(result.proposals.filter((p) => p.action === 'set_pool_size')).toEqual([]);
  });

  it('caps the pool proposal so every pod fits in the server', async () => {
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    const { rows } = await admin.query(
      "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int AS free",
    );
    await admin.end();
    const free = rows[0].free as number;
    const pods = 4;
    expect(Math.floor(free / pods)).toBeLessThan(60); // so the cap, not doubling, decides
    const fake: PodLogReader = {
      recentLogs: async () =>
        Array.from({ length: pods }, (_, i) => ({
          pod: `aegis-api-${i}`,
          lines: ['level=error msg="connection pool exhausted"'],
        })),
      poolSize: async () => 30,
    };
    const { result } = await runDbStep(db.url, 'connections', { podLogs: fake });
    const p = result.proposals.find((x) => x.action === 'set_pool_size');
    expect(p?.change).toEqual({
      what: 'database.max_connections in ConfigMap aegis-config',
      from: '30',
      to: String(Math.min(60, Math.floor(free / pods))),
    });
  });
});
