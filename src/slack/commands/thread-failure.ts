import { NOT_IN_CHANNEL_ERRORS, slackPlatformError, toUserFacing } from '../errors.ts';
import { ephemeral, message } from './answers.ts';
import type { CommandDeps } from './deps.ts';
import { logContext, tellUser } from './origin.ts';
import { AEGIS_COMMAND } from './parse.ts';
import type { Job, Root } from './thread.ts';

/**
 * The one error path for a step run: the failure replaces the root message (or follows the report in
 * the thread), or reaches the user ephemerally when there is no root; a channel the bot is not in gets
 * an "invite me" hint instead.
 */
export async function reportFailure(
  deps: CommandDeps,
  job: Job,
  error: unknown,
  root: Root | undefined,
  channel: string | undefined,
): Promise<void> {
  const { renderer, log } = deps;
  const context = logContext(job.origin);
  const platformError = slackPlatformError(error);
  if (!root && channel && platformError && NOT_IN_CHANNEL_ERRORS.has(platformError)) {
    log.warn({ ...context, channel, error: platformError }, 'cannot post in the channel');
    const text =
      platformError === 'not_in_channel'
        ? `I am not in <#${channel}>, so I cannot post the report there. Invite me with \`/invite ${deps.botMention()}\` and run \`${AEGIS_COMMAND} ${job.origin.text.trim()}\` again.`
        : `I cannot see <#${channel}> (it is private, or it does not exist). Invite me with \`/invite ${deps.botMention()}\` in that channel and run \`${AEGIS_COMMAND} ${job.origin.text.trim()}\` again.`;
    // Plain mrkdwn text, not renderError: the channel link must stay a link.
    await tellUser(job.origin, log, { response_type: 'ephemeral', text: `:x: ${text}` });
    return;
  }
  const { message: text, ref } = job.signal.aborted
    ? {
        message: `${AEGIS_COMMAND} ${job.step.name} was interrupted because the bot is restarting: run it again.`,
        ref: undefined,
      }
    : toUserFacing(error, log, context, deps.newRef);
  const rendered = renderer.renderError(text, ref);
  if (root) {
    try {
      if (root.reported) {
        await job.client.chat.postMessage({
          channel: root.channel,
          thread_ts: root.threadTs ?? root.ts,
          ...message(rendered),
        });
      } else {
        await job.client.chat.update({ channel: root.channel, ts: root.ts, ...message(rendered) });
      }
      return;
    } catch (postError) {
      log.warn({ ...context, err: postError }, 'could not put the error into the incident thread');
    }
  }
  await tellUser(job.origin, log, ephemeral(rendered));
}
