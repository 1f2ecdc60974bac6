import { beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../../src/domain/finding.ts';
import { RUNBOOK_BASELINES } from '../../../src/domain/thresholds.ts';
import { formatBytes as formatAnyBytes } from '../../../src/lib/format.ts';
import { loadPgParser } from '../../../src/lib/sql/pg-parser.ts';
import type {
  ConnectionsSnapshot,
  LockWaitRow,
  SessionRow,
  StatementRow,
  StatementsResult,
  TableStatRow,
} from '../../../src/sources/postgres-types.ts';
import {
  analyzeConnections,
  analyzePoolLogs,
  connectionsSeverity,
  proposedPoolSize,
} from '../../../src/steps/db/connections.ts';
import type { IndexSuggestion } from '../../../src/steps/db/index-advice.ts';
import type { TableAdvice } from '../../../src/steps/db/index-check.ts';
import {
  analyzeIdleInTransaction,
  analyzeLocks,
  analyzeLongQueries,
} from '../../../src/steps/db/sessions.ts';
import { analyzeStatements, shortQuery, statementTables } from '../../../src/steps/db/statements.ts';
import { analyzeTables, maintenanceNeed, seqScanHeavy } from '../../../src/steps/db/tables.ts';

/** Table sizes are written as pg_size_pretty writes them. */
const formatBytes = (n: number) => formatAnyBytes(n, 'pg');

const baseline = RUNBOOK_BASELINES.db_query_ms;

beforeAll(async () => {
  await loadPgParser();
});

function stmt(p: Partial<StatementRow> & { query: string; meanMs: number }): StatementRow {
  return { queryId: String(Math.round(p.meanMs)), calls: 100, totalMs: p.meanMs * 100, rows: 100, ...p };
}

function tableStat(p: Partial<TableStatRow> & { name: string }): TableStatRow {
  return {
    schema: 'public',
    seqScan: 0,
    seqTupRead: 0,
    idxScan: null,
    idxTupFetch: null,
    liveTuples: 0,
    deadTuples: 0,
    modsSinceAnalyze: 0,
    sinceAnalyzeMs: 3_600_000,
    sinceVacuumMs: 3_600_000,
    ...p,
  };
}

function session(p: Partial<SessionRow> & { pid: number }): SessionRow {
  return {
    user: 'app',
    application: 'aegis-api',
    clientAddr: '10.0.0.7',
    database: 'aegis',
    state: 'active',
    query: 'SELECT 1',
    backendStart: '2026-05-01T10:00:00.123456Z',
    queryStart: '2026-05-01T10:05:00.654321Z',
    xactStart: '2026-05-01T10:05:00.654321Z',
    queryMs: 1000,
    xactMs: 1000,
    stateMs: 1000,
    waitEventType: null,
    waitEvent: null,
    ...p,
  };
}

function available(rows: StatementRow[], overWarning: number, overCritical: number): StatementsResult {
  return {
    available: true,
    columns: 'exec_time',
    relation: 'public.pg_stat_statements',
    rows,
    totalStatements: 40,
    overWarning,
    overCritical,
  };
}

const FINDINGS_QUERY = 'SELECT * FROM findings WHERE status = $1 ORDER BY created_at DESC LIMIT $2';

describe('analyzeStatements', () => {
  it('classifies each statement against the DB query time baseline: over 1 s critical, 50 ms to 1 s warning', () => {
    const a = analyzeStatements({
      result: available(
        [
          stmt({ query: FINDINGS_QUERY, meanMs: 4200, queryId: '1' }),
          stmt({ query: 'SELECT * FROM users WHERE id = $1', meanMs: 120, queryId: '2' }),
          stmt({ query: 'SELECT 1', meanMs: 10, queryId: '3' }),
        ],
        2,
        1,
      ),
      tableStats: [],
      baseline,
      database: 'aegis',
    });
    const byId = Object.fromEntries(a.findings.map((f) => [f.id, f.severity]));
    expect(byId).toEqual({ 'db.slow.1': 'critical', 'db.slow.2': 'warning', 'db.slow.top': 'info' });
    expect(a.worst?.short).toBe('SELECT … FROM findings');
    expect(a.overCritical).toBe(1);
  });

  const heavyFindings = tableStat({
    name: 'findings',
    seqScan: 50,
    seqTupRead: 10_000_000,
    liveTuples: 200_000,
  });
  const runbookIndex: IndexSuggestion = {
    table: { schema: 'public', name: 'findings' },
    method: 'btree',
    sql: "CREATE INDEX CONCURRENTLY idx_findings_created_at ON findings (created_at DESC) WHERE status = 'open';",
    columns: ['created_at DESC'],
    predicate: "status = 'open'",
    order: 'query',
    check: "CREATE INDEX idx_findings_created_at ON findings (created_at DESC) WHERE status = 'open'",
    checkedAs: 'suggestion',
  };
  const withAdvice = (advice: TableAdvice) =>
    analyzeStatements({
      result: available([stmt({ query: FINDINGS_QUERY, meanMs: 1500, queryId: '9' })], 1, 1),
      tableStats: [heavyFindings],
      baseline,
      database: 'aegis',
      indexAdvice: new Map([['9', [advice]]]),
    }).findings.find((x) => x.id === 'db.slow.9');
  const codeOf = (f: Finding | undefined) =>
    f?.evidence.flatMap((e) =>
      e.type === 'code' && e.title?.startsWith('Suggested index') ? [e.text] : [],
    ) ?? [];

  it('shows a HypoPG-verified index in the runbook form with the cost with and without it', () => {
    const f = withAdvice({
      kind: 'advised',
      table: runbookIndex.table,
      index: {
        suggestion: runbookIndex,
        verdict: { kind: 'verified', costWithout: 11_628.7, costWith: 0.97 },
      },
    });
    expect(codeOf(f)).toEqual([`${runbookIndex.sql}\n-- cost 11,629 -> 1 with the index (HypoPG)`]);
    expect(f?.summary).toContain(
      'An index on created_at DESC should let it skip the scan: cost 11,629 -> 1 with the index (HypoPG).',
    );
    expect(f?.advice?.quickFix[0]).toContain('idx_findings_created_at');
    expect(f?.advice?.longTerm).toEqual([
      'Add query timeouts',
      'Implement query result caching',
      'Partition large tables by date',
      'Add read replicas for reporting queries',
    ]);
    expect(f?.summary).toMatch(/sequential scans: 50 scans read 10,000,000 rows/);
  });

  it('marks a suggestion HypoPG could not check as unverified, saying why', () => {
    const f = withAdvice({
      kind: 'advised',
      table: runbookIndex.table,
      index: { suggestion: runbookIndex, verdict: { kind: 'unverified', reason: 'HypoPG not installed' } },
    });
    expect(codeOf(f)[0]).toContain('-- unverified (HypoPG not installed)');
    expect(f?.summary).toContain('should let it skip the scan: unverified (HypoPG not installed).');
  });

  it('says an index was considered and dropped when the planner would not use it', () => {
    const f = withAdvice({
      kind: 'dropped',
      table: runbookIndex.table,
      columns: ['status'],
      costWithout: 5779,
      costWith: 5779,
      used: false,
    });
    expect(codeOf(f)).toEqual([]);
    expect(f?.summary).toContain(
      'An index on findings (status) was considered and dropped: the planner would not use it (HypoPG, cost 5,779 without it).',
    );
    expect(f?.advice?.quickFix[0]).toContain('-- Add missing index');
  });

  it('says the columns could not be told when the statement gave no advice for a scanned table', () => {
    const f = analyzeStatements({
      result: available([stmt({ query: FINDINGS_QUERY, meanMs: 1500, queryId: '9' })], 1, 1),
      tableStats: [heavyFindings],
      baseline,
      database: 'aegis',
    }).findings.find((x) => x.id === 'db.slow.9');
    expect(f?.summary).toContain('The columns to index on findings could not be told from the query text');
  });

  it('does not suggest an index when index reads dominate the table', () => {
    const a = analyzeStatements({
      result: available([stmt({ query: FINDINGS_QUERY, meanMs: 1500, queryId: '9' })], 1, 1),
      tableStats: [
        tableStat({
          name: 'findings',
          seqScan: 2,
          seqTupRead: 400_000,
          idxScan: 90_000,
          idxTupFetch: 5_000_000,
          liveTuples: 200_000,
        }),
      ],
      baseline,
      database: 'aegis',
    });
    const f = a.findings.find((x) => x.id === 'db.slow.9');
    expect(f?.evidence.some((e) => e.type === 'code' && e.title?.startsWith('Suggested index'))).toBe(false);
  });

  it('suggests VACUUM ANALYZE on a table behind a slow query whose statistics are stale', () => {
    const a = analyzeStatements({
      result: available([stmt({ query: FINDINGS_QUERY, meanMs: 300, queryId: '5' })], 1, 0),
      tableStats: [tableStat({ name: 'findings', liveTuples: 50_000, deadTuples: 40_000 })],
      baseline,
      database: 'aegis',
    });
    const f = a.findings.find((x) => x.id === 'db.slow.5');
    expect(f?.advice?.quickFix[1]).toBe('-- Vacuum and analyze\nVACUUM ANALYZE findings;');
    expect(f?.summary).toContain('40,000 dead tuples (80% of live)');
  });

  it('redacts literals in every query it shows', () => {
    const a = analyzeStatements({
      result: available(
        [stmt({ query: "SELECT * FROM users WHERE email = 'jane@example.com'", meanMs: 2000 })],
        1,
        1,
      ),
      tableStats: [],
      baseline,
      database: 'aegis',
    });
    expect(JSON.stringify(a.findings)).not.toContain('jane@example.com');
  });

  it.each([
    ['not_installed', /CREATE EXTENSION pg_stat_statements/],
    ['not_loaded', /shared_preload_libraries/],
    ['no_permission', /pg_read_all_stats/],
  ] as const)('explains how to fix pg_stat_statements when it is %s', (reason, pattern) => {
    const a = analyzeStatements({
      result: { available: false, reason, detail: 'x' },
      tableStats: [],
      baseline,
      database: 'aegis',
    });
    expect(a.findings).toHaveLength(1);
    expect(a.findings[0]?.severity).toBe('unavailable');
    expect(`${a.findings[0]?.summary} ${a.findings[0]?.advice?.quickFix.join(' ')}`).toMatch(pattern);
  });

  it('reports a normal finding when nothing is slow', () => {
    const a = analyzeStatements({
      result: available([stmt({ query: 'SELECT 1', meanMs: 3 })], 0, 0),
      tableStats: [],
      baseline,
      database: 'aegis',
    });
    expect(a.findings.map((f) => [f.id, f.severity])).toEqual([['db.slow.top', 'normal']]);
  });
});

describe('statement helpers', () => {
  it('shortens statements to their verb and table', () => {
    expect(shortQuery(FINDINGS_QUERY)).toBe('SELECT … FROM findings');
    expect(shortQuery('UPDATE t SET a = $1')).toBe('UPDATE t');
    expect(shortQuery('INSERT INTO audit (a) VALUES ($1)')).toBe('INSERT INTO audit');
  });

  it('finds no scanned tables in INSERT or DDL', () => {
    expect(statementTables('INSERT INTO t SELECT * FROM u')).toEqual([]);
    expect(statementTables('WITH x AS (SELECT 1) SELECT * FROM big JOIN x ON true')).toEqual([
      { name: 'big' },
    ]);
  });
});

describe('tables', () => {
  it('calls a table sequential-scan heavy only when it is big and its reads are mostly sequential', () => {
    expect(
      seqScanHeavy(tableStat({ name: 't', liveTuples: 200_000, seqScan: 5, seqTupRead: 1_000_000 })),
    ).toBe(true);
    expect(
      seqScanHeavy(tableStat({ name: 't', liveTuples: 500, seqScan: 5000, seqTupRead: 2_500_000 })),
    ).toBe(false);
    expect(
      seqScanHeavy(
        tableStat({
          name: 't',
          liveTuples: 200_000,
          seqScan: 5,
          seqTupRead: 1_000_000,
          idxTupFetch: 9_000_000,
        }),
      ),
    ).toBe(false);
  });

  it('wants VACUUM ANALYZE for many dead tuples, never-analyzed tables, and many changes since ANALYZE', () => {
    expect(maintenanceNeed(tableStat({ name: 't', liveTuples: 10_000, deadTuples: 5000 }))?.reasons).toEqual([
      '5,000 dead tuples (50% of live)',
    ]);
    expect(
      maintenanceNeed(tableStat({ name: 't', liveTuples: 10_000, sinceAnalyzeMs: null }))?.reasons,
    ).toEqual(['never analyzed']);
    expect(maintenanceNeed(tableStat({ name: 't', liveTuples: 10_000, modsSinceAnalyze: 3000 }))?.stale).toBe(
      true,
    );
    expect(maintenanceNeed(tableStat({ name: 't', liveTuples: 10_000, deadTuples: 100 }))).toBeUndefined();
  });

  it('lists the largest tables and proposes VACUUM ANALYZE for each table that needs it', () => {
    const a = analyzeTables({
      service: 'aegis-api',
      database: 'aegis',
      largest: [
        {
          schema: 'public',
          name: 'findings',
          totalBytes: 3 * 2 ** 30,
          tableBytes: 2 ** 31,
          indexBytes: 2 ** 30,
          estimatedRows: 1e7,
        },
      ],
      maintenance: [tableStat({ name: 'findings', liveTuples: 10_000, deadTuples: 9000 })],
    });
    expect(a.findings.map((f) => f.id)).toEqual(['db.tables.largest', 'db.vacuum.public.findings']);
    expect(a.proposals).toEqual([
      expect.objectContaining({
        action: 'vacuum_analyze',
        params: { schema: 'public', table: 'findings', database: 'aegis' },
        danger: false,
      }),
    ]);
    expect(a.findings[0]?.summary).toContain('3072 MB');
  });

  it('formats sizes as pg_size_pretty does', () => {
    expect(formatBytes(500)).toBe('500 bytes');
    expect(formatBytes(20 * 1024)).toBe('20 kB');
    expect(formatBytes(25 * 2 ** 20)).toBe('25 MB');
  });
});

describe('long-running queries', () => {
  it('makes a critical finding with Cancel and Terminate proposals that record pid, backend and query start', () => {
    const s = session({ pid: 4711, queryMs: 45_000, query: "SELECT pg_sleep(60), 'card 4111'" });
    const a = analyzeLongQueries({
      service: 'aegis-api',
      database: 'aegis',
      thresholdMs: 30_000,
      sessions: [s],
    });
    expect(a.findings[0]).toMatchObject({ id: 'db.long-query.4711', severity: 'critical' });
    expect(JSON.stringify(a.findings)).not.toContain('4111');
    expect(a.proposals).toEqual([
      {
        action: 'cancel_query',
        label: 'Cancel query (pid 4711)',
        change: { what: 'query on pid 4711', from: 'running for 45 s', to: 'cancelled' },
        service: 'aegis-api',
        params: {
          pid: 4711,
          backendStart: '2026-05-01T10:00:00.123456Z',
          queryStart: '2026-05-01T10:05:00.654321Z',
          database: 'aegis',
        },
        reason:
          'query on pid 4711 running for 45 s, past the 30 s threshold (runbook: kill query, investigate)',
        danger: false,
      },
      expect.objectContaining({
        action: 'terminate_session',
        danger: true,
        label: 'Terminate session (pid 4711)',
      }),
    ]);
    expect(a.findings[0]?.advice?.quickFix[0]).toBe('DB query >30 s: Kill query, investigate');
  });

  it('makes no proposal when the session cannot be identified exactly', () => {
    const s = session({ pid: 1, queryMs: 45_000, queryStart: null });
    expect(
      analyzeLongQueries({ service: 'x', database: 'd', thresholdMs: 1, sessions: [s] }).proposals,
    ).toEqual([]);
  });
});

describe('idle in transaction', () => {
  it('warns with the age of the oldest transaction once it is past the threshold', () => {
    const a = analyzeIdleInTransaction({
      service: 'aegis-api',
      database: 'aegis',
      thresholdMs: 30_000,
      sessions: [session({ pid: 7, state: 'idle in transaction', xactMs: 95_000, stateMs: 90_000 })],
      total: 1,
    });
    expect(a.findings[0]).toMatchObject({
      severity: 'warning',
      title: '1 session idle in transaction (oldest 1m 35s)',
    });
    expect(a.proposals.map((p) => [p.action, p.params.pid, p.params.xactStart])).toEqual([
      ['terminate_session', 7, '2026-05-01T10:05:00.654321Z'],
    ]);
  });

  it('only informs about young idle transactions', () => {
    const a = analyzeIdleInTransaction({
      service: 'aegis-api',
      database: 'aegis',
      thresholdMs: 30_000,
      sessions: [session({ pid: 7, state: 'idle in transaction', xactMs: 2000 })],
      total: 1,
    });
    expect(a.findings[0]?.severity).toBe('info');
    expect(a.proposals).toEqual([]);
  });
});

describe('locks', () => {
  const blocker = session({
    pid: 100,
    state: 'idle in transaction',
    query: "UPDATE accounts SET owner = 'Jane Doe' WHERE id = 42",
    stateMs: 20_000,
    xactMs: 25_000,
  });
  const wait = (pid: number, by: SessionRow, waitedMs: number): LockWaitRow => ({
    blocked: session({
      pid,
      waitEventType: 'Lock',
      waitEvent: 'transactionid',
      query: 'UPDATE accounts SET n = n + 1 WHERE id = 42',
    }),
    blocking: by,
    waitedMs,
    lockType: 'relation',
    lockMode: 'RowExclusiveLock',
    relation: 'accounts',
  });

  it('names the blocker, the lock, the relation and how long the session waited', () => {
    const a = analyzeLocks({
      service: 'aegis-api',
      database: 'aegis',
      thresholdMs: 30_000,
      waits: [wait(200, blocker, 12_000)],
    });
    expect(a.findings).toHaveLength(1);
    expect(a.findings[0]?.title).toBe('pid 200 has waited 12 s for a lock held by pid 100');
    expect(a.findings[0]?.summary).toContain('RowExclusiveLock on accounts');
    expect(a.findings[0]?.summary).toContain(
      'pid 100, user app, application aegis-api, idle in transaction for 20 s',
    );
    expect(JSON.stringify(a.findings)).not.toContain('Jane Doe');
    expect(a.proposals.map((p) => [p.action, p.params.pid])).toEqual([['terminate_session', 100]]);
  });

  it('names the root blocker of a chain first and proposes nothing against a blocker that itself waits', () => {
    const middle = session({ pid: 150, state: 'active', waitEventType: 'Lock' });
    const waits = [wait(200, middle, 5000), wait(200, blocker, 5000), wait(150, blocker, 9000)];
    const a = analyzeLocks({ service: 'aegis-api', database: 'aegis', thresholdMs: 30_000, waits });
    const f200 = a.findings.find((f) => f.id === 'db.lock-wait.200');
    expect(f200?.title).toContain('held by pid 100');
    expect(a.proposals.every((p) => p.params.pid === 100)).toBe(true);
  });

  it('is critical once the wait passes the threshold', () => {
    const a = analyzeLocks({
      service: 'x',
      database: 'd',
      thresholdMs: 30_000,
      waits: [wait(200, blocker, 31_000)],
    });
    expect(a.findings[0]?.severity).toBe('critical');
  });
});

describe('connections', () => {
  const snapshot = (used: number): ConnectionsSnapshot => ({
    maxConnections: 100,
    superuserReserved: 3,
    used,
    own: 1,
    byState: [
      { state: 'idle', count: used - 10 },
      { state: 'active', count: 7 },
      { state: 'idle in transaction', count: 3 },
    ],
    inDatabase: used,
    idleInTransaction: [],
    idleInTransactionTotal: 3,
  });

  it('grades how close the server is to max_connections', () => {
    expect(connectionsSeverity(50, 100)).toBe('normal');
    expect(connectionsSeverity(75, 100)).toBe('warning');
    expect(connectionsSeverity(90, 100)).toBe('critical');
  });

  it('shows counts by state and the headroom, with the pool advice when close to exhaustion', () => {
    const f = analyzeConnections({
      service: 's',
      configmap: 'aegis-config',
      namespace: 'aegis',
      snapshot: snapshot(87),
    });
    expect(f.title).toBe('Connections 87/100 (87%)');
    expect(f.summary).toContain('10 left for applications');
    expect(f.advice?.quickFix[0]).toContain('kubectl edit configmap aegis-config -n aegis');
    expect(f.advice?.longTerm[0]).toBe('Add PgBouncer for connection pooling');
  });
});

describe('pool exhaustion in the logs', () => {
  const logs = [
    {
      pod: 'aegis-api-1',
      lines: ['ok', 'level=error msg="connection pool exhausted" pool=aegis-db', 'CONNECTION POOL EXHAUSTED'],
    },
    { pod: 'aegis-api-2', lines: ['all good'] },
  ];

  it('counts the lines case-insensitively per pod and proposes the runbook pool size', () => {
    const a = analyzePoolLogs({ service: 'aegis-api', configmap: 'aegis-config', namespace: 'aegis', logs });
    expect(a.exhaustedLines).toBe(2);
    expect(a.finding.severity).toBe('warning');
    expect(a.proposal).toMatchObject({
      action: 'set_pool_size',
      change: { what: 'database.max_connections in ConfigMap aegis-config', from: 'unknown', to: '100' },
      params: { configmap: 'aegis-config', namespace: 'aegis', key: 'database.max_connections', to: 100 },
    });
  });

  it('doubles a known pool size, capped so every pod fits in max_connections', () => {
    expect(proposedPoolSize(20, 3, { maxConnections: 200, superuserReserved: 3 })).toEqual({
      size: 40,
      capped: false,
    });
    expect(proposedPoolSize(40, 3, { maxConnections: 200, superuserReserved: 3 })).toEqual({
      size: 65,
      capped: true,
    });
    const a = analyzePoolLogs({
      service: 'aegis-api',
      configmap: 'aegis-config',
      namespace: 'aegis',
      logs,
      currentPoolSize: 40,
      server: { maxConnections: 100, superuserReserved: 3 },
    });
    expect(a.proposal?.change).toEqual({
      what: 'database.max_connections in ConfigMap aegis-config',
      from: '40',
      to: '48',
    });
  });

  it('proposes nothing when the pool cannot grow, and says to add PgBouncer', () => {
    const a = analyzePoolLogs({
      service: 'aegis-api',
      configmap: 'aegis-config',
      namespace: 'aegis',
      logs,
      currentPoolSize: 50,
      server: { maxConnections: 100, superuserReserved: 3 },
    });
    expect(a.proposal).toBeUndefined();
    expect(a.finding.summary).toContain('add PgBouncer');
  });

  it('is normal when no line says so', () => {
    const a = analyzePoolLogs({
      service: 's',
      configmap: 'c',
      namespace: 'n',
      logs: [{ pod: 'p', lines: ['fine'] }],
    });
    expect(a.finding.severity).toBe('normal');
    expect(a.proposal).toBeUndefined();
  });
});
