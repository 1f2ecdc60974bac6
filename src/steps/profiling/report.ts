import type { Evidence } from '../../domain/finding.ts';
import type { ListReport } from '../../lib/pprof/list.ts';
import type { TopReport } from '../../lib/pprof/top.ts';

/** Evidence blocks built from profile analysis: the compact top-N table and a line breakdown. */

export const TOP_COLUMNS = ['flat', 'flat%', 'sum%', 'cum', 'cum%', 'function'] as const;

export function topTable(report: TopReport, title: string): Evidence {
  return {
    type: 'table',
    title,
    columns: [...TOP_COLUMNS],
    rows: report.rows.map((r) => [
      r.flatText,
      r.flatPercent.trim(),
      r.sumPercent.trim(),
      r.cumText,
      r.cumPercent.trim(),
      `${r.name}${r.inline ? ` (${r.inline})` : ''}`,
    ]),
  };
}

/** The lines of the listed functions with the most cum, in line order, as pprof's list shows them. */
export function listEvidence(report: ListReport, maxLines = 12): Evidence[] {
  return report.functions.slice(0, 3).map((fn) => {
    const lines = [...fn.lines]
      .sort((a, b) => b.cum - a.cum || a.line - b.line)
      .slice(0, maxLines)
      .sort((a, b) => a.line - b.line);
    const dot = (v: number) => (v === 0 ? '.' : report.format(v));
    const text = [
      `${'flat'.padStart(10)} ${'cum'.padStart(10)}   line`,
      ...lines.map(
        (l) => `${dot(l.flat).padStart(10)} ${dot(l.cum).padStart(10)} ${String(l.line).padStart(6)}`,
      ),
      `${report.format(fn.flat).padStart(10)} ${report.format(fn.cum).padStart(10)}  total (flat, cum)`,
    ].join('\n');
    return { type: 'code' as const, title: `list ${fn.name} (${fn.file})`, text };
  });
}

/** 2024-03-01T10:11:12.345Z -> 20240301T101112Z, for file names. */
export function fileStamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** A target label safe in a file name: "127.0.0.1:6060" -> "127.0.0.1-6060". */
export function fileLabel(label: string): string {
  return label.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'target';
}
