import type { SlashCommand, webApi } from '@slack/bolt';
import type { ActionDeps } from '../../actions/types.ts';
import type { Config } from '../../config/load.ts';
import { AppError } from '../../domain/errors.ts';
import { renderIncidentRoot } from '../render/action-messages.ts';
import { message } from './answers.ts';
import type { Origin } from './origin.ts';
import { type ActionCommand, AEGIS_COMMAND } from './parse.ts';

/** The incident channel for a command: where it was typed, or the configured one for direct messages. */
export function incidentChannel(origin: Origin, config: Config): string {
  if (!origin.channelId) {
    throw new AppError('usage', `this request names no channel: type ${AEGIS_COMMAND} in a channel`);
  }
  const name = origin.channelName ?? '';
  const direct = origin.channelId.startsWith('D') || name === 'directmessage' || name.startsWith('mpdm-');
  if (!direct) return origin.channelId;
  if (config.slack.incident_channel) return config.slack.incident_channel;
  throw new AppError(
    'usage',
    `Type ${AEGIS_COMMAND} in a channel: no incident channel is configured (slack.incident_channel) for commands typed in direct messages.`,
  );
}

/**
 * Slash commands carry no thread: the channel's most recent incident thread, or a new one (a root
 * message, recorded in the store) when the channel has none.
 */
export async function incidentThreadFor(
  actionDeps: ActionDeps,
  client: webApi.WebClient,
  channel: string,
  parsed: ActionCommand,
  command: SlashCommand,
): Promise<string> {
  const latest = await actionDeps.store.latestIncidentThread(channel);
  if (latest) return latest.threadTs;
  const root = renderIncidentRoot({
    command: `${AEGIS_COMMAND} ${command.text.trim()}`,
    userId: command.user_id,
    service: parsed.service.name,
  });
  const posted = await client.chat.postMessage({ channel, ...message(root), unfurl_links: false });
  const ts = posted.ts as string;
  await actionDeps.store.recordIncidentThread({
    channel: posted.channel ?? channel,
    threadTs: ts,
    service: parsed.service.name,
    step: parsed.command.name,
    createdAt: (actionDeps.now ?? (() => new Date()))(),
  });
  return ts;
}
