import type { webApi } from '@slack/bolt';
import { ForbiddenError } from '../actions/errors.ts';
import type { ActionOutcome } from '../actions/types.ts';
import { AppError } from '../domain/errors.ts';
import { slackPlatformError, toUserFacing } from './errors.ts';
import type { Log } from './logger.ts';
import {
  renderAlready,
  renderApprovalPending,
  renderApprovalRequest,
  renderForbidden,
} from './render/action-messages.ts';
import type { RenderedMessage } from './render/blocks.ts';
import { renderError } from './render/notices.ts';

/** Where a click happened: the thread that follows from it, and who clicked. */
export interface Where {
  readonly channel?: string;
  readonly messageTs?: string;
  readonly threadTs?: string;
  readonly user: string;
}

export function plainMessage(m: RenderedMessage): { text: string; blocks: RenderedMessage['blocks'] } {
  return { text: m.text, blocks: [...m.blocks] };
}

/** Posts into the click's thread, for everyone; answers the new message's ts. */
export async function toThread(
  client: webApi.WebClient,
  where: Where,
  m: RenderedMessage,
): Promise<string | undefined> {
  if (!where.channel) throw new AppError('usage', 'no channel to post in');
  const res = await client.chat.postMessage({
    channel: where.channel,
    ...(where.threadTs ? { thread_ts: where.threadTs } : {}),
    ...plainMessage(m),
    unfurl_links: false,
    unfurl_media: false,
  });
  return res.ts;
}

/** Answers only the clicker; falls back to the thread when Slack cannot show them an ephemeral. */
export async function toUser(client: webApi.WebClient, where: Where, m: RenderedMessage): Promise<void> {
  if (!where.channel) throw new AppError('usage', 'no channel to answer in');
  try {
    await client.chat.postEphemeral({
      channel: where.channel,
      user: where.user,
      ...(where.threadTs ? { thread_ts: where.threadTs } : {}),
      ...plainMessage(m),
    });
  } catch (e) {
    // an ephemeral message needs the user in the channel; the thread is the fallback
    if (slackPlatformError(e) !== 'user_not_in_channel') throw e;
    await toThread(client, where, m);
  }
}

/**
 * The outcomes that read the same whatever the action: already done by someone, waiting for a second
 * approver, and refused for lack of permission. Answers false for the rest, which each caller words.
 */
export async function deliverCommonOutcome(
  client: webApi.WebClient,
  where: Where,
  o: ActionOutcome,
): Promise<boolean> {
  switch (o.status) {
    case 'already':
      await toUser(client, where, renderAlready(o));
      return true;
    case 'awaiting_approval':
      if (o.created) await toThread(client, where, renderApprovalRequest(o));
      else await toUser(client, where, renderApprovalPending(o));
      return true;
    case 'refused': {
      const e = o.error;
      if (!(e instanceof ForbiddenError)) return false;
      await toUser(
        client,
        where,
        renderForbidden({ message: e.message, allowed: e.allowed, verb: e.verb, reason: e.reason }),
      );
      return true;
    }
    default:
      return false;
  }
}

/**
 * The one error path for a click: an AppError's message, or "internal error (ref …)" with the cause
 * logged, told to the clicker alone. If even that fails, the log is all that is left.
 */
export async function reportClickError(
  deps: { readonly log: Log; readonly newRef?: () => string },
  client: webApi.WebClient,
  where: Where,
  error: unknown,
  context: Record<string, unknown>,
): Promise<void> {
  const { message, ref } = toUserFacing(error, deps.log, context, deps.newRef);
  try {
    await toUser(client, where, renderError(message, ref));
  } catch (e) {
    deps.log.error({ ...context, err: e, cause: error }, 'could not tell the user about a failed click');
  }
}
