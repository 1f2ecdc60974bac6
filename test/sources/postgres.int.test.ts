/**
 * `/aegis db` against the test bed's real PostgreSQL 15 (pg_stat_statements preloaded), as a
 * non-superuser diagnosis role with pg_monitor, the way production runs it.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Finding, Proposal } from '../../src/domain/finding.ts';
import { redactSql } from '../../src/lib/sql/redact.ts';
import { DatabaseSource } from '../../src/sources/postgres.ts';
import { runDbStep, Sessions } from '../steps/db/support.ts';
import { createDatabase, dropDatabase, freePort, type TestDatabase, waitFor } from '../support/testbed.ts';

const testbed = inject('testbed');
const { host, port } = testbed.postgres;

let db: TestDatabase;
let admin: pg.Client;
let reader: string;
let readerUrl: string;
let sessions: Sessions;

function urlFor(database: string, role = reader, query = ''): string {
  return `postgres://${role}@${host}:${port}/${database}${query}`;
}

function finding(findings: readonly Finding[], id: string): Finding {
  const f = findings.find((x) => x.id === id);
  if (!f) throw new Error(`no finding ${id}; have ${findings.map((x) => x.id).join(', ')}`);
  return f;
}

function codeTexts(f: Finding): string[] {
  return f.evidence.flatMap((e) => (e.type === 'code' ? [e.text] : []));
}

/** Waits until the cumulative statistics of `table` (flushed by other sessions) reach the given counts. */
async function waitForTableStats(table: string, minSeqScan: number, minLive: number): Promise<void> {
  await waitFor(
    `statistics of ${table}`,
    async () => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const { rows } = await c.query(
          'SELECT seq_scan::int AS s, n_live_tup::int AS n FROM pg_stat_user_tables WHERE relname = $1',
          [table],
        );
        return rows[0] && rows[0].s >= minSeqScan && rows[0].n >= minLive;
      } finally {
        await c.end();
      }
    },
    { timeoutMs: 20_000, intervalMs: 200 },
  );
}

async function waitForBackend(pid: number, probe: string, what: string): Promise<void> {
  await waitFor(what, async () => {
    const { rows } = await admin.query(`SELECT (${probe}) AS ok FROM pg_stat_activity WHERE pid = $1`, [pid]);
    return rows[0]?.ok === true;
  });
}

beforeAll(async () => {
  db = await createDatabase(testbed, 'db_step');
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  reader = `aegis_reader_${db.name.split('_').at(-1)}`;
  // The diagnosis role: may log in, reads statistics (pg_monitor), writes nothing.
  await admin.query(`CREATE ROLE ${reader} LOGIN IN ROLE pg_monitor`);
  readerUrl = urlFor(db.name);
  sessions = new Sessions(db.url);
});

afterEach(async () => {
  await sessions.closeAll(admin);
});

afterAll(async () => {
  await admin?.end();
  if (db) await dropDatabase(testbed, db.name);
  const c = new pg.Client({ connectionString: testbed.postgres.adminUrl });
  await c.connect();
  await c.query(`DROP ROLE IF EXISTS ${reader}`);
  await c.end();
});

describe('slow queries', () => {
  it('a slow filtered query on an unindexed table gets an index suggestion naming the table and columns', async () => {
    await admin.query(`CREATE TABLE findings (
      id bigserial PRIMARY KEY, status text NOT NULL, owner_id int NOT NULL, created_at timestamptz NOT NULL, body text)`);
    await admin.query(`INSERT INTO findings (status, owner_id, created_at, body)
      SELECT CASE WHEN i % 20 = 0 THEN 'open' ELSE 'closed' END, i % 5000, now() - i * interval '1 second', md5(i::text)
        FROM generate_series(1, 200000) AS i`);
    const app = await sessions.open();
    for (let i = 0; i < 5; i++) {
      await app.client.query(
        'SELECT id, body FROM findings WHERE status = $1 ORDER BY created_at DESC LIMIT 20',
        ['open'],
      );
      await app.client.query(`SELECT count(*) FROM findings WHERE owner_id = ${4000 + i}`);
    }
    await app.client.query('SELECT pg_stat_force_next_flush()');
    await waitForTableStats('findings', 10, 200_000);

    const { result } = await runDbStep(readerUrl, 'slow');

    const slow = result.findings.filter((f) => f.id.startsWith('db.slow.') && f.id !== 'db.slow.top');
    const runbookForm = slow.find(
      (f) => f.summary.startsWith('SELECT … FROM findings') && f.summary.includes('created_at'),
    );
    expect(runbookForm?.severity).toBe('warning');
    // pg_monitor alone may not read pg_stats of the table: no cardinality, so no partial index;
    // and this database has no HypoPG (index-advice-hypopg.int.test.ts covers both).
    expect(codeTexts(runbookForm as Finding)).toContain(
      'CREATE INDEX CONCURRENTLY idx_findings_status_created_at ON findings (status, created_at DESC);\n-- unverified (HypoPG not installed)',
    );
    expect(runbookForm?.advice?.quickFix[0]).toContain(
      'CREATE INDEX CONCURRENTLY idx_findings_status_created_at',
    );

    const byOwner = slow.find((f) => codeTexts(f).some((t) => t.includes('owner_id = $1')));
    expect(codeTexts(byOwner as Finding)).toContain(
      'CREATE INDEX CONCURRENTLY idx_findings_owner_id ON findings (owner_id);\n-- unverified (HypoPG not installed)',
    );
    expect(byOwner?.summary).toMatch(
      /findings is read by sequential scans: [\d,]+ scans read [\d,]+ rows, none through an index/,
    );

    const top = finding(result.findings, 'db.slow.top');
    const table = top.evidence.find((e) => e.type === 'table');
    expect(table?.type === 'table' && table.rows.length).toBeGreaterThanOrEqual(2);
    // worst first: the slowest statement with its severity word, then the count
    expect(result.headline).toMatch(
      /^Slow query: mean [\d.]+ m?s \(.+\) (WARNING|CRITICAL); \d+ quer(y|ies) over (5 ms|1 s)/,
    );
    expect(result.parts).toEqual([
      { name: 'slow queries', status: 'ok' },
      { name: 'running queries', status: 'ok' },
    ]);
  });

  it("with standard_conforming_strings off, a literal holding \\' is redacted whole: in the report, and from pg_stat_activity and pg_stat_statements", async () => {
    const sleeper = await sessions.open();
    await sleeper.client.query('SET standard_conforming_strings = off');
    const running = sleeper.client
      .query("SELECT pg_sleep(60), 'it\\'s S3CRETX-off' AS note")
      .catch((e: Error) => e);
    await waitForBackend(
      sleeper.pid,
      "state = 'active' AND clock_timestamp() - query_start > interval '1.2 s'",
      'the escaped-literal query to pass 1 s',
    );
    const activity = await admin.query('SELECT query FROM pg_stat_activity WHERE pid = $1', [sleeper.pid]);
    expect(activity.rows[0].query).toBe("SELECT pg_sleep(60), 'it\\'s S3CRETX-off' AS note");
    // Read with the setting on, the final quote opens a literal that runs to the end: "AS note" goes too.
    expect(redactSql(activity.rows[0].query)).toBe('SELECT pg_sleep(?), ?');

    const { result } = await runDbStep(readerUrl, 'slow', { longQuery: '1s' });
    expect(result.findings.map((f) => f.id)).toContain(`db.long-query.${sleeper.pid}`);
    expect(JSON.stringify(result)).not.toContain('S3CRETX');
    await admin.query('SELECT pg_cancel_backend($1)', [sleeper.pid]);
    expect(await running).toBeInstanceOf(Error);

    // pg_stat_statements keeps a utility statement's text as sent (PostgreSQL 15 does not normalise it).
    await sleeper.client.query("SET application_name = 'it\\'s S3CRETX-stmt'");
    const statements = await admin.query(
      "SELECT query FROM pg_stat_statements WHERE query LIKE 'SET application_name%S3CRETX-stmt%'",
    );
    expect(statements.rows.map((r) => r.query)).toEqual(["SET application_name = 'it\\'s S3CRETX-stmt'"]);
    expect(redactSql(statements.rows[0].query)).toBe('SET application_name = ?');
  });

  it('a query running past the threshold is critical, with Cancel and Terminate proposals that identify exactly that query', async () => {
    const sleeper = await sessions.open();
    const running = sleeper.client
      .query("SELECT pg_sleep(60), 'secret-sleep-token' AS note")
      .catch((e: Error) => e);
    await waitForBackend(
      sleeper.pid,
      "state = 'active' AND clock_timestamp() - query_start > interval '2.2 s'",
      'pg_sleep to pass 2 s',
    );

    const { result } = await runDbStep(readerUrl, 'slow', { longQuery: '2s' });

    const f = finding(result.findings, `db.long-query.${sleeper.pid}`);
    expect(f.severity).toBe('critical');
    expect(f.title).toMatch(new RegExp(`^Query running \\d+(\\.\\d)? s on pid ${sleeper.pid}$`));
    const mine = result.proposals.filter((p) => p.params.pid === sleeper.pid);
    expect(mine.map((p) => [p.action, p.danger])).toEqual([
      ['cancel_query', false],
      ['terminate_session', true],
    ]);
    const cancel = mine[0] as Proposal;
    expect(cancel.change).toMatchObject({ what: `query on pid ${sleeper.pid}`, to: 'cancelled' });
    expect(cancel.params.database).toBe(db.name);
    // The recorded times match this backend and this query to the microsecond...
    const match = () =>
      admin.query(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1 AND backend_start = $2::timestamptz AND query_start = $3::timestamptz',
        [sleeper.pid, cancel.params.backendStart, cancel.params.queryStart],
      );
    expect((await match()).rows[0].n).toBe(1);
    expect(JSON.stringify(result)).not.toContain('secret-sleep-token');

    // ...and no longer once the session has moved on to another query.
    await admin.query('SELECT pg_cancel_backend($1)', [sleeper.pid]);
    expect(await running).toBeInstanceOf(Error);
    await sleeper.client.query('SELECT 1');
    expect((await match()).rows[0].n).toBe(0);
  });

  it('fetches only the top N statements: ordering and counting happen on the server', async () => {
    const app = await sessions.open();
    // Statements differ by their number of columns (an alias alone does not make a new statement).
    for (let i = 1; i <= 40; i++)
      await app.client.query(`SELECT ${Array.from({ length: i }, (_, k) => k).join(', ')}`);
    const source = new DatabaseSource({
      url: readerUrl,
      service: 'aegis-api',
      connectTimeoutMs: 3000,
      statementTimeoutMs: 10_000,
    });
    try {
      const before = source.counters.rows;
      const r = await source.slowStatements({ limit: 5, warningMs: 0, criticalMs: 1e9 });
      expect(r.available && r.rows.length).toBe(5);
      expect(r.available && r.totalStatements).toBeGreaterThanOrEqual(40);
      expect(r.available && r.overWarning).toBe(r.available && r.totalStatements);
      // one catalog row to find the view, five statements
      expect(source.counters.rows - before).toBe(6);
    } finally {
      await source.close();
    }
  });

  it('reads pg_stat_statements through a view with the pre-13 column names (mean_time, total_time)', async () => {
    await admin.query('CREATE SCHEMA legacy');
    await admin.query(`CREATE VIEW legacy.pg_stat_statements AS
      SELECT userid, dbid, queryid, query, calls, total_exec_time AS total_time, mean_exec_time AS mean_time, rows
        FROM public.pg_stat_statements`);
    await admin.query(
      `GRANT USAGE ON SCHEMA legacy TO ${reader}; GRANT SELECT ON legacy.pg_stat_statements TO ${reader}`,
    );
    const app = await sessions.open();
    await app.client.query('SELECT pg_sleep(0.05) AS legacy_probe');
    const url = urlFor(db.name, reader, `?options=${encodeURIComponent('-c search_path=legacy,public')}`);
    const source = new DatabaseSource({
      url,
      service: 'aegis-api',
      connectTimeoutMs: 3000,
      statementTimeoutMs: 10_000,
    });
    try {
      const r = await source.slowStatements({ limit: 50, warningMs: 5, criticalMs: 1000 });
      if (!r.available) throw new Error(`unavailable: ${r.detail}`);
      expect(r.columns).toBe('legacy_time');
      expect(r.relation).toBe('legacy.pg_stat_statements');
      const probe = r.rows.find((x) => x.query.includes('legacy_probe'));
      expect(probe?.meanMs).toBeGreaterThanOrEqual(50);
    } finally {
      await source.close();
    }
    // Without the search_path the same database answers with the 13+ names.
    const plain = new DatabaseSource({
      url: readerUrl,
      service: 'aegis-api',
      connectTimeoutMs: 3000,
      statementTimeoutMs: 10_000,
    });
    try {
      const r = await plain.slowStatements({ limit: 1, warningMs: 5, criticalMs: 1000 });
      expect(r.available && r.columns).toBe('exec_time');
    } finally {
      await plain.close();
    }
  });

  it('every diagnostic query runs in a read-only transaction, as aegis-bot, and the bot leaves its own statements out', async () => {
    const { result } = await runDbStep(readerUrl, 'all');
    const { rows } = await admin.query<{ query: string }>(
      "SELECT query FROM pg_stat_statements WHERE query LIKE '/* aegis-bot */%' AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
    );
    const texts = rows.map((r) => r.query);
    expect(texts).toContain('/* aegis-bot */ BEGIN READ ONLY');
    expect(
      texts.some((t) => /^\/\* aegis-bot \*\/\s*(INSERT|UPDATE|DELETE|CREATE|ALTER|DROP)/i.test(t)),
    ).toBe(false);
    const top = finding(result.findings, 'db.slow.top');
    expect(top.severity).not.toBe('unavailable');
    // pg_stat_statements holds the bot's own statements (checked above); none of them may be listed,
    // however far down the list one looks
    const all = new DatabaseSource({
      url: readerUrl,
      service: 'aegis-api',
      connectTimeoutMs: 3000,
      statementTimeoutMs: 10_000,
    });
    try {
      const r = await all.slowStatements({ limit: 1000, warningMs: 5, criticalMs: 1000 });
      if (!r.available) throw new Error(r.detail);
      expect(r.rows.length).toBeGreaterThan(0);
      expect(r.rows.filter((row) => row.query.includes('aegis-bot'))).toEqual([]);
    } finally {
      await all.close();
    }
    const connections = finding(result.findings, 'db.connections');
    expect(connections.summary).toMatch(/[1-9]\d* are the bot's own/);
  });
});

describe('connections and sessions', () => {
  it("the bot's sessions carry application_name aegis-bot whatever the URL says, and the bot leaves them out", async () => {
    const source = new DatabaseSource({
      url: urlFor(db.name, reader, '?application_name=not-the-bot'),
      service: 'aegis-api',
      connectTimeoutMs: 3000,
      statementTimeoutMs: 10_000,
    });
    try {
      const snapshot = await source.connections({ idleLimit: 10 });
      const { rows } = await admin.query(
        'SELECT application_name AS app, count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 GROUP BY 1',
        [reader],
      );
      expect(rows).toEqual([{ app: 'aegis-bot', n: 1 }]);
      // `own` counts the bot's sessions on the whole server (what max_connections is about): other
      // test files' bots share this server, so at least this one
      expect(snapshot.own).toBeGreaterThanOrEqual(1);
      expect(snapshot.idleInTransaction).toEqual([]);
    } finally {
      await source.close();
    }
  });

  it('an idle-in-transaction session appears with its age and a Terminate proposal', async () => {
    const idle = await sessions.open();
    await idle.client.query('BEGIN');
    await idle.client.query("SELECT 'secret-idle-token' AS x");
    await waitForBackend(
      idle.pid,
      "clock_timestamp() - xact_start > interval '2.2 s'",
      'the transaction to age past 2 s',
    );

    const { result } = await runDbStep(readerUrl, 'connections', { longQuery: '2s' });

    const f = finding(result.findings, 'db.idle-in-transaction');
    expect(f.severity).toBe('warning');
    expect(f.title).toMatch(/^1 session idle in transaction \(oldest \d+(\.\d)? s\)$/);
    const table = f.evidence.find((e) => e.type === 'table');
    expect(table?.type === 'table' && table.rows[0]?.[0]).toBe(String(idle.pid));
    expect(result.proposals).toContainEqual(
      expect.objectContaining({
        action: 'terminate_session',
        danger: true,
        params: expect.objectContaining({ pid: idle.pid }),
      }),
    );
    expect(JSON.stringify(result)).not.toContain('secret-idle-token');
    const connections = finding(result.findings, 'db.connections');
    expect(connections.title).toMatch(/^Connections \d+\/200 \(\d+%\)$/);
    expect(result.headline).toMatch(
      /^1 session idle in transaction \(oldest [\d.]+ m?s\) WARNING; connections \d+\/200$/,
    );
  });

  it('a session holding a lock with another waiting: the lock finding names the blocker, and sizes are not blocked', async () => {
    await admin.query(
      "CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric); INSERT INTO accounts VALUES (1, 'a', 10)",
    );
    const holder = await sessions.open();
    const waiter = await sessions.open();
    await holder.client.query('BEGIN');
    await holder.client.query('LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE');
    const waiting = waiter.client
      .query("SELECT * FROM accounts WHERE owner = 'Jane Secret'")
      .catch((e: Error) => e);
    await waitForBackend(waiter.pid, "wait_event_type = 'Lock'", 'the second session to wait for the lock');

    const { result } = await runDbStep(readerUrl, 'all', { longQuery: '30s' });

    const f = finding(result.findings, `db.lock-wait.${waiter.pid}`);
    expect(f.title).toMatch(
      new RegExp(`^pid ${waiter.pid} has waited .+ for a lock held by pid ${holder.pid}$`),
    );
    expect(f.summary).toContain('AccessShareLock on accounts');
    expect(f.summary).toContain(
      `Blocked by pid ${holder.pid}, user postgres, application db-test-session, idle in transaction`,
    );
    expect(f.advice?.quickFix[0]).toBe(
      '-- Check for lock contention\nSELECT * FROM pg_locks WHERE NOT granted;',
    );
    expect(result.proposals).toContainEqual(
      expect.objectContaining({
        action: 'terminate_session',
        params: expect.objectContaining({ pid: holder.pid }),
      }),
    );
    expect(result.headline).toContain('1 lock wait');
    // The size query skips the locked table instead of queueing behind the lock.
    expect(result.parts.filter((p) => p.status !== 'ok').map((p) => p.name)).toEqual(['pool logs']);
    expect(JSON.stringify(result)).not.toContain('Jane Secret');

    await holder.client.query('ROLLBACK');
    expect(await waiting).not.toBeInstanceOf(Error);
  });
});

describe('tables', () => {
  it('lists the largest tables and suggests VACUUM ANALYZE for a table full of dead tuples', async () => {
    await admin.query('CREATE TABLE churn (id int, payload text) WITH (autovacuum_enabled = false)');
    await admin.query("INSERT INTO churn SELECT i, repeat('x', 100) FROM generate_series(1, 20000) AS i");
    await admin.query('ANALYZE churn');
    await admin.query('DELETE FROM churn WHERE id % 2 = 0');
    await admin.query('SELECT pg_stat_force_next_flush()');
    await waitFor('dead tuples of churn', async () => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const { rows } = await c.query(
          "SELECT n_dead_tup::int AS d FROM pg_stat_user_tables WHERE relname = 'churn'",
        );
        return rows[0]?.d >= 10_000;
      } finally {
        await c.end();
      }
    });

    const { result } = await runDbStep(readerUrl, 'tables');

    const largest = finding(result.findings, 'db.tables.largest');
    const table = largest.evidence.find((e) => e.type === 'table');
    expect(table?.type === 'table' && table.rows.map((r) => r[0])).toContain('churn');
    const vacuum = finding(result.findings, 'db.vacuum.public.churn');
    expect(vacuum.summary).toMatch(/^churn: 10,000 dead tuples \(\d+% of live\)/);
    expect(codeTexts(vacuum)).toEqual(['VACUUM ANALYZE churn;']);
    expect(result.proposals).toContainEqual(
      expect.objectContaining({
        action: 'vacuum_analyze',
        params: { schema: 'public', table: 'churn', database: db.name },
      }),
    );
  });
});

describe('when the database cannot answer', () => {
  it('an unreachable server gives one clear finding and every part unavailable', async () => {
    const closed = await freePort();
    const { result } = await runDbStep(`postgres://${reader}@127.0.0.1:${closed}/${db.name}`, 'all');
    const unavailable = result.findings.filter((f) => f.severity === 'unavailable');
    expect(unavailable.map((f) => f.title)).toEqual(['Database unreachable']);
    expect(unavailable[0]?.summary).toBe(
      `slow queries, running queries, connections, table sizes, vacuum, locks: postgres: cannot connect to 127.0.0.1:${closed}/${db.name} (ECONNREFUSED). Check that PostgreSQL runs and that the host and port in the URL are right and reachable from the bot.`,
    );
    expect(result.parts.every((p) => p.status === 'unavailable')).toBe(true);
    expect(result.headline).toMatch(/^database unavailable \(unreachable\): /);
  });

  it('a role that does not exist is an authentication failure', async () => {
    const { result } = await runDbStep(urlFor(db.name, 'no_such_role_x'), 'locks');
    expect(result.findings.map((f) => f.title)).toEqual(["Database refused the bot's credentials"]);
    expect(result.findings[0]?.summary).toContain('role "no_such_role_x" does not exist');
  });

  it('a database that does not exist says so', async () => {
    const { result } = await runDbStep(urlFor('no_such_db_x'), 'locks');
    expect(result.findings.map((f) => f.title)).toEqual(['Database refused the request']);
    expect(result.findings[0]?.summary).toContain('database "no_such_db_x" does not exist');
  });

  it('a database without pg_stat_statements says how to enable it, and the other parts still report', async () => {
    const bare = await createDatabase(testbed, 'db_noext');
    try {
      const c = new pg.Client({ connectionString: bare.url });
      await c.connect();
      await c.query('DROP EXTENSION pg_stat_statements');
      await c.end();
      const { result } = await runDbStep(urlFor(bare.name), 'slow');
      const f = finding(result.findings, 'db.slow.unavailable');
      expect(f.title).toBe('pg_stat_statements is not installed');
      expect(f.summary).toContain('shared_preload_libraries');
      expect(f.summary).toContain('CREATE EXTENSION pg_stat_statements;');
      expect(result.parts).toEqual([
        {
          name: 'slow queries',
          status: 'unavailable',
          reason: expect.stringMatching(/^pg_stat_statements not installed/),
        },
        { name: 'running queries', status: 'ok' },
      ]);
      expect(result.headline).toBe('pg_stat_statements not installed');
    } finally {
      await dropDatabase(testbed, bare.name);
    }
  });

  it('finds the extension in a schema outside the search_path', async () => {
    const other = await createDatabase(testbed, 'db_extschema');
    try {
      const c = new pg.Client({ connectionString: other.url });
      await c.connect();
      await c.query(
        'DROP EXTENSION pg_stat_statements; CREATE SCHEMA ext; CREATE EXTENSION pg_stat_statements SCHEMA ext',
      );
      await c.query(`GRANT USAGE ON SCHEMA ext TO ${reader}`);
      await c.end();
      const source = new DatabaseSource({
        url: urlFor(other.name),
        service: 'x',
        connectTimeoutMs: 3000,
        statementTimeoutMs: 10_000,
      });
      try {
        const r = await source.slowStatements({ limit: 5, warningMs: 5, criticalMs: 1000 });
        expect(r.available && r.relation).toBe('ext.pg_stat_statements');
      } finally {
        await source.close();
      }
    } finally {
      await dropDatabase(testbed, other.name);
    }
  });
});

describe('health check', () => {
  it('reports version, pg_stat_statements, and that the diagnosis role is read-only', async () => {
    const source = new DatabaseSource({
      url: readerUrl,
      service: 'aegis-api',
      connectTimeoutMs: 3000,
      statementTimeoutMs: 10_000,
    });
    try {
      const checks = await source.check();
      expect(checks.map((c) => [c.name, c.ok])).toEqual([
        ['postgres aegis-api (diagnosis role)', true],
        ['postgres aegis-api pg_stat_statements', true],
        ['postgres aegis-api role is read-only', true],
      ]);
      expect(checks[0]?.detail).toMatch(/^PostgreSQL 15\.\d+/);
      expect(checks[2]?.detail).toBe(`${reader}: not superuser, may write 0 tables, has pg_read_all_stats`);
    } finally {
      await source.close();
    }
  });

  it('flags a superuser as not read-only', async () => {
    const source = new DatabaseSource({
      url: db.url,
      service: 'aegis-api',
      connectTimeoutMs: 3000,
      statementTimeoutMs: 10_000,
    });
    try {
      const checks = await source.check();
      expect(checks[2]).toMatchObject({ ok: false, hint: expect.stringContaining('pg_monitor') });
    } finally {
      await source.close();
    }
  });

  it('says what is wrong when the server cannot be reached', async () => {
    const closed = await freePort();
    const source = new DatabaseSource({
      url: `postgres://${reader}@127.0.0.1:${closed}/x`,
      service: 'aegis-api',
      connectTimeoutMs: 3000,
      statementTimeoutMs: 10_000,
    });
    try {
      const checks = await source.check();
      expect(checks).toEqual([
        {
          name: 'postgres aegis-api (diagnosis role)',
          ok: false,
          detail: `postgres: check failed: cannot connect to 127.0.0.1:${closed}/x (ECONNREFUSED)`,
          hint: expect.stringContaining('host and port'),
        },
      ]);
    } finally {
      await source.close();
    }
  });
});
