import type {
  ColumnStatsRow,
  HypoCheckRequest,
  HypoChecks,
  IndexDefRow,
  StatementRow,
  TableRef,
  TableStatRow,
} from '../../sources/postgres-types.ts';
import { type AdviceContext, type IndexSuggestion, suggestIndex } from './index-advice.ts';
import { queryShape } from './query-shape.ts';
import { count, qualifiedName, seqScanHeavy } from './tables.ts';

/**
 * Index advice for the slow statements, checked against the planner: for each table a slow statement
 * reads that is dominated by sequential scans, the index its parse tree asks for (index-advice.ts),
 * with pg_stats and the table's existing indexes read from the database, then the statement's
 * generic-plan cost without and with the index simulated by HypoPG. A suggestion the planner would
 * not use, or that does not lower the cost, is dropped; without HypoPG each one is marked unverified.
 */

/** What the advice reads from the database; DatabaseSource implements it (step.ts's DatabaseReader). */
export interface IndexAdviceReader {
  columnStats(q: { tables: readonly TableRef[]; limit: number }): Promise<ColumnStatsRow[]>;
  tableIndexes(q: { tables: readonly TableRef[]; limit: number }): Promise<IndexDefRow[]>;
  checkHypotheticalIndexes(q: { checks: readonly HypoCheckRequest[] }): Promise<HypoChecks>;
}

export type Verdict =
  | { readonly kind: 'verified'; readonly costWithout: number; readonly costWith: number }
  | { readonly kind: 'unverified'; readonly reason: string };

export interface AdvisedIndex {
  readonly suggestion: IndexSuggestion;
  readonly verdict: Verdict;
}

/** The advice for one table of one statement. */
export type TableAdvice =
  | { readonly kind: 'advised'; readonly table: TableRef; readonly index: AdvisedIndex }
  /** HypoPG: the planner would not use it, or it would not lower the cost. */
  | {
      readonly kind: 'dropped';
      readonly table: TableRef;
      readonly columns: readonly string[];
      readonly costWithout: number;
      readonly costWith: number;
      readonly used: boolean;
    }
  | {
      readonly kind: 'covered';
      readonly table: TableRef;
      readonly index: string;
      readonly columns: readonly string[];
    }
  /** The statement asks nothing indexable of the table (a statement that did not parse gets no entry). */
  | { readonly kind: 'none'; readonly table: TableRef };

/** Advice per pg_stat_statements queryid. */
export type IndexAdvice = ReadonlyMap<string, readonly TableAdvice[]>;

export const ADVICE_LIMITS = { columnStats: 2000, indexes: 500 } as const;

export const UNVERIFIED_NO_HYPOPG = 'HypoPG not installed';

function same(a: TableRef, b: TableRef): boolean {
  return a.name === b.name && (a.schema ?? 'public') === (b.schema ?? 'public');
}

function statsFor(stats: readonly TableStatRow[], access: { schema?: string; name: string }) {
  const hits = stats.filter((s) => s.name === access.name && (!access.schema || s.schema === access.schema));
  return hits.find((s) => s.schema === 'public') ?? hits[0];
}

interface Pending {
  readonly queryId: string;
  readonly table: TableRef;
  readonly suggestion: IndexSuggestion;
  /** Why HypoPG is not asked, when it cannot answer for this statement or index. */
  readonly unverifiable?: string;
  readonly query?: { text: string; params: number };
}

export async function adviseIndexes(
  reader: IndexAdviceReader,
  input: {
    readonly rows: readonly StatementRow[];
    readonly tableStats: readonly TableStatRow[];
    readonly minSeqScanRows?: number;
  },
): Promise<IndexAdvice> {
  const advice = new Map<string, TableAdvice[]>();
  const add = (queryId: string, a: TableAdvice) => advice.set(queryId, [...(advice.get(queryId) ?? []), a]);
  const targets: { row: StatementRow; shape: ReturnType<typeof queryShape>; tables: TableRef[] }[] = [];
  for (const row of input.rows) {
    const shape = queryShape(row.query);
    const heavy: TableRef[] = [];
    for (const access of shape?.tables ?? []) {
      const s = statsFor(input.tableStats, access);
      if (s && seqScanHeavy(s, input.minSeqScanRows) && !heavy.some((h) => same(h, s))) {
        heavy.push({ schema: s.schema, name: s.name });
      }
    }
    if (shape) targets.push({ row, shape, tables: heavy });
  }
  const tables = targets.flatMap((t) => t.tables);
  if (tables.length === 0) return advice;
  const [columnStats, indexes] = await Promise.all([
    reader.columnStats({ tables, limit: ADVICE_LIMITS.columnStats }),
    reader.tableIndexes({ tables, limit: ADVICE_LIMITS.indexes }),
  ]);

  const pending: Pending[] = [];
  for (const { row, shape, tables: heavy } of targets) {
    if (!shape) continue;
    for (const table of heavy) {
      const ctx: AdviceContext = {
        stats: new Map(
          columnStats
            .filter((c) => same({ schema: c.schema, name: c.table }, table))
            .map((c) => [c.column, c]),
        ),
        indexes: indexes.filter((ix) => same({ schema: ix.schema, name: ix.table }, table)),
      };
      const accesses = shape.tables.filter(
        (a) => a.name === table.name && (!a.schema || a.schema === table.schema),
      );
      let result: ReturnType<typeof suggestIndex>;
      for (const access of accesses) {
        result = suggestIndex(access, table, ctx);
        if (result) break;
      }
      if (!result) {
        add(row.queryId, { kind: 'none', table });
      } else if (result.kind === 'covered') {
        add(row.queryId, { kind: 'covered', table, index: result.index, columns: result.columns });
      } else {
        const unverifiable =
          shape.kind !== 'select' || shape.locks
            ? 'EXPLAIN of UPDATE, DELETE or SELECT … FOR UPDATE needs write privileges the read-only role lacks'
            : result.suggestion.method === 'gin'
              ? 'HypoPG cannot simulate GIN indexes'
              : undefined;
        pending.push({
          queryId: row.queryId,
          table,
          suggestion: result.suggestion,
          ...(unverifiable ? { unverifiable } : { query: { text: row.query, params: shape.params } }),
        });
      }
    }
  }
  if (pending.length === 0) return advice;

  // One HypoPG request: each statement once, with the indexes suggested for it.
  const checkable = pending.filter((p) => p.query);
  const byQuery = new Map<string, Pending[]>();
  for (const p of checkable) byQuery.set(p.queryId, [...(byQuery.get(p.queryId) ?? []), p]);
  const requests = [...byQuery.values()].map((ps) => ({
    query: (ps[0] as Pending).query?.text as string,
    params: (ps[0] as Pending).query?.params as number,
    indexes: ps.map((p) => p.suggestion.check),
  }));
  const checks: HypoChecks =
    requests.length > 0 ? await reader.checkHypotheticalIndexes({ checks: requests }) : { available: false };

  const verdicts = new Map<Pending, Verdict | 'dropped'>();
  const dropped = new Map<Pending, { costWithout: number; costWith: number; used: boolean }>();
  [...byQuery.values()].forEach((ps, i) => {
    const result = checks.available ? checks.results[i] : undefined;
    ps.forEach((p, k) => {
      if (!checks.available || !result) {
        verdicts.set(p, { kind: 'unverified', reason: UNVERIFIED_NO_HYPOPG });
      } else if (!result.ok) {
        verdicts.set(p, { kind: 'unverified', reason: failureReason(result.code) });
      } else {
        const r = result.indexes[k];
        if (!r?.ok) {
          verdicts.set(p, {
            kind: 'unverified',
            reason: `HypoPG could not simulate it (SQLSTATE ${r && !r.ok ? r.code : 'none'})`,
          });
        } else if (r.used && r.cost < result.costWithout) {
          verdicts.set(p, { kind: 'verified', costWithout: result.costWithout, costWith: r.cost });
        } else {
          verdicts.set(p, 'dropped');
          dropped.set(p, { costWithout: result.costWithout, costWith: r.cost, used: r.used });
        }
      }
    });
  });
  for (const p of pending) {
    const v = p.unverifiable ? { kind: 'unverified' as const, reason: p.unverifiable } : verdicts.get(p);
    if (v === 'dropped') {
      const d = dropped.get(p) as { costWithout: number; costWith: number; used: boolean };
      add(p.queryId, { kind: 'dropped', table: p.table, columns: p.suggestion.columns, ...d });
    } else if (v) {
      add(p.queryId, { kind: 'advised', table: p.table, index: { suggestion: p.suggestion, verdict: v } });
    }
  }
  return advice;
}

function failureReason(code: string): string {
  if (code === '42501') return 'the diagnosis role may not read the tables: GRANT pg_read_all_data to it';
  if (code === '57014') return 'EXPLAIN did not finish within the statement timeout';
  return `EXPLAIN failed (SQLSTATE ${code})`;
}

/** "cost 1,234 -> 56 with the index (HypoPG)" or "unverified (HypoPG not installed)". */
export function verdictText(v: Verdict, checkedAs: IndexSuggestion['checkedAs']): string {
  if (v.kind === 'unverified') return `unverified (${v.reason})`;
  const as = checkedAs === 'alternative' ? ', checked as the plain index' : '';
  return `cost ${count(v.costWithout)} -> ${count(v.costWith)} with the index (HypoPG${as})`;
}

/** One sentence for advice that ended without a suggestion. */
export function noSuggestionText(a: Exclude<TableAdvice, { kind: 'advised' }>): string {
  const name = qualifiedName(a.table);
  switch (a.kind) {
    case 'dropped':
      return `An index on ${name} (${a.columns.join(', ')}) was considered and dropped: ${a.used ? `the planner would use it but the cost would not fall (${count(a.costWithout)} -> ${count(a.costWith)})` : `the planner would not use it (HypoPG, cost ${count(a.costWithout)} without it)`}.`;
    case 'covered':
      return `${name} already has ${a.index} on (${a.columns.join(', ')}) and still is read by sequential scans: run EXPLAIN (ANALYZE, BUFFERS) on the query and VACUUM ANALYZE ${name}.`;
    case 'none':
      return `The columns to index on ${name} could not be told from the query text: run EXPLAIN (ANALYZE, BUFFERS) on it.`;
  }
}
