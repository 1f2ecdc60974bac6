/**
 * `/aegis db all` against a database with 10,000 tables and 5,000 distinct statements in
 * pg_stat_statements: time and rows fetched, against anchors measured in the same run on the same
 * server. Run: `npx node bench/db-all.ts` (about a minute; loopback only).
 *
 * It starts its own throw-away PostgreSQL 15 with the test bed's helpers (pg_stat_statements
 * preloaded, pg_stat_statements.max = 10000), fills it, runs the step ROUNDS times and prints:
 * - the step's median wall time, the rows it fetched and the queries it sent per run;
 * - anchor 1: one `SELECT 1` round trip (the floor of any database work);
 * - anchor 2: the naive way, fetching all of pg_stat_statements and every table's size and sorting
 *   in the client (what top-N on the server avoids);
 * - the index advice (parse tree, pg_stats, existing indexes, HypoPG) for the slow statements, whose
 *   tables hold 20,000 rows read by sequential scans: its median time without the hypopg extension
 *   (suggestions marked unverified) and with it (each suggestion's generic plan with and without
 *   the hypothetical index), and parsing all 5,000 statement texts with PostgreSQL's grammar.
 * Benchmarks are not tests: nothing here gates CI.
 */
import { loadavg } from 'node:os';
import pg from 'pg';
import { parseConfig } from '../src/config/load.ts';
import { classify } from '../src/domain/thresholds.ts';
import { loadPgParser } from '../src/lib/sql/pg-parser.ts';
import { DatabaseSource } from '../src/sources/postgres.ts';
import { adviseIndexes, type IndexAdvice } from '../src/steps/db/index-check.ts';
import { queryShape } from '../src/steps/db/query-shape.ts';
import { statementTables } from '../src/steps/db/statements.ts';
import { DB_LIMITS, dbStep } from '../src/steps/db/step.ts';
import { createDatabase, findTools, startPostgres } from '../test/support/testbed.ts';

const TABLES = 10_000;
const STATEMENTS = 5_000;
const SLOW_STATEMENTS = 20;
const ROUNDS = 5;
const BATCH = 500;
const ADVICE_TABLE_ROWS = 20_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 0)} ms`;

const server = await startPostgres(findTools().pgBin);
try {
  const db = await createDatabase(server, 'bench_db_all');
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();

  // 10,000 tables, in batches (each CREATE TABLE holds a lock until its transaction ends).
  let t = performance.now();
  for (let from = 1; from <= TABLES; from += BATCH) {
    const to = Math.min(TABLES, from + BATCH - 1);
    await admin.query(`DO $$ BEGIN
      FOR i IN ${from}..${to} LOOP
        EXECUTE format('CREATE TABLE bench_t%s (id int, v text)', i);
      END LOOP; END $$`);
  }
  // Some tables with rows of different sizes, so "largest" means something.
  for (let i = 1; i <= 100; i++) {
    await admin.query(
      `INSERT INTO bench_t${i * 97} SELECT g, repeat('x', ${i * 10}) FROM generate_series(1, ${200 * i}) g`,
    );
  }
  // The slow statements' tables: big enough, and read by sequential scans, to get index advice.
  for (let i = 1; i <= SLOW_STATEMENTS; i++) {
    await admin.query(
      `INSERT INTO bench_t${i} SELECT g, md5(g::text) FROM generate_series(1, ${ADVICE_TABLE_ROWS}) g`,
    );
  }
  // The inserts' counts reach the statistics before ANALYZE, which then sets n_live_tup once.
  await admin.query('SELECT pg_stat_force_next_flush()');
  await admin.query('SELECT 1');
  for (let i = 1; i <= SLOW_STATEMENTS; i++) await admin.query(`ANALYZE bench_t${i}`);
  const fillTablesMs = performance.now() - t;

  // 5,000 distinct statements (one per table), a few of them slow; four sessions in parallel.
  t = performance.now();
  await admin.query('SELECT pg_stat_statements_reset()');
  const workers = await Promise.all(
    Array.from({ length: 4 }, async () => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      return c;
    }),
  );
  await Promise.all(
    workers.map(async (c, w) => {
      for (let i = w + 1; i <= STATEMENTS; i += workers.length) {
        if (i <= SLOW_STATEMENTS)
          await c.query(`SELECT pg_sleep(0.06), count(*) FROM bench_t${i} WHERE id = $1`, [i]);
        else await c.query(`SELECT count(*) FROM bench_t${i} WHERE id = $1`, [i]);
      }
    }),
  );
  await Promise.all(workers.map((c) => c.end()));
  const { rows: counted } = await admin.query(
    'SELECT count(*)::int AS n FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())',
  );
  const statements = counted[0].n as number;
  const fillStatementsMs = performance.now() - t;

  // The step, with the configuration's default timeouts, through the real source.
  const config = parseConfig(
    'services:\n  - name: aegis-api\n    deployment: aegis-api\n    database: { url_env: BENCH_DB_URL }\n',
    'bench.yml',
    { BENCH_DB_URL: db.url },
  );
  const service = config.services[0];
  if (!service) throw new Error('no service');
  const runs: {
    ms: number;
    rows: number;
    queries: number;
    headline: string;
    parts: Record<string, number>;
  }[] = [];
  for (let r = 0; r < ROUNDS + 1; r++) {
    const source = DatabaseSource.forService(config, service);
    const started = performance.now();
    const parts: Record<string, number> = {};
    const result = await dbStep.run(
      {
        config,
        service,
        sources: { database: () => source },
        signal: new AbortController().signal,
        progress: (u) => {
          if (u.status !== 'running') parts[u.name] = performance.now() - started;
        },
        now: () => new Date(),
      },
      { section: 'all' },
    );
    const elapsed = performance.now() - started;
    await source.close();
    const bad = result.parts.filter((p) => p.status !== 'ok' && p.name !== 'pool logs');
    if (bad.length) throw new Error(`parts unavailable: ${JSON.stringify(bad)}`);
    if (r > 0) {
      // the first run warms the server's caches and is not counted
      runs.push({
        ms: elapsed,
        rows: source.counters.rows,
        queries: source.counters.queries,
        headline: result.headline,
        parts,
      });
    }
  }

  // The index advice alone, through the real source: without HypoPG, then with it.
  await loadPgParser();
  const adviceSource = DatabaseSource.forService(config, service);
  const baseline = config.baselines.db_query_ms;
  const listed = await adviceSource.slowStatements({
    limit: DB_LIMITS.statements,
    warningMs: baseline.normal,
    criticalMs: baseline.critical,
  });
  if (!listed.available) throw new Error('pg_stat_statements unavailable');
  const adviceRows = listed.rows
    .filter((r) => classify(r.meanMs, baseline) !== 'normal')
    .slice(0, DB_LIMITS.findings);
  const adviceTables = [
    ...new Map(adviceRows.flatMap((r) => statementTables(r.query)).map((x) => [x.name, x])).values(),
  ];
  const adviceStats = await adviceSource.tableStats({ tables: adviceTables, limit: DB_LIMITS.tableStats });
  const timeAdvice = async (): Promise<{ ms: number; advice: IndexAdvice }> => {
    let advice: IndexAdvice = new Map();
    const times: number[] = [];
    for (let r = 0; r < ROUNDS + 1; r++) {
      const s = performance.now();
      advice = await adviseIndexes(adviceSource, { rows: adviceRows, tableStats: adviceStats });
      if (r > 0) times.push(performance.now() - s);
    }
    return { ms: median(times), advice };
  };
  const verdicts = (advice: IndexAdvice) => {
    const all = [...advice.values()].flat();
    const n = (k: string) =>
      all.filter((a) => (a.kind === 'advised' ? a.index.verdict.kind : a.kind) === k).length;
    return `${n('verified')} verified, ${n('unverified')} unverified, ${n('dropped')} dropped, ${n('covered')} covered`;
  };
  const withoutHypo = await timeAdvice();
  await admin.query('CREATE EXTENSION hypopg');
  const withHypo = await timeAdvice();
  await adviceSource.close();
  const allTexts = (
    await admin.query(
      'SELECT query FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())',
    )
  ).rows.map((r) => String(r.query));
  t = performance.now();
  let parsed = 0;
  for (const text of allTexts) if (queryShape(text)) parsed++;
  const parseAllMs = performance.now() - t;

  // The anchors run after the step, so their statements do not show up in its slow-query list.
  // Anchor 1: a round trip.
  const trips: number[] = [];
  for (let i = 0; i < 200; i++) {
    const s = performance.now();
    await admin.query('SELECT 1');
    trips.push(performance.now() - s);
  }
  const roundTrip = median(trips);

  // Anchor 2: the naive way, everything fetched and sorted in the client. A new connection per
  // round, as the step's (its pool's idle connections close after 10 s, so a command usually starts
  // cold: opening 10,000 relations fills the backend's relation cache, most of a size query's time).
  const naive: number[] = [];
  let naiveRows = 0;
  for (let r = 0; r < ROUNDS + 1; r++) {
    const s = performance.now();
    const fresh = new pg.Client({ connectionString: db.url });
    await fresh.connect();
    const a = await fresh.query('SELECT * FROM pg_stat_statements');
    const b = await fresh.query(
      'SELECT relid, relname, pg_total_relation_size(relid) AS size, n_live_tup, n_dead_tup, seq_scan FROM pg_stat_user_tables',
    );
    const c = await fresh.query('SELECT * FROM pg_stat_activity');
    await fresh.end();
    a.rows.sort((x, y) => Number(y.mean_exec_time) - Number(x.mean_exec_time)).slice(0, 10);
    b.rows.sort((x, y) => Number(y.size) - Number(x.size)).slice(0, 10);
    naiveRows = a.rows.length + b.rows.length + c.rows.length;
    if (r > 0) naive.push(performance.now() - s); // the first round warms the server's caches
  }
  await admin.end();

  const stepMs = median(runs.map((x) => x.ms));
  const last = runs.at(-1) as (typeof runs)[number];
  const naiveMs = median(naive);
  console.log(`db-all: ${TABLES} tables, ${statements} statements of this database in pg_stat_statements`);
  console.log(
    `  setup: tables ${ms(fillTablesMs)}, statements ${ms(fillStatementsMs)}; load average ${loadavg()[0]?.toFixed(2)}`,
  );
  console.log(
    `  /aegis db all: median ${ms(stepMs)} over ${ROUNDS} runs (min ${ms(Math.min(...runs.map((x) => x.ms)))}, max ${ms(Math.max(...runs.map((x) => x.ms)))}); ${last.rows} rows fetched in ${last.queries} queries per run`,
  );
  console.log(
    `  parts done at: ${Object.entries(last.parts)
      .map(([k, v]) => `${k} ${ms(v)}`)
      .join(', ')}`,
  );
  console.log(`  headline: ${last.headline}`);
  console.log(
    `  anchor SELECT 1 round trip: median ${ms(roundTrip)}; step / round trip = ${(stepMs / roundTrip).toFixed(0)}×`,
  );
  console.log(
    `  anchor naive fetch-all (pg_stat_statements + every table size + pg_stat_activity, sorted in the client): median ${ms(naiveMs)}, ${naiveRows} rows`,
  );
  console.log(
    `  index advice for ${adviceRows.length} slow statements on ${adviceTables.length} tables of ${ADVICE_TABLE_ROWS} rows: median ${ms(withoutHypo.ms)} without HypoPG (${verdicts(withoutHypo.advice)}), ${ms(withHypo.ms)} with HypoPG checks (${verdicts(withHypo.advice)}); ratio ${(withHypo.ms / withoutHypo.ms).toFixed(2)}×`,
  );
  console.log(
    `  parse tree of every statement text: ${allTexts.length} texts (${parsed} SELECT/UPDATE/DELETE) in ${ms(parseAllMs)}, ${((1000 * parseAllMs) / Math.max(allTexts.length, 1)).toFixed(0)} us each`,
  );
  console.log(
    `  step / naive: time ${(stepMs / naiveMs).toFixed(2)}×, rows ${(last.rows / naiveRows).toFixed(4)}× (${last.rows} vs ${naiveRows})`,
  );
} finally {
  await server.stop();
}
