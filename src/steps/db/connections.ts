import type { Finding, Proposal } from '../../domain/finding.ts';
import { poolProposal } from '../../domain/proposals.ts';
import type { Severity } from '../../domain/severity.ts';
import type { ConnectionsSnapshot } from '../../sources/postgres-types.ts';
import { poolAdvice } from './advice.ts';

/**
 * How close the server is to max_connections. The runbook gives no numbers for this, so these are
 * ours: warning from 75% of max_connections, critical from 90% (superuser-reserved slots count as
 * unavailable to the application, so they are left out of the headroom, not of the percentage).
 */
export const CONNECTIONS_WARNING_PERCENT = 75;
export const CONNECTIONS_CRITICAL_PERCENT = 90;

export function connectionsSeverity(used: number, max: number): Exclude<Severity, 'info' | 'unavailable'> {
  const pct = max > 0 ? (100 * used) / max : 100;
  if (pct >= CONNECTIONS_CRITICAL_PERCENT) return 'critical';
  if (pct >= CONNECTIONS_WARNING_PERCENT) return 'warning';
  return 'normal';
}

export interface ConnectionsInput {
  readonly service: string;
  readonly configmap: string;
  readonly namespace: string;
  readonly snapshot: ConnectionsSnapshot;
}

export function analyzeConnections(input: ConnectionsInput): Finding {
  const s = input.snapshot;
  const severity = connectionsSeverity(s.used, s.maxConnections);
  const pct = s.maxConnections > 0 ? Math.round((100 * s.used) / s.maxConnections) : 100;
  const free = Math.max(0, s.maxConnections - s.superuserReserved - s.used);
  const states = [...s.byState].sort((a, b) => b.count - a.count);
  const stateText = states.map((x) => `${x.count} ${x.state}`).join(', ');
  return {
    id: 'db.connections',
    severity,
    title: `Connections ${s.used}/${s.maxConnections} (${pct}%)`,
    summary: `${s.used} of max_connections ${s.maxConnections} in use (${s.superuserReserved} reserved for superusers, ${free} left for applications)${stateText ? `: ${stateText}` : ''}. ${s.inDatabase} in the service's database; ${s.own} are the bot's own.`,
    evidence: [
      {
        type: 'table',
        title: 'Client connections by state (whole server)',
        columns: ['State', 'Count'],
        rows: states.map((x) => [x.state, String(x.count)]),
      },
      {
        type: 'fields',
        fields: [
          { label: 'max_connections', value: String(s.maxConnections) },
          { label: 'superuser_reserved_connections', value: String(s.superuserReserved) },
          { label: 'Free for applications', value: String(free) },
        ],
      },
    ],
    links: [],
    ...(severity !== 'normal'
      ? { advice: poolAdvice({ configmap: input.configmap, namespace: input.namespace }) }
      : {}),
  };
}

/** The line the runbook names as the symptom of pool exhaustion. */
export const POOL_EXHAUSTED = /connection pool exhausted/i;

export interface PodLogs {
  readonly pod: string;
  readonly lines: readonly string[];
}

export interface PoolInput {
  readonly service: string;
  readonly configmap: string;
  readonly namespace: string;
  readonly logs: readonly PodLogs[];
  /** database.max_connections in the service's ConfigMap (the application's pool size), when known. */
  readonly currentPoolSize?: number;
  /** From the server, when the connections part answered: caps the proposed pool size. */
  readonly server?: { readonly maxConnections: number; readonly superuserReserved: number };
}

export interface PoolAnalysis {
  readonly finding: Finding;
  readonly proposal?: Proposal;
  readonly exhaustedLines: number;
}

/**
 * The pool size to propose: the runbook's 100 when the current size is unknown, otherwise double,
 * in both cases capped so that every pod's pool still fits in the server's non-reserved connections.
 */
export function proposedPoolSize(
  current: number | undefined,
  pods: number,
  server?: { maxConnections: number; superuserReserved: number },
): { size: number; capped: boolean } {
  const wanted = current !== undefined ? current * 2 : 100;
  if (!server) return { size: wanted, capped: false };
  const cap = Math.floor((server.maxConnections - server.superuserReserved) / Math.max(pods, 1));
  return wanted > cap ? { size: Math.max(cap, 1), capped: true } : { size: wanted, capped: false };
}

/** Counts "connection pool exhausted" lines in the pods' recent logs; proposes the runbook's pool-size change. */
export function analyzePoolLogs(input: PoolInput): PoolAnalysis {
  const perPod = input.logs.map((l) => ({
    pod: l.pod,
    count: l.lines.filter((x) => POOL_EXHAUSTED.test(x)).length,
  }));
  const total = perPod.reduce((a, b) => a + b.count, 0);
  const pods = input.logs.length;
  const evidence = [
    {
      type: 'table' as const,
      title: '"connection pool exhausted" lines in recent logs',
      columns: ['Pod', 'Lines'],
      rows: perPod.map((p) => [p.pod, String(p.count)]),
    },
  ];
  if (total === 0) {
    return {
      exhaustedLines: 0,
      finding: {
        id: 'db.pool',
        severity: 'normal',
        title: 'No connection pool exhaustion in the logs',
        summary: `No "connection pool exhausted" line in the recent logs of ${pods} pod${pods === 1 ? '' : 's'}.`,
        evidence,
        links: [],
      },
    };
  }
  const current = input.currentPoolSize;
  const { size, capped } = proposedPoolSize(current, pods, input.server);
  const from = current !== undefined ? String(current) : 'unknown';
  const canGrow = current === undefined || size > current;
  const capText =
    capped && input.server
      ? ` Capped at ${size} so that ${pods} pod${pods === 1 ? '' : 's'} × ${size} fit in max_connections ${input.server.maxConnections} minus ${input.server.superuserReserved} reserved.`
      : '';
  const worst = [...perPod].sort((a, b) => b.count - a.count)[0] as { pod: string; count: number };
  const finding: Finding = {
    id: 'db.pool',
    severity: 'warning',
    title: `Connection pool exhausted: ${total} log line${total === 1 ? '' : 's'} in ${perPod.filter((p) => p.count > 0).length} of ${pods} pods`,
    summary: `The application logged "connection pool exhausted" ${total} time${total === 1 ? '' : 's'} recently (most on ${worst.pod}: ${worst.count}). Requests wait for a connection and fail intermittently.${canGrow ? ` Raise database.max_connections in ConfigMap ${input.configmap} from ${from} to ${size}.${capText}` : ` The pool cannot grow: ${pods} pods × ${current} already use the server's connections; add PgBouncer.`}`,
    evidence,
    links: [],
    advice: poolAdvice({ configmap: input.configmap, namespace: input.namespace, poolSize: String(size) }),
  };
  if (!canGrow) return { finding, exhaustedLines: total };
  return {
    finding,
    exhaustedLines: total,
    proposal: poolProposal(
      { name: input.service, namespace: input.namespace, configmap: input.configmap },
      from,
      size,
      false,
      `"connection pool exhausted" logged ${total} time${total === 1 ? '' : 's'} recently (runbook: Connection Pool Exhaustion)`,
    ),
  };
}
