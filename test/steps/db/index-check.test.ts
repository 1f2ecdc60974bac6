import { beforeAll, describe, expect, it } from 'vitest';
import { RUNBOOK_BASELINES } from '../../../src/domain/thresholds.ts';
import { loadPgParser } from '../../../src/lib/sql/pg-parser.ts';
import type {
  ColumnStatsRow,
  HypoCheckRequest,
  HypoChecks,
  StatementRow,
  TableStatRow,
} from '../../../src/sources/postgres-types.ts';
import { adviseIndexes, type IndexAdviceReader } from '../../../src/steps/db/index-check.ts';
import { analyzeStatements } from '../../../src/steps/db/statements.ts';

beforeAll(async () => {
  await loadPgParser();
});

const heavy = (name: string): TableStatRow => ({
  schema: 'public',
  name,
  seqScan: 50,
  seqTupRead: 10_000_000,
  idxScan: null,
  idxTupFetch: null,
  liveTuples: 200_000,
  deadTuples: 0,
  modsSinceAnalyze: 0,
  sinceAnalyzeMs: 1000,
  sinceVacuumMs: 1000,
});

const lowStatus: ColumnStatsRow = {
  schema: 'public',
  table: 'findings',
  column: 'status',
  nullFrac: 0,
  nDistinct: 3,
  mostCommonFreqs: [0.9, 0.05, 0.05],
  reltuples: 200_000,
};

/** A reader that records what it was asked to check and answers with `answer`. */
function fakeReader(answer: (checks: readonly HypoCheckRequest[]) => HypoChecks) {
  const asked: HypoCheckRequest[] = [];
  const reader: IndexAdviceReader = {
    columnStats: async () => [lowStatus],
    tableIndexes: async () => [],
    checkHypotheticalIndexes: async (q) => {
      asked.push(...q.checks);
      return answer(q.checks);
    },
  };
  return { reader, asked };
}

const row = (queryId: string, query: string): StatementRow => ({
  queryId,
  query,
  calls: 10,
  meanMs: 1500,
  totalMs: 15_000,
  rows: 10,
});

const verifiedAll = (checks: readonly HypoCheckRequest[]): HypoChecks => ({
  available: true,
  results: checks.map((c) => ({
    ok: true,
    costWithout: 1000,
    indexes: c.indexes.map(() => ({ ok: true, cost: 10, used: true })),
  })),
});

describe('adviseIndexes', () => {
  it('sends a literal the query holds to the database for the check, and never into a finding', async () => {
    const query = "SELECT id FROM findings WHERE status = 'secret-ish token' ORDER BY created_at DESC";
    const { reader, asked } = fakeReader(verifiedAll);
    const rows = [row('1', query)];
    const indexAdvice = await adviseIndexes(reader, { rows, tableStats: [heavy('findings')] });
    expect(asked.map((a) => a.indexes)).toEqual([
      [
        "CREATE INDEX idx_findings_created_at ON findings (created_at DESC) WHERE status = 'secret-ish token'",
      ],
    ]);
    const analysis = analyzeStatements({
      result: {
        available: true,
        columns: 'exec_time',
        relation: 'public.pg_stat_statements',
        rows,
        totalStatements: 1,
        overWarning: 1,
        overCritical: 1,
      },
      tableStats: [heavy('findings')],
      baseline: RUNBOOK_BASELINES.db_query_ms,
      database: 'aegis',
      indexAdvice,
    });
    const posted = JSON.stringify(analysis);
    expect(posted).toContain(
      "CREATE INDEX CONCURRENTLY idx_findings_created_at ON findings (created_at DESC) WHERE status = '<value>';",
    );
    expect(posted).toContain('cost 1,000 -> 10 with the index (HypoPG)');
    expect(posted).not.toContain('secret-ish');
  });

  it('does not ask HypoPG about GIN indexes or statements a read-only role cannot plan, and says why', async () => {
    const { reader, asked } = fakeReader(verifiedAll);
    const advice = await adviseIndexes(reader, {
      rows: [
        row('gin', 'SELECT * FROM docs WHERE body @> $1'),
        row('upd', 'UPDATE findings SET owner_id = $1 WHERE created_at < $2'),
        row('lock', 'SELECT * FROM findings WHERE created_at < $1 FOR UPDATE'),
      ],
      tableStats: [heavy('docs'), heavy('findings')],
    });
    expect(asked).toEqual([]);
    const reason = (id: string) => {
      const a = advice.get(id)?.[0];
      return a?.kind === 'advised' && a.index.verdict.kind === 'unverified'
        ? a.index.verdict.reason
        : undefined;
    };
    expect(reason('gin')).toBe('HypoPG cannot simulate GIN indexes');
    expect(reason('upd')).toMatch(/needs write privileges/);
    expect(reason('lock')).toMatch(/needs write privileges/);
  });

  it('fills every $n with NULL and checks each statement once', async () => {
    const { reader, asked } = fakeReader(verifiedAll);
    await adviseIndexes(reader, {
      rows: [row('1', 'SELECT * FROM findings WHERE owner_id = $1 AND created_at > $2 LIMIT $3')],
      tableStats: [heavy('findings')],
    });
    expect(asked).toEqual([
      {
        query: 'SELECT * FROM findings WHERE owner_id = $1 AND created_at > $2 LIMIT $3',
        params: 3,
        indexes: ['CREATE INDEX idx_findings_owner_id_created_at ON findings (owner_id, created_at)'],
      },
    ]);
  });

  it('marks the suggestion unverified with the reason when the check fails', async () => {
    const { reader } = fakeReader(() => ({ available: true, results: [{ ok: false, code: '42501' }] }));
    const advice = await adviseIndexes(reader, {
      rows: [row('1', 'SELECT * FROM findings WHERE owner_id = $1')],
      tableStats: [heavy('findings')],
    });
    const a = advice.get('1')?.[0];
    expect(a?.kind === 'advised' && a.index.verdict).toEqual({
      kind: 'unverified',
      reason: 'the diagnosis role may not read the tables: GRANT pg_read_all_data to it',
    });
  });

  it('gives no advice, and does not throw, for statement text cut short', async () => {
    const { reader, asked } = fakeReader(verifiedAll);
    const advice = await adviseIndexes(reader, {
      rows: [row('1', 'SELECT * FROM findings WHERE owner_id = $1 AND created_at > ')],
      tableStats: [heavy('findings')],
    });
    expect(advice.get('1')).toBeUndefined();
    expect(asked).toEqual([]);
  });
});
