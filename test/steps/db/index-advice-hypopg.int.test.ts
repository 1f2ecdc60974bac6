/**
 * Index advice against the test bed's real PostgreSQL 15: pg_stats from ANALYZE orders the columns,
 * and HypoPG (Debian's postgresql-15-hypopg) checks each suggestion against the planner. Two
 * databases with the same table and workload, one with `CREATE EXTENSION hypopg` (by the superuser,
 * as production would do once) and one without. The diagnosis role has pg_monitor and
 * pg_read_all_data: it may read the tables (pg_stats and EXPLAIN need that) and write nothing.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Finding, StepResult } from '../../../src/domain/finding.ts';
import { createDatabase, dropDatabase, type TestDatabase, waitFor } from '../../support/testbed.ts';
import { runDbStep } from './support.ts';

const testbed = inject('testbed');
const { host, port } = testbed.postgres;
const suffix = Math.random().toString(36).slice(2, 10);
const reader = `aegis_advice_${suffix}`;
/** pg_monitor only: may read statistics but not the tables. */
const monitor = `aegis_monitor_${suffix}`;
const databases: TestDatabase[] = [];

/** The workload, as the application sends it: three statements, five times each. */
const WORKLOAD: { sql: string; values: unknown[] }[] = [
  // written with the less selective column first: the advice must turn them around
  { sql: 'SELECT * FROM orders WHERE kind = $1 AND customer_id = $2', values: [7, 1007] },
  // the runbook's shape: a low-cardinality status and a sort
  { sql: 'SELECT id FROM orders WHERE status = $1 ORDER BY created_at DESC LIMIT 20', values: ['open'] },
  // half the rows match either value and each needs its row: an index on flag would not be used.
  // (Not count(*): once VACUUM has marked the pages all-visible, an index-only scan of flag beats
  // the seq scan, so whether the index was useful depended on whether autovacuum got there first.)
  { sql: 'SELECT max(created_at) FROM orders WHERE flag = $1', values: [true] },
];

async function prepare(hypopg: boolean): Promise<TestDatabase> {
  const db = await createDatabase(testbed, hypopg ? 'advice_hypopg' : 'advice_plain');
  databases.push(db);
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  try {
    if (hypopg) await admin.query('CREATE EXTENSION hypopg');
    await admin.query(`CREATE TABLE orders (
      id bigserial PRIMARY KEY, customer_id int NOT NULL, kind int NOT NULL, status text NOT NULL,
      flag boolean NOT NULL, created_at timestamptz NOT NULL) WITH (autovacuum_enabled = off)`);
    await admin.query(`INSERT INTO orders (customer_id, kind, status, flag, created_at)
      SELECT i % 20000, i % 300, CASE WHEN i % 20 = 0 THEN 'open' ELSE 'closed' END, i % 2 = 0,
             now() - i * interval '1 second'
        FROM generate_series(1, 200000) AS i`);
    // the statistics are this ANALYZE's alone: autovacuum is off for the table (an autovacuum in the
    // middle of the file would mark the pages all-visible and re-sample the statistics)
    await admin.query('ANALYZE orders');
    // Only the workload in this database's pg_stat_statements (the setup's INSERT is slow too).
    await admin.query(
      'SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)',
    );
    for (let i = 0; i < 5; i++) for (const w of WORKLOAD) await admin.query(w.sql, w.values);
    await admin.query('SELECT pg_stat_force_next_flush()');
  } finally {
    await admin.end();
  }
  await waitFor(
    'statistics of orders',
    async () => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const { rows } = await c.query(
          "SELECT seq_scan::int AS s FROM pg_stat_user_tables WHERE relname = 'orders'",
        );
        return rows[0] && rows[0].s >= 15;
      } finally {
        await c.end();
      }
    },
    { timeoutMs: 20_000, intervalMs: 200 },
  );
  return db;
}

function readerUrl(db: TestDatabase, role = reader): string {
  return `postgres://${role}@${host}:${port}/${db.name}`;
}

function slowFinding(result: StepResult, queryStart: string): Finding {
  const f = result.findings.find(
    (x) =>
      x.id.startsWith('db.slow.') &&
      x.evidence.some(
        (e) => e.type === 'code' && e.title?.startsWith('Query') && e.text.startsWith(queryStart),
      ),
  );
  if (!f)
    throw new Error(`no slow finding for ${queryStart}: ${result.findings.map((x) => x.title).join('; ')}`);
  return f;
}

function suggested(f: Finding): string[] {
  return f.evidence.flatMap((e) =>
    e.type === 'code' && e.title?.startsWith('Suggested index') ? [e.text] : [],
  );
}

let withHypo: TestDatabase;
let withoutHypo: TestDatabase;

beforeAll(async () => {
  const c = new pg.Client({ connectionString: testbed.postgres.adminUrl });
  await c.connect();
  await c.query(`CREATE ROLE ${reader} LOGIN IN ROLE pg_monitor, pg_read_all_data`);
  await c.query(`CREATE ROLE ${monitor} LOGIN IN ROLE pg_monitor`);
  await c.end();
  withHypo = await prepare(true);
  withoutHypo = await prepare(false);
});

afterAll(async () => {
  for (const db of databases) await dropDatabase(testbed, db.name);
  const c = new pg.Client({ connectionString: testbed.postgres.adminUrl });
  await c.connect();
  await c.query(`DROP ROLE IF EXISTS ${reader}`);
  await c.query(`DROP ROLE IF EXISTS ${monitor}`);
  await c.end();
});

describe('index advice with HypoPG installed', () => {
  let result: StepResult;
  beforeAll(async () => {
    ({ result } = await runDbStep(readerUrl(withHypo), 'slow'));
  });

  it('orders the equality columns by selectivity from pg_stats and shows the cost with and without the index', () => {
    const f = slowFinding(result, 'SELECT * FROM orders WHERE kind');
    const [code] = suggested(f);
    expect(code).toMatch(
      /^CREATE INDEX CONCURRENTLY idx_orders_customer_id_kind ON orders \(customer_id, kind\);\n-- cost [\d,]+ -> [\d,]+ with the index \(HypoPG\)\n-- equality columns ordered by selectivity \(pg_stats\)$/,
    );
    const [before, after] = (/cost ([\d,]+) -> ([\d,]+)/.exec(code as string) ?? [])
      .slice(1)
      .map((x) => Number(x.replaceAll(',', '')));
    expect(after).toBeLessThan(before as number);
    expect(f.summary).toMatch(
      /An index on customer_id, kind should let it skip the scan: cost [\d,]+ -> [\d,]+ with the index \(HypoPG\)\./,
    );
  });

  it("makes the runbook's partial index for the low-cardinality status, checked as the plain index", () => {
    const f = slowFinding(result, 'SELECT id FROM orders WHERE status');
    const [code] = suggested(f);
    expect(code).toContain(
      "CREATE INDEX CONCURRENTLY idx_orders_created_at ON orders (created_at DESC) WHERE status = '<value>';\n-- cost ",
    );
    expect(code).toContain('with the index (HypoPG, checked as the plain index)');
    expect(code).toContain(
      'CREATE INDEX CONCURRENTLY idx_orders_status_created_at ON orders (status, created_at DESC);',
    );
    expect(JSON.stringify(f)).not.toContain("'open'");
  });

  it('drops an index the planner would not use, and says so', () => {
    const f = slowFinding(result, 'SELECT max(created_at) FROM orders WHERE flag');
    expect(suggested(f)).toEqual([]);
    expect(f.summary).toMatch(
      /An index on orders \(flag\) was considered and dropped: the planner would not use it \(HypoPG, cost [\d,]+ without it\)\./,
    );
    expect(f.advice?.quickFix[0]).not.toContain('flag');
  });

  it('suggests statements PostgreSQL accepts', async () => {
    const f = slowFinding(result, 'SELECT * FROM orders WHERE kind');
    const ddl = (suggested(f)[0] as string).split('\n')[0] as string;
    const admin = new pg.Client({ connectionString: withHypo.url });
    await admin.connect();
    try {
      await admin.query(ddl);
      const { rows } = await admin.query(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_orders_customer_id_kind'",
      );
      expect(rows[0]?.indexdef).toBe(
        'CREATE INDEX idx_orders_customer_id_kind ON public.orders USING btree (customer_id, kind)',
      );
    } finally {
      await admin.query('DROP INDEX IF EXISTS idx_orders_customer_id_kind');
      await admin.end();
    }
  });
});

describe('index advice without HypoPG', () => {
  let result: StepResult;
  beforeAll(async () => {
    ({ result } = await runDbStep(readerUrl(withoutHypo), 'slow'));
  });

  it('marks every suggestion unverified, the one HypoPG would drop included', () => {
    const byColumns = suggested(slowFinding(result, 'SELECT * FROM orders WHERE kind'));
    expect(byColumns).toEqual([
      'CREATE INDEX CONCURRENTLY idx_orders_customer_id_kind ON orders (customer_id, kind);\n-- unverified (HypoPG not installed)\n-- equality columns ordered by selectivity (pg_stats)',
    ]);
    const byFlag = slowFinding(result, 'SELECT max(created_at) FROM orders WHERE flag');
    expect(suggested(byFlag)).toEqual([
      'CREATE INDEX CONCURRENTLY idx_orders_flag ON orders (flag);\n-- unverified (HypoPG not installed)',
    ]);
    expect(byFlag.summary).toContain('should let it skip the scan: unverified (HypoPG not installed).');
  });
});

describe('index advice for a role that may not read the tables', () => {
  it('keeps the query order, makes no partial index and says the check needs pg_read_all_data', async () => {
    const { result } = await runDbStep(readerUrl(withHypo, monitor), 'slow');
    expect(suggested(slowFinding(result, 'SELECT * FROM orders WHERE kind'))).toEqual([
      'CREATE INDEX CONCURRENTLY idx_orders_kind_customer_id ON orders (kind, customer_id);\n-- unverified (the diagnosis role may not read the tables: GRANT pg_read_all_data to it)',
    ]);
    expect(suggested(slowFinding(result, 'SELECT id FROM orders WHERE status'))[0]).toMatch(
      /^CREATE INDEX CONCURRENTLY idx_orders_status_created_at ON orders \(status, created_at DESC\);\n-- unverified/,
    );
  });
});
