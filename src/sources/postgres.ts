import type pg from 'pg';
import type { Config } from '../config/load.ts';
import type { ServiceConfig } from '../config/schema.ts';
import { AppError, SourceError, type SourceFailure } from '../domain/errors.ts';
import type { Checkable, CheckResult } from '../domain/ports.ts';
import { sourceCall } from './http.ts';
import { pgClient } from './pg-client.ts';
import type {
  ColumnStatsRow,
  ConnectionsSnapshot,
  HypoCheckRequest,
  HypoCheckResult,
  HypoChecks,
  HypoIndexResult,
  IndexDefRow,
  LockWaitRow,
  SessionRow,
  SettingsHistory,
  StatementColumns,
  StatementRow,
  StatementsResult,
  TableRef,
  TableSizeRow,
  TableStatRow,
} from './postgres-types.ts';

/**
 * One service's PostgreSQL, as the diagnosis role sees it. A small pool of its own, connect and
 * statement timeouts on every session, every diagnostic query inside BEGIN READ ONLY … COMMIT, all
 * values as bind parameters, top-N and thresholds computed on the server (ORDER BY … LIMIT), and an
 * application_name by which the bot recognises and leaves out its own sessions.
 *
 * Every statement starts with MARKER, so pg_stat_statements' copy of the bot's own statements can be
 * left out of the slow-query list too.
 */
/** What checklistSettings() reads; steps/checklist/evaluate.ts resolves the effective values. */
export interface ChecklistSettingsRows {
  readonly database: string;
  readonly roleSettings: readonly { anyDatabase: boolean; anyRole: boolean; config: readonly string[] }[];
  readonly statementTimeout: { raw: string; unit: string; from: string };
  readonly logMinDuration: { raw: string; unit: string; from: string };
  readonly maxConnections: number;
  readonly superuserReserved: number;
  readonly roleConnections?: number;
}

export interface IndexUsageRows {
  readonly seqScans: readonly {
    table: string;
    seqScan: number;
    seqTupRead: number;
    idxScan: number;
    liveTuples: number;
  }[];
  readonly unused: readonly { index: string; table: string; bytes: number }[];
}

export const APPLICATION_NAME = 'aegis-bot';
const MARKER = '/* aegis-bot */';
/** Longest query text fetched from the server; the analysis redacts and truncates further. */
const QUERY_FETCH_CHARS = 4096;

export interface DatabaseSourceOptions {
  readonly url: string;
  /** The service this database belongs to; shown in check() results. */
  readonly service: string;
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
  /** Pool size; default 2. */
  readonly maxConnections?: number;
  /** Sessions left idle in one of the bot's transactions are ended after this; default the statement timeout. */
  readonly idleInTransactionTimeoutMs?: number;
  /** How long a diagnostic query may wait for a lock before giving up; default 2 s. */
  readonly lockTimeoutMs?: number;
  /** Source name in errors and call metrics; default "postgres". */
  readonly name?: string;
}

/** Rows the bot fetched, for the benchmark and for /metrics-minded readers. */
export interface FetchCounters {
  queries: number;
  rows: number;
}

type Row = Record<string, unknown>;
type Querier = (sql: string, values?: readonly unknown[]) => Promise<Row[]>;

export class DatabaseSource implements Checkable {
  readonly name: string;
  readonly service: string;
  /** host:port/database, never the password. */
  readonly target: string;
  readonly database: string;
  readonly counters: FetchCounters = { queries: 0, rows: 0 };
  /** The session settings every connection gets, in ms. */
  readonly timeouts: {
    readonly connectMs: number;
    readonly statementMs: number;
    readonly lockMs: number;
    readonly idleInTransactionMs: number;
  };
  // Private fields: the pool's options hold the URL with its password, so they must never be
  // enumerable (a logged or serialised source shows no secret).
  readonly #pool: pg.Pool;
  #serverVersion?: number;

  constructor(options: DatabaseSourceOptions) {
    this.name = options.name ?? 'postgres';
    this.service = options.service;
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new AppError('config', `the database URL for service "${options.service}" is not a valid URL`);
    }
    // The bot must be recognisable: its own application_name, whatever the URL says.
    url.searchParams.delete('application_name');
    url.searchParams.delete('fallback_application_name');
    this.database =
      decodeURIComponent(url.pathname.replace(/^\//, '')) || decodeURIComponent(url.username) || 'postgres';
    this.target = `${url.hostname || url.searchParams.get('host') || 'localhost'}:${url.port || '5432'}/${this.database}`;
    this.timeouts = {
      connectMs: options.connectTimeoutMs,
      statementMs: options.statementTimeoutMs,
      lockMs: options.lockTimeoutMs ?? 2000,
      idleInTransactionMs: options.idleInTransactionTimeoutMs ?? options.statementTimeoutMs,
    };
    this.#pool = new (pgClient().Pool)({
      connectionString: url.toString(),
      max: options.maxConnections ?? 2,
      connectionTimeoutMillis: this.timeouts.connectMs,
      idleTimeoutMillis: 10_000,
      allowExitOnIdle: true,
      keepAlive: true,
      application_name: APPLICATION_NAME,
      statement_timeout: this.timeouts.statementMs,
      lock_timeout: this.timeouts.lockMs,
      idle_in_transaction_session_timeout: this.timeouts.idleInTransactionMs,
      // A backstop for a network that stops answering: the server's statement_timeout comes first.
      query_timeout: this.timeouts.statementMs + this.timeouts.connectMs,
    });
    // An idle pooled connection that drops (server restart) is replaced on the next checkout; without
    // a listener the 'error' event would end the process.
    this.#pool.on('error', () => {});
  }

  /** Built from the configuration: the diagnosis role's URL from config.secrets.databaseUrls. */
  static forService(config: Config, service: ServiceConfig): DatabaseSource {
    const db = service.database;
    if (!db) {
      throw new AppError(
        'config',
        `service "${service.name}" has no database configured (services[].database)`,
      );
    }
    const url = config.secrets.databaseUrls[db.url_env];
    if (!url) {
      throw new AppError(
        'config',
        `environment variable ${db.url_env} is not set: it holds the URL of the read-only diagnosis role for "${service.name}"`,
      );
    }
    return new DatabaseSource({
      url,
      service: service.name,
      connectTimeoutMs: db.connect_timeout,
      statementTimeoutMs: db.statement_timeout,
    });
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  /**
   * Runs fn in one read-only transaction on a pooled connection, timed and mapped by sourceCall.
   * `discard` closes the connection afterwards instead of returning it to the pool: for work that
   * leaves session-local state behind (prepared statements, HypoPG's hypothetical indexes).
   */
  private readOnly<T>(
    operation: string,
    fn: (q: Querier) => Promise<T>,
    options: { discard?: boolean } = {},
  ): Promise<T> {
    return sourceCall(this.name, operation, async () => {
      let client: pg.PoolClient;
      try {
        client = await this.#pool.connect();
      } catch (e) {
        throw toPostgresError(this.name, operation, this.target, e);
      }
      const q: Querier = async (sql, values) => {
        const res = await client.query(`${MARKER} ${sql}`, values as unknown[] | undefined);
        this.counters.queries++;
        const rows = Array.isArray(res.rows) ? (res.rows as Row[]) : [];
        this.counters.rows += rows.length;
        return rows;
      };
      let discard = options.discard === true;
      try {
        await client.query(`${MARKER} BEGIN READ ONLY`);
        const result = await fn(q);
        await client.query(`${MARKER} COMMIT`);
        return result;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {
          discard = true; // the connection is broken; the original error is what matters
        });
        throw toPostgresError(this.name, operation, this.target, e);
      } finally {
        client.release(discard);
      }
    });
  }

  /**
   * The slowest statements of this database by mean time, from pg_stat_statements wherever the
   * search_path or the extension's schema puts it. The column names are read from the catalog:
   * mean_exec_time/total_exec_time (13+) or mean_time/total_time (older). A missing, unloaded or
   * unreadable extension is an answer, not an error.
   */
  slowStatements(q: { limit: number; warningMs: number; criticalMs: number }): Promise<StatementsResult> {
    return this.readOnly('read pg_stat_statements', async (query) => {
      const [found] = await query(
        `SELECT n.nspname AS schema, c.relname AS name,
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'mean_exec_time' AND NOT a.attisdropped) AS exec_time,
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'mean_time' AND NOT a.attisdropped) AS legacy_time
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.oid = coalesce(
                  to_regclass('pg_stat_statements'),
                  (SELECT to_regclass(quote_ident(en.nspname) || '.pg_stat_statements')
                     FROM pg_extension e JOIN pg_namespace en ON en.oid = e.extnamespace
                    WHERE e.extname = 'pg_stat_statements'))`,
      );
      if (!found) {
        return {
          available: false,
          reason: 'not_installed',
          detail: `no pg_stat_statements in ${this.database} (not in the search_path and no extension created)`,
        } as const;
      }
      const columns: StatementColumns | undefined = found.exec_time
        ? 'exec_time'
        : found.legacy_time
          ? 'legacy_time'
          : undefined;
      const relation = `${pgClient().escapeIdentifier(String(found.schema))}.${pgClient().escapeIdentifier(String(found.name))}`;
      if (!columns) {
        return {
          available: false,
          reason: 'not_installed',
          detail: `${relation} has neither mean_exec_time nor mean_time`,
        } as const;
      }
      const [mean, total] =
        columns === 'exec_time' ? ['mean_exec_time', 'total_exec_time'] : ['mean_time', 'total_time'];
      let rows: Row[];
      try {
        await query('SAVEPOINT aegis_pss');
        rows = await query(
          `SELECT s.queryid::text AS query_id, left(s.query, $1) AS query, s.calls::float8 AS calls,
                  s.${mean}::float8 AS mean_ms, s.${total}::float8 AS total_ms, s.rows::float8 AS rows,
                  count(*) OVER ()::int AS total_statements,
                  (count(*) FILTER (WHERE s.${mean} >= $2::float8) OVER ())::int AS over_warning,
                  (count(*) FILTER (WHERE s.${mean} > $3::float8) OVER ())::int AS over_critical
             FROM ${relation} s
            WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND s.query NOT LIKE $4
            ORDER BY s.${mean} DESC
            LIMIT $5`,
          [QUERY_FETCH_CHARS, q.warningMs, q.criticalMs, `${MARKER}%`, q.limit],
        );
        await query('RELEASE SAVEPOINT aegis_pss');
      } catch (e) {
        const code = (e as { code?: string }).code;
        // 55000: "pg_stat_statements must be loaded via shared_preload_libraries"
        if (code === '55000' || code === '42501') {
          await query('ROLLBACK TO SAVEPOINT aegis_pss');
          return {
            available: false,
            reason: code === '55000' ? 'not_loaded' : 'no_permission',
            detail: (e as Error).message,
          } as const;
        }
        throw e;
      }
      const first = rows[0];
      return {
        available: true,
        columns,
        relation: `${String(found.schema)}.${String(found.name)}`,
        rows: rows.map(
          (r): StatementRow => ({
            queryId: String(r.query_id),
            query: String(r.query ?? ''),
            calls: num(r.calls),
            meanMs: num(r.mean_ms),
            totalMs: num(r.total_ms),
            rows: num(r.rows),
          }),
        ),
        totalStatements: first ? num(first.total_statements) : 0,
        overWarning: first ? num(first.over_warning) : 0,
        overCritical: first ? num(first.over_critical) : 0,
      } as const;
    });
  }

  /** pg_stat_user_tables for the named tables (a name without schema matches any schema). */
  tableStats(q: { tables: readonly TableRef[]; limit: number }): Promise<TableStatRow[]> {
    if (q.tables.length === 0) return Promise.resolve([]);
    return this.readOnly('read table statistics', async (query) => {
      const rows = await query(
        `SELECT ${TABLE_STAT_COLUMNS}
           FROM pg_stat_user_tables s
          WHERE EXISTS (SELECT 1 FROM unnest($1::text[], $2::text[]) AS t(name, schema)
                         WHERE t.name = s.relname AND (t.schema = '' OR t.schema = s.schemaname))
          ORDER BY s.seq_tup_read DESC
          LIMIT $3`,
        [q.tables.map((t) => t.name), q.tables.map((t) => t.schema ?? ''), q.limit],
      );
      return rows.map(toTableStat);
    });
  }

  /**
   * pg_stats of the named tables' columns (a name without schema matches any schema): null fraction,
   * n_distinct and the most common values' frequencies, never the values. pg_stats shows only the
   * columns the role may SELECT, so a role without that privilege gets no rows (the advice then keeps
   * the query's column order and makes no partial index).
   */
  columnStats(q: { tables: readonly TableRef[]; limit: number }): Promise<ColumnStatsRow[]> {
    if (q.tables.length === 0) return Promise.resolve([]);
    return this.readOnly('read column statistics', async (query) => {
      const rows = await query(
        `SELECT s.schemaname AS schema, s.tablename AS table_name, s.attname AS column_name,
                s.null_frac::float8 AS null_frac, s.n_distinct::float8 AS n_distinct,
                s.most_common_freqs::float8[] AS freqs, c.reltuples::float8 AS reltuples
           FROM pg_stats s
           JOIN pg_namespace n ON n.nspname = s.schemaname
           JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename
          WHERE NOT s.inherited
            AND EXISTS (SELECT 1 FROM unnest($1::text[], $2::text[]) AS t(name, schema)
                         WHERE t.name = s.tablename AND (t.schema = '' OR t.schema = s.schemaname))
          ORDER BY s.schemaname, s.tablename, s.attname
          LIMIT $3`,
        [q.tables.map((t) => t.name), q.tables.map((t) => t.schema ?? ''), q.limit],
      );
      return rows.map(
        (r): ColumnStatsRow => ({
          schema: String(r.schema),
          table: String(r.table_name),
          column: String(r.column_name),
          nullFrac: num(r.null_frac),
          nDistinct: num(r.n_distinct),
          mostCommonFreqs: Array.isArray(r.freqs) ? (r.freqs as unknown[]).map(num) : null,
          reltuples: num(r.reltuples),
        }),
      );
    });
  }

  /** The valid indexes of the named tables: access method and key columns (pg_get_indexdef per column). */
  tableIndexes(q: { tables: readonly TableRef[]; limit: number }): Promise<IndexDefRow[]> {
    if (q.tables.length === 0) return Promise.resolve([]);
    return this.readOnly('read existing indexes', async (query) => {
      const rows = await query(
        `SELECT n.nspname AS schema, t.relname AS table_name, i.relname AS index_name, am.amname AS method,
                ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true)
                        FROM generate_series(1, x.indnkeyatts) AS k ORDER BY k) AS columns,
                x.indpred IS NOT NULL AS partial
           FROM pg_index x
           JOIN pg_class t ON t.oid = x.indrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace
           JOIN pg_class i ON i.oid = x.indexrelid
           JOIN pg_am am ON am.oid = i.relam
          WHERE x.indisvalid
            AND EXISTS (SELECT 1 FROM unnest($1::text[], $2::text[]) AS q(name, schema)
                         WHERE q.name = t.relname AND (q.schema = '' OR q.schema = n.nspname))
          ORDER BY n.nspname, t.relname, i.relname
          LIMIT $3`,
        [q.tables.map((t) => t.name), q.tables.map((t) => t.schema ?? ''), q.limit],
      );
      return rows.map(
        (r): IndexDefRow => ({
          schema: String(r.schema),
          table: String(r.table_name),
          index: String(r.index_name),
          method: String(r.method),
          columns: Array.isArray(r.columns) ? (r.columns as unknown[]).map(String) : [],
          partial: r.partial === true,
        }),
      );
    });
  }

  /**
   * Each statement's generic-plan cost without and with each hypothetical index (HypoPG), when the
   * hypopg extension exists in this database: `hypopg_create_index($1)`, then
   * `PREPARE … AS <statement>; EXPLAIN (FORMAT JSON) EXECUTE …(NULL, …)` under
   * plan_cache_mode = force_generic_plan (the $n stay parameters; NULL only fills the slots), then
   * `hypopg_reset()`. All in one READ ONLY transaction on one connection, each statement in a
   * savepoint; the connection is closed afterwards, so no hypothetical index or prepared statement
   * outlives the call. A statement's text is the server's own (pg_stat_statements) and the caller has
   * parsed it as exactly one SELECT; it is planned, never executed. A failure of one statement
   * (42501: the role may not read a table; XX000: an index HypoPG cannot simulate) is its result.
   */
  checkHypotheticalIndexes(q: { checks: readonly HypoCheckRequest[] }): Promise<HypoChecks> {
    return this.readOnly(
      'check hypothetical indexes',
      async (query) => {
        const [ext] = await query(
          `SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
            WHERE e.extname = 'hypopg'`,
        );
        if (!ext) return { available: false } as const;
        const fn = (name: string) => `${pgClient().escapeIdentifier(String(ext.schema))}.${name}`;
        await query('SET LOCAL plan_cache_mode = force_generic_plan');
        const results: HypoCheckResult[] = [];
        for (const check of q.checks) {
          const args = check.params > 0 ? `(${Array(check.params).fill('NULL').join(', ')})` : '';
          // Prepared afresh for every plan: a cached generic plan would not see a new hypothetical index.
          const explain = async (): Promise<{ cost: number; indexes: string[] }> => {
            await query(`PREPARE aegis_hypo AS ${check.query}`);
            const [row] = await query(`EXPLAIN (FORMAT JSON) EXECUTE aegis_hypo${args}`);
            await query('DEALLOCATE aegis_hypo');
            const plan = (row?.['QUERY PLAN'] as { Plan?: Row }[] | undefined)?.[0]?.Plan;
            return { cost: num(plan?.['Total Cost']), indexes: indexNames(plan) };
          };
          await query('SAVEPOINT aegis_hypo');
          try {
            const without = await explain();
            const indexes: HypoIndexResult[] = [];
            for (const ddl of check.indexes) {
              await query('SAVEPOINT aegis_hypo_index');
              try {
                const [created] = await query(`SELECT indexname FROM ${fn('hypopg_create_index')}($1)`, [
                  ddl,
                ]);
                const withIndex = await explain();
                indexes.push({
                  ok: true,
                  cost: withIndex.cost,
                  used: withIndex.indexes.includes(String(created?.indexname)),
                });
                await query('RELEASE SAVEPOINT aegis_hypo_index');
              } catch (e) {
                const code = statementFailure(e);
                await query('ROLLBACK TO SAVEPOINT aegis_hypo_index');
                await query('DEALLOCATE ALL');
                indexes.push({ ok: false, code });
              }
              await query(`SELECT ${fn('hypopg_reset')}()`);
            }
            await query('RELEASE SAVEPOINT aegis_hypo');
            results.push({ ok: true, costWithout: without.cost, indexes });
          } catch (e) {
            const code = statementFailure(e);
            await query('ROLLBACK TO SAVEPOINT aegis_hypo');
            // Prepared statements and hypothetical indexes are not transactional: clear them by hand.
            await query('DEALLOCATE ALL');
            await query(`SELECT ${fn('hypopg_reset')}()`);
            results.push({ ok: false, code });
          }
        }
        return { available: true, results } as const;
      },
      { discard: true },
    );
  }

  /** Tables that need VACUUM ANALYZE by the given rules, worst first (filtered on the server). */
  maintenanceCandidates(q: {
    minDeadTuples: number;
    deadRatio: number;
    minLiveTuples: number;
    modifiedRatio: number;
    staleAfterMs: number;
    limit: number;
  }): Promise<TableStatRow[]> {
    return this.readOnly('read vacuum and analyze state', async (query) => {
      const rows = await query(
        `SELECT ${TABLE_STAT_COLUMNS}
           FROM pg_stat_user_tables s
          WHERE (s.n_dead_tup >= $1::float8 AND s.n_dead_tup >= $2::float8 * greatest(s.n_live_tup, 1))
             OR (s.n_live_tup >= $3::float8 AND (
                   greatest(s.last_analyze, s.last_autoanalyze) IS NULL
                   OR s.n_mod_since_analyze >= $4::float8 * s.n_live_tup
                   OR (greatest(s.last_analyze, s.last_autoanalyze) < clock_timestamp() - make_interval(secs => $5::float8 / 1000)
                       AND s.n_mod_since_analyze >= $4::float8 / 10 * s.n_live_tup)))
          ORDER BY s.n_dead_tup DESC, s.n_live_tup DESC
          LIMIT $6`,
        [q.minDeadTuples, q.deadRatio, q.minLiveTuples, q.modifiedRatio, q.staleAfterMs, q.limit],
      );
      return rows.map(toTableStat);
    });
  }

  /**
   * The largest tables by total relation size (table, indexes, TOAST), as the runbook's query, top-N
   * on the server. Sizes need a brief AccessShareLock per table, so tables held (or awaited) in
   * ACCESS EXCLUSIVE mode are skipped rather than waited for.
   */
  largestTables(q: { limit: number }): Promise<TableSizeRow[]> {
    return this.readOnly('read table sizes', async (query) => {
      const rows = await query(
        `WITH locked AS MATERIALIZED (
                SELECT l.relation AS oid FROM pg_locks l
                 WHERE l.mode = 'AccessExclusiveLock' AND l.relation IS NOT NULL
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())),
              blocked AS MATERIALIZED (
                SELECT oid FROM locked
                UNION SELECT i.indrelid FROM pg_index i WHERE i.indexrelid IN (SELECT oid FROM locked)
                UNION SELECT c.oid FROM pg_class c WHERE c.reltoastrelid IN (SELECT oid FROM locked)),
              top AS (
                SELECT c.oid, pg_total_relation_size(c.oid) AS total
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r', 'm', 'p')
                   AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
                   AND c.oid NOT IN (SELECT oid FROM blocked)
                 ORDER BY 2 DESC NULLS LAST
                 LIMIT $1)
         SELECT n.nspname AS schema, c.relname AS name, top.total::float8 AS total_bytes,
                pg_relation_size(c.oid)::float8 AS table_bytes, pg_indexes_size(c.oid)::float8 AS index_bytes,
                c.reltuples::float8 AS estimated_rows
           FROM top JOIN pg_class c ON c.oid = top.oid JOIN pg_namespace n ON n.oid = c.relnamespace
          ORDER BY top.total DESC NULLS LAST`,
        [q.limit],
      );
      return rows.map(
        (r): TableSizeRow => ({
          schema: String(r.schema),
          name: String(r.name),
          totalBytes: num(r.total_bytes),
          tableBytes: num(r.table_bytes),
          indexBytes: num(r.index_bytes),
          estimatedRows: num(r.estimated_rows),
        }),
      );
    });
  }

  /**
   * Client connections by state against max_connections (the whole server: that is what the limit
   * counts), and the oldest idle-in-transaction sessions of this database (the bot's own left out).
   */
  connections(q: { idleLimit: number }): Promise<ConnectionsSnapshot> {
    return this.readOnly('read connections', async (query) => {
      const [settings] = await query(
        `SELECT current_setting('max_connections')::int AS max_connections,
                current_setting('superuser_reserved_connections')::int AS reserved`,
      );
      const states = await query(
        `SELECT coalesce(state, '(not visible)') AS state, count(*)::int AS count,
                (count(*) FILTER (WHERE application_name = $1 OR pid = pg_backend_pid()))::int AS own,
                (count(*) FILTER (WHERE datname = current_database()))::int AS in_db
           FROM pg_stat_activity
          WHERE backend_type = 'client backend'
          GROUP BY 1`,
        [APPLICATION_NAME],
      );
      const idle = await query(
        `SELECT ${SESSION_COLUMNS('a')}, count(*) OVER ()::int AS total
           FROM pg_stat_activity a
          WHERE a.state IN ('idle in transaction', 'idle in transaction (aborted)')
            AND a.datname = current_database()
            AND a.application_name IS DISTINCT FROM $2 AND a.pid <> pg_backend_pid()
          ORDER BY a.xact_start NULLS LAST
          LIMIT $3`,
        [QUERY_FETCH_CHARS, APPLICATION_NAME, q.idleLimit],
      );
      return {
        maxConnections: num(settings?.max_connections),
        superuserReserved: num(settings?.reserved),
        used: states.reduce((a, r) => a + num(r.count), 0),
        own: states.reduce((a, r) => a + num(r.own), 0),
        inDatabase: states.reduce((a, r) => a + num(r.in_db), 0),
        byState: states.map((r) => ({ state: String(r.state), count: num(r.count) })),
        idleInTransaction: idle.map((r) => toSession(r, 'a')),
        idleInTransactionTotal: idle[0] ? num(idle[0].total) : 0,
      };
    });
  }

  /** Active queries of this database running longer than minMs, longest first. */
  longQueries(q: { minMs: number; limit: number }): Promise<SessionRow[]> {
    return this.readOnly('read running queries', async (query) => {
      const rows = await query(
        `SELECT ${SESSION_COLUMNS('a')}
           FROM pg_stat_activity a
          WHERE a.state = 'active' AND a.backend_type = 'client backend'
            AND a.datname = current_database()
            AND a.application_name IS DISTINCT FROM $2 AND a.pid <> pg_backend_pid()
            AND a.query_start < clock_timestamp() - make_interval(secs => $3::float8 / 1000)
          ORDER BY a.query_start
          LIMIT $4`,
        [QUERY_FETCH_CHARS, APPLICATION_NAME, q.minMs, q.limit],
      );
      return rows.map((r) => toSession(r, 'a'));
    });
  }

  /**
   * Sessions of this database waiting for a lock, each paired with every session blocking it
   * (pg_blocking_pids), with the lock awaited and how long it has waited (pg_locks.waitstart on
   * 14+, else the query's start), longest wait first.
   */
  lockWaits(q: { limit: number }): Promise<LockWaitRow[]> {
    return this.readOnly('read lock waits', async (query) => {
      if (this.#serverVersion === undefined) {
        const [v] = await query(`SELECT current_setting('server_version_num')::int AS v`);
        this.#serverVersion = num(v?.v);
      }
      const waitStart = (this.#serverVersion ?? 0) >= 140000 ? 'l.waitstart' : 'NULL::timestamptz';
      const rows = await query(
        `SELECT ${SESSION_COLUMNS('w')}, ${SESSION_COLUMNS('b')},
                (extract(epoch FROM clock_timestamp() - coalesce(${waitStart}, w.query_start)) * 1000)::float8 AS waited_ms,
                l.locktype, l.mode,
                CASE WHEN l.relation IS NOT NULL THEN l.relation::regclass::text END AS relation
           FROM pg_stat_activity w
           CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS bp(pid)
           JOIN pg_stat_activity b ON b.pid = bp.pid
           LEFT JOIN LATERAL (
                SELECT * FROM pg_locks pl WHERE pl.pid = w.pid AND NOT pl.granted LIMIT 1) l ON true
          WHERE w.wait_event_type = 'Lock' AND w.datname = current_database()
            AND w.application_name IS DISTINCT FROM $2 AND w.pid <> pg_backend_pid()
          ORDER BY waited_ms DESC NULLS LAST
          LIMIT $3`,
        [QUERY_FETCH_CHARS, APPLICATION_NAME, q.limit],
      );
      return rows.map(
        (r): LockWaitRow => ({
          blocked: toSession(r, 'w'),
          blocking: toSession(r, 'b'),
          waitedMs: numOrNull(r.waited_ms),
          lockType: strOrNull(r.locktype),
          lockMode: strOrNull(r.mode),
          relation: strOrNull(r.relation),
        }),
      );
    });
  }

  /**
   * What changed on the server, for the latency step's "what changed": when it started and last
   * reloaded its configuration, the settings not at their defaults (from the configuration file,
   * the command line, ALTER SYSTEM/DATABASE/ROLE), when pg_stat_statements was last reset, and the
   * pg_file_settings lines not applied (superuser-only unless granted: otherwise left out).
   */
  settingsHistory(): Promise<SettingsHistory> {
    return this.readOnly('read settings history', async (query) => {
      const [times] = await query(
        'SELECT pg_postmaster_start_time() AS started, pg_conf_load_time() AS loaded',
      );
      const changed = await query(
        `SELECT name, setting, coalesce(unit, '') AS unit, source, pending_restart
           FROM pg_settings
          WHERE source NOT IN ('default', 'override', 'client', 'session', 'environment variable')
          ORDER BY name`,
      );
      const [info] = await query(`SELECT to_regclass('pg_stat_statements_info') IS NOT NULL AS present`);
      let statementsResetAt: Date | undefined;
      if (info?.present === true) {
        const [reset] = await query('SELECT stats_reset FROM pg_stat_statements_info');
        if (reset?.stats_reset instanceof Date) statementsResetAt = reset.stats_reset;
      }
      let unapplied: Row[] | undefined;
      try {
        await query('SAVEPOINT aegis_file_settings');
        unapplied = await query(
          'SELECT name, setting, error FROM pg_file_settings WHERE NOT applied ORDER BY seqno',
        );
        await query('RELEASE SAVEPOINT aegis_file_settings');
      } catch (e) {
        if ((e as { code?: string }).code !== '42501') throw e;
        await query('ROLLBACK TO SAVEPOINT aegis_file_settings');
      }
      if (!(times?.started instanceof Date) || !(times.loaded instanceof Date)) {
        throw new SourceError(this.name, 'read settings history', 'malformed', 'no start or reload time');
      }
      return {
        startedAt: times.started,
        configLoadedAt: times.loaded,
        ...(statementsResetAt ? { statementsResetAt } : {}),
        changed: changed.map((r) => ({
          name: String(r.name),
          setting: String(r.setting),
          ...(r.unit ? { unit: String(r.unit) } : {}),
          source: String(r.source),
          pendingRestart: r.pending_restart === true,
        })),
        ...(unapplied
          ? {
              unapplied: unapplied.map((r) => ({
                name: String(r.name),
                setting: String(r.setting),
                ...(r.error ? { error: String(r.error) } : {}),
              })),
            }
          : {}),
      };
    });
  }

  /** For `aegis doctor` and /readyz: reachable, authenticated, version, pg_stat_statements, a read-only-ish role. */
  /**
   * The settings the runbook's Optimization Checklist asks about, for the application's role: its
   * pg_db_role_setting rows (ALTER ROLE … [IN DATABASE …], ALTER DATABASE …), the server's values of
   * statement_timeout and log_min_duration_statement, max_connections, and the role's sessions now.
   * The server value of statement_timeout is the compiled-in default unless postgresql.conf's is
   * readable (pg_file_settings needs pg_read_all_settings): this session's own is the bot's, not the server's.
   */
  checklistSettings(q: { role?: string }): Promise<ChecklistSettingsRows> {
    return this.readOnly('read settings', async (query) => {
      const roleRows = await query(
        `SELECT s.setdatabase = 0 AS any_database, s.setrole = 0 AS any_role, s.setconfig AS config
           FROM pg_db_role_setting s
          WHERE (s.setdatabase = 0 OR s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()))
            AND (s.setrole = 0 OR s.setrole = (SELECT oid FROM pg_roles WHERE rolname = $1))
            AND NOT (s.setdatabase = 0 AND s.setrole = 0)`,
        [q.role ?? null],
      );
      const settings = await query(
        `SELECT name, setting, coalesce(unit, '') AS unit, source, boot_val
           FROM pg_settings
          WHERE name IN ('statement_timeout', 'log_min_duration_statement', 'max_connections', 'superuser_reserved_connections')`,
      );
      let fileSettings: Row[] = [];
      try {
        await query('SAVEPOINT aegis_file_settings');
        fileSettings = await query(
          `SELECT name, setting FROM pg_file_settings
            WHERE name IN ('statement_timeout', 'log_min_duration_statement') AND applied ORDER BY seqno`,
        );
        await query('RELEASE SAVEPOINT aegis_file_settings');
      } catch (e) {
        if ((e as { code?: string }).code !== '42501') throw e;
        await query('ROLLBACK TO SAVEPOINT aegis_file_settings');
      }
      const [sessions] = q.role
        ? await query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1', [q.role])
        : [undefined];
      const byName = new Map(settings.map((r) => [String(r.name), r]));
      const fileValue = new Map(fileSettings.map((r) => [String(r.name), String(r.setting)]));
      const server = (name: string): { raw: string; unit: string; from: string } => {
        const r = byName.get(name);
        const unit = String(r?.unit ?? '');
        const file = fileValue.get(name);
        if (file !== undefined)
          return { raw: file, unit: /^-?\d+$/.test(file) ? unit : '', from: 'postgresql.conf' };
        // The bot's own session sets statement_timeout; for the server's value fall back to the default.
        const own = ['client', 'user', 'database', 'database user', 'session'].includes(String(r?.source));
        return {
          raw: String(own ? r?.boot_val : r?.setting),
          unit,
          from: own ? 'server default' : `server (${String(r?.source)})`,
        };
      };
      return {
        database: this.database,
        roleSettings: roleRows.map((r) => ({
          anyDatabase: r.any_database === true,
          anyRole: r.any_role === true,
          config: Array.isArray(r.config) ? (r.config as unknown[]).map(String) : [],
        })),
        statementTimeout: server('statement_timeout'),
        logMinDuration: server('log_min_duration_statement'),
        maxConnections: Number(byName.get('max_connections')?.setting ?? 0),
        superuserReserved: Number(byName.get('superuser_reserved_connections')?.setting ?? 0),
        ...(sessions ? { roleConnections: Number(sessions.n) } : {}),
      };
    });
  }

  /**
   * Tables read mostly by large sequential scans (seq scans reading at least minRows rows each on
   * average, more seq scans than index scans) and non-unique indexes never scanned since the
   * statistics were reset.
   */
  indexUsage(q: { minRows: number; minSeqScans: number; limit: number }): Promise<IndexUsageRows> {
    return this.readOnly('read index usage', async (query) => {
      const seq = await query(
        `SELECT schemaname AS schema, relname AS name, seq_scan, seq_tup_read, coalesce(idx_scan, 0) AS idx_scan, n_live_tup
           FROM pg_stat_user_tables
          WHERE seq_scan >= $2 AND seq_tup_read / greatest(seq_scan, 1) >= $1 AND seq_scan > coalesce(idx_scan, 0)
          ORDER BY seq_tup_read DESC
          LIMIT $3`,
        [q.minRows, q.minSeqScans, q.limit],
      );
      const unused = await query(
        `SELECT s.schemaname AS schema, s.relname AS table_name, s.indexrelname AS index_name,
                pg_relation_size(s.indexrelid) AS bytes
           FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
          WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
          ORDER BY pg_relation_size(s.indexrelid) DESC
          LIMIT $1`,
        [q.limit],
      );
      return {
        seqScans: seq.map((r) => ({
          table: `${String(r.schema)}.${String(r.name)}`,
          seqScan: num(r.seq_scan),
          seqTupRead: num(r.seq_tup_read),
          idxScan: num(r.idx_scan),
          liveTuples: num(r.n_live_tup),
        })),
        unused: unused.map((r) => ({
          index: `${String(r.schema)}.${String(r.index_name)}`,
          table: `${String(r.schema)}.${String(r.table_name)}`,
          bytes: num(r.bytes),
        })),
      };
    });
  }

  async check(): Promise<CheckResult[]> {
    const label = `postgres ${this.service} (diagnosis role)`;
    const started = performance.now();
    let info: Row | undefined;
    try {
      info = await this.readOnly('check', async (query) => {
        const [row] = await query(
          `SELECT current_setting('server_version') AS version, current_user AS role, r.rolsuper AS superuser,
                  pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') AS read_all_stats,
                  (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
                      AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE'))::int AS writable_tables,
                  to_regclass('pg_stat_statements') IS NOT NULL
                    OR EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS statements,
                  current_setting('shared_preload_libraries') ~ 'pg_stat_statements' AS preloaded
             FROM pg_roles r WHERE r.rolname = current_user`,
        );
        return row;
      });
    } catch (e) {
      const err = e instanceof SourceError ? e : toPostgresError(this.name, 'check', this.target, e);
      return [{ name: label, ok: false, detail: err.message, hint: hintFor(err.reason) }];
    }
    const ms = Math.round(performance.now() - started);
    const results: CheckResult[] = [
      {
        name: label,
        ok: true,
        detail: `PostgreSQL ${String(info?.version)} at ${this.target} as ${String(info?.role)}, ${ms} ms`,
      },
    ];
    const statements = Boolean(info?.statements) && Boolean(info?.preloaded);
    results.push({
      name: `postgres ${this.service} pg_stat_statements`,
      ok: statements,
      detail: statements
        ? 'installed and loaded'
        : info?.statements
          ? 'extension created but not in shared_preload_libraries'
          : 'extension not created in this database',
      ...(statements
        ? {}
        : {
            hint: "add pg_stat_statements to shared_preload_libraries (restart), then CREATE EXTENSION pg_stat_statements; in the service's database",
          }),
    });
    const writable = num(info?.writable_tables);
    const readOnlyish = !info?.superuser && writable === 0;
    results.push({
      name: `postgres ${this.service} role is read-only`,
      ok: readOnlyish,
      detail: `${String(info?.role)}: ${info?.superuser ? 'superuser' : 'not superuser'}, may write ${writable} table${writable === 1 ? '' : 's'}, ${info?.read_all_stats ? 'has' : 'lacks'} pg_read_all_stats`,
      ...(readOnlyish
        ? info?.read_all_stats
          ? {}
          : { hint: 'GRANT pg_read_all_stats (or pg_monitor) so other sessions’ queries are visible' }
        : {
            hint: 'diagnose with a role that has pg_monitor and no write privileges; actions use action_url_env',
          }),
    });
    return results;
  }
}

const TABLE_STAT_COLUMNS = `s.schemaname AS schema, s.relname AS name,
  s.seq_scan::float8 AS seq_scan, s.seq_tup_read::float8 AS seq_tup_read,
  s.idx_scan::float8 AS idx_scan, s.idx_tup_fetch::float8 AS idx_tup_fetch,
  s.n_live_tup::float8 AS n_live_tup, s.n_dead_tup::float8 AS n_dead_tup,
  s.n_mod_since_analyze::float8 AS n_mod_since_analyze,
  (extract(epoch FROM clock_timestamp() - greatest(s.last_analyze, s.last_autoanalyze)) * 1000)::float8 AS since_analyze_ms,
  (extract(epoch FROM clock_timestamp() - greatest(s.last_vacuum, s.last_autovacuum)) * 1000)::float8 AS since_vacuum_ms`;

/** Exact UTC timestamps with microseconds: a proposal must match the same backend and query later. */
function ts(col: string): string {
  return `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** pg_stat_activity columns of alias `a`, prefixed `a_`; $1 is the query text limit. */
function SESSION_COLUMNS(a: string): string {
  return [
    `${a}.pid AS ${a}_pid`,
    `${a}.usename::text AS ${a}_user`,
    `${a}.application_name AS ${a}_application`,
    `${a}.client_addr::text AS ${a}_client_addr`,
    `${a}.datname::text AS ${a}_database`,
    `${a}.state AS ${a}_state`,
    `left(${a}.query, $1) AS ${a}_query`,
    `${ts(`${a}.backend_start`)} AS ${a}_backend_start`,
    `${ts(`${a}.query_start`)} AS ${a}_query_start`,
    `${ts(`${a}.xact_start`)} AS ${a}_xact_start`,
    `(extract(epoch FROM clock_timestamp() - ${a}.query_start) * 1000)::float8 AS ${a}_query_ms`,
    `(extract(epoch FROM clock_timestamp() - ${a}.xact_start) * 1000)::float8 AS ${a}_xact_ms`,
    `(extract(epoch FROM clock_timestamp() - ${a}.state_change) * 1000)::float8 AS ${a}_state_ms`,
    `${a}.wait_event_type AS ${a}_wait_event_type`,
    `${a}.wait_event AS ${a}_wait_event`,
  ].join(', ');
}

function toSession(r: Row, a: string): SessionRow {
  const g = (k: string) => r[`${a}_${k}`];
  const ms = (k: string) => {
    const v = numOrNull(g(k));
    return v === null ? null : Math.max(0, v);
  };
  return {
    pid: num(g('pid')),
    user: strOrNull(g('user')),
    application: strOrNull(g('application')),
    clientAddr: strOrNull(g('client_addr')),
    database: strOrNull(g('database')),
    state: strOrNull(g('state')),
    query: strOrNull(g('query')),
    backendStart: strOrNull(g('backend_start')),
    queryStart: strOrNull(g('query_start')),
    xactStart: strOrNull(g('xact_start')),
    queryMs: ms('query_ms'),
    xactMs: ms('xact_ms'),
    stateMs: ms('state_ms'),
    waitEventType: strOrNull(g('wait_event_type')),
    waitEvent: strOrNull(g('wait_event')),
  };
}

function toTableStat(r: Row): TableStatRow {
  return {
    schema: String(r.schema),
    name: String(r.name),
    seqScan: num(r.seq_scan),
    seqTupRead: num(r.seq_tup_read),
    idxScan: numOrNull(r.idx_scan),
    idxTupFetch: numOrNull(r.idx_tup_fetch),
    liveTuples: num(r.n_live_tup),
    deadTuples: num(r.n_dead_tup),
    modsSinceAnalyze: num(r.n_mod_since_analyze),
    sinceAnalyzeMs: numOrNull(r.since_analyze_ms),
    sinceVacuumMs: numOrNull(r.since_vacuum_ms),
  };
}

/** Every "Index Name" in an EXPLAIN (FORMAT JSON) plan tree. */
function indexNames(plan: unknown): string[] {
  if (!plan || typeof plan !== 'object') return [];
  if (Array.isArray(plan)) return plan.flatMap(indexNames);
  const p = plan as Row;
  const own = typeof p['Index Name'] === 'string' ? [p['Index Name'] as string] : [];
  return [...own, ...Object.values(p).flatMap(indexNames)];
}

/**
 * The SQLSTATE of a failure that belongs to one checked statement (the transaction goes on after a
 * rollback to its savepoint); anything else (the connection broke) is rethrown.
 */
function statementFailure(e: unknown): string {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code) || /^(08|57P)/.test(code)) throw e;
  return code;
}

/** pg hands bigint and numeric over as strings. */
function num(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : Number.NaN;
  return Number.isFinite(n) ? n : 0;
}

function numOrNull(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'EPIPE',
]);

/**
 * pg and network errors as SourceErrors that say what happened: unreachable (connection refused,
 * server shutting down), auth (28P01 wrong password, 28000 no such role / not allowed), timeout
 * (57014 statement timeout, connect timeout, 55P03 lock timeout), refused (no such database, too many
 * connections, permission denied, anything else the server rejected).
 */
export function toPostgresError(source: string, operation: string, target: string, e: unknown): SourceError {
  if (e instanceof SourceError) return e;
  const code = (e as { code?: string } | undefined)?.code ?? '';
  const message = e instanceof Error ? e.message : String(e);
  const fail = (reason: SourceFailure, detail: string) =>
    new SourceError(source, operation, reason, detail, { cause: e });
  if (NETWORK_CODES.has(code)) return fail('unreachable', `cannot connect to ${target} (${code})`);
  if (/timeout exceeded when trying to connect|connection timeout|timeout expired/i.test(message)) {
    return fail('timeout', `no connection to ${target} in time`);
  }
  if (/Query read timeout/i.test(message)) return fail('timeout', `${target} stopped answering`);
  if (/Connection terminated unexpectedly|Connection terminated/i.test(message)) {
    return fail('unreachable', `${target} closed the connection`);
  }
  switch (code) {
    case '28P01':
      return fail('auth', `wrong password for ${target}: ${message}`);
    case '28000':
      return fail('auth', `not allowed to connect to ${target}: ${message}`);
    case '3D000':
      return fail('refused', `${message} on ${target.split('/')[0]}`);
    case '53300':
      return fail('refused', `${target} has no free connection slots: ${message}`);
    case '57014':
      return fail('timeout', `statement timeout on ${target}: ${message}`);
    case '55P03':
      return fail('timeout', `lock timeout on ${target}: ${message}`);
    case '57P01':
    case '57P02':
    case '57P03':
      return fail('unreachable', `${target} is not accepting connections: ${message}`);
    case '42501':
      return fail('refused', `permission denied on ${target}: ${message}`);
  }
  return fail('refused', `${target}: ${message}`);
}

function hintFor(reason: SourceFailure): string {
  switch (reason) {
    case 'unreachable':
      return 'check the host and port in the URL, that PostgreSQL runs, and that the network allows it';
    case 'auth':
      return 'check the user and password in the URL and that pg_hba.conf lets the bot connect';
    case 'timeout':
      return 'the server did not answer in time: raise database.connect_timeout or statement_timeout, or check the server';
    default:
      return 'check the database name, the role’s privileges and the server log';
  }
}
