import type { Config } from '../config/load.ts';
import type { Checkable } from '../domain/ports.ts';
import type { Logger } from '../ops/logger.ts';

/**
 * What the CLI needs from the composition root: the concrete sources for `aegis run`, the checks for
 * `aegis doctor`, and a way to release them (pools, sockets) before the process ends.
 */
export interface CliRuntime {
  /**
   * Handed to a step as StepContext.sources, unread by the CLI: each step reads the members its own
   * interface declares (LatencySources, DbSources, ...), which compose.ts's sources satisfy together.
   */
  readonly sources: object;
  /** Every configured source's health check (Prometheus, pprof, PostgreSQL, Kubernetes, Redis, ...). */
  readonly checks: readonly Checkable[];
  close(): Promise<void>;
}

/**
 * Builds the runtime from a validated configuration. The real one is compose.ts's buildRuntime, which
 * src/cli.ts hands to runCli; tests hand in fakes.
 */
export type BuildRuntime = (config: Config, deps: { readonly logger: Logger }) => Promise<CliRuntime>;

/** A runtime with no sources: doctor checks the configuration only, and steps find no source. */
export const emptyRuntime: BuildRuntime = async () => ({
  sources: {},
  checks: [],
  close: async () => {},
});
