import type { RespondFn, SlashCommand, webApi } from '@slack/bolt';
import { AppError } from '../../domain/errors.ts';
import { errorAnswer, message } from './answers.ts';
import type { CommandDeps } from './deps.ts';
import { incidentChannel, incidentThreadFor } from './incident-thread.ts';
import type { Origin } from './origin.ts';
import { type ActionCommand, AEGIS_COMMAND } from './parse.ts';

/**
 * `/aegis scale 5`: reads the live state and posts the offer (what changes, from and to, with its
 * confirm-dialog button) in the channel, where anyone authorized can click it. Nothing changes here:
 * the click goes through actions/ like any other. Failures go to the user ephemerally.
 */
export async function offerAction(
  deps: CommandDeps,
  parsed: ActionCommand,
  command: SlashCommand,
  respond: RespondFn,
  client: webApi.WebClient,
): Promise<void> {
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
  try {
    if (!deps.actionCommands) throw new AppError('usage', 'actions are not available in this deployment');
    const actionDeps = deps.actionCommands.deps();
    const offer = await parsed.command.execute(parsed.args, { service: parsed.service, deps: actionDeps });
    const channel = incidentChannel(origin, deps.config);
    const threadTs = parsed.command.inThread
      ? await incidentThreadFor(actionDeps, client, channel, parsed, command)
      : undefined;
    await client.chat.postMessage({
      channel,
      ...(threadTs ? { thread_ts: threadTs } : {}),
      ...message(offer),
      unfurl_links: false,
    });
  } catch (error) {
    await respond(errorAnswer(deps, error, context)).catch((e: unknown) =>
      deps.log.warn({ ...context, err: e }, 'could not answer an action command'),
    );
  }
}
