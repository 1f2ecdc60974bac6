import type { Config } from '../config/load.ts';
import type { Checkable } from '../domain/ports.ts';
import type { Logger } from '../ops/logger.ts';
import type { Sources } from '../steps/sources.ts';

/**
 * What the CLI needs from the composition root: the concrete sources for `aegis run`, the checks for
 * `aegis doctor`, and a way to release them (pools, sockets) before the process ends.
 */
export interface CliRuntime {
  /** Handed to a step as StepContext.sources. */
  readonly sources: Sources;
  /** Every configured source's health check (Prometheus, pprof, PostgreSQL, Kubernetes, Redis, ...). */
  readonly checks: readonly Checkable[];
  close(): Promise<void>;
}

/**
 * Builds the runtime from a validated configuration. The composition module (src/main.ts or the
 * module it uses) provides the real one; tests hand in fakes.
 */
export type BuildRuntime = (config: Config, deps: { readonly logger: Logger }) => Promise<CliRuntime>;

/** A runtime with no sources: doctor checks the configuration only, and steps find no source. */
export const emptyRuntime: BuildRuntime = async () => ({
  sources: {},
  checks: [],
  close: async () => {},
});
