import type { Config } from '../config/load.ts';
import type { ServiceConfig } from '../config/schema.ts';
import type { StepResult } from '../domain/finding.ts';

/** Progress of one part of a step (one source call), reported as it completes. */
export interface PartUpdate {
  readonly name: string;
  readonly status: 'running' | 'ok' | 'unavailable';
  readonly reason?: string;
}

/**
 * Everything a step may use. Sources arrive as interfaces (the `Sources` bag is declared by
 * runbook/sources.ts), so tests hand a step fakes without patching modules.
 */
export interface StepContext<S = unknown> {
  readonly config: Config;
  readonly service: ServiceConfig;
  readonly sources: S;
  readonly signal: AbortSignal;
  readonly progress: (update: PartUpdate) => void;
  readonly now: () => Date;
}

/**
 * A read-only runbook step: `/aegis <name> ...` in Slack and `aegis run <name>` on the command line.
 * `parse` turns the words after the subcommand into typed arguments or throws AppError('usage').
 */
export interface StepDefinition<A = unknown, S = unknown> {
  readonly name: string;
  /** One line for `/aegis help`. */
  readonly summary: string;
  /** e.g. "latency [service] [window]". */
  readonly usage: string;
  /** The runbook part it implements, e.g. "Step 1: Identify the Bottleneck". */
  readonly runbook: string;
  parse(words: readonly string[], ctx: { config: Config }): A & { service?: string };
  run(ctx: StepContext<S>, args: A): Promise<StepResult>;
}
