import type { RespondFn, SlashCommand, webApi } from '@slack/bolt';
import { AppError } from '../../domain/errors.ts';
import { errorAnswer, message } from './answers.ts';
import type { CommandDeps } from './deps.ts';
import { incidentChannel, incidentThreadFor } from './incident-thread.ts';
import type { Origin } from './origin.ts';
import { type CommandOutcome, outcomeOf } from './outcome.ts';
import { type ActionCommand, AEGIS_COMMAND } from './parse.ts';
import { notInChannelAnswer } from './thread-failure.ts';

/**
 * `/aegis scale 5`: reads the live state and posts the offer (what changes, from and to, with its
 * confirm-dialog button) in the channel, where anyone authorized can click it. Nothing changes here:
 * the click goes through actions/ like any other. Failures go to the user ephemerally (a channel the
 * bot is not in gets the same "invite me" answer as a step). Resolves with how the command ended.
 */
export async function offerAction(
  deps: CommandDeps,
  parsed: ActionCommand,
  command: SlashCommand,
  respond: RespondFn,
  client: webApi.WebClient,
): Promise<CommandOutcome> {
  const context = {
    command: `${AEGIS_COMMAND} ${command.text}`.trim(),
    user: command.user_id,
    channel: command.channel_id,
  };
  const origin: Origin = {
    text: command.text ?? '',
    userId: command.user_id,
    channelId: command.channel_id,
    channelName: command.channel_name,
    respond,
  };
  let channel: string | undefined;
  try {
    if (!deps.actionCommands) throw new AppError('usage', 'actions are not available in this deployment');
    const actionDeps = deps.actionCommands.deps();
    const offer = await parsed.command.execute(parsed.args, { service: parsed.service, deps: actionDeps });
    channel = incidentChannel(origin, deps.config);
    const threadTs = parsed.command.inThread
      ? await incidentThreadFor(actionDeps, client, channel, parsed, command)
      : undefined;
    await client.chat.postMessage({
      channel,
      ...(threadTs ? { thread_ts: threadTs } : {}),
      ...message(offer),
      unfurl_links: false,
    });
    return 'ok';
  } catch (error) {
    const inviteMe = channel ? notInChannelAnswer(deps, error, channel, origin.text, 'the offer') : undefined;
    if (inviteMe) deps.log.warn({ ...context, channel }, 'cannot post the offer in the channel');
    await respond(inviteMe ?? errorAnswer(deps, error, context)).catch((e: unknown) =>
      deps.log.warn({ ...context, err: e }, 'could not answer an action command'),
    );
    return outcomeOf(error);
  }
}
