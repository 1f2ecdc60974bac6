import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { executeProposal } from '../../src/actions/execute.ts';
import { cancelQueryProposal, terminateSessionProposal, vacuumProposal } from '../../src/actions/propose.ts';
import type { ActionDeps, ActionOutcome } from '../../src/actions/types.ts';
import { type Config, parseConfig } from '../../src/config/load.ts';
import type { ServiceConfig } from '../../src/config/schema.ts';
import type { Proposal } from '../../src/domain/finding.ts';
import { PostgresActions } from '../../src/sources/postgres-actions.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { createDatabase, dropDatabase, type TestDatabase, waitFor } from '../support/testbed.ts';

const testbed = inject('testbed');
const suffix = Math.random().toString(36).slice(2, 8);
const APP = `aegis_app_${suffix}`;
const ACTIONS = `aegis_actions_${suffix}`;
const BLIND = `aegis_blind_${suffix}`;
let db: TestDatabase;
let config: Config;
let actions: PostgresActions;
const clients: pg.Client[] = [];

const roleUrl = (role: string) =>
  `postgres://${role}@${testbed.postgres.host}:${testbed.postgres.port}/${db.name}`;

async function admin<T>(fn: (c: pg.Client) => Promise<T>, url = db.url): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  db = await createDatabase(testbed, 'pg_actions');
  await admin(async (c) => {
    await c.query(`CREATE ROLE ${APP} LOGIN`);
    await c.query(`CREATE ROLE ${ACTIONS} LOGIN IN ROLE pg_signal_backend, pg_read_all_stats`);
    await c.query(`CREATE ROLE ${BLIND} LOGIN IN ROLE pg_signal_backend`);
    await c.query(`GRANT ${APP} TO ${ACTIONS}`);
  }, db.adminUrl);
  await admin(async (c) => {
    await c.query(`GRANT CREATE ON SCHEMA public TO ${APP}`);
    await c.query(
      `CREATE TABLE findings (id bigserial PRIMARY KEY, status text, created_at timestamptz DEFAULT now())`,
    );
    await c.query(`INSERT INTO findings (status) SELECT 'open' FROM generate_series(1, 500)`);
    await c.query(`ALTER TABLE findings OWNER TO ${APP}`);
    await c.query(`CREATE TABLE audit_events (id int)`);
  });
  config = parseConfig(
    `
services:
  - name: aegis-api
    default: true
    deployment: aegis-api
    database:
      url_env: AEGIS_DB_URL
      action_url_env: AEGIS_DB_ACTION_URL
authorization:
  cancel_query: { users: [U0ALICE] }
  terminate_session: { users: [U0ALICE] }
  vacuum_analyze: { users: [U0DBA] }
`,
    'pg-actions.yml',
    { AEGIS_DB_URL: roleUrl(APP), AEGIS_DB_ACTION_URL: roleUrl(ACTIONS) },
  );
  actions = PostgresActions.forService(config, svc());
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => {})));
});

afterAll(async () => {
  await actions?.close();
  await dropDatabase(testbed, db.name);
  await admin(async (c) => {
    for (const r of [ACTIONS, BLIND, APP]) await c.query(`DROP ROLE IF EXISTS ${r}`);
  }, db.adminUrl);
});

function svc(): ServiceConfig {
  return config.services[0] as ServiceConfig;
}

function deps(store = new MemoryStore(), databaseFor: ActionDeps['databaseFor'] = () => actions): ActionDeps {
  return { config, store, groupsOf: async () => [], databaseFor };
}

/** An application session running `sql` (not awaited), and its pid once the query shows as active. */
async function appSession(): Promise<{ client: pg.Client; pid: number }> {
  const client = new pg.Client({ connectionString: roleUrl(APP), application_name: 'aegis-api' });
  client.on('error', () => {});
  clients.push(client);
  await client.connect();
  const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
  return { client, pid: Number(rows[0].pid) };
}

function startQuery(client: pg.Client, sql = 'SELECT pg_sleep(30)'): Promise<unknown> {
  const running = client.query(sql);
  running.catch(() => {});
  return running;
}

async function activeSince(
  pid: number,
  previous?: string,
): Promise<{ backendStart: string; queryStart: string }> {
  return waitFor(`pid ${pid} running a new query`, async () => {
    const s = await actions.session(pid);
    if (s?.state !== 'active' || !s.backendStart || !s.queryStart || s.queryStart === previous)
      return undefined;
    return { backendStart: s.backendStart, queryStart: s.queryStart };
  });
}

function backend(pid: number, seen: { backendStart: string; queryStart: string }) {
  return { pid, ...seen, database: db.name, running: 'active' };
}

const click = (key: string) => ({ key, channel: 'C0INCIDENT', threadTs: '1.1' });

function statusOf(o: ActionOutcome) {
  return o.status === 'refused' || o.status === 'failed' ? `${o.status}: ${o.error.message}` : o.status;
}

describe('cancel a query with the action role', () => {
  it('cancels it when the pid still runs the same query from the same start', async () => {
    const { client, pid } = await appSession();
    const running = startQuery(client);
    const seen = await activeSince(pid);
    const p = cancelQueryProposal(svc(), backend(pid, seen), 'DB query > 30s');
    const o = await executeProposal(p, { userId: 'U0ALICE' }, deps(), click('c1'));
    expect(statusOf(o)).toBe('done');
    await expect(running).rejects.toMatchObject({
      code: '57014',
      message: 'canceling statement due to user request',
    });
    // the session itself stays: only the query was cancelled
    const after = await client.query('SELECT 1 AS one');
    expect(after.rows[0].one).toBe(1);
  });

  it('signals nothing when the session has moved on to another query', async () => {
    const { client, pid } = await appSession();
    const first = startQuery(client);
    const seen = await activeSince(pid);
    const p = cancelQueryProposal(svc(), backend(pid, seen), 'DB query > 30s');
    await admin((c) => c.query('SELECT pg_cancel_backend($1)', [pid]));
    await expect(first).rejects.toMatchObject({ code: '57014' });
    const second = startQuery(client, 'SELECT pg_sleep(30), 2');
    const now = await activeSince(pid, seen.queryStart);

    const o = await executeProposal(p, { userId: 'U0ALICE' }, deps(), click('c2'));
    expect(statusOf(o)).toBe(
      `refused: pid ${pid} runs another query now (started ${now.queryStart}): the one shown has finished; run /aegis db again`,
    );
    expect((await actions.session(pid))?.queryStart).toBe(now.queryStart);
    expect((await actions.session(pid))?.state).toBe('active');
    await admin((c) => c.query('SELECT pg_cancel_backend($1)', [pid]));
    await expect(second).rejects.toMatchObject({ code: '57014' });
  });

  it('checks pid, backend start and query start in the same statement that signals', async () => {
    const { client, pid } = await appSession();
    const running = startQuery(client);
    const seen = await activeSince(pid);
    expect(
      await actions.cancel({
        pid,
        backendStart: seen.backendStart,
        queryStart: '2001-01-01T00:00:00.000000Z',
      }),
    ).toEqual({
      matched: false,
    });
    expect((await actions.session(pid))?.state).toBe('active');
    expect(await actions.cancel({ pid, ...seen })).toEqual({ matched: true });
    await expect(running).rejects.toMatchObject({ code: '57014' });
  });

  it('says the role needs pg_read_all_stats when it cannot see other sessions', async () => {
    const { client, pid } = await appSession();
    const running = startQuery(client);
    const seen = await activeSince(pid);
    const blind = new PostgresActions({
      url: roleUrl(BLIND),
      service: 'aegis-api',
      connectTimeoutMs: 5000,
      statementTimeoutMs: 5000,
    });
    try {
      const p = cancelQueryProposal(svc(), backend(pid, seen), 'x');
      const o = await executeProposal(
        p,
        { userId: 'U0ALICE' },
        deps(new MemoryStore(), () => blind),
        click('c3'),
      );
      expect(statusOf(o)).toMatch(/grant it pg_read_all_stats/);
      expect((await actions.session(pid))?.state).toBe('active');
    } finally {
      await blind.close();
      await actions.cancel({ pid, ...seen });
      await running.catch(() => {});
    }
  });
});

describe('terminate a session with the action role', () => {
  it('terminates it, rolling its transaction back', async () => {
    const { client, pid } = await appSession();
    await client.query('BEGIN');
    await client.query(`UPDATE findings SET status = 'closed' WHERE id = 1`);
    const running = startQuery(client);
    const seen = await activeSince(pid);
    const p = terminateSessionProposal(svc(), backend(pid, seen), 'holds locks');
    const o = await executeProposal(p, { userId: 'U0ALICE' }, deps(), click('t1'));
    expect(statusOf(o)).toBe('done');
    await expect(running).rejects.toMatchObject({ code: '57P01' });
    await waitFor(`pid ${pid} gone`, async () => (await actions.session(pid)) === undefined);
    const { rows } = await admin((c) => c.query('SELECT status FROM findings WHERE id = 1'));
    expect(rows[0].status).toBe('open');
  });

  it('refuses a pid whose backend is another session now', async () => {
    const { client, pid } = await appSession();
    const running = startQuery(client);
    const seen = await activeSince(pid);
    const p = terminateSessionProposal(
      svc(),
      backend(pid, { ...seen, backendStart: '2001-01-01T00:00:00.000000Z' }),
      'x',
    );
    const o = await executeProposal(p, { userId: 'U0ALICE' }, deps(), click('t2'));
    expect(statusOf(o)).toMatch(new RegExp(`^refused: pid ${pid} is another session now`));
    expect((await actions.session(pid))?.state).toBe('active');
    await actions.cancel({ pid, ...seen });
    await running.catch(() => {});
  });
});

describe('VACUUM ANALYZE with the action role', () => {
  const vacuum = (table: string): Proposal =>
    vacuumProposal(svc(), 'public', table, db.name, `db.vacuum.public.${table}`);

  it("runs the runbook's VACUUM ANALYZE findings outside a transaction block", async () => {
    const store = new MemoryStore();
    const o = await executeProposal(vacuum('findings'), { userId: 'U0DBA' }, deps(store), click('v1'));
    expect(statusOf(o)).toBe('done');
    const { rows } = await admin((c) =>
      c.query(
        `SELECT last_vacuum IS NOT NULL AS vacuumed, last_analyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE relname = 'findings'`,
      ),
    );
    expect(rows[0]).toEqual({ vacuumed: true, analyzed: true });
    expect((await store.auditLog())[0]).toMatchObject({
      action: 'vacuum_analyze',
      result: 'done',
      actor: 'U0DBA',
    });
  });

  it('reports the table PostgreSQL skipped because the role may not vacuum it', async () => {
    const o = await executeProposal(vacuum('audit_events'), { userId: 'U0DBA' }, deps(), click('v2'));
    expect(o.status).toBe('failed');
    expect(statusOf(o)).toMatch(
      /PostgreSQL skipped the table: .*audit_events.*the action role must own the table/,
    );
  });

  it('refuses a table the catalog does not know, whatever its name contains', async () => {
    for (const name of ['no_such_table', 'findings; DROP TABLE findings', 'findings"']) {
      const o = await executeProposal(vacuum(name), { userId: 'U0DBA' }, deps(), click(`v:${name}`));
      expect(statusOf(o)).toBe(`refused: there is no table public.${name} in database ${db.name}`);
    }
    const { rows } = await admin((c) => c.query('SELECT count(*)::int AS n FROM findings'));
    expect(rows[0].n).toBe(500);
  });
});
