import type { Evidence, Finding, StepResult } from '../../domain/finding.ts';
import { SEVERITY_LABEL } from '../../domain/severity.ts';
import { humanDuration } from '../../lib/format.ts';
import { alignTable } from './table-text.ts';

/**
 * The full report as plain text: nothing shortened, nothing Slack-specific. It is the file attached
 * when a Slack message had to leave something out, and a CLI can print it as is.
 */
export function renderTextReport(result: StepResult): string {
  const out: string[] = [];
  const title = `${result.step} · ${result.service}`;
  out.push(title, '='.repeat(title.length));
  out.push(result.headline);
  out.push(
    `Severity ${SEVERITY_LABEL[result.severity]} · started ${formatUtc(result.startedAt)} · took ${tookText(result)}`,
  );

  if (result.escalations.length > 0) {
    out.push('', 'ESCALATIONS');
    for (const e of result.escalations) out.push(`  ! ${e.prompt} · observed ${e.observed}`);
  }

  out.push('', `FINDINGS (${result.findings.length})`);
  if (result.findings.length === 0) out.push('  none');
  result.findings.forEach((f, i) => {
    out.push(...findingText(f, i + 1));
  });

  const unavailable = result.parts.filter((p) => p.status === 'unavailable');
  if (unavailable.length > 0) {
    out.push('', 'UNAVAILABLE');
    for (const p of unavailable) out.push(`  - ${p.name}: ${p.reason ?? 'no reason given'}`);
  }

  if (result.proposals.length > 0) {
    out.push('', 'PROPOSED ACTIONS (each needs a confirmation in Slack)');
    for (const p of result.proposals) {
      out.push(
        `  - ${p.label}${p.danger ? ' [danger]' : ''}: ${p.change.what}: ${p.change.from} → ${p.change.to}`,
      );
      out.push(...indent(`why: ${p.reason}`, 6));
    }
  }

  if (result.nextSteps.length > 0) {
    out.push('', 'NEXT STEPS');
    for (const s of result.nextSteps) {
      out.push(`  - ${s.label}: /aegis ${[s.step, ...s.args].join(' ')}`);
    }
  }

  if (result.attachments.length > 0) {
    out.push('', 'FILES');
    for (const a of result.attachments) out.push(`  - ${a.filename}: ${a.title}`);
  }

  if (result.links.length > 0) {
    out.push('', 'LINKS');
    for (const l of result.links) out.push(`  - ${l.label}: ${l.url}`);
  }
  return `${out.join('\n')}\n`;
}

/** One finding, numbered, every piece of evidence in full. */
export function findingText(f: Finding, n: number): string[] {
  const out = ['', `${n}. [${SEVERITY_LABEL[f.severity]}] ${f.title}`, ...indent(f.summary, 3)];
  for (const e of f.evidence) out.push(...evidenceText(e).flatMap((l) => indent(l, 3)));
  if (f.advice) {
    if (f.advice.quickFix.length > 0) {
      out.push('   Quick fix:');
      for (const q of f.advice.quickFix) out.push(...bullet(q, 5));
    }
    if (f.advice.longTerm.length > 0) {
      out.push('   Long-term:');
      for (const l of f.advice.longTerm) out.push(...bullet(l, 5));
    }
  }
  if (f.links.length > 0) {
    out.push('   Links:');
    for (const l of f.links) out.push(`     - ${l.label}: ${l.url}`);
  }
  return out;
}

/** Evidence as plain lines (tables aligned, code verbatim). */
export function evidenceText(e: Evidence): string[] {
  switch (e.type) {
    case 'fields':
      return e.fields.map((f) => `${f.label}: ${f.value}`);
    case 'text':
      return e.text.split('\n');
    case 'table':
      return [...(e.title ? [`${e.title}:`] : []), ...alignTable(e.columns, e.rows).map((l) => `  ${l}`)];
    case 'code':
      return [
        ...(e.title ? [`${e.title}:`] : []),
        ...e.text
          .replace(/\n$/, '')
          .split('\n')
          .map((l) => `  ${l}`),
      ];
  }
}

function indent(text: string, by: number): string[] {
  const pad = ' '.repeat(by);
  return text.split('\n').map((l) => (l.length > 0 ? `${pad}${l}` : l));
}

function bullet(text: string, by: number): string[] {
  const [first = '', ...rest] = text.split('\n');
  const pad = ' '.repeat(by);
  return [`${pad}- ${first}`, ...rest.map((l) => `${pad}  ${l}`)];
}

/** "2025-03-14 09:26:53 UTC". */
export function formatUtc(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export function tookText(result: Pick<StepResult, 'startedAt' | 'finishedAt'>): string {
  return humanDuration(Math.max(0, result.finishedAt.getTime() - result.startedAt.getTime()));
}
