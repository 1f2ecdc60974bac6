import type {
  ActionKind,
  Attachment,
  EscalationAction,
  Finding,
  Proposal,
  StepResult,
} from '../../domain/finding.ts';
import { SEVERITY_LABEL, type Severity } from '../../domain/severity.ts';
import { formatUtc } from '../../lib/format.ts';
import { renderTextReport, tookText } from '../../lib/text-report.ts';
import type { Block, Button, RenderedMessage } from './blocks.ts';
import { context, divider, header, section } from './blocks.ts';
import { nextStepButton, packButtons, proposalButton } from './buttons.ts';
import { createFileSink, type FileSink, textFile } from './file-sink.ts';
import { renderFinding, renderFindingCompact } from './finding-blocks.ts';
import { messageProblems, SLACK_LIMITS } from './limits.ts';
import { escapeMrkdwn, link, oneLine, truncateMrkdwn, truncatePlain, truncationMarker } from './mrkdwn.ts';
import { SEVERITY_EMOJI } from './severity-emoji.ts';

export interface RenderedStepResult extends RenderedMessage {
  /** Files for the thread: the step's own attachments (charts go here, never inline), then overflow. */
  readonly files: Attachment[];
}

export interface StepRenderOptions {
  /** Block budget, at most Slack's 50 (and at least MIN_BLOCKS). */
  readonly maxBlocks?: number;
}

/** The smallest budget that still fits header, headline, escalation, buttons, parts, footer and a summary. */
export const MIN_BLOCKS = 10;
/** Final actions blocks (25 buttons each); the escalation gets one more of its own. */
const MAX_ACTIONS_BLOCKS = 2;

/** Which proposals are the buttons of a fired escalation. */
const ESCALATION_PROPOSALS: Record<EscalationAction, readonly ActionKind[]> = {
  page: ['page'],
  page_immediately: ['page'],
  scale_and_page: ['scale', 'page'],
  cancel_query: ['cancel_query', 'terminate_session'],
};

/**
 * A step's result as a Slack message: header, headline, fired escalations with their buttons,
 * findings most urgent first, unavailable parts, next-step and proposal buttons, timing.
 * Always inside Slack's limits: what does not fit is shortened with a marker and carried whole
 * by a file in `files` (an evidence file, or the full text report).
 */
export function renderStepResult(result: StepResult, opts: StepRenderOptions = {}): RenderedStepResult {
  return ensureSendable(layoutStepResult(result, opts), result, blockBudget(opts));
}

/** The budget renderStepResult works to: opts.maxBlocks clamped to [MIN_BLOCKS, 50]. */
export function blockBudget(opts: StepRenderOptions = {}): number {
  const asked = Math.floor(opts.maxBlocks ?? SLACK_LIMITS.blocksPerMessage);
  return Math.max(MIN_BLOCKS, Math.min(SLACK_LIMITS.blocksPerMessage, Number.isNaN(asked) ? 50 : asked));
}

/** renderStepResult without the last guard: tests use it to prove the layout itself keeps every limit. */
export function layoutStepResult(result: StepResult, opts: StepRenderOptions = {}): RenderedStepResult {
  const maxBlocks = blockBudget(opts);
  const sink = createFileSink(result.step, result.attachments);
  const marker = truncationMarker(sink.reportName);
  let usesReport = false;
  const shorten = (text: string, max: number): string => {
    if (text.length <= max) return text;
    usesReport = true;
    return truncateMrkdwn(text, max, marker);
  };

  const headline = escapeMrkdwn(oneLine(result.headline)) || SEVERITY_LABEL[result.severity];
  const text = shorten(headline, SLACK_LIMITS.messageText);
  const top: Block[] = [
    header(truncatePlain(oneLine(`${result.step} · ${result.service}`), SLACK_LIMITS.headerText)),
    section(boldLine(SEVERITY_EMOJI[result.severity], headline, marker, () => (usesReport = true))),
  ];

  // Escalations, with the proposals that answer them as their buttons.
  const wanted = new Set(result.escalations.flatMap((e) => ESCALATION_PROPOSALS[e.action]));
  const escalationProposals = result.proposals.filter((p) => wanted.has(p.action));
  const otherProposals = result.proposals.filter((p) => !wanted.has(p.action));
  const notes: string[] = [];
  const escalationBlocks: Block[] = [];
  if (result.escalations.length > 0) {
    const lines = result.escalations.map(
      (e) =>
        `:rotating_light: *${escapeMrkdwn(oneLine(e.prompt))}* (observed ${escapeMrkdwn(oneLine(e.observed))})`,
    );
    escalationBlocks.push(section(shorten(lines.join('\n'), SLACK_LIMITS.sectionText)));
  }
  const escalationButtons = buttonsFor(escalationProposals, result.finishedAt, notes);
  const escalationPack = packButtons(escalationButtons, 1);
  escalationBlocks.push(...escalationPack.blocks);

  const stepButtons: Button[] = [];
  for (const next of result.nextSteps) {
    const button = nextStepButton(next, result.service);
    if (button) stepButtons.push(button);
    else
      notes.push(`${escapeMrkdwn(oneLine(next.label))}: run \`/aegis ${escapeMrkdwn(next.step)}\` yourself`);
  }
  const finalPack = packButtons(
    [...escalationPack.overflow, ...stepButtons, ...buttonsFor(otherProposals, result.finishedAt, notes)],
    MAX_ACTIONS_BLOCKS,
  );
  if (finalPack.overflow.length > 0) {
    usesReport = true;
    notes.push(
      `${finalPack.overflow.length} more actions are not shown as buttons: see ${escapeMrkdwn(sink.reportName)}`,
    );
  }

  const unavailable = result.parts.filter((p) => p.status === 'unavailable');
  const partsBlocks: Block[] = [];
  if (unavailable.length > 0) {
    const lines = unavailable.map(
      (p) =>
        `:warning: *${escapeMrkdwn(oneLine(p.name))}* unavailable: ${escapeMrkdwn(oneLine(p.reason ?? 'no reason given'))}`,
    );
    partsBlocks.push(context([shorten(lines.join('\n'), SLACK_LIMITS.contextText)]));
  }

  // What is left of the budget goes to findings; dividers only when there is room to spare.
  const fixed = top.length + escalationBlocks.length + finalPack.blocks.length + partsBlocks.length + 1;
  const hasFindings = result.findings.length > 0;
  const dividerCount = (hasFindings ? 1 : 0) + (finalPack.blocks.length > 0 ? 1 : 0);
  const useDividers = maxBlocks - fixed - dividerCount >= 3;
  const region = maxBlocks - fixed - (useDividers ? dividerCount : 0);

  const placed = placeFindings(result, region, sink);
  if (placed.usesReport) usesReport = true;

  const blocks: Block[] = [...top, ...escalationBlocks];
  if (hasFindings && useDividers) blocks.push(divider());
  blocks.push(...placed.blocks, ...partsBlocks);
  if (finalPack.blocks.length > 0 && useDividers) blocks.push(divider());
  blocks.push(...finalPack.blocks);

  // Footer: timing, links, notes, then the files list (which must know whether the report goes too).
  const footer: string[] = [
    `:stopwatch: took ${tookText(result)} · finished ${slackDate(result.finishedAt)}`,
  ];
  if (result.links.length > 0) {
    footer.push(
      shorten(
        `:link: ${result.links.map((l) => link(l.url, l.label)).join(' · ')}`,
        SLACK_LIMITS.contextText,
      ),
    );
  }
  if (notes.length > 0) footer.push(shorten(notes.join('\n'), SLACK_LIMITS.contextText));
  const files = [...result.attachments, ...placed.files];
  if (usesReport)
    files.push(textFile(sink.reportName, `${result.step} report (full)`, renderTextReport(result)));
  if (files.length > 0) {
    const names = files.map((f) => f.filename).join(', ');
    const count = files.length === 1 ? '1 file' : `${files.length} files`;
    footer.push(truncatePlain(`:paperclip: ${count} in the thread: ${escapeMrkdwn(names)}`, 500));
  }
  blocks.push(context(footer));

  return { text, blocks, files };
}

/**
 * The last guard: a message that would break a Slack limit (a bug in a renderer) is replaced by a
 * short one that points to the full text report, so Slack never rejects what render/ produced.
 */
export function ensureSendable(
  rendered: RenderedStepResult,
  result: StepResult,
  maxBlocks: number = SLACK_LIMITS.blocksPerMessage,
): RenderedStepResult {
  if (messageProblems(rendered, maxBlocks).length === 0) return rendered;
  const sink = createFileSink(result.step, result.attachments);
  const marker = truncationMarker(sink.reportName);
  const headline = escapeMrkdwn(oneLine(result.headline)) || SEVERITY_LABEL[result.severity];
  return {
    text: truncateMrkdwn(headline, SLACK_LIMITS.messageText, '…'),
    blocks: [
      section(boldLine(SEVERITY_EMOJI[result.severity], headline, marker, () => {})),
      section(
        `:warning: This report could not be laid out in Slack; the full report is in the thread as ${escapeMrkdwn(sink.reportName)}.`,
      ),
      context([`:stopwatch: took ${tookText(result)} · finished ${slackDate(result.finishedAt)}`]),
    ],
    files: [
      ...result.attachments,
      textFile(sink.reportName, `${result.step} report (full)`, renderTextReport(result)),
    ],
  };
}

/** "<emoji> *<text>*", shortened so the bold survives and the marker follows. */
function boldLine(emoji: string, escaped: string, marker: string, shortened: () => void): string {
  const line = `${emoji} *${escaped}*`;
  if (line.length <= SLACK_LIMITS.sectionText) return line;
  shortened();
  const room = SLACK_LIMITS.sectionText - emoji.length - marker.length - 8;
  const head = truncateMrkdwn(escaped, room, '').replace(/\n$/, '');
  return `${emoji} *${head}…*\n${marker}`;
}

/** The report's proposals as buttons, offered when the report was finished. */
function buttonsFor(proposals: readonly Proposal[], offeredAt: Date, notes: string[]): Button[] {
  const buttons: Button[] = [];
  for (const p of proposals) {
    const button = proposalButton(p, offeredAt);
    if (button) buttons.push(button);
    else
      notes.push(`${escapeMrkdwn(oneLine(p.label))} is too large for a button: use \`/aegis ${p.action}\``);
  }
  return buttons;
}

/** Slack shows the date in each reader's time zone; the fallback is UTC. */
function slackDate(date: Date): string {
  return `<!date^${Math.floor(date.getTime() / 1000)}^{date_short_pretty} {time_secs}|${formatUtc(date)}>`;
}

/**
 * Findings in rank order, each in full if it fits, else in one block; when even that does not fit,
 * the rest collapse into one summary section (one block is always kept for it).
 */
function placeFindings(
  result: StepResult,
  region: number,
  sink: FileSink,
): { blocks: Block[]; files: Attachment[]; usesReport: boolean } {
  const blocks: Block[] = [];
  const files: Attachment[] = [];
  let usesReport = false;
  let shown = 0;
  const findings = result.findings;
  for (const [i, f] of findings.entries()) {
    const room = region - blocks.length - (i < findings.length - 1 ? 1 : 0);
    const full = renderFinding(f, result.step, sink);
    if (full.blocks.length <= room) {
      blocks.push(...full.blocks);
      files.push(...full.files);
      if (full.usesReport) usesReport = true;
    } else if (room >= 1) {
      blocks.push(renderFindingCompact(f, sink));
      usesReport = true;
    } else break;
    shown += 1;
  }
  const rest = findings.slice(shown);
  if (rest.length > 0) {
    blocks.push(section(moreFindingsText(rest, sink.reportName)));
    usesReport = true;
  }
  return { blocks, files, usesReport };
}

function moreFindingsText(rest: readonly Finding[], reportName: string): string {
  const counts = new Map<Severity, number>();
  for (const f of rest) counts.set(f.severity, (counts.get(f.severity) ?? 0) + 1);
  const tally = [...counts]
    .map(([s, n]) => `${SEVERITY_EMOJI[s]} ${n} ${SEVERITY_LABEL[s].toLowerCase()}`)
    .join(' · ');
  const lines = [
    `*+ ${rest.length} more ${rest.length === 1 ? 'finding' : 'findings'}*, see the attached report (${escapeMrkdwn(reportName)})`,
    tally,
  ];
  let used = lines.join('\n').length;
  const budget = SLACK_LIMITS.sectionText - 40;
  let listed = 0;
  for (const f of rest) {
    const line = `• ${SEVERITY_EMOJI[f.severity]} ${escapeMrkdwn(truncatePlain(oneLine(f.title), 120))}`;
    if (used + line.length + 1 > budget) break;
    lines.push(line);
    used += line.length + 1;
    listed += 1;
  }
  if (listed < rest.length) lines.push(`… and ${rest.length - listed} more`);
  return lines.join('\n');
}
