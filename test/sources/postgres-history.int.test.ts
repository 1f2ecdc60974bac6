/**
 * "What changed" on the test bed's real PostgreSQL 15, read as the non-superuser diagnosis role
 * (pg_monitor): server start, configuration reload, settings not at their defaults, and the
 * pg_stat_statements reset time.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DatabaseSource } from '../../src/sources/postgres.ts';
import { createDatabase, dropDatabase, type TestDatabase, waitFor } from '../support/testbed.ts';

const testbed = inject('testbed');
const { host, port } = testbed.postgres;

let db: TestDatabase;
let admin: pg.Client;
let reader: string;
let source: DatabaseSource;

beforeAll(async () => {
  db = await createDatabase(testbed, 'history');
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  reader = `aegis_history_${db.name.split('_').at(-1)}`;
  await admin.query(`CREATE ROLE ${reader} LOGIN IN ROLE pg_monitor`);
  source = new DatabaseSource({
    url: `postgres://${reader}@${host}:${port}/${db.name}`,
    service: 'aegis-api',
    connectTimeoutMs: 3000,
    statementTimeoutMs: 10_000,
  });
});

afterAll(async () => {
  await source?.close();
  await admin?.end();
  if (db) await dropDatabase(testbed, db.name);
  const c = new pg.Client({ connectionString: testbed.postgres.adminUrl });
  await c.connect();
  await c.query(`DROP ROLE IF EXISTS ${reader}`);
  await c.end();
});

describe('PostgreSQL settings history', () => {
  it('reads the start and reload times, the non-default settings and the pg_stat_statements reset', async () => {
    const h = await source.settingsHistory();
    const { rows } = await admin.query('SELECT pg_postmaster_start_time() AS s, now() AS n');
    expect(h.startedAt.getTime()).toBe((rows[0].s as Date).getTime());
    // the postmaster loads its configuration just before it records its start time
    expect(Math.abs(h.configLoadedAt.getTime() - h.startedAt.getTime())).toBeLessThan(60_000);
    // the test bed preloads pg_stat_statements: a setting that is not the default
    expect(h.changed.map((c) => c.name)).toContain('shared_preload_libraries');
    // this session's own settings (the bot's statement_timeout) are not server changes
    expect(h.changed.find((c) => c.name === 'statement_timeout' && c.source === 'client')).toBeUndefined();
    expect(h.statementsResetAt).toBeInstanceOf(Date);
    expect((h.statementsResetAt as Date).getTime()).toBeLessThanOrEqual((rows[0].n as Date).getTime());
    // pg_file_settings is for superusers only by default: left out, not a failure
    expect(h.unapplied).toBeUndefined();
  });

  it('sees a configuration reload as it happens', async () => {
    const before = await source.settingsHistory();
    await admin.query('SELECT pg_reload_conf()');
    const after = await waitFor('a newer pg_conf_load_time', async () => {
      const h = await source.settingsHistory();
      return h.configLoadedAt > before.configLoadedAt ? h : undefined;
    });
    expect(after.startedAt.getTime()).toBe(before.startedAt.getTime());
  });
});
