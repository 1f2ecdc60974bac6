import { createHash } from 'node:crypto';

/** What identifies one click on one button of one message. */
export interface ClickIdentity {
  readonly channel: string;
  /** ts of the message that carries the button. */
  readonly messageTs: string;
  readonly actionId: string;
  /** The button's value as Slack returned it. */
  readonly value: string;
}

/**
 * The once-only key of a click: the same button on the same message gives the same key, whoever clicks,
 * however often, whichever replica receives it, and when Slack retries. Who clicked is left out on
 * purpose: two people clicking the same button make one change.
 */
export function onceKey(click: ClickIdentity): string {
  const h = createHash('sha256');
  for (const part of [click.channel, click.messageTs, click.actionId.replace(/#\d+$/, ''), click.value]) {
    h.update(String(part.length));
    h.update(':');
    h.update(part);
  }
  return `click:${h.digest('hex')}`;
}

/** The once-only key of approving request `approvalId`: whoever approves, it runs once. */
export function approvalKey(approvalId: string): string {
  return `approval:${approvalId}`;
}
