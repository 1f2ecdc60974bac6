import type pg from 'pg';
import type { BackendMatch, BackendState, DatabaseActions } from '../actions/ports.ts';
import type { Config } from '../config/load.ts';
import type { ServiceConfig } from '../config/schema.ts';
import { AppError, SourceError } from '../domain/errors.ts';
import { sourceCall } from './http.ts';
import { pgClient } from './pg-client.ts';
import { APPLICATION_NAME, toPostgresError } from './postgres.ts';

/**
 * The database changes the runbook's fixes make, with the service's ACTION role (pg_signal_backend,
 * owner of the tables to VACUUM), never the read-only diagnosis role:
 *
 * - cancel / terminate: pg_cancel_backend / pg_terminate_backend in ONE statement that also checks the
 *   pid still has the backend start and query start the proposal saw, so a recycled pid or a new query
 *   on the same session is never signalled;
 * - VACUUM ANALYZE: the table is looked up in pg_class first, the statement built with escaped
 *   identifiers, and run outside a transaction block (VACUUM cannot run inside one). A role that may not
 *   vacuum the table gets PostgreSQL's "skipping" warning, not an error: that is reported as refused.
 */

/** Exact UTC timestamps with microseconds, as the diagnosis (sources/postgres.ts) records them. */
function ts(col: string): string {
  return `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}
const MARKER = '/* aegis-bot action */';

export interface PostgresActionsOptions {
  readonly url: string;
  readonly service: string;
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
  /** statement_timeout of VACUUM ANALYZE; default 30 minutes. */
  readonly vacuumTimeoutMs?: number;
  /** Source name in errors; default "postgres (action role)". */
  readonly name?: string;
}

export class PostgresActions implements DatabaseActions {
  readonly name: string;
  readonly database: string;
  readonly target: string;
  private readonly pool: pg.Pool;
  private readonly options: PostgresActionsOptions;

  constructor(options: PostgresActionsOptions) {
    this.options = options;
    this.name = options.name ?? 'postgres (action role)';
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new AppError(
        'config',
        `the action database URL for service "${options.service}" is not a valid URL`,
      );
    }
    url.searchParams.delete('application_name');
    this.database =
      decodeURIComponent(url.pathname.replace(/^\//, '')) || decodeURIComponent(url.username) || 'postgres';
    this.target = `${url.hostname || 'localhost'}:${url.port || '5432'}/${this.database}`;
    this.pool = new (pgClient().Pool)({
      connectionString: url.toString(),
      max: 2,
      connectionTimeoutMillis: options.connectTimeoutMs,
      idleTimeoutMillis: 10_000,
      allowExitOnIdle: true,
      application_name: `${APPLICATION_NAME} (actions)`,
      statement_timeout: options.statementTimeoutMs,
      lock_timeout: 2000,
    });
    this.pool.on('error', () => {});
  }

  /** The action role of a service, from services[].database.action_url_env. */
  static forService(config: Config, service: ServiceConfig): PostgresActions {
    const db = service.database;
    if (!db?.action_url_env) {
      throw new AppError(
        'config',
        `service "${service.name}" has no database action role: set services[].database.action_url_env to the variable holding its URL`,
      );
    }
    const url = config.secrets.databaseUrls[db.action_url_env];
    if (!url) {
      throw new AppError(
        'config',
        `environment variable ${db.action_url_env} is not set: it holds the URL of the action role for "${service.name}"`,
      );
    }
    return new PostgresActions({
      url,
      service: service.name,
      connectTimeoutMs: db.connect_timeout,
      statementTimeoutMs: db.statement_timeout,
    });
  }

  async session(pid: number): Promise<BackendState | undefined> {
    const rows = await this.query(
      'read the backend',
      `${MARKER} SELECT pid, datname::text AS database, usename::text AS "user", state,
              ${ts('backend_start')} AS backend_start, ${ts('query_start')} AS query_start, left(query, 4096) AS query
         FROM pg_stat_activity WHERE pid = $1`,
      [pid],
    );
    const r = rows[0];
    if (!r) return undefined;
    const s = (v: unknown) => (v === null || v === undefined ? null : String(v));
    return {
      pid: Number(r.pid),
      database: s(r.database),
      user: s(r.user),
      state: s(r.state),
      backendStart: s(r.backend_start),
      queryStart: s(r.query_start),
      query: s(r.query),
    };
  }

  cancel(match: BackendMatch): Promise<{ matched: boolean }> {
    return this.signal('pg_cancel_backend', 'cancel the query', match);
  }

  terminate(match: BackendMatch): Promise<{ matched: boolean }> {
    return this.signal('pg_terminate_backend', 'terminate the session', match);
  }

  private async signal(
    fn: 'pg_cancel_backend' | 'pg_terminate_backend',
    operation: string,
    m: BackendMatch,
  ): Promise<{ matched: boolean }> {
    const rows = await this.query(
      `${operation} of pid ${m.pid}`,
      `${MARKER} SELECT ${fn}(pid) AS signalled FROM pg_stat_activity
        WHERE pid = $1 AND datname = current_database()
          AND ${ts('backend_start')} = $2 AND ${ts('query_start')} = $3`,
      [m.pid, m.backendStart, m.queryStart],
    );
    const r = rows[0];
    if (!r) return { matched: false };
    if (r.signalled !== true) {
      throw new SourceError(
        this.name,
        `${operation} of pid ${m.pid}`,
        'refused',
        `${fn} returned false: the backend could not be signalled`,
      );
    }
    return { matched: true };
  }

  async tableExists(schema: string, table: string): Promise<boolean> {
    const rows = await this.query(
      'look the table up',
      `${MARKER} SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'm', 'p')`,
      [schema, table],
    );
    return rows.length > 0;
  }

  async vacuumAnalyze(schema: string, table: string): Promise<void> {
    const operation = `VACUUM ANALYZE ${schema}.${table}`;
    await sourceCall(this.name, operation, async () => {
      const client = new (pgClient().Client)({
        connectionString: this.options.url,
        connectionTimeoutMillis: this.options.connectTimeoutMs,
        application_name: `${APPLICATION_NAME} (actions)`,
        statement_timeout: this.options.vacuumTimeoutMs ?? 30 * 60_000,
      });
      const warnings: string[] = [];
      client.on('notice', (n) => {
        if (n.message) warnings.push(n.message);
      });
      client.on('error', () => {});
      try {
        await client.connect();
        // not in a transaction block: one simple statement, identifiers escaped (names checked in pg_class before)
        await client.query(
          `${MARKER} VACUUM (ANALYZE) ${pgClient().escapeIdentifier(schema)}.${pgClient().escapeIdentifier(table)}`,
        );
      } catch (e) {
        throw toPostgresError(this.name, operation, this.target, e);
      } finally {
        await client.end().catch(() => {});
      }
      const skipped = warnings.find((w) => /skipping/i.test(w));
      if (skipped) {
        throw new SourceError(
          this.name,
          operation,
          'refused',
          `PostgreSQL skipped the table: ${skipped} (the action role must own the table, or have MAINTAIN on it from PostgreSQL 17)`,
        );
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private query(
    operation: string,
    sql: string,
    values: readonly unknown[],
  ): Promise<Record<string, unknown>[]> {
    return sourceCall(this.name, operation, async () => {
      try {
        const res = await this.pool.query(sql, values as unknown[]);
        return res.rows as Record<string, unknown>[];
      } catch (e) {
        throw toPostgresError(this.name, operation, this.target, e);
      }
    });
  }
}
