import type { Evidence, Finding } from '../../domain/finding.ts';
import { type Baseline, classify } from '../../domain/thresholds.ts';
import { humanDuration } from '../../lib/format.ts';
import { redactSql, tokenizeSql } from '../../lib/sql/redact.ts';
import type { StatementRow, StatementsResult, TableRef, TableStatRow } from '../../sources/postgres-types.ts';
import { slowQueryAdvice } from './advice.ts';
import type { IndexSuggestion } from './index-advice.ts';
import { type IndexAdvice, noSuggestionText, type TableAdvice, verdictText } from './index-check.ts';
import { queryShape } from './query-shape.ts';
import {
  count,
  DEFAULT_MAINTENANCE_RULES,
  type MaintenanceRules,
  maintenanceNeed,
  qualifiedName,
  seqScanHeavy,
} from './tables.ts';

/** How much query text goes into a finding, and into a table cell. */
export const QUERY_TEXT_MAX = 1000;
export const QUERY_CELL_MAX = 100;

export interface StatementsAnalysisInput {
  readonly result: StatementsResult;
  /** pg_stat_user_tables rows for the tables the slow statements read. */
  readonly tableStats: readonly TableStatRow[];
  readonly baseline: Baseline;
  readonly database: string;
  /** Findings for at most this many slow statements (the table finding lists the rest). Default 5. */
  readonly maxFindings?: number;
  readonly minSeqScanRows?: number;
  readonly maintenanceRules?: MaintenanceRules;
  /** Index advice per queryid (index-check.ts); a seq-scan-heavy table without any says why not. */
  readonly indexAdvice?: IndexAdvice;
}

export interface SlowStatementSummary {
  readonly queryId: string;
  readonly meanMs: number;
  readonly short: string;
  readonly severity: 'normal' | 'warning' | 'critical';
  /** The suggested index as shown (without the DDL sent to HypoPG, which may hold a literal). */
  readonly index?: Omit<IndexSuggestion, 'check'>;
}

export interface StatementsAnalysis {
  readonly findings: Finding[];
  /** The worst statement, for the headline; undefined when none or unavailable. */
  readonly worst?: SlowStatementSummary;
  readonly overWarning: number;
  readonly overCritical: number;
}

/** A threshold as people write it: "1 s", "50 ms", "30 s", "2m". */
export function formatThreshold(ms: number): string {
  if (ms >= 1000 && ms < 60_000 && ms % 1000 === 0) return `${ms / 1000} s`;
  return humanDuration(ms);
}

/** SELECT, WITH, UPDATE and DELETE read tables through scans an index can replace; INSERT and DDL do not. */
export function readsTables(sql: string): boolean {
  const first = tokenizeSql(sql)
    .find((t) => t.kind === 'ident')
    ?.text.toLowerCase();
  return first === 'select' || first === 'with' || first === 'update' || first === 'delete';
}

/**
 * The tables a statement reads, from its parse tree (CTE names and subquery aliases are not tables);
 * for text that does not parse (cut short), the first name after FROM, UPDATE or JOIN. Needs
 * loadPgParser() first.
 */
export function statementTables(sql: string): TableRef[] {
  if (!readsTables(sql)) return [];
  const shape = queryShape(sql);
  if (shape) {
    const out: TableRef[] = [];
    for (const t of shape.tables) {
      if (!out.some((o) => o.name === t.name && o.schema === t.schema))
        out.push(t.schema ? { schema: t.schema, name: t.name } : { name: t.name });
    }
    return out;
  }
  const m = /\b(?:from|update|join)\s+(?:([a-z_][a-z0-9_$]*)\.)?([a-z_][a-z0-9_$]*)/i.exec(sql);
  if (!m) return [];
  return [
    m[1]
      ? { schema: m[1].toLowerCase(), name: (m[2] as string).toLowerCase() }
      : { name: (m[2] as string).toLowerCase() },
  ];
}

/** "SELECT … FROM findings", "UPDATE findings", or the redacted start of the text. */
export function shortQuery(sql: string): string {
  const first = tokenizeSql(sql)
    .find((t) => t.kind === 'ident')
    ?.text.toUpperCase();
  const table = statementTables(sql)[0] ?? insertTarget(sql);
  const name = table ? qualifiedName(table) : undefined;
  if (name && first === 'SELECT') return `SELECT … FROM ${name}`;
  if (name && first === 'UPDATE') return `UPDATE ${name}`;
  if (name && first === 'DELETE') return `DELETE FROM ${name}`;
  if (name && first === 'INSERT') return `INSERT INTO ${name}`;
  return redactSql(sql, { maxLength: 40 });
}

function insertTarget(sql: string): TableRef | undefined {
  const m = /^\s*insert\s+into\s+(?:([a-z_][a-z0-9_$]*)\.)?([a-z_][a-z0-9_$]*)/i.exec(sql);
  if (!m) return undefined;
  return m[1]
    ? { schema: m[1].toLowerCase(), name: (m[2] as string).toLowerCase() }
    : { name: (m[2] as string).toLowerCase() };
}

function findStats(stats: readonly TableStatRow[], ref: TableRef): TableStatRow | undefined {
  const same = stats.filter((s) => s.name === ref.name && (!ref.schema || s.schema === ref.schema));
  return same.find((s) => s.schema === 'public') ?? same[0];
}

/**
 * Slow statements from pg_stat_statements, classified against the runbook's DB query time baseline.
 * A slow statement that reads a table dominated by sequential scans gets an index suggestion in the
 * runbook's form; a table behind it with dead tuples or stale statistics gets VACUUM ANALYZE.
 */
export function analyzeStatements(input: StatementsAnalysisInput): StatementsAnalysis {
  const r = input.result;
  if (!r.available) {
    return { findings: [statementsUnavailableFinding(r.reason, r.detail)], overWarning: 0, overCritical: 0 };
  }
  const findings: Finding[] = [];
  const max = input.maxFindings ?? 5;
  const summaries: SlowStatementSummary[] = [];
  const totalMs = r.rows.reduce((n, row) => n + row.totalMs, 0);
  for (const row of r.rows) {
    const severity = classify(row.meanMs, input.baseline) as 'normal' | 'warning' | 'critical';
    const summary: SlowStatementSummary = {
      queryId: row.queryId,
      meanMs: row.meanMs,
      short: shortQuery(row.query),
      severity,
    };
    if (severity === 'normal' || summaries.filter((s) => s.severity !== 'normal').length >= max) {
      summaries.push(summary);
      continue;
    }
    const { finding, index } = slowStatementFinding(row, severity, input);
    if (index) {
      const { check: _sentToDatabaseOnly, ...shown } = index;
      summaries.push({ ...summary, index: shown });
    } else {
      summaries.push(summary);
    }
    // impact: its share of the time all listed statements spent (breaks ties between slow queries)
    findings.push(totalMs > 0 ? { ...finding, impact: row.totalMs / totalMs } : finding);
  }
  const worst = summaries[0];
  findings.push(topStatementsFinding(r.rows, r.totalStatements, r.overWarning, input, r.relation));
  return { findings, ...(worst ? { worst } : {}), overWarning: r.overWarning, overCritical: r.overCritical };
}

function slowStatementFinding(
  row: StatementRow,
  severity: 'warning' | 'critical',
  input: StatementsAnalysisInput,
): { finding: Finding; index?: IndexSuggestion } {
  const tables = statementTables(row.query);
  const evidence: Evidence[] = [
    {
      type: 'fields',
      fields: [
        { label: 'Mean time', value: humanDuration(row.meanMs) },
        { label: 'Calls', value: count(row.calls) },
        { label: 'Total time', value: humanDuration(row.totalMs) },
        { label: 'Rows per call', value: row.calls > 0 ? count(row.rows / row.calls) : '0' },
        {
          label: 'Baseline',
          value: `normal < ${formatThreshold(input.baseline.normal)}, critical > ${formatThreshold(input.baseline.critical)}`,
        },
      ],
    },
    {
      type: 'code',
      title: 'Query (literals redacted)',
      text: redactSql(row.query, { maxLength: QUERY_TEXT_MAX }),
    },
  ];
  let index: IndexSuggestion | undefined;
  let indexVerdict = '';
  let vacuumTable: string | undefined;
  const notes: string[] = [];
  const advice: readonly TableAdvice[] = input.indexAdvice?.get(row.queryId) ?? [];
  for (const ref of tables) {
    const stats = findStats(input.tableStats, ref);
    if (!stats) continue;
    const name = qualifiedName(stats);
    if (seqScanHeavy(stats, input.minSeqScanRows)) {
      const ratio = stats.idxTupFetch
        ? ` vs ${count(stats.idxTupFetch)} through indexes`
        : ', none through an index';
      notes.push(
        `${name} is read by sequential scans: ${count(stats.seqScan)} scans read ${count(stats.seqTupRead)} rows${ratio} (${count(stats.liveTuples)} live rows).`,
      );
      const mine = advice.find(
        (a) => a.table.name === stats.name && (a.table.schema ?? 'public') === stats.schema,
      );
      if (mine?.kind === 'advised') {
        const s = mine.index.suggestion;
        const verdict = verdictText(mine.index.verdict, s.checkedAs);
        if (!index) {
          index = s;
          indexVerdict = verdict;
        }
        evidence.push({
          type: 'code',
          title: `Suggested index on ${name}`,
          text: [
            s.sql,
            `-- ${verdict}`,
            ...(s.order === 'selectivity' ? ['-- equality columns ordered by selectivity (pg_stats)'] : []),
            ...(s.note ? [`-- ${s.note}`] : []),
            ...(s.alternative ? [s.alternative] : []),
          ].join('\n'),
        });
      } else {
        notes.push(
          mine
            ? noSuggestionText(mine)
            : `The columns to index on ${name} could not be told from the query text: run EXPLAIN (ANALYZE, BUFFERS) on it.`,
        );
      }
    }
    const need = maintenanceNeed(stats, input.maintenanceRules ?? DEFAULT_MAINTENANCE_RULES);
    if (need && !vacuumTable) {
      vacuumTable = name;
      notes.push(`${name}: ${need.reasons.join('; ')}, so VACUUM ANALYZE ${name} first.`);
    }
  }
  const short = shortQuery(row.query);
  const summary = [
    `${short}: mean ${humanDuration(row.meanMs)} over ${count(row.calls)} call${row.calls === 1 ? '' : 's'} (${humanDuration(row.totalMs)} in total).`,
    ...notes,
    ...(index
      ? [`An index on ${index.columns.join(', ')} should let it skip the scan: ${indexVerdict}.`]
      : []),
  ].join(' ');
  const finding: Finding = {
    id: `db.slow.${row.queryId}`,
    severity,
    title: `Slow query: mean ${humanDuration(row.meanMs)} (${short})`,
    summary,
    evidence,
    links: [],
    advice: slowQueryAdvice({
      ...(index ? { index: index.sql } : {}),
      ...(vacuumTable ? { vacuumTable } : tables[0] ? { vacuumTable: qualifiedName(tables[0]) } : {}),
    }),
  };
  return index ? { finding, index } : { finding };
}

function topStatementsFinding(
  rows: readonly StatementRow[],
  total: number,
  overWarning: number,
  input: StatementsAnalysisInput,
  relation: string,
): Finding {
  const worst = rows[0];
  const summary = worst
    ? overWarning > 0
      ? `${count(overWarning)} of ${count(total)} statements average ${formatThreshold(input.baseline.normal)} or more; the slowest averages ${humanDuration(worst.meanMs)}.`
      : `No statement averages ${formatThreshold(input.baseline.normal)} or more (slowest: ${humanDuration(worst.meanMs)}, ${count(total)} statements).`
    : `${relation} holds no statements for ${input.database} yet.`;
  return {
    id: 'db.slow.top',
    severity: overWarning > 0 || !worst ? 'info' : 'normal',
    title: 'Slowest queries by mean time',
    summary,
    evidence: [
      {
        type: 'table',
        title: `Top ${rows.length} by mean time (${relation})`,
        columns: ['Mean', 'Calls', 'Total', 'Query'],
        rows: rows.map((s) => [
          humanDuration(s.meanMs),
          count(s.calls),
          humanDuration(s.totalMs),
          redactSql(s.query, { maxLength: QUERY_CELL_MAX }),
        ]),
      },
    ],
    links: [],
  };
}

/** pg_stat_statements missing, not loaded or not readable: say how to enable it. */
export function statementsUnavailableFinding(
  reason: 'not_installed' | 'not_loaded' | 'no_permission',
  detail: string,
): Finding {
  const enable = [
    "-- postgresql.conf (needs a restart)\nshared_preload_libraries = 'pg_stat_statements'",
    '-- then, in the service database\nCREATE EXTENSION pg_stat_statements;',
  ];
  const byReason = {
    not_installed: {
      title: 'pg_stat_statements is not installed',
      summary:
        'Slow queries cannot be listed: the pg_stat_statements extension is not created in this database. Add pg_stat_statements to shared_preload_libraries (restart), then run CREATE EXTENSION pg_stat_statements; in the service database.',
      quickFix: enable,
    },
    not_loaded: {
      title: 'pg_stat_statements is not loaded',
      summary:
        'Slow queries cannot be listed: the extension exists but the server was not started with it. Add pg_stat_statements to shared_preload_libraries and restart PostgreSQL.',
      quickFix: enable.slice(0, 1),
    },
    no_permission: {
      title: 'pg_stat_statements cannot be read',
      summary:
        "Slow queries cannot be listed: the bot's role may not read pg_stat_statements. Grant it pg_read_all_stats.",
      quickFix: ['GRANT pg_read_all_stats TO <diagnosis role>;'],
    },
  }[reason];
  return {
    id: 'db.slow.unavailable',
    severity: 'unavailable',
    title: byReason.title,
    summary: byReason.summary,
    evidence: [{ type: 'text', text: detail }],
    links: [],
    advice: {
      quickFix: byReason.quickFix,
      longTerm: ['Slow query logging enabled (Optimization Checklist, Database Layer)'],
    },
  };
}
