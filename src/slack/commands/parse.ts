import type { Config } from '../../config/load.ts';
import { findService } from '../../config/load.ts';
import type { ServiceConfig } from '../../config/schema.ts';
import { isAppError } from '../../domain/errors.ts';
import type { ActionCommandDefinition } from '../interactions.ts';
import type { HelpEntry } from '../renderer.ts';
import type { AnyStep } from './deps.ts';

export const AEGIS_COMMAND = '/aegis';

/** Subcommands that are not runbook steps. */
export const BUILTIN_COMMANDS: readonly HelpEntry[] = [
  { name: 'help', usage: 'help [subcommand]', summary: 'List every subcommand, or show how to use one' },
];

export type ParsedCommand =
  | { readonly kind: 'help'; readonly steps: readonly HelpEntry[]; readonly builtins: readonly HelpEntry[] }
  | {
      readonly kind: 'action';
      readonly command: ActionCommandDefinition;
      readonly args: { service?: string };
      readonly service: ServiceConfig;
    }
  | { readonly kind: 'usage'; readonly message: string; readonly usage: string }
  | {
      readonly kind: 'step';
      readonly step: AnyStep;
      readonly args: unknown;
      readonly service: ServiceConfig;
    };

/**
 * Reads the text after "/aegis". A malformed command is a `usage` answer naming the problem; only a bug
 * (a step's parse throwing something other than AppError) escapes as an exception.
 */
export function parseAegisCommand(
  text: string,
  steps: readonly AnyStep[],
  config: Config,
  actions: readonly ActionCommandDefinition[] = [],
): ParsedCommand {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const entries: HelpEntry[] = [...BUILTIN_COMMANDS, ...steps, ...actions];
  const known = entries.map((e) => e.name).join(', ');
  const [first, ...rest] = words;
  const sub = first?.toLowerCase();
  if (sub === undefined || sub === 'help') {
    if (rest.length === 0) return { kind: 'help', steps: [...steps, ...actions], builtins: BUILTIN_COMMANDS };
    const wanted = rest[0]?.toLowerCase();
    const entry = entries.find((e) => e.name === wanted);
    if (!entry || rest.length > 1) {
      return {
        kind: 'usage',
        message: `unknown subcommand "${rest.join(' ')}": known subcommands are ${known}`,
        usage: `${AEGIS_COMMAND} help [subcommand]`,
      };
    }
    const isStep = steps.some((s) => s.name === entry.name) || actions.some((a) => a.name === entry.name);
    return { kind: 'help', steps: isStep ? [entry] : [], builtins: isStep ? [] : [entry] };
  }
  const action = actions.find((a) => a.name === sub);
  if (action) {
    const usage = `${AEGIS_COMMAND} ${action.usage}`;
    try {
      const args = action.parse(rest, { config });
      return { kind: 'action', command: action, args, service: findService(config, args.service) };
    } catch (error) {
      if (isAppError(error)) return { kind: 'usage', message: error.message, usage };
      throw error;
    }
  }
  const step = steps.find((s) => s.name === sub);
  if (!step) {
    return {
      kind: 'usage',
      message: `unknown subcommand "${first}": known subcommands are ${known}`,
      usage: `${AEGIS_COMMAND} <subcommand> [arguments] (${AEGIS_COMMAND} help lists them)`,
    };
  }
  const usage = `${AEGIS_COMMAND} ${step.usage}`;
  try {
    const args = step.parse(rest, { config });
    const service = findService(config, args?.service);
    return { kind: 'step', step, args, service };
  } catch (error) {
    if (isAppError(error)) return { kind: 'usage', message: error.message, usage };
    throw error;
  }
}

export type StepCommand = Extract<ParsedCommand, { kind: 'step' }>;
export type ActionCommand = Extract<ParsedCommand, { kind: 'action' }>;
