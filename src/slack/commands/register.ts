import type { App, SlashCommand } from '@slack/bolt';
import { type Ephemeral, ephemeral, errorAnswer } from './answers.ts';
import type { CommandDeps } from './deps.ts';
import { offerAction } from './offers.ts';
import type { Origin } from './origin.ts';
import { type CommandOutcome, commandLabel, outcomeOf } from './outcome.ts';
import { type ActionCommand, AEGIS_COMMAND, parseAegisCommand, type StepCommand } from './parse.ts';
import { runInThread } from './thread.ts';

/**
 * `/aegis`: answered at once (help and usage in the acknowledgement itself), a step acknowledged empty
 * and then run in the background, tracked by the in-flight tracker, in the incident thread. Every
 * command is counted here, once it has ended, by its subcommand and outcome.
 */
export function registerAegisCommand(app: App, deps: CommandDeps): void {
  const known = [
    'help',
    ...deps.steps.map((s) => s.name),
    ...(deps.actionCommands?.definitions ?? []).map((a) => a.name),
  ];
  app.command(AEGIS_COMMAND, async ({ command, ack, respond, client }) => {
    const name = commandLabel(command.text ?? '', known);
    const count = (outcome: CommandOutcome) => deps.meter?.recordCommand(name, outcome);
    const parsed = answerAtOnce(deps, command);
    if (parsed.kind === 'answer') {
      await ack(parsed.answer);
      count(parsed.outcome);
      return;
    }
    await ack();
    if (parsed.kind === 'action') {
      deps.inFlight.track(
        offerAction(deps, parsed, command, respond, client).then(count),
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
      .then(() => runInThread(deps, { ...parsed, origin, client, signal: abort.signal }))
      .then((ran) => count(ran.outcome));
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
): StepCommand | ActionCommand | { kind: 'answer'; answer: Ephemeral; outcome: CommandOutcome } {
  try {
    const parsed = parseAegisCommand(
      command.text ?? '',
      deps.steps,
      deps.config,
      deps.actionCommands?.definitions ?? [],
    );
    if (parsed.kind === 'help') {
      return {
        kind: 'answer',
        answer: ephemeral(deps.renderer.renderHelp(parsed.steps, parsed.builtins)),
        outcome: 'ok',
      };
    }
    if (parsed.kind === 'usage') {
      return {
        kind: 'answer',
        answer: ephemeral(deps.renderer.renderUsage(parsed.message, parsed.usage)),
        outcome: 'user_error',
      };
    }
    return parsed;
  } catch (error) {
    return {
      kind: 'answer',
      outcome: outcomeOf(error),
      answer: errorAnswer(deps, error, {
        command: `${AEGIS_COMMAND} ${command.text ?? ''}`.trim(),
        user: command.user_id,
        channel: command.channel_id,
      }),
    };
  }
}
