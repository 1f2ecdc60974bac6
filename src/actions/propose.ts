import type { Config } from '../config/load.ts';
import type { ServiceConfig } from '../config/schema.ts';
import type { Proposal } from '../domain/finding.ts';
import * as domain from '../domain/proposals.ts';

export { POOL_SIZE_KEY } from '../domain/proposals.ts';

/**
 * Proposal builders: the shape every producer of a given action uses (the runbook steps, the
 * `/aegis scale …` commands, a conflict asking again, a reminder's Revert button), so the handlers
 * read the same params whoever proposed.
 */

/** A pool size outside 1..MAX_POOL_SIZE is refused as a typo. */
export const MAX_POOL_SIZE = 10_000;

/** "Scale to N" as configured (domain/proposals.ts); the current count when already at the maximum. */
export function scaleTarget(current: number, actions: Config['actions']): number {
  return domain.scaleTarget(current, actions) ?? current;
}

export function scaleProposal(service: ServiceConfig, from: number, to: number, reason: string): Proposal {
  return domain.scaleProposal(service, from, to, reason);
}

/** Raise (or set, or revert) a container's memory limit. `from` undefined: the container has no limit. */
export function memoryProposal(
  service: ServiceConfig,
  container: string,
  from: string | undefined,
  to: string,
  reason: string,
  options: { revert?: boolean; toBytes?: number; fromBytes?: number } = {},
): Proposal {
  return domain.memoryProposal(service, container, from, to, reason, options);
}

export function poolProposal(
  service: ServiceConfig,
  from: string | undefined,
  to: number,
  restart: boolean,
  reason: string,
): Proposal {
  return domain.poolProposal(service, from, to, restart, reason);
}

export type BackendTarget = domain.BackendTarget;

export function cancelQueryProposal(service: ServiceConfig, b: BackendTarget, reason: string): Proposal {
  return domain.cancelQueryProposal(service.name, b, reason);
}

export function terminateSessionProposal(service: ServiceConfig, b: BackendTarget, reason: string): Proposal {
  return domain.terminateSessionProposal(service.name, b, reason);
}

export function vacuumProposal(
  service: ServiceConfig,
  schema: string,
  table: string,
  database: string,
  reason: string,
): Proposal {
  return domain.vacuumProposal(service.name, { schema, table, database }, reason);
}
