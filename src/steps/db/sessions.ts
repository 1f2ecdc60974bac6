import type { Field, Finding, Proposal } from '../../domain/finding.ts';
import { type BackendTarget, cancelQueryProposal, terminateSessionProposal } from '../../domain/proposals.ts';
import { humanDuration } from '../../lib/format.ts';
import { redactSql } from '../../lib/sql/redact.ts';
import type { LockWaitRow, SessionRow } from '../../sources/postgres-types.ts';
import { lockAdvice, longQueryAdvice } from './advice.ts';
import { formatThreshold } from './statements.ts';

const QUERY_MAX = 1000;
const CELL_MAX = 80;

/**
 * What a proposal against one backend records, so the action can check it is still the same
 * session and the same query before signalling: a recycled pid never matches backendStart, and a
 * new query on the same session never matches queryStart. Timestamps are exact (microseconds, UTC).
 */
export interface BackendParams {
  readonly pid: number;
  readonly backendStart: string;
  readonly queryStart: string;
  readonly database: string;
  [key: string]: string | number | boolean;
}

export function backendParams(s: SessionRow, database: string): BackendParams | undefined {
  if (!s.backendStart || !s.queryStart) return undefined;
  return {
    pid: s.pid,
    backendStart: s.backendStart,
    queryStart: s.queryStart,
    database: s.database ?? database,
  };
}

function who(s: SessionRow): string {
  const parts = [`pid ${s.pid}`];
  if (s.user) parts.push(`user ${s.user}`);
  if (s.application) parts.push(`application ${s.application}`);
  return parts.join(', ');
}

function sessionFields(s: SessionRow): Field[] {
  const fields: Field[] = [
    { label: 'PID', value: String(s.pid) },
    { label: 'User', value: s.user ?? 'unknown' },
    { label: 'Application', value: s.application || '(none)' },
    { label: 'Client', value: s.clientAddr ?? 'local socket' },
    { label: 'State', value: s.state ?? 'unknown' },
  ];
  if (s.queryStart) fields.push({ label: 'Query started', value: s.queryStart });
  if (s.waitEventType)
    fields.push({ label: 'Waiting on', value: `${s.waitEventType}: ${s.waitEvent ?? ''}` });
  return fields;
}

function queryText(s: SessionRow, max = QUERY_MAX): string {
  return s.query ? redactSql(s.query, { maxLength: max }) : '(query text not visible to the bot role)';
}

function backend(p: BackendParams, running: string): BackendTarget {
  const { pid, backendStart, queryStart, database, ...extra } = p;
  return {
    pid,
    backendStart,
    queryStart,
    database,
    running,
    ...(Object.keys(extra).length ? { extra } : {}),
  };
}

export interface SessionsInput {
  readonly service: string;
  readonly database: string;
  /** The service's long_query threshold (the runbook's escalation: DB query > 30 s). */
  readonly thresholdMs: number;
}

export interface SessionsAnalysis {
  readonly findings: Finding[];
  readonly proposals: Proposal[];
}

/** Queries running past the threshold: critical, with "Cancel query" and "Terminate session". */
export function analyzeLongQueries(
  input: SessionsInput & { sessions: readonly SessionRow[] },
): SessionsAnalysis {
  const findings: Finding[] = [];
  const proposals: Proposal[] = [];
  const threshold = formatThreshold(input.thresholdMs);
  for (const s of input.sessions) {
    const ms = s.queryMs ?? 0;
    const running = `running for ${humanDuration(ms)}`;
    const id = `db.long-query.${s.pid}`;
    findings.push({
      id,
      severity: 'critical',
      title: `Query running ${humanDuration(ms)} on pid ${s.pid}`,
      summary: `${who(s)} has run one query for ${humanDuration(ms)}, past the ${threshold} threshold. Runbook escalation: DB query >${threshold}: kill query, investigate.`,
      evidence: [
        { type: 'fields', fields: [...sessionFields(s), { label: 'Running for', value: humanDuration(ms) }] },
        { type: 'code', title: 'Query (literals redacted)', text: queryText(s) },
      ],
      links: [],
      advice: longQueryAdvice(s.pid, threshold),
    });
    const p = backendParams(s, input.database);
    if (p) {
      const why = `query on pid ${s.pid} ${running}, past the ${threshold} threshold (runbook: kill query, investigate)`;
      proposals.push(cancelQueryProposal(input.service, backend(p, running), why));
      proposals.push(terminateSessionProposal(input.service, backend(p, running), why));
    }
  }
  return { findings, proposals };
}

/**
 * Sessions idle in a transaction: they hold locks and keep VACUUM from removing dead rows.
 * Warning once the transaction is older than the threshold, with "Terminate session" (cancel does
 * nothing to an idle session).
 */
export function analyzeIdleInTransaction(
  input: SessionsInput & { sessions: readonly SessionRow[]; total: number },
): SessionsAnalysis {
  if (input.sessions.length === 0) return { findings: [], proposals: [] };
  const oldest = input.sessions[0] as SessionRow;
  const age = (s: SessionRow) => s.xactMs ?? s.stateMs ?? 0;
  const past = input.sessions.filter((s) => age(s) >= input.thresholdMs);
  const id = 'db.idle-in-transaction';
  const proposals: Proposal[] = [];
  for (const s of past.slice(0, 3)) {
    const p = backendParams(s, input.database);
    if (p) {
      const withXact = s.xactStart ? { ...p, xactStart: s.xactStart } : p;
      const idle = `idle in transaction for ${humanDuration(s.stateMs ?? 0)}`;
      proposals.push(
        terminateSessionProposal(
          input.service,
          backend(withXact, idle),
          `pid ${s.pid} ${idle}: it holds its locks and keeps VACUUM from removing dead rows`,
        ),
      );
    }
  }
  const n = input.total;
  return {
    findings: [
      {
        id,
        severity: past.length > 0 ? 'warning' : 'info',
        title: `${n} session${n === 1 ? '' : 's'} idle in transaction (oldest ${humanDuration(age(oldest))})`,
        summary: `${who(oldest)} opened a transaction ${humanDuration(age(oldest))} ago and has been idle in it for ${humanDuration(oldest.stateMs ?? 0)}. Open transactions hold their locks and keep VACUUM from removing dead rows; the application should commit or roll back promptly (Reduce connection hold times).`,
        evidence: [
          {
            type: 'table',
            title: 'Oldest transactions first',
            columns: ['PID', 'User', 'Application', 'Transaction age', 'Idle for', 'Last query'],
            rows: input.sessions.map((s) => [
              String(s.pid),
              s.user ?? '',
              s.application ?? '',
              humanDuration(age(s)),
              humanDuration(s.stateMs ?? 0),
              queryText(s, CELL_MAX),
            ]),
          },
        ],
        links: [],
        advice: {
          quickFix: [
            `-- Check for lock contention\nSELECT * FROM pg_locks WHERE NOT granted;`,
            `-- End the oldest idle transaction\nSELECT pg_terminate_backend(${oldest.pid});`,
          ],
          longTerm: ['Reduce connection hold times', 'Add query timeouts'],
        },
      },
    ],
    proposals,
  };
}

/** Lock waits: one finding per blocked session, naming its blocker(s), the lock and how long it waited. */
export function analyzeLocks(input: SessionsInput & { waits: readonly LockWaitRow[] }): SessionsAnalysis {
  const byBlocked = new Map<number, LockWaitRow[]>();
  for (const w of input.waits) {
    const list = byBlocked.get(w.blocked.pid) ?? [];
    list.push(w);
    byBlocked.set(w.blocked.pid, list);
  }
  const blockedPids = new Set(byBlocked.keys());
  const findings: Finding[] = [];
  const proposals: Proposal[] = [];
  for (const [pid, pairs] of byBlocked) {
    const first = pairs[0] as LockWaitRow;
    const waited = first.waitedMs ?? 0;
    const lock = [
      first.lockMode,
      first.relation ? `on ${first.relation}` : first.lockType ? `(${first.lockType})` : '',
    ]
      .filter(Boolean)
      .join(' ');
    // Name the root blocker first: one that is not itself waiting.
    const blockers = [...pairs].sort(
      (a, b) => Number(blockedPids.has(a.blocking.pid)) - Number(blockedPids.has(b.blocking.pid)),
    );
    const root = (blockers[0] as LockWaitRow).blocking;
    const blockerText = blockers
      .map((p) => {
        const b = p.blocking;
        const since = b.state === 'active' ? b.queryMs : b.stateMs;
        return `${who(b)}, ${b.state ?? 'unknown state'}${since !== null ? ` for ${humanDuration(since)}` : ''}${b.xactMs !== null ? `, transaction open ${humanDuration(b.xactMs)}` : ''}`;
      })
      .join('; ');
    const id = `db.lock-wait.${pid}`;
    findings.push({
      id,
      severity: waited > input.thresholdMs ? 'critical' : 'warning',
      title: `pid ${pid} has waited ${humanDuration(waited)} for a lock held by pid ${root.pid}`,
      summary: `${who(first.blocked)} waits${lock ? ` for ${lock}` : ''}. Blocked by ${blockerText}. Blocker's query: ${queryText(root, 200)}`,
      evidence: [
        {
          type: 'table',
          title: 'Blocked and blocking sessions',
          columns: [
            'Blocked pid',
            'Waited',
            'Lock',
            'Blocker pid',
            'Blocker user',
            'Blocker state',
            'Blocker query',
          ],
          rows: blockers.map((p) => [
            String(p.blocked.pid),
            humanDuration(p.waitedMs ?? 0),
            lock || 'unknown',
            String(p.blocking.pid),
            p.blocking.user ?? '',
            p.blocking.state ?? '',
            queryText(p.blocking, CELL_MAX),
          ]),
        },
        {
          type: 'code',
          title: `Waiting query (pid ${pid}, literals redacted)`,
          text: queryText(first.blocked),
        },
        {
          type: 'code',
          title: `Blocker's query (pid ${root.pid}, literals redacted)`,
          text: queryText(root),
        },
      ],
      links: [],
      advice: lockAdvice(root.pid),
    });
    const p = backendParams(root, input.database);
    if (p && !blockedPids.has(root.pid)) {
      const state =
        root.state === 'active'
          ? `running for ${humanDuration(root.queryMs ?? 0)}`
          : `${root.state ?? 'unknown'}`;
      const why = `pid ${root.pid} blocks pid ${pid} (runbook: check for lock contention)`;
      if (root.state === 'active') proposals.push(cancelQueryProposal(input.service, backend(p, state), why));
      proposals.push(
        terminateSessionProposal(input.service, backend(p, `${state}, blocking pid ${pid}`), why),
      );
    }
  }
  return { findings, proposals };
}
