/**
 * Typed rows the database source returns and the db analysis reads. Numbers are numbers (pg hands
 * bigint and numeric over as strings; the source converts), durations are milliseconds, and
 * timestamps that must survive a round trip exactly (a proposal's query_start) are ISO strings with
 * microseconds, in UTC.
 */

/** Which column names the server's pg_stat_statements uses: 13+ (`mean_exec_time`) or older (`mean_time`). */
export type StatementColumns = 'exec_time' | 'legacy_time';

export interface StatementRow {
  /** pg_stat_statements.queryid as text (a bigint); stable across calls for the same statement. */
  readonly queryId: string;
  /** Normalized text from pg_stat_statements (constants as $n), at most a few KB. Not yet redacted. */
  readonly query: string;
  readonly calls: number;
  readonly meanMs: number;
  readonly totalMs: number;
  readonly rows: number;
}

export type StatementsUnavailable =
  /** The extension is not created in this database. */
  | 'not_installed'
  /** Created, but the library is not in shared_preload_libraries. */
  | 'not_loaded'
  /** The role cannot read it. */
  | 'no_permission';

export type StatementsResult =
  | {
      readonly available: true;
      readonly columns: StatementColumns;
      /** Where the view was found, e.g. "public.pg_stat_statements". */
      readonly relation: string;
      /** Top statements by mean time, worst first (ORDER BY ... LIMIT on the server). */
      readonly rows: readonly StatementRow[];
      /** Statements of this database the view holds (counted on the server). */
      readonly totalStatements: number;
      /** How many have a mean at or over the warning bound, and over the critical bound (counted on the server). */
      readonly overWarning: number;
      readonly overCritical: number;
    }
  | { readonly available: false; readonly reason: StatementsUnavailable; readonly detail: string };

export interface TableRef {
  readonly schema?: string;
  readonly name: string;
}

/** pg_stat_user_tables, the columns the analysis reads. */
export interface TableStatRow {
  readonly schema: string;
  readonly name: string;
  readonly seqScan: number;
  readonly seqTupRead: number;
  readonly idxScan: number | null;
  /** Rows fetched through indexes; null when the table has none. */
  readonly idxTupFetch: number | null;
  readonly liveTuples: number;
  readonly deadTuples: number;
  readonly modsSinceAnalyze: number;
  /** Milliseconds since the last manual or automatic ANALYZE; null when never analyzed. */
  readonly sinceAnalyzeMs: number | null;
  /** Milliseconds since the last manual or automatic VACUUM; null when never vacuumed. */
  readonly sinceVacuumMs: number | null;
  readonly totalBytes?: number;
}

export interface TableSizeRow {
  readonly schema: string;
  readonly name: string;
  readonly totalBytes: number;
  readonly tableBytes: number;
  readonly indexBytes: number;
  readonly estimatedRows: number;
}

/** A client session as pg_stat_activity shows it (the bot's own sessions excluded). */
export interface SessionRow {
  readonly pid: number;
  readonly user: string | null;
  readonly application: string | null;
  readonly clientAddr: string | null;
  readonly database: string | null;
  readonly state: string | null;
  /** Not yet redacted; at most a few KB. */
  readonly query: string | null;
  /** ISO timestamps with microseconds (UTC); exact, for matching the session again later. */
  readonly backendStart: string | null;
  readonly queryStart: string | null;
  readonly xactStart: string | null;
  /** now() - query_start, now() - xact_start, now() - state_change, in ms. */
  readonly queryMs: number | null;
  readonly xactMs: number | null;
  readonly stateMs: number | null;
  readonly waitEventType: string | null;
  readonly waitEvent: string | null;
}

export interface ConnectionStateCount {
  /** pg_stat_activity.state, or "(background)" for client backends with no state. */
  readonly state: string;
  readonly count: number;
}

export interface ConnectionsSnapshot {
  readonly maxConnections: number;
  readonly superuserReserved: number;
  /** Client backends in the whole cluster (what max_connections limits), the bot's own included. */
  readonly used: number;
  /** The bot's own sessions among them. */
  readonly own: number;
  readonly byState: readonly ConnectionStateCount[];
  /** Client backends of the service's database. */
  readonly inDatabase: number;
  /** Idle-in-transaction sessions of the service's database, oldest transaction first (top N). */
  readonly idleInTransaction: readonly SessionRow[];
  readonly idleInTransactionTotal: number;
}

/** A blocked session paired with one session that blocks it (pg_blocking_pids). */
export interface LockWaitRow {
  readonly blocked: SessionRow;
  readonly blocking: SessionRow;
  /** How long the blocked session has waited for the lock (pg_locks.waitstart on 14+, else query start). */
  readonly waitedMs: number | null;
  readonly lockType: string | null;
  readonly lockMode: string | null;
  /** The locked relation, e.g. "public.findings", when the lock is on one. */
  readonly relation: string | null;
}

/** pg_stats for one column (only columns the role may SELECT are visible), with its table's reltuples. */
export interface ColumnStatsRow {
  readonly schema: string;
  readonly table: string;
  readonly column: string;
  readonly nullFrac: number;
  /** pg_stats.n_distinct: > 0 a count, < 0 minus the fraction of rows, 0 unknown. */
  readonly nDistinct: number;
  /** pg_stats.most_common_freqs; null when ANALYZE found no common values. The values themselves are never read. */
  readonly mostCommonFreqs: readonly number[] | null;
  /** pg_class.reltuples, for a negative n_distinct. */
  readonly reltuples: number;
}

/** An existing index of a table: its access method and each key as pg_get_indexdef writes it. */
export interface IndexDefRow {
  readonly schema: string;
  readonly table: string;
  readonly index: string;
  /** btree, gin, hash, ... */
  readonly method: string;
  /** Key columns in order: `owner`, `lower(email)`, `"Order"`. */
  readonly columns: readonly string[];
  /** A partial index (its predicate is not read: it may hold a literal). */
  readonly partial: boolean;
}

/** One statement to check with hypothetical indexes. */
export interface HypoCheckRequest {
  /** pg_stat_statements text, already parsed as exactly one SELECT by the caller. */
  readonly query: string;
  /** Number of $n parameters: EXECUTE passes that many NULLs (generic plan). */
  readonly params: number;
  /** CREATE INDEX statements, each simulated alone. */
  readonly indexes: readonly string[];
}

export type HypoIndexResult =
  | {
      readonly ok: true;
      /** Total cost of the generic plan with this hypothetical index. */
      readonly cost: number;
      /** Whether the plan names the hypothetical index. */
      readonly used: boolean;
    }
  | { readonly ok: false; readonly code: string };

export type HypoCheckResult =
  | { readonly ok: true; readonly costWithout: number; readonly indexes: readonly HypoIndexResult[] }
  /** SQLSTATE of the failure (42501: the role may not read a table), for the whole statement. */
  | { readonly ok: false; readonly code: string };

export type HypoChecks =
  | { readonly available: true; readonly results: readonly HypoCheckResult[] }
  | { readonly available: false };

/** A server setting that is not the compiled-in default (and not this session's own). */
export interface ChangedSetting {
  readonly name: string;
  readonly setting: string;
  readonly unit?: string;
  /** pg_settings.source: "configuration file", "command line", "database", "user", … */
  readonly source: string;
  /** Changed in the configuration but needs a restart to take effect. */
  readonly pendingRestart: boolean;
}

/** When the server's configuration and statistics last changed, from the catalog. */
export interface SettingsHistory {
  /** pg_postmaster_start_time(): the server (re)started. */
  readonly startedAt: Date;
  /** pg_conf_load_time(): the configuration files were last (re)loaded. */
  readonly configLoadedAt: Date;
  /** pg_stat_statements_info.stats_reset; undefined without pg_stat_statements 1.9+. */
  readonly statementsResetAt?: Date;
  readonly changed: readonly ChangedSetting[];
  /** pg_file_settings lines not applied (a pending edit or an error); undefined when unreadable (superuser-only by default). */
  readonly unapplied?: readonly {
    readonly name: string;
    readonly setting: string;
    readonly error?: string;
  }[];
}
