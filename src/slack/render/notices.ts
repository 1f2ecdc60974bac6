import type { Block, RenderedMessage } from './blocks.ts';
import { context, section } from './blocks.ts';
import { SLACK_LIMITS } from './limits.ts';
import { escapeInlineCode, escapeMrkdwn, truncateMrkdwn } from './mrkdwn.ts';

/** An error for the user: an AppError's message, or "internal error" with the log reference. */
export function renderError(message: string, ref?: string): RenderedMessage {
  const body = escapeMrkdwn(message.trim()) || 'Something went wrong';
  const blocks: Block[] = [section(truncateMrkdwn(`:x: ${body}`, SLACK_LIMITS.sectionText, '…'))];
  if (ref !== undefined && ref.trim() !== '') {
    blocks.push(context([truncateMrkdwn(`ref \`${escapeInlineCode(ref)}\``, SLACK_LIMITS.contextText, '…')]));
  }
  return { text: truncateMrkdwn(body, SLACK_LIMITS.messageText, '…'), blocks };
}

/** `/aegis` followed by the usage, unless the usage already names a slash command. */
export function commandLine(usage: string): string {
  const trimmed = usage.trim();
  return trimmed.startsWith('/') ? trimmed : `/aegis ${trimmed}`;
}

/** A malformed command: what is wrong, then how to type it. */
export function renderUsage(problem: string, usage: string): RenderedMessage {
  const body = escapeMrkdwn(problem.trim()) || 'That command is not complete';
  return {
    text: truncateMrkdwn(body, SLACK_LIMITS.messageText, '…'),
    blocks: [
      section(truncateMrkdwn(`:warning: ${body}`, SLACK_LIMITS.sectionText, '…')),
      section(
        truncateMrkdwn(`Usage: \`${escapeInlineCode(commandLine(usage))}\``, SLACK_LIMITS.sectionText, '…'),
      ),
    ],
  };
}
