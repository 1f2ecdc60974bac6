import type { Attachment, Evidence, Finding, StepResult } from '../domain/finding.ts';
import { rankFindings } from '../domain/report.ts';
import { SEVERITY_LABEL } from '../domain/severity.ts';
import { formatBytes, humanDuration } from '../lib/format.ts';

const TAG_WIDTH = Math.max(...Object.values(SEVERITY_LABEL).map((l) => l.length));

export interface TextReportOptions {
  /** Where each attachment was written (--out), by filename. */
  readonly savedAttachments?: Readonly<Record<string, string>>;
}

/** A StepResult as a plain-text report for a terminal: findings ranked, tables aligned. */
export function formatTextReport(result: StepResult, options: TextReportOptions = {}): string {
  const out: string[] = [];
  out.push(`${result.step} · ${result.service} · ${SEVERITY_LABEL[result.severity]}`);
  out.push(oneLine(result.headline));

  const findings = rankFindings(result.findings);
  if (findings.length) {
    out.push('');
    findings.forEach((f, i) => {
      if (i > 0) out.push('');
      out.push(...formatFinding(f, i + 1));
    });
  } else {
    out.push('', 'No findings.');
  }

  if (result.escalations.length) {
    out.push('', 'Escalation:');
    for (const e of result.escalations)
      out.push(`  ! ${oneLine(e.prompt)} (observed ${oneLine(e.observed)})`);
  }

  if (result.proposals.length) {
    out.push('', 'Actions:');
    for (const p of result.proposals) {
      out.push(`  would offer: ${oneLine(p.label)} (actions need Slack or the console)`);
      out.push(
        `    ${oneLine(p.change.what)}: ${oneLine(p.change.from)} -> ${oneLine(p.change.to)}; ${oneLine(p.reason)}`,
      );
    }
  }

  if (result.nextSteps.length) {
    out.push('', 'Next steps:');
    const rows = result.nextSteps.map((n) => [['aegis run', n.step, ...n.args].join(' '), oneLine(n.label)]);
    out.push(...alignRows(rows, '  ', [false, false]));
  }

  const unavailable = result.parts.filter((p) => p.status === 'unavailable');
  if (unavailable.length) {
    out.push('', 'Unavailable:');
    for (const p of unavailable) out.push(`  ${oneLine(p.name)}: ${oneLine(p.reason ?? 'no answer')}`);
  }

  if (result.attachments.length) {
    out.push('', 'Attachments:');
    const rows = result.attachments.map((a) => {
      const saved = options.savedAttachments?.[a.filename];
      return [
        a.filename,
        a.mimeType,
        formatBytes(attachmentBytes(a), 'listing'),
        saved ? `saved to ${saved}` : '(save with --out DIR)',
      ];
    });
    out.push(...alignRows(rows, '  ', [false, false, true, false]));
  }

  if (result.links.length) {
    out.push('', 'Links:');
    for (const l of result.links) out.push(`  ${oneLine(l.label)}: ${l.url}`);
  }

  const took = result.finishedAt.getTime() - result.startedAt.getTime();
  out.push('', `Finished in ${humanDuration(took)} at ${result.finishedAt.toISOString()}`);
  return `${out.join('\n')}\n`;
}

function formatFinding(f: Finding, n: number): string[] {
  const lines: string[] = [];
  const tag = SEVERITY_LABEL[f.severity].padEnd(TAG_WIDTH);
  const indent = ' '.repeat(`${n}. `.length);
  lines.push(`${n}. ${tag}  ${oneLine(f.title)}`);
  if (f.summary) for (const l of f.summary.split('\n')) lines.push(`${indent}${l}`);
  for (const ev of f.evidence) {
    lines.push('');
    lines.push(...formatEvidence(ev).map((l) => (l ? `${indent}${l}` : l)));
  }
  if (f.advice?.quickFix.length) {
    lines.push('', `${indent}Quick fix:`);
    for (const q of f.advice.quickFix) lines.push(...bullet(q, `${indent}  `));
  }
  if (f.advice?.longTerm.length) {
    lines.push('', `${indent}Long-term fixes:`);
    for (const q of f.advice.longTerm) lines.push(...bullet(q, `${indent}  `));
  }
  if (f.links.length) {
    lines.push('', `${indent}Links:`);
    for (const l of f.links) lines.push(`${indent}  ${oneLine(l.label)}: ${l.url}`);
  }
  return lines;
}

function bullet(text: string, indent: string): string[] {
  const [first = '', ...rest] = text.split('\n');
  return [`${indent}- ${first}`, ...rest.map((l) => `${indent}  ${l}`)];
}

export function formatEvidence(ev: Evidence): string[] {
  switch (ev.type) {
    case 'fields': {
      const rows = ev.fields.map((f) => [`${oneLine(f.label)}:`, oneLine(f.value)]);
      return alignRows(rows, '', [false, false], ' ');
    }
    case 'table': {
      const lines: string[] = [];
      if (ev.title) lines.push(oneLine(ev.title));
      lines.push(...formatTable(ev.columns, ev.rows));
      return lines;
    }
    case 'code': {
      const lines: string[] = [];
      if (ev.title) lines.push(`${oneLine(ev.title)}:`);
      for (const l of ev.text.replace(/\n+$/, '').split('\n')) lines.push(`  ${l}`);
      return lines;
    }
    case 'text':
      return ev.text.split('\n');
  }
}

/** Header, a rule, and rows; columns whose cells are all numbers (with units) are right-aligned. */
export function formatTable(columns: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const width = Math.max(columns.length, ...rows.map((r) => r.length));
  const cells = rows.map((r) => Array.from({ length: width }, (_, i) => oneLine(r[i] ?? '')));
  const header = Array.from({ length: width }, (_, i) => oneLine(columns[i] ?? ''));
  const numeric = header.map(
    (_, i) => cells.length > 0 && cells.every((r) => /^[-+]?[\d.,]+(\s?\S{0,4})?%?$|^$/.test(r[i] ?? '')),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const rule = widths.map((w) => '-'.repeat(w));
  return [header, rule, ...cells].map((r) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function alignRows(
  rows: readonly string[][],
  indent: string,
  rightAlign: readonly boolean[],
  gap = '  ',
): string[] {
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  return rows.map(
    (r) =>
      indent +
      r
        .map((c, i) => (rightAlign[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
        .join(gap)
        .trimEnd(),
  );
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

export function attachmentBytes(a: Attachment): number {
  return typeof a.content === 'string' ? Buffer.byteLength(a.content, 'utf8') : a.content.byteLength;
}
