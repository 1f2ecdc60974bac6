import type { Advice } from '../../domain/finding.ts';

/**
 * The runbook's "Common Issues and Fixes" for the database, in its own words. Where a finding knows
 * the table, index or pool it is about, the runbook's example statement is replaced by the real one;
 * otherwise the runbook's example stays as it is.
 */

/** The runbook's Common Issues and Fixes, "Slow Database Queries": its long-term fixes. */
export const SLOW_QUERY_LONG_TERM: readonly string[] = [
  'Add query timeouts',
  'Implement query result caching',
  'Partition large tables by date',
  'Add read replicas for reporting queries',
];

/** The runbook's Common Issues and Fixes, "Connection Pool Exhaustion": its long-term fixes. */
export const POOL_LONG_TERM: readonly string[] = [
  'Add PgBouncer for connection pooling',
  'Reduce connection hold times',
  'Implement connection health checking',
  'Add circuit breaker for downstream services',
];

export const RUNBOOK_INDEX_EXAMPLE =
  "CREATE INDEX CONCURRENTLY idx_findings_created ON findings(created_at DESC) WHERE status = 'open';";
export const LOCK_CHECK_SQL = 'SELECT * FROM pg_locks WHERE NOT granted;';

export interface SlowQueryAdviceInput {
  /** A CREATE INDEX built for the finding's query, replacing the runbook's example. */
  readonly index?: string;
  /** The table to VACUUM ANALYZE, replacing the runbook's "findings". */
  readonly vacuumTable?: string;
}

/** "Slow Database Queries": add missing index, vacuum and analyze, check for lock contention. */
export function slowQueryAdvice(input: SlowQueryAdviceInput = {}): Advice {
  return {
    quickFix: [
      `-- Add missing index\n${input.index ?? RUNBOOK_INDEX_EXAMPLE}`,
      `-- Vacuum and analyze\nVACUUM ANALYZE ${input.vacuumTable ?? 'findings'};`,
      `-- Check for lock contention\n${LOCK_CHECK_SQL}`,
    ],
    longTerm: SLOW_QUERY_LONG_TERM,
  };
}

/** Lock contention: the runbook's lock check first, then the rest of "Slow Database Queries". */
export function lockAdvice(blockerPid?: number): Advice {
  const quick = [`-- Check for lock contention\n${LOCK_CHECK_SQL}`];
  if (blockerPid !== undefined) {
    quick.push(
      `-- What the blocker (pid ${blockerPid}) is doing\nSELECT pid, state, xact_start, query FROM pg_stat_activity WHERE pid = ${blockerPid};`,
    );
  }
  return { quickFix: quick, longTerm: SLOW_QUERY_LONG_TERM };
}

/** The escalation table's "DB query >30s: Kill query, investigate", with the runbook's long-term fixes. */
export function longQueryAdvice(pid: number, thresholdText: string): Advice {
  return {
    quickFix: [
      `DB query >${thresholdText}: Kill query, investigate`,
      `-- Cancel the query (the session stays)\nSELECT pg_cancel_backend(${pid});`,
      `-- If it does not stop, end the session\nSELECT pg_terminate_backend(${pid});`,
    ],
    longTerm: SLOW_QUERY_LONG_TERM,
  };
}

export interface PoolAdviceInput {
  readonly configmap: string;
  readonly namespace: string;
  readonly poolSize?: string;
}

/** "Connection Pool Exhaustion": check and increase pool size in the ConfigMap. */
export function poolAdvice(input: PoolAdviceInput): Advice {
  return {
    quickFix: [
      `# Check and increase pool size\nkubectl edit configmap ${input.configmap} -n ${input.namespace}\n# Update: database.max_connections: ${input.poolSize ?? '100'}`,
    ],
    longTerm: POOL_LONG_TERM,
  };
}
