import { isAppError } from '../../domain/errors.ts';
import { NOT_IN_CHANNEL_ERRORS, slackPlatformError } from '../errors.ts';

/** How a command ended (the aegis_commands_total{outcome} label; ops/metrics.ts documents each). */
export type CommandOutcome = 'ok' | 'user_error' | 'source_error' | 'internal_error' | 'rejected';

/** What the Slack layer records about commands: ops/metrics.ts's Metrics fits. */
export interface CommandMeter {
  recordCommand(command: string, outcome: CommandOutcome): void;
  observeAck(seconds: number, command?: string): void;
}

/**
 * The outcome of a failed command, by the one rule the error path uses: an AppError is the user's
 * (a failed outside system is a source_error, busy is rejected), a channel the bot cannot post in is
 * the user's to fix (invite it), an interrupted run is rejected, anything else is internal.
 */
export function outcomeOf(error: unknown, interrupted = false): CommandOutcome {
  if (interrupted) return 'rejected';
  if (isAppError(error)) {
    if (error.code === 'source') return 'source_error';
    if (error.code === 'busy') return 'rejected';
    return 'user_error';
  }
  const platform = slackPlatformError(error);
  if (platform && NOT_IN_CHANNEL_ERRORS.has(platform)) return 'user_error';
  return 'internal_error';
}

/** The `command` label: a subcommand name the bot knows, never free text. */
export function commandLabel(text: string, known: readonly string[]): string {
  const first = text.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  if (first === '') return 'help';
  return known.includes(first) ? first : 'unknown';
}
