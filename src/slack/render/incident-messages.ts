import type { Finding, Proposal } from '../../domain/finding.ts';
import type { IncidentView, ResolvedMetric } from '../../incidents/model.ts';
import { humanDuration } from '../../lib/format.ts';
import { alignTable } from '../../lib/text-table.ts';
import type { OnsetEvidence } from '../../store/types.ts';
import { slackDate, userMention } from './action-messages.ts';
import type { ActionsBlock, Block, Button, RenderedMessage } from './blocks.ts';
import { context, header, plain, section } from './blocks.ts';
import { proposalButton } from './buttons.ts';
import { findingTitleLine } from './finding-blocks.ts';
import { SLACK_LIMITS } from './limits.ts';
import { escapeCode, escapeMrkdwn, link, oneLine, truncateMrkdwn, truncatePlain } from './mrkdwn.ts';

/**
 * The messages of an incident thread started by an alert: its root (updated in place as the group
 * changes and resolves), the resolved update, onset evidence and its comparison, and silences.
 */

/** "Compare with onset": the value names the profile step; the thread names the incident. */
export const COMPARE_ONSET_ACTION_ID = 'aegis_incident:compare_onset';
const FIRING_SHOWN = 10;

function message(text: string, blocks: Block[]): RenderedMessage {
  return { text: truncatePlain(oneLine(text), SLACK_LIMITS.messageText), blocks };
}

function body(text: string): string {
  return truncateMrkdwn(text, SLACK_LIMITS.sectionText, '…');
}

function labelText(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `\`${escapeCode(k)}=${escapeCode(v)}\``)
    .join(' ');
}

function buttons(list: readonly (Proposal | undefined)[]): ActionsBlock[] {
  const elements: Button[] = [];
  for (const p of list) {
    const b = p ? proposalButton(p) : undefined;
    if (!b) continue;
    const n = elements.filter((e) => e.action_id?.replace(/#\d+$/, '') === b.action_id).length;
    elements.push(n ? { ...b, action_id: `${b.action_id}#${n + 1}` } : b);
  }
  return elements.length ? [{ type: 'actions', elements }] : [];
}

/** The root message of an alert group's incident thread. */
export function renderAlertIncidentRoot(v: IncidentView): RenderedMessage {
  const names = v.alertNames.join(', ');
  const resolved = v.status === 'resolved';
  const title = `${resolved ? 'Resolved' : 'Firing'}: ${names} on ${v.service}`;
  const blocks: Block[] = [
    header(truncatePlain(`${resolved ? '✅' : '🚨'} ${title}`, SLACK_LIMITS.headerText)),
  ];
  if (v.demo) {
    blocks.push(
      context([
        ':clapper: *Demo*: a recorded Alertmanager notification replayed by the local console, not a live alert',
      ]),
    );
  }
  const lines: string[] = [];
  if (v.summary) lines.push(`*${escapeMrkdwn(oneLine(v.summary))}*`);
  if (v.description) lines.push(escapeMrkdwn(v.description));
  if (lines.length) blocks.push(section(body(lines.join('\n'))));
  const when =
    resolved && v.resolvedAt
      ? `Started ${slackDate(v.startedAt)} · resolved ${slackDate(v.resolvedAt)} · lasted *${humanDuration(Math.max(0, v.resolvedAt.getTime() - v.startedAt.getTime()))}*`
      : `Started ${slackDate(v.startedAt)} · last seen ${slackDate(v.lastSeen)}`;
  const facts = [
    when,
    `Labels: ${labelText(v.commonLabels) || '(none in common)'}`,
    resolved
      ? `All alerts resolved${v.resolvedCount ? ` (${v.resolvedCount})` : ''}`
      : `Firing now: *${v.firing.length}*${v.resolvedCount ? ` · resolved: ${v.resolvedCount}` : ''}${v.truncated ? ` · ${v.truncated} more not sent by Alertmanager` : ''}`,
  ];
  blocks.push(section(body(facts.join('\n'))));
  if (!resolved && v.firing.length > 0) {
    const shown = v.firing.slice(0, FIRING_SHOWN).map((a) => {
      const extra = labelText(a.labels);
      return `• ${escapeMrkdwn(a.name)}${extra ? ` ${extra}` : ''} since ${slackDate(a.startsAt)}${a.summary ? `: ${escapeMrkdwn(oneLine(a.summary))}` : ''}`;
    });
    if (v.firing.length > FIRING_SHOWN) shown.push(`…and ${v.firing.length - FIRING_SHOWN} more`);
    blocks.push(section(body(shown.join('\n'))));
  }
  const links = [
    v.generatorUrl ? link(v.generatorUrl, 'Alert in Prometheus') : '',
    v.runbookUrl ? link(v.runbookUrl, 'Runbook') : '',
  ].filter(Boolean);
  const notes = [
    ...(links.length ? [links.join(' · ')] : []),
    v.steps.length ? `In the thread: ${v.steps.map((s) => `\`/aegis ${escapeCode(s)}\``).join(', ')}` : '',
    v.silence
      ? `:mute: Silenced until ${slackDate(v.silence.endsAt)} by ${escapeMrkdwn(v.silence.createdBy)} (silence \`${escapeCode(v.silence.id)}\`)`
      : '',
  ].filter(Boolean);
  if (notes.length) blocks.push(context(notes.map(body)));
  blocks.push(...buttons(v.silence ? [v.expireOffer] : v.silenceOffers));
  return message(title, blocks);
}

function metricValue(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return 'no data';
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 0.001 || abs >= 1e6)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/** The resolved update in the thread: how long it lasted, and the alert's metric before, at worst and now. */
export function renderAlertResolved(v: IncidentView, metric: ResolvedMetric | undefined): RenderedMessage {
  const lasted =
    v.resolvedAt !== undefined
      ? humanDuration(Math.max(0, v.resolvedAt.getTime() - v.startedAt.getTime()))
      : 'unknown';
  const lines = [`:white_check_mark: *Resolved*: ${escapeMrkdwn(v.alertNames.join(', '))} after *${lasted}*`];
  if (metric && (metric.before !== undefined || metric.worst !== undefined || metric.now !== undefined)) {
    lines.push(
      `\`${escapeCode(oneLine(metric.expr))}\``,
      `Before: *${metricValue(metric.before)}* · at worst: *${metricValue(metric.worst)}*${metric.worstAt ? ` (${slackDate(metric.worstAt)})` : ''} · now: *${metricValue(metric.now)}*`,
    );
  } else if (metric) {
    lines.push(`The alert's metric could not be read: \`${escapeCode(oneLine(metric.expr))}\``);
  }
  return message(`Resolved: ${v.alertNames.join(', ')} after ${lasted}`, [section(body(lines.join('\n')))]);
}

/** Onset evidence kept, with the button that compares it with a capture made now. */
export function renderOnsetKept(
  o: { step: string; target?: string; capturedAt: Date },
  service: string,
): RenderedMessage {
  const from = o.target ? ` of pod \`${escapeCode(o.target)}\`` : '';
  const button: Button = {
    type: 'button',
    action_id: COMPARE_ONSET_ACTION_ID,
    text: plain('Compare with onset'),
    value: JSON.stringify({ step: o.step, service }),
  };
  return message(`Onset evidence kept: ${o.step} profile`, [
    section(
      body(
        `:pushpin: Onset evidence kept: the *${escapeMrkdwn(o.step)}* profile${from} captured ${slackDate(o.capturedAt)}, when the alert arrived. Later, compare it with a capture made then.`,
      ),
    ),
    { type: 'actions', elements: [button] },
  ]);
}

function tableBlock(title: string, t: OnsetEvidence['table']): string {
  const lines = alignTable(t.columns, t.rows, { maxCellWidth: 60 });
  return `*${escapeMrkdwn(title)}*\n\`\`\`\n${escapeCode(lines.join('\n'))}\n\`\`\``;
}

/** The onset table and the table captured now, one after the other. */
export function renderOnsetComparison(o: {
  onset: OnsetEvidence;
  now: OnsetEvidence | undefined;
  actor: string;
  /** compareWithBase's finding: the onset's raw profile against the one captured now. */
  finding?: Finding;
  /** Why there is no diff, or that the fresh profile is of another pod. */
  note?: string;
}): RenderedMessage {
  const blocks: Block[] = [
    section(
      body(
        `:mag: ${userMention(o.actor)} compared the *${escapeMrkdwn(o.onset.step)}* profile at onset with one captured now`,
      ),
    ),
  ];
  if (o.finding) {
    const f = o.finding;
    blocks.push(section(body(`${findingTitleLine(f)}\n${escapeMrkdwn(f.summary)}`)));
    for (const e of f.evidence) {
      if (e.type === 'table') blocks.push(section(body(tableBlock(e.title ?? 'Diff', e))));
    }
  }
  if (o.note) blocks.push(context([truncateMrkdwn(escapeMrkdwn(o.note), SLACK_LIMITS.contextText, '…')]));
  blocks.push(
    section(
      body(
        tableBlock(
          `At onset (${o.onset.capturedAt.toISOString()})${o.onset.target ? ` · ${o.onset.target}` : ''}`,
          o.onset.table,
        ),
      ),
    ),
    section(
      body(
        o.now
          ? tableBlock(
              `Now (${o.now.capturedAt.toISOString()})${o.now.target ? ` · ${o.now.target}` : ''}`,
              o.now.table,
            )
          : '*Now*: the capture gave no table (the profile was unavailable: see the step report).',
      ),
    ),
  );
  return message(
    o.finding
      ? `${o.onset.step} profile since onset: ${oneLine(o.finding.title)}`
      : `${o.onset.step} profile: onset and now`,
    blocks,
  );
}

/** A silence made from the thread, with its "Expire silence" button. */
export function renderSilenceCreated(o: {
  id: string;
  endsAt: Date;
  actor: string;
  matchers: readonly { name: string; value: string }[];
  expire: Proposal;
}): RenderedMessage {
  const matchers = o.matchers.map((m) => `\`${escapeCode(m.name)}="${escapeCode(m.value)}"\``).join(' ');
  return message(`Silenced until ${o.endsAt.toISOString()}`, [
    section(
      body(
        `:mute: ${userMention(o.actor)} silenced this alert group in Alertmanager until ${slackDate(o.endsAt)}\nMatchers: ${matchers}\nSilence \`${escapeCode(o.id)}\` · recorded in the audit log`,
      ),
    ),
    ...buttons([o.expire]),
  ]);
}

export function renderSilenceExpired(o: { id: string; actor: string; at: Date }): RenderedMessage {
  return message('Silence expired', [
    section(
      body(
        `:loud_sound: ${userMention(o.actor)} expired silence \`${escapeCode(o.id)}\` at ${slackDate(o.at)}: Alertmanager notifies about this group again`,
      ),
    ),
  ]);
}

export function renderSilenceFailed(o: {
  message: string;
  actor: string;
  retry?: Proposal;
}): RenderedMessage {
  return message(`Silence not made: ${o.message}`, [
    section(
      body(`:x: The silence was not changed (asked by ${userMention(o.actor)}): ${escapeMrkdwn(o.message)}`),
    ),
    ...buttons([o.retry]),
  ]);
}

export function renderIncidentNote(text: string): RenderedMessage {
  return message(text, [section(body(escapeMrkdwn(text)))]);
}
