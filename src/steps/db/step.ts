import type { Config } from '../../config/load.ts';
import type { ServiceConfig } from '../../config/schema.ts';
import { AppError, isAppError, SourceError } from '../../domain/errors.ts';
import { evaluateEscalations } from '../../domain/escalation.ts';
import type { Escalation, Finding, PartStatus, Proposal, StepResult } from '../../domain/finding.ts';
import { finishResult, leadFinding, worstFirstHeadline } from '../../domain/report.ts';
import { classify } from '../../domain/thresholds.ts';
import { formatBytes, humanDuration } from '../../lib/format.ts';
import { loadPgParser } from '../../lib/sql/pg-parser.ts';
import type {
  ConnectionsSnapshot,
  LockWaitRow,
  SessionRow,
  StatementsResult,
  TableRef,
  TableSizeRow,
  TableStatRow,
} from '../../sources/postgres-types.ts';
import { createParts } from '../parts.ts';
import type { StepContext, StepDefinition } from '../step.ts';
import { analyzeConnections, analyzePoolLogs, type PodLogs } from './connections.ts';
import { adviseIndexes, type IndexAdvice, type IndexAdviceReader } from './index-check.ts';
import { analyzeIdleInTransaction, analyzeLocks, analyzeLongQueries } from './sessions.ts';
import {
  analyzeStatements,
  formatThreshold,
  type StatementsAnalysis,
  statementTables,
} from './statements.ts';
import { analyzeTables, DEFAULT_MAINTENANCE_RULES, qualifiedName } from './tables.ts';

/**
 * Runbook Step 4, Database Analysis: `/aegis db [slow|connections|tables|locks|all] [service]`.
 * Each section is one or more parts, run in parallel and reported as they complete; a part whose
 * source fails becomes an "unavailable" finding that says why, and the other parts still report.
 */

export const DB_SECTIONS = ['slow', 'connections', 'tables', 'locks', 'all'] as const;
export type DbSection = (typeof DB_SECTIONS)[number];

export interface DbArgs {
  readonly section: DbSection;
  readonly service?: string;
}

/** What the step reads from the service's PostgreSQL; src/sources/postgres.ts's DatabaseSource implements it. */
export interface DatabaseReader extends IndexAdviceReader {
  /** The database's name, recorded in proposals. */
  readonly database: string;
  slowStatements(q: { limit: number; warningMs: number; criticalMs: number }): Promise<StatementsResult>;
  tableStats(q: { tables: readonly TableRef[]; limit: number }): Promise<TableStatRow[]>;
  maintenanceCandidates(q: {
    minDeadTuples: number;
    deadRatio: number;
    minLiveTuples: number;
    modifiedRatio: number;
    staleAfterMs: number;
    limit: number;
  }): Promise<TableStatRow[]>;
  largestTables(q: { limit: number }): Promise<TableSizeRow[]>;
  connections(q: { idleLimit: number }): Promise<ConnectionsSnapshot>;
  longQueries(q: { minMs: number; limit: number }): Promise<SessionRow[]>;
  lockWaits(q: { limit: number }): Promise<LockWaitRow[]>;
}

/**
 * The pods' recent log lines, read through the Kubernetes API (kubectl logs). The step counts the
 * runbook's "connection pool exhausted" lines in them.
 */
export interface PodLogReader {
  recentLogs(service: ServiceConfig): Promise<{ pod: string; lines: string[] }[]>;
  /** database.max_connections in the service's ConfigMap (the application's pool size), when readable. */
  poolSize?(service: ServiceConfig): Promise<number | undefined>;
}

/** Factories per service (each service has its own database and pods); compose.ts builds them from src/sources/*. */
export interface DbSources {
  readonly database?: (service: ServiceConfig) => DatabaseReader;
  readonly podLogs?: (service: ServiceConfig) => PodLogReader;
}

/** How many rows each part asks for: top-N is computed on the server. */
export const DB_LIMITS = {
  statements: 10,
  /** Slow statements that get a finding of their own (and index advice); the rest are in the table. */
  findings: 5,
  tableStats: 50,
  largestTables: 10,
  maintenance: 10,
  idleInTransaction: 10,
  longQueries: 10,
  lockWaits: 50,
} as const;

const DEFAULT_LONG_QUERY_MS = 30_000;

type PartName =
  | 'slow queries'
  | 'running queries'
  | 'connections'
  | 'pool logs'
  | 'table sizes'
  | 'vacuum'
  | 'locks';

const SECTION_PARTS: Record<Exclude<DbSection, 'all'>, readonly PartName[]> = {
  slow: ['slow queries', 'running queries'],
  connections: ['connections', 'pool logs'],
  tables: ['table sizes', 'vacuum'],
  locks: ['locks'],
};

export function parseDbArgs(words: readonly string[], config: Pick<Config, 'services'>): DbArgs {
  let section: DbSection | undefined;
  let service: string | undefined;
  for (const raw of words) {
    const w = raw.trim();
    if (!w) continue;
    if ((DB_SECTIONS as readonly string[]).includes(w.toLowerCase())) {
      if (section) throw new AppError('usage', `one section at a time: got "${section}" and "${w}"`);
      section = w.toLowerCase() as DbSection;
    } else if (!service && config.services.some((s) => s.name === w)) {
      service = w;
    } else {
      throw new AppError(
        'usage',
        `unknown db section "${w}": use db [${DB_SECTIONS.join('|')}] [service] (services: ${config.services.map((s) => s.name).join(', ')})`,
      );
    }
  }
  return { section: section ?? 'all', ...(service ? { service } : {}) };
}

interface PartFailure {
  readonly part: PartName;
  readonly error: AppError;
}

/** Everything the parts produced, gathered for the headline and the result. */
interface Collected {
  findings: Finding[];
  proposals: Proposal[];
  failures: PartFailure[];
  statements?: StatementsAnalysis & { unavailable?: string };
  running?: SessionRow[];
  locks?: number;
  connections?: ConnectionsSnapshot;
  poolLines?: number;
  largest?: TableSizeRow;
  needMaintenance?: number;
}

export const dbStep: StepDefinition<DbArgs, DbSources> = {
  name: 'db',
  summary: 'Database analysis: slow queries, connections, table sizes, locks (PostgreSQL)',
  usage: 'db [slow|connections|tables|locks|all] [service]',
  runbook: 'Step 4: Database Analysis',
  parse(words, ctx) {
    return parseDbArgs(words, ctx.config);
  },
  run(ctx, args) {
    return runDb(ctx, args);
  },
};

export async function runDb(ctx: StepContext<DbSources>, args: DbArgs): Promise<StepResult> {
  const startedAt = ctx.now();
  const service = ctx.service;
  const longQueryMs = service.database?.long_query ?? DEFAULT_LONG_QUERY_MS;
  const baseline = ctx.config.baselines.db_query_ms;
  const wanted = args.section === 'all' ? Object.values(SECTION_PARTS).flat() : SECTION_PARTS[args.section];
  const c: Collected = { findings: [], proposals: [], failures: [] };

  let reader: DatabaseReader | undefined;
  let readerError: AppError | undefined;
  try {
    if (!service.database) {
      throw new AppError(
        'config',
        `service "${service.name}" has no database configured (services[].database)`,
      );
    }
    if (!ctx.sources.database) throw new AppError('config', 'no database source is configured');
    reader = ctx.sources.database(service);
  } catch (e) {
    if (!isAppError(e)) throw e;
    readerError = e;
  }
  const db = (): DatabaseReader => {
    if (!reader) throw readerError as AppError;
    return reader;
  };
  const database = () => reader?.database ?? service.database?.url_env ?? 'unknown';

  /**
   * One part: its findings go into `c`. A part whose source fails is unavailable with the reason; a
   * part may also answer "unavailable" itself (pg_stat_statements missing), having already added the
   * finding that says how to fix it.
   */
  const parts = createParts(ctx.progress);
  const part = async (name: PartName, work: () => Promise<string | undefined>): Promise<void> => {
    const o = await parts.run(name, work, (unavailable) => unavailable);
    if (!o.ok) c.failures.push({ part: name, error: o.error as AppError });
  };

  // The pool-size proposal is capped by the server's max_connections when the connections part answers.
  let connectionsDone: Promise<ConnectionsSnapshot | undefined> = Promise.resolve(undefined);

  const runners: Record<PartName, () => Promise<void>> = {
    'slow queries': () =>
      part('slow queries', async () => {
        const result = await db().slowStatements({
          limit: DB_LIMITS.statements,
          warningMs: baseline.normal,
          criticalMs: baseline.critical,
        });
        let stats: TableStatRow[] = [];
        let indexAdvice: IndexAdvice | undefined;
        if (result.available && result.rows.length > 0) {
          await loadPgParser(); // PostgreSQL's grammar, loaded on first use (about 160 ms, once)
          const slow = result.rows.filter((r) => r.meanMs >= baseline.normal);
          const tables = uniqueTables(slow.flatMap((r) => statementTables(r.query)));
          if (tables.length) stats = await db().tableStats({ tables, limit: DB_LIMITS.tableStats });
          // The statements that get a finding (analyzeStatements: not normal, at most maxFindings).
          const advised = result.rows
            .filter((r) => classify(r.meanMs, baseline) !== 'normal')
            .slice(0, DB_LIMITS.findings);
          indexAdvice = await adviseIndexes(db(), { rows: advised, tableStats: stats });
        }
        const analysis = analyzeStatements({
          result,
          tableStats: stats,
          baseline,
          database: database(),
          maxFindings: DB_LIMITS.findings,
          ...(indexAdvice ? { indexAdvice } : {}),
        });
        c.findings.push(...analysis.findings);
        c.statements = result.available ? analysis : { ...analysis, unavailable: result.reason };
        return result.available
          ? undefined
          : `pg_stat_statements ${result.reason.replace('_', ' ')}: ${result.detail}`;
      }),
    'running queries': () =>
      part('running queries', async () => {
        const sessions = await db().longQueries({ minMs: longQueryMs, limit: DB_LIMITS.longQueries });
        const a = analyzeLongQueries({
          service: service.name,
          database: database(),
          thresholdMs: longQueryMs,
          sessions,
        });
        c.findings.push(...a.findings);
        c.proposals.push(...a.proposals);
        c.running = sessions;
        return undefined;
      }),
    connections: () => {
      const done = part('connections', async () => {
        const snapshot = await db().connections({ idleLimit: DB_LIMITS.idleInTransaction });
        c.connections = snapshot;
        c.findings.push(
          analyzeConnections({
            service: service.name,
            configmap: service.configmap,
            namespace: service.namespace,
            snapshot,
          }),
        );
        const idle = analyzeIdleInTransaction({
          service: service.name,
          database: database(),
          thresholdMs: longQueryMs,
          sessions: snapshot.idleInTransaction,
          total: snapshot.idleInTransactionTotal,
        });
        c.findings.push(...idle.findings);
        c.proposals.push(...idle.proposals);
        return undefined;
      });
      connectionsDone = done.then(() => c.connections);
      return done;
    },
    'pool logs': () => {
      const factory = ctx.sources.podLogs;
      if (!factory) {
        const reason = 'no pod log reader configured (Kubernetes API)';
        parts.unavailable('pool logs', reason);
        return Promise.resolve();
      }
      return part('pool logs', async () => {
        const logs = factory(service);
        const [entries, poolSize] = await Promise.all([
          logs.recentLogs(service),
          logs.poolSize ? logs.poolSize(service) : Promise.resolve(undefined),
        ]);
        const snapshot = await connectionsDone;
        const a = analyzePoolLogs({
          service: service.name,
          configmap: service.configmap,
          namespace: service.namespace,
          logs: entries as PodLogs[],
          ...(poolSize !== undefined ? { currentPoolSize: poolSize } : {}),
          ...(snapshot
            ? {
                server: {
                  maxConnections: snapshot.maxConnections,
                  superuserReserved: snapshot.superuserReserved,
                },
              }
            : {}),
        });
        c.findings.push(a.finding);
        if (a.proposal) c.proposals.push(a.proposal);
        c.poolLines = a.exhaustedLines;
        return undefined;
      });
    },
    'table sizes': () =>
      part('table sizes', async () => {
        const largest = await db().largestTables({ limit: DB_LIMITS.largestTables });
        const a = analyzeTables({ service: service.name, database: database(), largest, maintenance: [] });
        c.findings.push(...a.findings);
        if (largest[0]) c.largest = largest[0];
        return undefined;
      }),
    vacuum: () =>
      part('vacuum', async () => {
        const maintenance = await db().maintenanceCandidates({
          ...DEFAULT_MAINTENANCE_RULES,
          limit: DB_LIMITS.maintenance,
        });
        const a = analyzeTables({ service: service.name, database: database(), largest: [], maintenance });
        c.findings.push(...a.findings.filter((f) => f.id !== 'db.tables.largest'));
        c.proposals.push(...a.proposals);
        c.needMaintenance = a.needMaintenance;
        return undefined;
      }),
    locks: () =>
      part('locks', async () => {
        const waits = await db().lockWaits({ limit: DB_LIMITS.lockWaits });
        const a = analyzeLocks({
          service: service.name,
          database: database(),
          thresholdMs: longQueryMs,
          waits,
        });
        c.findings.push(...a.findings);
        c.proposals.push(...a.proposals);
        c.locks = new Set(waits.map((w) => w.blocked.pid)).size;
        return undefined;
      }),
  };

  // Connections first in the list so the pool part can wait for it; all run concurrently.
  const order = [...wanted].sort((a, b) => Number(b === 'connections') - Number(a === 'connections'));
  const settled = await Promise.allSettled(order.map((name) => runners[name]()));
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  c.failures.sort((a, b) => wanted.indexOf(a.part) - wanted.indexOf(b.part));

  c.findings.push(...unavailableFindings(c.failures));
  const escalations = dbEscalations(ctx.config, c.running, longQueryMs);
  const statuses = wanted
    .map((name) => parts.statuses.find((p) => p.name === name))
    .filter((p): p is PartStatus => !!p);
  return finishResult(
    {
      step: 'db',
      service: service.name,
      // worst first: the most severe finding with its severity word, then the section's summary
      headline: worstFirstHeadline(
        c.findings,
        headlinePieces(c, args.section, baseline, longQueryMs, leadFinding(c.findings)?.id),
        { max: 1 },
      ),
      findings: c.findings,
      proposals: dedupeProposals(c.proposals),
      nextSteps: [{ label: `Check latency of ${service.name}`, step: 'latency', args: [service.name] }],
      escalations,
      attachments: [],
      parts: statuses,
      links: [],
      startedAt,
    },
    ctx.now(),
  );
}

function uniqueTables(tables: readonly TableRef[]): TableRef[] {
  const seen = new Map<string, TableRef>();
  for (const t of tables) seen.set(`${t.schema ?? ''}.${t.name}`, t);
  return [...seen.values()];
}

function dedupeProposals(proposals: readonly Proposal[]): Proposal[] {
  const seen = new Set<string>();
  return proposals.filter((p) => {
    const key = `${p.action}:${JSON.stringify(p.params)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const UNAVAILABLE_TITLE: Record<string, string> = {
  unreachable: '{subject} unreachable',
  auth: "{subject} refused the bot's credentials",
  timeout: '{subject} did not answer in time',
  refused: '{subject} refused the request',
  too_large: '{subject} answered too much',
  malformed: '{subject} gave an unexpected answer',
  http_error: '{subject} answered with an error',
  config: '{subject} not configured',
};

const DATABASE_HINT: Record<string, string> = {
  unreachable:
    'Check that PostgreSQL runs and that the host and port in the URL are right and reachable from the bot.',
  auth: "Check the user and password in the diagnosis role's URL, and that pg_hba.conf lets the bot connect.",
  timeout:
    'The server did not answer in time: it may be overloaded. Raise database.statement_timeout or connect_timeout only if it is merely slow.',
  refused: "Check the database name in the URL and the diagnosis role's privileges (pg_monitor).",
  config:
    "Set services[].database.url_env and the environment variable it names (the read-only diagnosis role's URL).",
};

const KUBERNETES_HINT =
  "Check the bot's Kubernetes access: it reads pods and pods/log in the service's namespace.";

/** What went wrong without the operation: the same for every part when the server is down. */
function failureDetail(err: AppError): string {
  if (!(err instanceof SourceError)) return err.message;
  const marker = ' failed: ';
  const at = err.message.indexOf(marker);
  return at >= 0 ? `${err.source}: ${err.message.slice(at + marker.length)}` : err.message;
}

/** One finding per distinct failure (a server that is down fails every part the same way). */
function unavailableFindings(failures: readonly PartFailure[]): Finding[] {
  const byCause = new Map<string, PartFailure[]>();
  for (const f of failures) {
    const key =
      f.error instanceof SourceError ? `${f.error.reason}|${failureDetail(f.error)}` : f.error.message;
    const list = byCause.get(key) ?? [];
    list.push(f);
    byCause.set(key, list);
  }
  return [...byCause.values()].map((list) => {
    const err = (list[0] as PartFailure).error;
    const message = list.length === 1 ? err.message : failureDetail(err);
    const kind = err instanceof SourceError ? err.reason : err.code;
    const fromKubernetes = list.every((f) => f.part === 'pool logs');
    const subject = fromKubernetes ? 'Pod logs' : 'Database';
    const hint = fromKubernetes ? KUBERNETES_HINT : (DATABASE_HINT[kind] ?? '');
    const partsText = list.map((f) => f.part).join(', ');
    return {
      id: `db.unavailable.${list.map((f) => f.part.replace(/ /g, '-')).join('.')}`,
      severity: 'unavailable' as const,
      title: (UNAVAILABLE_TITLE[kind] ?? '{subject} unavailable').replace('{subject}', subject),
      summary: `${partsText}: ${message}. ${hint}`.trim(),
      evidence: [
        {
          type: 'fields' as const,
          fields: [
            { label: 'Parts', value: partsText },
            { label: 'Reason', value: kind },
          ],
        },
      ],
      links: [],
    };
  });
}

function dbEscalations(
  config: Config,
  running: readonly SessionRow[] | undefined,
  longQueryMs: number,
): Escalation[] {
  if (!running || running.length === 0) return [];
  const longest = Math.max(...running.map((s) => s.queryMs ?? 0));
  if (longest < longQueryMs) return [];
  return evaluateEscalations(config.escalationRules, {
    db_query_ms: { value: longest, display: `query running ${humanDuration(longest)}` },
  });
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * The summary after the lead finding: "3 queries over 1 s (worst 4.2 s: SELECT … FROM findings); 1 lock
 * wait; connections 87/100", leaving out what the lead (`leadId`) already says.
 */
function headlinePieces(
  c: Collected,
  section: DbSection,
  baseline: { normal: number; critical: number },
  longQueryMs: number,
  leadId?: string,
): string[] {
  const pieces: string[] = [];
  const s = c.statements;
  const leads = (prefix: string) => leadId?.startsWith(prefix) ?? false;
  if (s?.unavailable) {
    pieces.push(`pg_stat_statements ${s.unavailable.replace('_', ' ')}`);
  } else if (s) {
    const worst =
      s.worst && !leads('db.slow.') ? ` (worst ${humanDuration(s.worst.meanMs)}: ${s.worst.short})` : '';
    if (s.overCritical > 0)
      pieces.push(
        `${plural(s.overCritical, 'query', 'queries')} over ${formatThreshold(baseline.critical)}${worst}`,
      );
    else if (s.overWarning > 0)
      pieces.push(
        `${plural(s.overWarning, 'query', 'queries')} over ${formatThreshold(baseline.normal)}${worst}`,
      );
    else pieces.push('no slow queries');
  }
  if (c.running && c.running.length > 0 && !(leads('db.long-query.') && c.running.length === 1)) {
    const longest = Math.max(...c.running.map((r) => r.queryMs ?? 0));
    pieces.push(
      `${plural(c.running.length, 'query', 'queries')} running over ${formatThreshold(longQueryMs)} (longest ${humanDuration(longest)})`,
    );
  }
  if (
    c.locks !== undefined &&
    (c.locks > 0 || section === 'locks') &&
    !(leads('db.lock-wait.') && c.locks === 1)
  ) {
    pieces.push(c.locks > 0 ? plural(c.locks, 'lock wait', 'lock waits') : 'no lock waits');
  }
  if (c.connections) {
    const idle = c.connections.idleInTransactionTotal;
    if (idle > 0 && !leads('db.idle-in-transaction')) pieces.push(`${idle} idle in transaction`);
    if (!leads('db.connections'))
      pieces.push(`connections ${c.connections.used}/${c.connections.maxConnections}`);
  }
  if (c.poolLines && !leads('db.pool')) pieces.push(`pool exhausted ${c.poolLines}× in logs`);
  if (c.needMaintenance)
    pieces.push(`${plural(c.needMaintenance, 'table needs', 'tables need')} VACUUM ANALYZE`);
  if (c.largest && section === 'tables') {
    pieces.push(`largest table ${qualifiedName(c.largest)} (${formatBytes(c.largest.totalBytes, 'pg')})`);
  }
  const failed = c.failures;
  if (failed.length > 0) {
    const reasons = [
      ...new Set(failed.map((f) => (f.error instanceof SourceError ? f.error.reason : f.error.code))),
    ];
    const allFailed = pieces.length === 0;
    pieces.push(
      allFailed
        ? `database unavailable (${reasons.join(', ')}): ${failureDetail((failed[0] as PartFailure).error)}`
        : `${failed.map((f) => f.part).join(', ')} unavailable`,
    );
  }
  return pieces.length ? pieces : ['nothing to report'];
}
