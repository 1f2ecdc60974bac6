import type { NextStep, Proposal } from '../../domain/finding.ts';
import type { ActionsBlock, Button } from './blocks.ts';
import { plain } from './blocks.ts';
import { SLACK_LIMITS } from './limits.ts';
import { oneLine, truncatePlain } from './mrkdwn.ts';

/**
 * Button conventions, shared with the handlers in slack/ that receive the clicks:
 *
 * - a next runbook step:  action_id `aegis_step:<step>`, value JSON `{"step","args","service"}`
 * - a proposal (action):  action_id `aegis_action:<action kind>`, value JSON of the Proposal
 *   (`{"action","label","change","service","params","reason","danger"}`). When the full proposal
 *   would exceed Slack's 2000-character value limit, `reason` is left out of the value.
 *
 * Slack wants action_ids unique within a block, so a repeated one gets a suffix: `aegis_step:cpu#2`.
 * Match with STEP_ACTION_ID / PROPOSAL_ACTION_ID (or parseActionId), not by equality.
 *
 * The click is what is trusted, not the message: handlers validate the value again.
 */
export const STEP_ACTION_PREFIX = 'aegis_step:';
export const PROPOSAL_ACTION_PREFIX = 'aegis_action:';
/** Matches every step button's action_id (for `app.action(...)`). */
export const STEP_ACTION_ID = /^aegis_step:/;
/** Matches every proposal button's action_id. */
export const PROPOSAL_ACTION_ID = /^aegis_action:/;

export interface StepButtonValue {
  readonly step: string;
  readonly args: readonly string[];
  readonly service: string;
}

/** `aegis_step:<step>`; within one actions block a repeat carries a "#n" suffix (see packButtons). */
export function stepActionId(step: string): string {
  return `${STEP_ACTION_PREFIX}${step}`;
}

export function proposalActionId(action: string): string {
  return `${PROPOSAL_ACTION_PREFIX}${action}`;
}

/** The button for a next step, or undefined when its id or value cannot fit Slack's limits. */
export function nextStepButton(next: NextStep, service: string): Button | undefined {
  const actionId = stepActionId(next.step);
  const value: StepButtonValue = { step: next.step, args: next.args, service };
  const json = JSON.stringify(value);
  if (actionId.length > SLACK_LIMITS.actionId || json.length > SLACK_LIMITS.buttonValue) return undefined;
  return {
    type: 'button',
    action_id: actionId,
    text: plain(truncatePlain(oneLine(next.label) || `/aegis ${next.step}`, SLACK_LIMITS.buttonText)),
    value: json,
  };
}

/**
 * The button value for a proposal, stamped with when it is offered (`offeredAt`, the proposal's own
 * when it has one): the whole proposal, or without `reason` when that is too long.
 */
export function proposalValue(p: Proposal, offeredAt: Date = new Date()): string | undefined {
  const stamped: Proposal = { ...p, offeredAt: p.offeredAt ?? offeredAt.toISOString() };
  const full = JSON.stringify(stamped);
  if (full.length <= SLACK_LIMITS.buttonValue) return full;
  const { reason: _reason, ...rest } = stamped;
  const compact = JSON.stringify(rest);
  return compact.length <= SLACK_LIMITS.buttonValue ? compact : undefined;
}

/** "<what>: <from> → <to>", then the reason, within the confirm dialog's 300 characters. */
export function confirmText(p: Proposal): string {
  const change = `${p.change.what}: ${p.change.from} → ${p.change.to}`;
  const max = SLACK_LIMITS.confirmText;
  if (change.length >= max - 10) return truncatePlain(change, max);
  return truncatePlain(`${change}\n${p.reason}`, max);
}

/**
 * The button for a proposal, with a confirm dialog that states exactly what changes, or undefined
 * when the proposal cannot be carried in a button at all.
 */
export function proposalButton(p: Proposal, offeredAt: Date = new Date()): Button | undefined {
  const actionId = proposalActionId(p.action);
  const value = proposalValue(p, offeredAt);
  if (value === undefined || actionId.length > SLACK_LIMITS.actionId) return undefined;
  const style = p.danger ? 'danger' : 'primary';
  const label = oneLine(p.label) || p.action;
  return {
    type: 'button',
    action_id: actionId,
    text: plain(truncatePlain(label, SLACK_LIMITS.buttonText)),
    value,
    style,
    confirm: {
      title: plain(truncatePlain(label, SLACK_LIMITS.confirmTitle)),
      text: plain(confirmText(p)),
      confirm: plain(truncatePlain(`Yes, ${label}`, SLACK_LIMITS.confirmButton)),
      deny: plain('Cancel'),
      style,
    },
  };
}

/**
 * Packs buttons into at most `maxBlocks` actions blocks, 25 to a block. Slack rejects two equal
 * action_ids in one block, so a repeat gets "#2", "#3", ... appended (e.g. two CPU-profile buttons
 * for two pods: `aegis_step:cpu` and `aegis_step:cpu#2`). Buttons that do not fit come back in `overflow`.
 */
export function packButtons(
  buttons: readonly Button[],
  maxBlocks: number,
): { blocks: ActionsBlock[]; overflow: Button[] } {
  const blocks: ActionsBlock[] = [];
  const limit = maxBlocks * SLACK_LIMITS.actionsElements;
  for (let i = 0; i < Math.min(buttons.length, limit); i += SLACK_LIMITS.actionsElements) {
    const seen = new Map<string, number>();
    const elements = buttons.slice(i, i + SLACK_LIMITS.actionsElements).map((b) => {
      const id = b.action_id ?? '';
      const n = (seen.get(id) ?? 0) + 1;
      seen.set(id, n);
      return n === 1 ? b : { ...b, action_id: `${id}#${n}` };
    });
    blocks.push({ type: 'actions', elements });
  }
  return { blocks, overflow: buttons.slice(limit) };
}

/**
 * What a clicked button's action_id names: a step or an action kind (a "#n" repeat suffix removed),
 * or undefined for an action_id that is not ours. The value is what the handler must validate.
 */
export function parseActionId(actionId: string): { kind: 'step' | 'action'; name: string } | undefined {
  const bare = actionId.replace(/#\d+$/, '');
  if (bare.startsWith(STEP_ACTION_PREFIX) && bare.length > STEP_ACTION_PREFIX.length) {
    return { kind: 'step', name: bare.slice(STEP_ACTION_PREFIX.length) };
  }
  if (bare.startsWith(PROPOSAL_ACTION_PREFIX) && bare.length > PROPOSAL_ACTION_PREFIX.length) {
    return { kind: 'action', name: bare.slice(PROPOSAL_ACTION_PREFIX.length) };
  }
  return undefined;
}
