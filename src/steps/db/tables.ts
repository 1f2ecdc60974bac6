import type { Finding, Proposal } from '../../domain/finding.ts';
import { vacuumProposal } from '../../domain/proposals.ts';
import { formatBytes, humanDuration } from '../../lib/format.ts';
import { quoteIdent } from '../../lib/sql/identifier.ts';
import type { TableRef, TableSizeRow, TableStatRow } from '../../sources/postgres-types.ts';
import { slowQueryAdvice } from './advice.ts';

/**
 * When a table needs VACUUM ANALYZE. The source filters with the same numbers in SQL (so only
 * candidates cross the wire); the analysis decides again from the rows and says why.
 */
export interface MaintenanceRules {
  /** Dead tuples worth a finding at all. */
  readonly minDeadTuples: number;
  /** Dead tuples relative to live ones (autovacuum's default scale factor is 0.2). */
  readonly deadRatio: number;
  /** Tables smaller than this are not worth a stale-statistics finding. */
  readonly minLiveTuples: number;
  /** Rows changed since the last ANALYZE, relative to live ones, that make the statistics stale. */
  readonly modifiedRatio: number;
  /** An ANALYZE older than this counts as old when rows changed since (at least a tenth of modifiedRatio). */
  readonly staleAfterMs: number;
}

export const DEFAULT_MAINTENANCE_RULES: MaintenanceRules = {
  minDeadTuples: 1000,
  deadRatio: 0.2,
  minLiveTuples: 1000,
  modifiedRatio: 0.2,
  staleAfterMs: 7 * 86_400_000,
};

export interface MaintenanceNeed {
  readonly dead: boolean;
  readonly stale: boolean;
  /** Human reasons, e.g. "45,000 dead tuples (90% of live)", "never analyzed". */
  readonly reasons: readonly string[];
}

export function maintenanceNeed(
  t: TableStatRow,
  rules: MaintenanceRules = DEFAULT_MAINTENANCE_RULES,
): MaintenanceNeed | undefined {
  const reasons: string[] = [];
  const live = Math.max(t.liveTuples, 0);
  const dead = t.deadTuples >= rules.minDeadTuples && t.deadTuples >= rules.deadRatio * Math.max(live, 1);
  if (dead) {
    const pct = live > 0 ? ` (${Math.round((100 * t.deadTuples) / live)}% of live)` : '';
    reasons.push(`${count(t.deadTuples)} dead tuples${pct}`);
  }
  let stale = false;
  if (live >= rules.minLiveTuples) {
    if (t.sinceAnalyzeMs === null) {
      stale = true;
      reasons.push('never analyzed');
    } else if (t.modsSinceAnalyze >= rules.modifiedRatio * live) {
      stale = true;
      reasons.push(
        `${count(t.modsSinceAnalyze)} rows changed since the last ANALYZE ${humanDuration(t.sinceAnalyzeMs)} ago`,
      );
    } else if (
      t.sinceAnalyzeMs > rules.staleAfterMs &&
      t.modsSinceAnalyze >= (rules.modifiedRatio / 10) * live
    ) {
      stale = true;
      reasons.push(`last ANALYZE ${humanDuration(t.sinceAnalyzeMs)} ago`);
    }
  }
  return dead || stale ? { dead, stale, reasons } : undefined;
}

/**
 * A table whose reads are dominated by sequential scans: big enough to matter, read by sequential
 * scans at least once over, and more rows read that way than through indexes.
 */
export function seqScanHeavy(t: TableStatRow, minRows = 10_000): boolean {
  return (
    t.liveTuples >= minRows &&
    t.seqScan > 0 &&
    t.seqTupRead >= t.liveTuples &&
    t.seqTupRead > (t.idxTupFetch ?? 0)
  );
}

export function qualifiedName(t: TableRef): string {
  return t.schema && t.schema !== 'public'
    ? `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`
    : quoteIdent(t.name);
}

export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export interface TablesAnalysisInput {
  readonly service: string;
  readonly database: string;
  readonly largest: readonly TableSizeRow[];
  readonly maintenance: readonly TableStatRow[];
  readonly rules?: MaintenanceRules;
}

export interface TablesAnalysis {
  readonly findings: Finding[];
  readonly proposals: Proposal[];
  /** Tables that need VACUUM ANALYZE, for the headline. */
  readonly needMaintenance: number;
}

/** The runbook's "10 largest tables" as a table, and a VACUUM ANALYZE finding per table that needs it. */
export function analyzeTables(input: TablesAnalysisInput): TablesAnalysis {
  const findings: Finding[] = [];
  const proposals: Proposal[] = [];
  findings.push({
    id: 'db.tables.largest',
    severity: 'info',
    title: `Largest tables in ${input.database}`,
    summary:
      input.largest.length === 0
        ? 'No user tables.'
        : `Largest: ${qualifiedName(input.largest[0] as TableSizeRow)} at ${formatBytes((input.largest[0] as TableSizeRow).totalBytes, 'pg')} (table, indexes and TOAST).`,
    evidence: [
      {
        type: 'table',
        title: 'By total relation size',
        columns: ['Table', 'Total', 'Table', 'Indexes', 'Rows (est.)'],
        rows: input.largest.map((t) => [
          qualifiedName(t),
          formatBytes(t.totalBytes, 'pg'),
          formatBytes(t.tableBytes, 'pg'),
          formatBytes(t.indexBytes, 'pg'),
          t.estimatedRows < 0 ? 'not analyzed' : count(t.estimatedRows),
        ]),
      },
    ],
    links: [],
  });
  let needMaintenance = 0;
  for (const t of input.maintenance) {
    const need = maintenanceNeed(t, input.rules);
    if (!need) continue;
    needMaintenance++;
    const name = qualifiedName(t);
    findings.push({
      id: `db.vacuum.${t.schema}.${t.name}`,
      severity: 'warning',
      title: `${name} needs VACUUM ANALYZE`,
      summary: `${name}: ${need.reasons.join('; ')}. Stale statistics and dead tuples make the planner choose bad plans and scans read more pages.`,
      evidence: [
        {
          type: 'fields',
          fields: [
            { label: 'Live tuples', value: count(t.liveTuples) },
            { label: 'Dead tuples', value: count(t.deadTuples) },
            { label: 'Changed since ANALYZE', value: count(t.modsSinceAnalyze) },
            {
              label: 'Last ANALYZE',
              value: t.sinceAnalyzeMs === null ? 'never' : `${humanDuration(t.sinceAnalyzeMs)} ago`,
            },
            {
              label: 'Last VACUUM',
              value: t.sinceVacuumMs === null ? 'never' : `${humanDuration(t.sinceVacuumMs)} ago`,
            },
          ],
        },
        { type: 'code', title: 'Vacuum and analyze', text: `VACUUM ANALYZE ${name};` },
      ],
      links: [],
      advice: slowQueryAdvice({ vacuumTable: name }),
    });
    proposals.push(
      vacuumProposal(
        input.service,
        { schema: t.schema, table: t.name, database: input.database },
        'runbook, Slow Database Queries: vacuum and analyze',
        need.reasons.join('; '),
      ),
    );
  }
  return { findings, proposals, needMaintenance };
}
