import type { ServiceConfig } from '../config/schema.ts';

/**
 * The outside systems a step can reach, as interfaces. Each member is a factory per service
 * (each service has its own Prometheus, pprof endpoint, database), built in main.ts from src/sources/*.
 * A member is added here by the issue that introduces the source; steps declare which they use.
 */
export interface Sources {
  readonly [name: string]: ((service: ServiceConfig) => unknown) | undefined;
}
