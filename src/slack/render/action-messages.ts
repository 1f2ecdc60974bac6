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
