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
 * Everything a step may use. Sources arrive as interfaces: each step declares the members it uses in its
 * own folder (LatencySources, ProfilingSources, DbSources, ChecklistSources: factories per service, since
 * each service has its own Prometheus, pprof endpoint and database) and compose.ts builds one object that
 * satisfies them all from src/sources/*. Tests hand a step fakes of just its own interface, without
 * patching modules.
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
