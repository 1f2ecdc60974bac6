import type { Attachment, Evidence, Field, Finding } from '../../domain/finding.ts';
import { SEVERITY_LABEL } from '../../domain/severity.ts';
import { alignTable, tableHasLongCells } from '../../lib/text-table.ts';
import type { Block, SectionBlock } from './blocks.ts';
import { context, fieldsSection, section } from './blocks.ts';
import type { FileSink } from './file-sink.ts';
import { textFile } from './file-sink.ts';
import { SLACK_LIMITS } from './limits.ts';
import {
  escapeCode,
  escapeMrkdwn,
  link,
  oneLine,
  slug,
  truncateMrkdwn,
  truncatePlain,
  truncationMarker,
} from './mrkdwn.ts';
import { SEVERITY_EMOJI } from './severity-emoji.ts';

/** How much monospace output a finding shows inline before the rest moves to a file. */
export const EVIDENCE_LIMITS = {
  /** Characters of escaped code/table inside one section (the rest of the 3000 is title and marker). */
  codeChars: 2600,
  codeLines: 40,
  previewLines: 20,
  lineChars: 300,
  tableRows: 15,
  previewRows: 10,
  cellChars: 60,
  /** A longer evidence title sends the evidence to a file, where the title is kept whole. */
  titleChars: 200,
  /** Summary shown by a finding collapsed to one block. */
  compactSummaryChars: 600,
} as const;

export interface RenderedFinding {
  readonly blocks: Block[];
  readonly files: Attachment[];
  /** Something was shortened that only the full text report carries. */
  readonly usesReport: boolean;
}

export function findingTitleLine(f: Finding): string {
  return `${SEVERITY_EMOJI[f.severity]} *${SEVERITY_LABEL[f.severity]}* · *${escapeMrkdwn(oneLine(f.title))}*`;
}

/** A finding in full: title, summary, evidence, advice and links. */
export function renderFinding(f: Finding, step: string, sink: FileSink): RenderedFinding {
  const files: Attachment[] = [];
  let usesReport = false;
  const reportMarker = truncationMarker(sink.reportName);
  const shorten = (text: string, max: number): string => {
    if (text.length <= max) return text;
    usesReport = true;
    return truncateMrkdwn(text, max, reportMarker);
  };

  const texts = f.evidence.flatMap((e) => (e.type === 'text' ? [escapeMrkdwn(e.text)] : []));
  const mainText = shorten(
    [findingTitleLine(f), escapeMrkdwn(f.summary), ...texts].join('\n'),
    SLACK_LIMITS.sectionText,
  );

  const fieldTexts = f.evidence
    .flatMap((e): readonly Field[] => (e.type === 'fields' ? e.fields : []))
    .map((field) =>
      shorten(
        `*${escapeMrkdwn(oneLine(field.label))}*\n${escapeMrkdwn(field.value)}`,
        SLACK_LIMITS.fieldText,
      ),
    );
  const chunks: string[][] = [];
  for (let i = 0; i < fieldTexts.length; i += SLACK_LIMITS.sectionFields) {
    chunks.push(fieldTexts.slice(i, i + SLACK_LIMITS.sectionFields));
  }

  const blocks: Block[] = [section(mainText, chunks[0])];
  for (const chunk of chunks.slice(1)) blocks.push(fieldsSection(chunk));

  for (const e of f.evidence) {
    if (e.type !== 'table' && e.type !== 'code') continue;
    const rendered = monospaceEvidence(e, f, step, sink);
    blocks.push(section(rendered.text));
    if (rendered.file) files.push(rendered.file);
  }

  const notes = adviceAndLinks(f).map((t) => shorten(t, SLACK_LIMITS.contextText));
  if (notes.length > 0) blocks.push(context(notes));
  return { blocks, files, usesReport };
}

/** A finding in one block, for when the message has no room for its evidence; the report has it all. */
export function renderFindingCompact(f: Finding, sink: FileSink): SectionBlock {
  const summary = truncateMrkdwn(escapeMrkdwn(f.summary), EVIDENCE_LIMITS.compactSummaryChars, '…');
  const pointer = `_evidence and advice in ${escapeMrkdwn(sink.reportName)}_`;
  const text = [findingTitleLine(f), summary, pointer].join('\n');
  return section(truncateMrkdwn(text, SLACK_LIMITS.sectionText, truncationMarker(sink.reportName)));
}

function adviceAndLinks(f: Finding): string[] {
  const notes: string[] = [];
  const items = (list: readonly string[]): string => list.map((i) => escapeMrkdwn(oneLine(i))).join(' · ');
  if (f.advice && f.advice.quickFix.length > 0) notes.push(`*Quick fix:* ${items(f.advice.quickFix)}`);
  if (f.advice && f.advice.longTerm.length > 0) notes.push(`*Long-term:* ${items(f.advice.longTerm)}`);
  if (f.links.length > 0) notes.push(`:link: ${f.links.map((l) => link(l.url, l.label)).join(' · ')}`);
  return notes;
}

type Monospace = Extract<Evidence, { type: 'table' | 'code' }>;

function codeBlock(title: string | undefined, lines: readonly string[], tail?: string): string {
  const head = title ? `*${escapeMrkdwn(oneLine(title))}*\n` : '';
  return `${head}\`\`\`\n${escapeCode(lines.join('\n'))}\n\`\`\`${tail ? `\n${tail}` : ''}`;
}

/** Escaped lines, each at most lineChars, as many as fit in codeChars. */
function previewLines(lines: readonly string[], maxLines: number): string[] {
  const out: string[] = [];
  let used = 0;
  for (const line of lines.slice(0, maxLines)) {
    const capped =
      line.length > EVIDENCE_LIMITS.lineChars ? `${line.slice(0, EVIDENCE_LIMITS.lineChars - 1)}…` : line;
    const cost = escapeCode(capped).length + 1;
    if (used + cost > EVIDENCE_LIMITS.codeChars) break;
    out.push(capped);
    used += cost;
  }
  return out;
}

/**
 * A table or code evidence as one section: inline when it is short; otherwise a preview, a marker,
 * and the full output as a text file.
 */
function monospaceEvidence(
  e: Monospace,
  f: Finding,
  step: string,
  sink: FileSink,
): { text: string; file?: Attachment } {
  const full = e.type === 'table' ? alignTable(e.columns, e.rows) : e.text.replace(/\n$/, '').split('\n');
  const fitsInline =
    e.type === 'table'
      ? e.rows.length <= EVIDENCE_LIMITS.tableRows &&
        !tableHasLongCells(e.columns, e.rows, EVIDENCE_LIMITS.cellChars)
      : full.length <= EVIDENCE_LIMITS.codeLines;
  const shortTitle = (e.title ?? '').length <= EVIDENCE_LIMITS.titleChars;
  if (fitsInline && shortTitle && escapeCode(full.join('\n')).length <= EVIDENCE_LIMITS.codeChars) {
    return { text: codeBlock(e.title, full) };
  }

  const stemSource = e.title ?? f.id;
  const stem = slug(stemSource).startsWith(slug(step)) ? stemSource : `${step}-${stemSource}`;
  const filename = sink.reserve(stem);
  const fileTitle = e.title ?? f.title;
  const file = textFile(filename, fileTitle, `${e.title ? `${e.title}\n\n` : ''}${full.join('\n')}\n`);

  let preview: string[];
  let shown: string;
  if (e.type === 'table') {
    const candidate = alignTable(e.columns, e.rows.slice(0, EVIDENCE_LIMITS.previewRows), {
      maxCellWidth: EVIDENCE_LIMITS.cellChars,
    });
    preview = previewLines(candidate, candidate.length);
    const rowsShown = Math.max(0, preview.length - 2);
    shown =
      rowsShown < e.rows.length
        ? `_showing ${rowsShown} of ${e.rows.length} rows_ `
        : '_long cells shortened_ ';
  } else {
    preview = previewLines(full, EVIDENCE_LIMITS.previewLines);
    shown = `_showing ${preview.length} of ${full.length} lines_ `;
  }
  const title = e.title === undefined ? undefined : truncatePlain(e.title, EVIDENCE_LIMITS.titleChars);
  const text = codeBlock(title, preview, `${shown}${truncationMarker(filename)}`);
  return { text: truncateMrkdwn(text, SLACK_LIMITS.sectionText, truncationMarker(filename)), file };
}
