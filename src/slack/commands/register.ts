import type { App, SlashCommand } from '@slack/bolt';
import { type Ephemeral, ephemeral, errorAnswer } from './answers.ts';
import type { CommandDeps } from './deps.ts';
import { offerAction } from './offers.ts';
import type { Origin } from './origin.ts';
import { type ActionCommand, AEGIS_COMMAND, parseAegisCommand, type StepCommand } from './parse.ts';
import { runInThread } from './thread.ts';

/**
 * `/aegis`: answered at once (help and usage in the acknowledgement itself), a step acknowledged empty
 * and then run in the background, tracked by the in-flight tracker, in the incident thread.
 */
export function registerAegisCommand(app: App, deps: CommandDeps): void {
  app.command(AEGIS_COMMAND, async ({ command, ack, respond, client }) => {
    const parsed = answerAtOnce(deps, command);
    if (parsed.kind === 'answer') {
      await ack(parsed.answer);
      return;
    }
    await ack();
    if (parsed.kind === 'action') {
      deps.inFlight.track(
        offerAction(deps, parsed, command, respond, client),
        `${AEGIS_COMMAND} ${command.text.trim()} (user ${command.user_id}, channel ${command.channel_id})`,
      );
      return;
    }
    const abort = new AbortController();
    const origin: Origin = {
      text: command.text ?? '',
      userId: command.user_id,
      teamId: command.team_id,
      channelId: command.channel_id,
      channelName: command.channel_name,
      respond,
    };
    // Acks of commands arriving together go out before this work starts (at most 100 ms later).
    const job = deps.ackGate
      .idle(100)
      .then(() => runInThread(deps, { ...parsed, origin, client, signal: abort.signal }));
    deps.inFlight.track(
      job,
      `${AEGIS_COMMAND} ${origin.text.trim()} (user ${origin.userId}, channel ${origin.channelId})`,
      abort,
    );
  });
}

/** Help, usage and errors are answered in the acknowledgement itself; a step goes on after it. */
function answerAtOnce(
  deps: CommandDeps,
  command: SlashCommand,
): StepCommand | ActionCommand | { kind: 'answer'; answer: Ephemeral } {
  try {
    const parsed = parseAegisCommand(
      command.text ?? '',
      deps.steps,
      deps.config,
      deps.actionCommands?.definitions ?? [],
    );
    if (parsed.kind === 'help') {
      return { kind: 'answer', answer: ephemeral(deps.renderer.renderHelp(parsed.steps, parsed.builtins)) };
    }
    if (parsed.kind === 'usage') {
      return { kind: 'answer', answer: ephemeral(deps.renderer.renderUsage(parsed.message, parsed.usage)) };
    }
    return parsed;
  } catch (error) {
    return {
      kind: 'answer',
      answer: errorAnswer(deps, error, {
        command: `${AEGIS_COMMAND} ${command.text ?? ''}`.trim(),
        user: command.user_id,
        channel: command.channel_id,
      }),
    };
  }
}
