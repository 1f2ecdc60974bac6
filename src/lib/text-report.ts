import type { Attachment, Evidence, Finding, StepResult } from '../domain/finding.ts';
import { rankFindings } from '../domain/report.ts';
import { SEVERITY_LABEL } from '../domain/severity.ts';
import { formatBytes, formatUtc, humanDuration } from './format.ts';
import { alignColumns, alignTable } from './text-table.ts';

/**
 * A StepResult as plain text: nothing shortened, no markup. Two layouts of the one renderer:
 * - `file`, the full report Slack attaches when a message had to leave something out;
 * - `terminal`, what `aegis run --format text` prints: findings ranked, one item a line.
 */

export type TextLayoutName = 'file' | 'terminal';

export interface TextReportOptions {
  /** Default: file. */
  readonly layout?: TextLayoutName;
  /** Where each attachment was written (`aegis run --out`), by filename. */
  readonly savedAttachments?: Readonly<Record<string, string>>;
}

type Section =
  | 'findings'
  | 'escalations'
  | 'unavailable'
  | 'proposals'
  | 'nextSteps'
  | 'attachments'
  | 'links';

interface Layout {
  /** Text that has to stay on one line. */
  readonly line: (text: string) => string;
  readonly header: (r: StepResult) => string[];
  readonly footer: (r: StepResult) => string[];
  readonly order: readonly Section[];
  /** Section headings; findings have none in a terminal. */
  readonly headings: Readonly<Record<Section, (r: StepResult) => string | undefined>>;
  readonly noFindings: readonly string[];
  /** Findings by severity, worst first (a terminal), or in the step's order (the file). */
  readonly ranked: boolean;
  /** What starts an item of a list. */
  readonly item: string;
  readonly noReason: string;
  /** A blank line between the blocks of a finding, or none. */
  readonly gap: readonly string[];
  readonly findingTitle: (f: Finding, n: number) => string;
  /** The indent of a finding's body: under the title's text, or three spaces. */
  readonly bodyIndent: (n: number) => string;
  readonly longTermHeading: string;
  readonly alignFields: boolean;
  readonly tableTitle: (title: string) => string;
  readonly tableIndent: string;
  readonly escalation: (prompt: string, observed: string) => string;
  readonly proposals: (r: StepResult) => string[];
  readonly nextSteps: (r: StepResult) => string[];
  readonly attachments: (r: StepResult, saved: Readonly<Record<string, string>>) => string[];
}

const TAG_WIDTH = Math.max(...Object.values(SEVERITY_LABEL).map((l) => l.length));

/** Line breaks and the blanks around them become one space. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

const LAYOUTS: Readonly<Record<TextLayoutName, Layout>> = {
  file: {
    line: (text) => text,
    header: (r) => {
      const title = `${r.step} · ${r.service}`;
      return [
        title,
        '='.repeat(title.length),
        r.headline,
        `Severity ${SEVERITY_LABEL[r.severity]} · started ${formatUtc(r.startedAt)} · took ${tookText(r)}`,
      ];
    },
    footer: () => [],
    order: ['escalations', 'findings', 'unavailable', 'proposals', 'nextSteps', 'attachments', 'links'],
    headings: {
      findings: (r) => `FINDINGS (${r.findings.length})`,
      escalations: () => 'ESCALATIONS',
      unavailable: () => 'UNAVAILABLE',
      proposals: () => 'PROPOSED ACTIONS (each needs a confirmation in Slack)',
      nextSteps: () => 'NEXT STEPS',
      attachments: () => 'FILES',
      links: () => 'LINKS',
    },
    noFindings: ['  none'],
    ranked: false,
    item: '  - ',
    noReason: 'no reason given',
    gap: [],
    findingTitle: (f, n) => `${n}. [${SEVERITY_LABEL[f.severity]}] ${f.title}`,
    bodyIndent: () => '   ',
    longTermHeading: 'Long-term:',
    alignFields: false,
    tableTitle: (title) => `${title}:`,
    tableIndent: '  ',
    escalation: (prompt, observed) => `  ! ${prompt} · observed ${observed}`,
    proposals: (r) =>
      r.proposals.flatMap((p) => [
        `  - ${p.label}${p.danger ? ' [danger]' : ''}: ${p.change.what}: ${p.change.from} → ${p.change.to}`,
        ...indent(`why: ${p.reason}`, '      '),
      ]),
    nextSteps: (r) => r.nextSteps.map((s) => `  - ${s.label}: /aegis ${[s.step, ...s.args].join(' ')}`),
    attachments: (r) => r.attachments.map((a) => `  - ${a.filename}: ${a.title}`),
  },
  terminal: {
    line: oneLine,
    header: (r) => [`${r.step} · ${r.service} · ${SEVERITY_LABEL[r.severity]}`, oneLine(r.headline)],
    footer: (r) => ['', `Finished in ${tookText(r)} at ${r.finishedAt.toISOString()}`],
    order: ['findings', 'escalations', 'proposals', 'nextSteps', 'unavailable', 'attachments', 'links'],
    headings: {
      findings: () => undefined,
      escalations: () => 'Escalation:',
      unavailable: () => 'Unavailable:',
      proposals: () => 'Actions:',
      nextSteps: () => 'Next steps:',
      attachments: () => 'Attachments:',
      links: () => 'Links:',
    },
    noFindings: ['', 'No findings.'],
    ranked: true,
    item: '  ',
    noReason: 'no answer',
    gap: [''],
    findingTitle: (f, n) => `${n}. ${SEVERITY_LABEL[f.severity].padEnd(TAG_WIDTH)}  ${oneLine(f.title)}`,
    bodyIndent: (n) => ' '.repeat(`${n}. `.length),
    longTermHeading: 'Long-term fixes:',
    alignFields: true,
    tableTitle: oneLine,
    tableIndent: '',
    escalation: (prompt, observed) => `  ! ${oneLine(prompt)} (observed ${oneLine(observed)})`,
    proposals: (r) =>
      r.proposals.flatMap((p) => [
        `  would offer: ${oneLine(p.label)} (actions need Slack or the console)`,
        `    ${oneLine(p.change.what)}: ${oneLine(p.change.from)} -> ${oneLine(p.change.to)}; ${oneLine(p.reason)}`,
      ]),
    nextSteps: (r) =>
      alignColumns(
        r.nextSteps.map((n) => [['aegis run', n.step, ...n.args].join(' '), oneLine(n.label)]),
      ).map((l) => `  ${l}`),
    attachments: (r, saved) =>
      alignColumns(
        r.attachments.map((a) => [
          a.filename,
          a.mimeType,
          formatBytes(attachmentBytes(a), 'listing'),
          saved[a.filename] ? `saved to ${saved[a.filename]}` : '(save with --out DIR)',
        ]),
        { right: [false, false, true, false] },
      ).map((l) => `  ${l}`),
  },
};

export function renderTextReport(result: StepResult, options: TextReportOptions = {}): string {
  const L = LAYOUTS[options.layout ?? 'file'];
  const sections: Readonly<Record<Section, () => string[]>> = {
    findings: () => {
      if (result.findings.length === 0) return [...L.noFindings];
      const findings = L.ranked ? rankFindings(result.findings) : result.findings;
      return findings.flatMap((f, i) => ['', ...findingText(f, i + 1, L)]);
    },
    escalations: () => result.escalations.map((e) => L.escalation(e.prompt, e.observed)),
    unavailable: () =>
      result.parts
        .filter((p) => p.status === 'unavailable')
        .map((p) => `${L.item}${L.line(p.name)}: ${L.line(p.reason ?? L.noReason)}`),
    proposals: () => L.proposals(result),
    nextSteps: () => L.nextSteps(result),
    attachments: () => L.attachments(result, options.savedAttachments ?? {}),
    links: () => result.links.map((l) => `${L.item}${L.line(l.label)}: ${l.url}`),
  };
  const out = L.header(result);
  for (const name of L.order) {
    const lines = sections[name]();
    const heading = L.headings[name](result);
    if (heading === undefined) out.push(...lines);
    else if (lines.length > 0 || name === 'findings') out.push('', heading, ...lines);
  }
  out.push(...L.footer(result));
  return `${out.join('\n')}\n`;
}

/** One finding, numbered, every piece of evidence in full. */
function findingText(f: Finding, n: number, L: Layout): string[] {
  const pad = L.bodyIndent(n);
  const out = [L.findingTitle(f, n)];
  if (f.summary) out.push(...indent(f.summary, pad));
  for (const e of f.evidence) out.push(...L.gap, ...evidenceLines(e, L).flatMap((l) => indent(l, pad)));
  const lists: [string, readonly string[] | undefined][] = [
    ['Quick fix:', f.advice?.quickFix],
    [L.longTermHeading, f.advice?.longTerm],
  ];
  for (const [heading, items] of lists) {
    if (!items?.length) continue;
    out.push(...L.gap, `${pad}${heading}`);
    for (const item of items) out.push(...bullet(item, `${pad}  `));
  }
  if (f.links.length > 0) {
    out.push(...L.gap, `${pad}Links:`);
    for (const l of f.links) out.push(`${pad}${L.item}${L.line(l.label)}: ${l.url}`);
  }
  return out;
}

function evidenceLines(e: Evidence, L: Layout): string[] {
  switch (e.type) {
    case 'fields': {
      const rows = e.fields.map((f) => [`${L.line(f.label)}:`, L.line(f.value)]);
      return L.alignFields ? alignColumns(rows, { gap: ' ' }) : rows.map((r) => r.join(' '));
    }
    case 'text':
      return e.text.split('\n');
    case 'table':
      return [
        ...(e.title ? [L.tableTitle(e.title)] : []),
        ...alignTable(e.columns, e.rows).map((l) => `${L.tableIndent}${l}`),
      ];
    case 'code':
      return [
        ...(e.title ? [`${L.line(e.title)}:`] : []),
        ...e.text
          .replace(/\n+$/, '')
          .split('\n')
          .map((l) => `  ${l}`),
      ];
  }
}

/** A piece of evidence as plain lines, as the given layout writes it (tables aligned, code verbatim). */
export function evidenceText(e: Evidence, layout: TextLayoutName = 'file'): string[] {
  return evidenceLines(e, LAYOUTS[layout]);
}

function indent(text: string, pad: string): string[] {
  return text.split('\n').map((l) => (l.length > 0 ? `${pad}${l}` : l));
}

function bullet(text: string, pad: string): string[] {
  const [first = '', ...rest] = text.split('\n');
  return [`${pad}- ${first}`, ...rest.map((l) => `${pad}  ${l}`)];
}

/** How long the step took, for people: "1.3 s". */
export function tookText(result: Pick<StepResult, 'startedAt' | 'finishedAt'>): string {
  return humanDuration(Math.max(0, result.finishedAt.getTime() - result.startedAt.getTime()));
}

export function attachmentBytes(a: Attachment): number {
  return typeof a.content === 'string' ? Buffer.byteLength(a.content, 'utf8') : a.content.byteLength;
}
