import type { Allowed } from '../../actions/errors.ts';
import type { ChangeText } from '../../actions/types.ts';
import type { Proposal } from '../../domain/finding.ts';
import type { ActionsBlock, Block, Button, RenderedMessage } from './blocks.ts';
import { context, plain, section } from './blocks.ts';
import { proposalButton } from './buttons.ts';
import { SLACK_LIMITS } from './limits.ts';
import { escapeMrkdwn, oneLine, truncateMrkdwn, truncatePlain } from './mrkdwn.ts';

/**
 * Messages about remediation: what a click did, who may, asking again, a second person's approval,
 * a temporary change's reminder, and the follow-up of a rollout. Mentions are built here from IDs
 * that come from the configuration or Slack (never from free text).
 */

/** Action id of the "Approve" button of a request that needs a second person; the value is the request id. */
export const APPROVE_ACTION_ID = 'aegis_approve';
export const APPROVE_ACTION_PATTERN = /^aegis_approve(#\d+)?$/;

const USER_ID = /^[UW][A-Z0-9]{2,}$/;
const GROUP_ID = /^S[A-Z0-9]{2,}$/;

/** <@U…> for a Slack user ID; anything else escaped as text. */
export function userMention(id: string): string {
  return USER_ID.test(id) ? `<@${id}>` : escapeMrkdwn(id);
}

export function groupMention(id: string): string {
  return GROUP_ID.test(id) ? `<!subteam^${id}>` : escapeMrkdwn(id);
}

/** Slack shows the time in each reader's own time zone; the fallback is ISO UTC. */
export function slackDate(d: Date): string {
  return `<!date^${Math.floor(d.getTime() / 1000)}^{date_short_pretty} at {time}|${d.toISOString()}>`;
}

function message(text: string, blocks: Block[]): RenderedMessage {
  return { text: truncatePlain(oneLine(text), SLACK_LIMITS.messageText), blocks };
}

function body(text: string): string {
  return truncateMrkdwn(text, SLACK_LIMITS.sectionText, '…');
}

function changeLine(c: ChangeText): string {
  return `${escapeMrkdwn(c.what)}: *${escapeMrkdwn(c.from)}* → *${escapeMrkdwn(c.to)}*`;
}

function buttons(list: readonly (Button | undefined)[]): ActionsBlock[] {
  const elements = list.filter((b): b is Button => b !== undefined);
  return elements.length ? [{ type: 'actions', elements }] : [];
}

export function renderActionDone(o: {
  actor: string;
  approvedBy?: string;
  summary: string;
  change: ChangeText;
  reminderAt?: Date;
}): RenderedMessage {
  const notes = [o.approvedBy ? `approved by ${userMention(o.approvedBy)}` : '', 'recorded in the audit log'];
  if (o.reminderAt) notes.push(`temporary: I will remind this thread ${slackDate(o.reminderAt)}`);
  return message(`Done: ${o.summary}`, [
    section(body(`:white_check_mark: ${userMention(o.actor)} ${escapeMrkdwn(o.summary)}`)),
    context([body(notes.filter(Boolean).join(' · '))]),
  ]);
}

export function renderAlready(o: {
  by: string;
  at: Date;
  state: 'running' | 'done' | 'failed';
  what: string;
  result?: string;
}): RenderedMessage {
  const what = escapeMrkdwn(o.what);
  const result = o.result ? `: ${escapeMrkdwn(o.result)}` : '';
  const text =
    o.state === 'running'
      ? `:hourglass_flowing_sand: Already in progress: ${userMention(o.by)} started ${what} ${slackDate(o.at)}`
      : o.state === 'done'
        ? `:information_source: Already done by ${userMention(o.by)} ${slackDate(o.at)}${result}`
        : `:information_source: ${userMention(o.by)} tried this ${slackDate(o.at)}${result}`;
  return message(`Already handled: ${o.what}`, [section(body(text))]);
}

/** "only <@U1> or <!subteam^S1> may scale deployments", or that nobody is configured to. */
export function renderForbidden(o: {
  message: string;
  allowed: Allowed;
  verb: string;
  reason: string;
}): RenderedMessage {
  const who = [...o.allowed.users.map(userMention), ...o.allowed.groups.map(groupMention)];
  const list = who.length <= 1 ? (who[0] ?? '') : `${who.slice(0, -1).join(', ')} or ${who[who.length - 1]}`;
  const text =
    o.reason === 'own_request'
      ? `:no_entry: You asked for this change: another authorized person must approve it${list ? ` (${list})` : ''}. Nothing was changed.`
      : o.reason === 'not_configured' || who.length === 0
        ? `:no_entry: Nobody may ${escapeMrkdwn(o.verb)}: the configuration's authorization lists no users or groups for it. Nothing was changed.`
        : `:no_entry: Only ${list} may ${escapeMrkdwn(o.verb)}. Nothing was changed.`;
  return message(o.message, [section(body(text))]);
}

/** A refusal or a conflict; with `fresh`, the change proposed again from the live state. */
export function renderRefused(o: { message: string; fresh?: Proposal }): RenderedMessage {
  const blocks: Block[] = [section(body(`:warning: ${escapeMrkdwn(o.message)}`))];
  if (o.fresh) {
    blocks.push(section(body(`Ask again? ${changeLine(o.fresh.change)}`)));
    blocks.push(...buttons([proposalButton(o.fresh)]));
  }
  return message(o.message, blocks);
}

export function renderFailed(o: { actor: string; message: string; change: ChangeText }): RenderedMessage {
  return message(`Failed: ${o.message}`, [
    section(
      body(
        `:x: ${userMention(o.actor)} tried ${changeLine(o.change)}, and it failed:\n${escapeMrkdwn(o.message)}`,
      ),
    ),
    context(['Recorded in the audit log. Clicking the button again tries again.']),
  ]);
}

export function approveButton(
  approvalId: string,
  change: ChangeText,
  label: string,
  danger: boolean,
): Button {
  const style = danger ? 'danger' : 'primary';
  return {
    type: 'button',
    action_id: APPROVE_ACTION_ID,
    text: plain(truncatePlain(`Approve: ${oneLine(label)}`, SLACK_LIMITS.buttonText)),
    value: approvalId,
    style,
    confirm: {
      title: plain(truncatePlain(`Approve: ${oneLine(label)}`, SLACK_LIMITS.confirmTitle)),
      text: plain(truncatePlain(`${change.what}: ${change.from} → ${change.to}`, SLACK_LIMITS.confirmText)),
      confirm: plain(truncatePlain('Yes, approve', SLACK_LIMITS.confirmButton)),
      deny: plain('Cancel'),
      style,
    },
  };
}

export function renderApprovalRequest(o: {
  approvalId: string;
  requestedBy: string;
  proposal: Proposal;
  change: ChangeText;
}): RenderedMessage {
  return message(`Approval needed: ${o.change.what}: ${o.change.from} → ${o.change.to}`, [
    section(
      body(
        `:raised_hand: ${userMention(o.requestedBy)} asks to change ${changeLine(o.change)}\nAnother authorized person must approve before it runs.`,
      ),
    ),
    ...buttons([approveButton(o.approvalId, o.change, o.proposal.label, o.proposal.danger)]),
  ]);
}

export function renderApprovalPending(o: { requestedBy: string; requestedAt: Date }): RenderedMessage {
  return message('Already waiting for approval', [
    section(
      body(
        `:hourglass_flowing_sand: ${userMention(o.requestedBy)} asked for this ${slackDate(o.requestedAt)}; it is waiting for a second person.`,
      ),
    ),
  ]);
}

/** The approval message once decided: the request stays readable, the button goes. */
export function renderApprovalClosed(o: {
  requestedBy: string;
  approvedBy: string;
  change: ChangeText;
}): RenderedMessage {
  return message(`Approved: ${o.change.what}`, [
    section(
      body(
        `:ballot_box_with_check: ${userMention(o.requestedBy)} asked to change ${changeLine(o.change)}; approved by ${userMention(o.approvedBy)}.`,
      ),
    ),
  ]);
}

/** A temporary change's reminder, with the button that undoes it. */
export function renderReminder(o: { text: string; proposal: Proposal }): RenderedMessage {
  return message(o.text, [
    section(body(`:alarm_clock: ${escapeMrkdwn(o.text)}`)),
    ...buttons([proposalButton(o.proposal)]),
  ]);
}

/** `/aegis scale 5` and the like: the change, stated exactly, with its confirm-dialog button. */
export function renderProposalOffer(p: Proposal): RenderedMessage {
  return message(`${p.label}: ${p.change.what}: ${p.change.from} → ${p.change.to}`, [
    section(body(`${changeLine(p.change)}\n_${escapeMrkdwn(p.reason)}_`)),
    ...buttons([proposalButton(p)]),
  ]);
}

export function renderFollowLine(
  kind: 'progress' | 'done' | 'timed_out' | 'failed' | 'metric',
  text: string,
): RenderedMessage {
  const emoji = {
    progress: ':arrows_counterclockwise:',
    done: ':white_check_mark:',
    timed_out: ':hourglass:',
    failed: ':x:',
    metric: ':bar_chart:',
  }[kind];
  return message(text, [section(body(`${emoji} ${escapeMrkdwn(text)}`))]);
}

// ---------------------------------------------------------------------------------------------
// Paging on-call

/** The root of an incident thread started by a command that needs one (`/aegis page` in a quiet channel). */
export function renderIncidentRoot(o: { command: string; userId: string; service: string }): RenderedMessage {
  return message(`Incident thread: ${o.command}`, [
    section(
      body(
        `:rotating_light: *Incident thread* for ${escapeMrkdwn(o.service)}, started by ${userMention(o.userId)} with \`${escapeMrkdwn(oneLine(o.command))}\``,
      ),
    ),
    context(['Pages, findings and follow-ups about this incident go into this thread.']),
  ]);
}

/** Proposal buttons sharing one action_id in one block: Slack wants "#2", "#3" on the repeats. */
function numbered(list: readonly (Proposal | undefined)[], label?: (p: Proposal) => string): ActionsBlock[] {
  const elements: Button[] = [];
  for (const p of list) {
    const made = p ? proposalButton(p) : undefined;
    if (!p || !made) continue;
    // the button says what it does again ("Retry: …"); its value stays the very same proposal
    const b = label
      ? { ...made, text: plain(truncatePlain(oneLine(label(p)), SLACK_LIMITS.buttonText)) }
      : made;
    const n = elements.filter((e) => e.action_id?.replace(/#\d+$/, '') === b.action_id).length;
    elements.push(n ? { ...b, action_id: `${b.action_id}#${n + 1}` } : b);
  }
  return elements.length ? [{ type: 'actions', elements }] : [];
}

export interface PageSentView {
  readonly dedupKey: string;
  readonly at: Date;
  /** Slack user ID, or undefined for auto_page. */
  readonly actor?: string;
  readonly oncallGroup?: string;
  readonly summary?: string;
  readonly severity?: string;
  /** auto_page: why the bot paged without a click. */
  readonly auto?: string;
  readonly acknowledge?: Proposal;
  readonly resolve?: Proposal;
}

/** "Paged on-call: incident <key> (PagerDuty accepted) by <@U…> at <time>", with Acknowledge / Resolve. */
export function renderPageSent(o: PageSentView): RenderedMessage {
  const key = `\`${escapeMrkdwn(o.dedupKey)}\``;
  const who = o.actor ? ` by ${userMention(o.actor)}` : '';
  const lines = [
    o.auto
      ? `:rotating_light: *Paged automatically*: ${escapeMrkdwn(o.auto)}\nIncident ${key} (PagerDuty accepted) at ${slackDate(o.at)}`
      : `:rotating_light: *Paged on-call*: incident ${key} (PagerDuty accepted)${who} at ${slackDate(o.at)}`,
  ];
  if (o.oncallGroup) lines.push(`${groupMention(o.oncallGroup)}: you are paged about this thread.`);
  const sent = [o.severity ? `severity ${o.severity}` : '', o.summary ? `“${o.summary}”` : '']
    .filter(Boolean)
    .join(', ');
  const text = o.auto
    ? `Paged automatically: ${o.auto}`
    : `Paged on-call: incident ${o.dedupKey} (PagerDuty accepted)`;
  return message(text, [
    section(body(lines.join('\n'))),
    ...(sent ? [context([body(`Sent: ${escapeMrkdwn(sent)} · recorded in the audit log`)])] : []),
    ...numbered([o.acknowledge, o.resolve]),
  ]);
}

/** An acknowledge or resolve that PagerDuty accepted. */
export function renderPageUpdated(o: {
  event: 'acknowledge' | 'resolve';
  dedupKey: string;
  actor: string;
  at: Date;
  resolve?: Proposal;
}): RenderedMessage {
  const done = o.event === 'acknowledge' ? 'acknowledged' : 'resolved';
  const emoji = o.event === 'acknowledge' ? ':eyes:' : ':white_check_mark:';
  return message(`Incident ${o.dedupKey} ${done} in PagerDuty`, [
    section(
      body(
        `${emoji} ${userMention(o.actor)} ${done} incident \`${escapeMrkdwn(o.dedupKey)}\` in PagerDuty at ${slackDate(o.at)}`,
      ),
    ),
    ...numbered([o.resolve]),
  ]);
}

/** A page that PagerDuty did not accept: said plainly, never as sent, with a Retry of the same page. */
export function renderPageFailed(o: {
  message: string;
  actor?: string;
  retry?: Proposal;
  auto?: string;
  event?: 'trigger' | 'acknowledge' | 'resolve';
}): RenderedMessage {
  const what =
    o.event === 'acknowledge'
      ? 'Acknowledge NOT sent'
      : o.event === 'resolve'
        ? 'Resolve NOT sent'
        : 'Page NOT sent';
  const who = o.auto
    ? `automatic page (${escapeMrkdwn(o.auto)})`
    : o.actor
      ? `asked by ${userMention(o.actor)}`
      : '';
  return message(`${what}: ${o.message}`, [
    section(body(`:x: *${what}*: ${escapeMrkdwn(o.message)}${who ? `\n${who}` : ''}`)),
    context(['Nobody was paged by this attempt. Recorded in the audit log.']),
    ...numbered([o.retry], (p) => `Retry: ${p.label}`),
  ]);
}

/** The message shortcut: the message and its link, and the confirm-dialog button that pages. */
export function renderPageOffer(
  p: Proposal,
  o: { requestedBy: string; permalink?: string },
): RenderedMessage {
  const quoted = typeof p.params.message === 'string' ? p.params.message : '';
  const lines = [
    `:rotating_light: ${userMention(o.requestedBy)} wants to page on-call about ${o.permalink ? `<${o.permalink}|this message>` : 'this message'}:`,
    ...(quoted ? [`>${escapeMrkdwn(oneLine(quoted))}`] : []),
  ];
  return message(`${p.label}: ${p.change.what}`, [
    section(body(lines.join('\n'))),
    context([body(`_${escapeMrkdwn(p.reason)}_ · confirm with the button; the click pages`)]),
    ...buttons([proposalButton(p)]),
  ]);
}
