import type { RespondFn } from '@slack/bolt';
import type { Log } from '../logger.ts';
import type { Ephemeral } from './answers.ts';
import { AEGIS_COMMAND } from './parse.ts';

/** Where a step run came from: a typed command, or a next-step button in an incident thread. */
export interface Origin {
  /** The subcommand and its arguments as typed (or as the button would have them typed). */
  readonly text: string;
  readonly userId: string;
  readonly teamId?: string;
  readonly channelId: string;
  readonly channelName?: string;
  readonly respond: RespondFn;
  /** Set for a button: the run's messages go into this thread instead of starting a new one. */
  readonly thread?: { readonly channel: string; readonly ts: string };
}

/** An ephemeral answer through the command's response_url; a failure here can only be logged. */
export async function tellUser(origin: Origin, log: Log, m: Ephemeral): Promise<void> {
  try {
    await origin.respond(m);
  } catch (error) {
    log.warn({ ...logContext(origin), err: error }, 'could not answer through response_url');
  }
}

export function logContext(origin: Origin): Record<string, unknown> {
  return {
    command: `${AEGIS_COMMAND} ${origin.text}`.trim(),
    user: origin.userId,
    team: origin.teamId,
    channel: origin.channelId,
  };
}
