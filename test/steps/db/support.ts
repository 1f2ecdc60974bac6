/**
 * Helpers for the db step's integration tests: run `/aegis db` against a real database with a
 * configuration whose durations suit tests, and manage the extra client sessions a test needs.
 */
import pg from 'pg';
import { type Config, parseConfig } from '../../../src/config/load.ts';
import type { StepResult } from '../../../src/domain/finding.ts';
import { DatabaseSource } from '../../../src/sources/postgres.ts';
import { type DbSection, type DbSources, dbStep, type PodLogReader } from '../../../src/steps/db/step.ts';
import type { PartUpdate } from '../../../src/steps/step.ts';

export interface StepOptions {
  /** services[].database.long_query; default 2s. */
  readonly longQuery?: string;
  /** db_query_ms baseline bounds; default normal 5 ms, critical 1 s (the runbook's critical). */
  readonly normalMs?: number;
  readonly podLogs?: PodLogReader;
}

export function testConfig(url: string, options: StepOptions = {}): Config {
  const yaml = `
services:
  - name: aegis-api
    deployment: aegis-api
    database:
      url_env: AEGIS_DB_URL
      connect_timeout: 3s
      statement_timeout: 10s
      long_query: ${options.longQuery ?? '2s'}
thresholds:
  db_query_ms: { normal: ${options.normalMs ?? 5}, warning: 200, critical: 1000 }
`;
  return parseConfig(yaml, 'db-test.yml', { AEGIS_DB_URL: url });
}

export interface StepRun {
  readonly result: StepResult;
  readonly updates: readonly PartUpdate[];
  readonly source: DatabaseSource;
}

/** Runs the db step with a DatabaseSource built from the configuration, then closes the source's pool. */
export async function runDbStep(
  url: string,
  section: DbSection,
  options: StepOptions = {},
): Promise<StepRun> {
  const config = testConfig(url, options);
  const service = config.services[0];
  if (!service) throw new Error('test config has no service');
  let source: DatabaseSource | undefined;
  const sources: DbSources = {
    database: (s) => {
      source = DatabaseSource.forService(config, s);
      return source;
    },
    ...(options.podLogs ? { podLogs: () => options.podLogs as PodLogReader } : {}),
  };
  const updates: PartUpdate[] = [];
  try {
    const result = await dbStep.run(
      {
        config,
        service,
        sources,
        signal: new AbortController().signal,
        progress: (u) => updates.push(u),
        now: () => new Date(),
      },
      { section },
    );
    if (!source) throw new Error('the step never asked for its database source');
    return { result, updates, source };
  } finally {
    await source?.close();
  }
}

/** Client sessions opened by a test, all closed by closeAll (even those stuck waiting). */
export class Sessions {
  private readonly clients: pg.Client[] = [];
  private readonly url: string;
  constructor(url: string) {
    this.url = url;
  }

  async open(): Promise<{ client: pg.Client; pid: number }> {
    const client = new pg.Client({ connectionString: this.url, application_name: 'db-test-session' });
    client.on('error', () => {}); // a session ended by the test itself (pg_terminate_backend)
    await client.connect();
    this.clients.push(client);
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return { client, pid: (rows[0] as { pid: number }).pid };
  }

  async closeAll(admin: pg.Client): Promise<void> {
    const pids: number[] = [];
    for (const c of this.clients) {
      const pid = (c as unknown as { processID?: number }).processID;
      if (pid) pids.push(pid);
    }
    if (pids.length)
      await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
    await Promise.all(this.clients.map((c) => c.end().catch(() => undefined)));
    this.clients.length = 0;
  }
}
