import { describe, expect, it } from 'vitest';
import { type Config, parseConfig } from '../../../src/config/load.ts';
import { AppError, SourceError } from '../../../src/domain/errors.ts';
import type {
  ConnectionsSnapshot,
  SessionRow,
  StatementsResult,
} from '../../../src/sources/postgres-types.ts';
import {
  type DatabaseReader,
  type DbArgs,
  type DbSources,
  dbStep,
  type PodLogReader,
} from '../../../src/steps/db/step.ts';
import type { PartUpdate, StepContext } from '../../../src/steps/step.ts';

const YAML = `
services:
  - name: aegis-api
    default: true
    deployment: aegis-api
    database: { url_env: AEGIS_DB_URL, long_query: 30s }
  - name: billing
    deployment: billing
`;

function config(): Config {
  return parseConfig(YAML, 'test.yml', { AEGIS_DB_URL: 'postgres://reader@db.invalid/aegis' });
}

function session(p: Partial<SessionRow> & { pid: number }): SessionRow {
  return {
    user: 'app',
    application: 'aegis-api',
    clientAddr: null,
    database: 'aegis',
    state: 'active',
    query: 'SELECT 1',
    backendStart: '2026-05-01T10:00:00.000001Z',
    queryStart: '2026-05-01T10:05:00.000002Z',
    xactStart: '2026-05-01T10:05:00.000002Z',
    queryMs: 45_000,
    xactMs: 45_000,
    stateMs: 45_000,
    waitEventType: null,
    waitEvent: null,
    ...p,
  };
}

const STATEMENTS: StatementsResult = {
  available: true,
  columns: 'exec_time',
  relation: 'public.pg_stat_statements',
  rows: [
    {
      queryId: '1',
      query: 'SELECT * FROM findings WHERE status = $1 ORDER BY created_at DESC',
      calls: 10,
      meanMs: 4200,
      totalMs: 42_000,
      rows: 10,
    },
    {
      queryId: '2',
      query: 'SELECT * FROM users WHERE id = $1',
      calls: 10,
      meanMs: 1200,
      totalMs: 12_000,
      rows: 10,
    },
    {
      queryId: '3',
      query: 'SELECT * FROM t WHERE a = $1',
      calls: 10,
      meanMs: 1100,
      totalMs: 11_000,
      rows: 10,
    },
  ],
  totalStatements: 120,
  overWarning: 5,
  overCritical: 3,
};

const CONNECTIONS: ConnectionsSnapshot = {
  maxConnections: 100,
  superuserReserved: 3,
  used: 87,
  own: 1,
  byState: [
    { state: 'idle', count: 80 },
    { state: 'active', count: 7 },
  ],
  inDatabase: 87,
  idleInTransaction: [],
  idleInTransactionTotal: 0,
};

/** A fake reader that records which calls the step made; `fail` makes the named calls throw. */
function fakeReader(
  fail: Partial<Record<keyof DatabaseReader, Error>> = {},
): DatabaseReader & { calls: string[] } {
  const calls: string[] = [];
  const call = async <T>(name: keyof DatabaseReader, value: T): Promise<T> => {
    calls.push(name);
    const e = fail[name];
    if (e) throw e;
    return value;
  };
  return {
    calls,
    database: 'aegis',
    slowStatements: () => call('slowStatements', STATEMENTS),
    tableStats: () => call('tableStats', []),
    maintenanceCandidates: () => call('maintenanceCandidates', []),
    largestTables: () =>
      call('largestTables', [
        {
          schema: 'public',
          name: 'findings',
          totalBytes: 2 ** 30,
          tableBytes: 2 ** 29,
          indexBytes: 2 ** 29,
          estimatedRows: 1e6,
        },
      ]),
    connections: () => call('connections', CONNECTIONS),
    longQueries: () => call('longQueries', [session({ pid: 4711 })]),
    lockWaits: () =>
      call('lockWaits', [
        {
          blocked: session({ pid: 300, waitEventType: 'Lock', queryMs: 5000 }),
          blocking: session({ pid: 301, state: 'idle in transaction' }),
          waitedMs: 5000,
          lockType: 'transactionid',
          lockMode: 'ShareLock',
          relation: null,
        },
      ]),
    columnStats: () => call('columnStats', []),
    tableIndexes: () => call('tableIndexes', []),
    checkHypotheticalIndexes: () => call('checkHypotheticalIndexes', { available: false as const }),
  };
}

function context(sources: DbSources, cfg = config(), serviceName = 'aegis-api') {
  const updates: PartUpdate[] = [];
  const service = cfg.services.find((s) => s.name === serviceName);
  if (!service) throw new Error('no service');
  const ctx: StepContext<DbSources> = {
    config: cfg,
    service,
    sources,
    signal: new AbortController().signal,
    progress: (u) => updates.push(u),
    now: () => new Date('2026-05-01T10:06:00Z'),
  };
  return { ctx, updates };
}

const unreachable = () =>
  new SourceError(
    'postgres',
    'read lock waits',
    'unreachable',
    'cannot connect to db.invalid:5432/aegis (ECONNREFUSED)',
  );

describe('parsing /aegis db arguments', () => {
  const parse = (words: string[]) => dbStep.parse(words, { config: config() });

  it('defaults to all sections', () => {
    expect(parse([])).toEqual({ section: 'all' });
  });

  it('takes a section and a service in either order', () => {
    expect(parse(['slow'])).toEqual({ section: 'slow' });
    expect(parse(['locks', 'billing'])).toEqual({ section: 'locks', service: 'billing' });
    expect(parse(['billing', 'TABLES'])).toEqual({ section: 'tables', service: 'billing' });
  });

  it('rejects an unknown section with the usage', () => {
    expect(() => parse(['indexes'])).toThrowError(AppError);
    expect(() => parse(['indexes'])).toThrowError(
      /use db \[slow\|connections\|tables\|locks\|all\] \[service\]/,
    );
  });

  it('rejects two sections at once', () => {
    expect(() => parse(['slow', 'locks'])).toThrowError(/one section at a time/);
  });
});

describe('/aegis db', () => {
  it('runs every section and sums it up in one headline', async () => {
    const reader = fakeReader();
    const { ctx } = context({ database: () => reader });
    const result = await dbStep.run(ctx, { section: 'all' });
    expect(result.headline).toBe(
      // worst first: the slowest query (critical, the largest share of statement time) with the report's word
      'Slow query: mean 4.2 s (SELECT … FROM findings) CRITICAL; 3 queries over 1 s; 1 query running over 30 s (longest 45 s); 1 lock wait; connections 87/100',
    );
    expect(result.severity).toBe('critical');
    expect(result.step).toBe('db');
    expect(result.parts.map((p) => `${p.name}:${p.status}`)).toEqual([
      'slow queries:ok',
      'running queries:ok',
      'connections:ok',
      'pool logs:unavailable',
      'table sizes:ok',
      'vacuum:ok',
      'locks:ok',
    ]);
    expect(result.nextSteps).toEqual([
      { label: 'Check latency of aegis-api', step: 'latency', args: ['aegis-api'] },
    ]);
  });

  it('asks only for the section named', async () => {
    const reader = fakeReader();
    const { ctx } = context({ database: () => reader });
    await dbStep.run(ctx, { section: 'locks' } satisfies DbArgs);
    expect(reader.calls).toEqual(['lockWaits']);
  });

  it('reports each part as running, then as done', async () => {
    const { ctx, updates } = context({ database: () => fakeReader() });
    await dbStep.run(ctx, { section: 'tables' });
    expect(updates).toEqual([
      { name: 'table sizes', status: 'running' },
      { name: 'vacuum', status: 'running' },
      { name: 'table sizes', status: 'ok' },
      { name: 'vacuum', status: 'ok' },
    ]);
  });

  it('when one part fails, marks it unavailable with the reason and the others still report', async () => {
    const { ctx, updates } = context({ database: () => fakeReader({ lockWaits: unreachable() }) });
    const result = await dbStep.run(ctx, { section: 'all' });
    expect(result.parts.find((p) => p.name === 'locks')).toMatchObject({ status: 'unavailable' });
    expect(updates).toContainEqual(expect.objectContaining({ name: 'locks', status: 'unavailable' }));
    const unavailable = result.findings.filter((f) => f.severity === 'unavailable');
    expect(unavailable.map((f) => f.title)).toEqual(['Database unreachable']);
    expect(unavailable[0]?.summary).toContain('locks: postgres: read lock waits failed: cannot connect');
    expect(result.findings.some((f) => f.id === 'db.connections')).toBe(true);
    expect(result.headline).toContain('locks unavailable');
  });

  it('when the server is down, says so once rather than once per part', async () => {
    const down = unreachable();
    const reader = fakeReader({
      slowStatements: down,
      longQueries: down,
      connections: down,
      largestTables: down,
      maintenanceCandidates: down,
      lockWaits: down,
    });
    const { ctx } = context({ database: () => reader });
    const result = await dbStep.run(ctx, { section: 'all' });
    expect(result.findings.filter((f) => f.severity === 'unavailable')).toHaveLength(1);
    expect(result.headline).toMatch(/^database unavailable \(unreachable\): /);
  });

  it('turns a missing database configuration into a clear finding', async () => {
    const { ctx } = context({ database: () => fakeReader() }, config(), 'billing');
    const result = await dbStep.run(ctx, { section: 'slow' });
    expect(result.findings.map((f) => f.title)).toEqual(['Database not configured']);
    expect(result.findings[0]?.summary).toContain('service "billing" has no database configured');
  });

  it('lets a bug through instead of hiding it as an unavailable part', async () => {
    const { ctx } = context({ database: () => fakeReader({ lockWaits: new TypeError('boom') }) });
    await expect(dbStep.run(ctx, { section: 'locks' })).rejects.toThrowError(TypeError);
  });

  it("fires the runbook's 'DB query >30s' escalation for a query running past it", async () => {
    const { ctx } = context({ database: () => fakeReader() });
    const result = await dbStep.run(ctx, { section: 'slow' });
    expect(result.escalations).toEqual([
      expect.objectContaining({
        ruleId: 'db-query-long',
        action: 'cancel_query',
        observed: 'query running 45 s',
      }),
    ]);
    expect(result.proposals.map((p) => `${p.action}:${p.params.pid}`)).toEqual([
      'cancel_query:4711',
      'terminate_session:4711',
    ]);
  });

  it('counts pool exhaustion in pod logs and proposes the pool-size change, capped by the server', async () => {
    const podLogs: PodLogReader = {
      recentLogs: async () => [
        { pod: 'aegis-api-a', lines: ['level=error msg="connection pool exhausted"', 'x'] },
        { pod: 'aegis-api-b', lines: ['Connection pool exhausted'] },
      ],
      poolSize: async () => 20,
    };
    const { ctx } = context({ database: () => fakeReader(), podLogs: () => podLogs });
    const result = await dbStep.run(ctx, { section: 'connections' });
    expect(result.headline).toBe('Connections 87/100 (87%) WARNING; pool exhausted 2× in logs');
    expect(result.proposals).toEqual([
      expect.objectContaining({
        action: 'set_pool_size',
        change: { what: 'database.max_connections in ConfigMap aegis-config', from: '20', to: '40' },
      }),
    ]);
  });

  it('marks the pool part unavailable when reading the logs fails, and keeps the connections', async () => {
    const podLogs: PodLogReader = {
      recentLogs: async () => {
        throw new SourceError('kubernetes', 'read pod logs', 'auth', 'HTTP 403');
      },
    };
    const { ctx } = context({ database: () => fakeReader(), podLogs: () => podLogs });
    const result = await dbStep.run(ctx, { section: 'connections' });
    expect(result.parts).toEqual([
      { name: 'connections', status: 'ok' },
      { name: 'pool logs', status: 'unavailable', reason: 'kubernetes: read pod logs failed: HTTP 403' },
    ]);
    expect(result.findings.find((f) => f.severity === 'unavailable')?.title).toBe(
      "Pod logs refused the bot's credentials",
    );
  });
});
