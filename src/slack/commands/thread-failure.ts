import { NOT_IN_CHANNEL_ERRORS, slackPlatformError, toUserFacing } from '../errors.ts';
import { ephemeral, message } from './answers.ts';
import type { CommandDeps } from './deps.ts';
import { logContext, tellUser } from './origin.ts';
import { type CommandOutcome, outcomeOf } from './outcome.ts';
import { AEGIS_COMMAND } from './parse.ts';
import type { Job, Root } from './thread.ts';

/**
 * The "invite me" answer when posting failed because the bot is not in, or cannot see, the channel;
 * undefined for any other failure. Plain mrkdwn text (not renderError): the channel link must stay a link.
 */
export function notInChannelAnswer(
  deps: CommandDeps,
  error: unknown,
  channel: string,
  typed: string,
  what = 'the report',
): { response_type: 'ephemeral'; text: string } | undefined {
  const platformError = slackPlatformError(error);
  if (!platformError || !NOT_IN_CHANNEL_ERRORS.has(platformError)) return undefined;
  const again = `run \`${AEGIS_COMMAND} ${typed.trim()}\` again`;
  const text =
    platformError === 'not_in_channel'
      ? `I am not in <#${channel}>, so I cannot post ${what} there. Invite me with \`/invite ${deps.botMention()}\` and ${again}.`
      : `I cannot see <#${channel}> (it is private, or it does not exist). Invite me with \`/invite ${deps.botMention()}\` in that channel and ${again}.`;
  return { response_type: 'ephemeral', text: `:x: ${text}` };
}

/**
 * The one error path for a step run: the failure replaces the root message (or follows the report in
 * the thread), or reaches the user ephemerally when there is no root; a channel the bot is not in gets
 * an "invite me" hint instead. Returns how the command ended.
 */
export async function reportFailure(
  deps: CommandDeps,
  job: Job,
  error: unknown,
  root: Root | undefined,
  channel: string | undefined,
): Promise<CommandOutcome> {
  const { renderer, log } = deps;
  const context = logContext(job.origin);
  const inviteMe = !root && channel ? notInChannelAnswer(deps, error, channel, job.origin.text) : undefined;
  if (inviteMe) {
    log.warn({ ...context, channel, error: slackPlatformError(error) }, 'cannot post in the channel');
    await tellUser(job.origin, log, inviteMe);
    return 'user_error';
  }
  const { message: text, ref } = job.signal.aborted
    ? {
        message: `${AEGIS_COMMAND} ${job.step.name} was interrupted because the bot is restarting: run it again.`,
        ref: undefined,
      }
    : toUserFacing(error, log, context, deps.newRef);
  const outcome = outcomeOf(error, job.signal.aborted);
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
      return outcome;
    } catch (postError) {
      log.warn({ ...context, err: postError }, 'could not put the error into the incident thread');
    }
  }
  await tellUser(job.origin, log, ephemeral(rendered));
  return outcome;
}
