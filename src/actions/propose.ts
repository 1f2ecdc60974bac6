import type { Config } from '../config/load.ts';
import type { ServiceConfig } from '../config/schema.ts';
import type { Proposal } from '../domain/finding.ts';

/**
 * Proposal builders: the shape every producer of a given action uses (the runbook steps, the
 * `/aegis scale …` commands, a conflict asking again, a reminder's Revert button), so the handlers
 * read the same params whoever proposed.
 */

export const POOL_SIZE_KEY = 'database.max_connections';
/** A pool size outside 1..MAX_POOL_SIZE is refused as a typo. */
export const MAX_POOL_SIZE = 10_000;

/** "Scale to N": current replicas plus the configured step (at least one more), capped at max_replicas. */
export function scaleTarget(current: number, actions: Config['actions']): number {
  const step = Math.max(1, Math.ceil((current * actions.scale_step_percent) / 100));
  return Math.min(actions.max_replicas, Math.max(actions.min_replicas, current + step));
}

export function scaleProposal(service: ServiceConfig, from: number, to: number, reason: string): Proposal {
  return {
    action: 'scale',
    label: `Scale to ${to} replicas`,
    change: { what: `replicas of deployment/${service.deployment}`, from: String(from), to: String(to) },
    service: service.name,
    params: { namespace: service.namespace, deployment: service.deployment, from, to },
    reason,
    danger: true,
  };
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
  const verb = options.revert
    ? 'Revert'
    : options.fromBytes !== undefined && options.toBytes !== undefined && options.toBytes < options.fromBytes
      ? 'Lower'
      : 'Raise';
  return {
    action: 'set_memory_limit',
    label: `${verb} memory limit to ${to}`,
    change: {
      what: `memory limit of container ${container} in deployment/${service.deployment}`,
      from: from ?? 'none',
      to,
    },
    service: service.name,
    params: {
      namespace: service.namespace,
      deployment: service.deployment,
      container,
      from: from ?? 'none',
      to,
      ...(options.revert ? { revert: true } : {}),
    },
    reason,
    danger: true,
  };
}

export function poolProposal(
  service: ServiceConfig,
  from: string | undefined,
  to: number,
  restart: boolean,
  reason: string,
): Proposal {
  return {
    action: 'set_pool_size',
    label: restart ? `Set pool size to ${to} and restart` : `Set pool size to ${to}`,
    change: {
      what: `${POOL_SIZE_KEY} in ConfigMap ${service.configmap}${restart ? `, then restart deployment/${service.deployment}` : ''}`,
      from: from ?? 'unset',
      to: String(to),
    },
    service: service.name,
    params: {
      configmap: service.configmap,
      namespace: service.namespace,
      key: POOL_SIZE_KEY,
      from: from ?? 'unset',
      to,
      restart,
    },
    reason,
    danger: restart,
  };
}

export interface BackendTarget {
  readonly pid: number;
  readonly backendStart: string;
  readonly queryStart: string;
  readonly database: string;
  /** "active, running 45 s": what the confirm dialog shows as `from`. */
  readonly running: string;
}

export function cancelQueryProposal(service: ServiceConfig, b: BackendTarget, reason: string): Proposal {
  return {
    action: 'cancel_query',
    label: `Cancel query (pid ${b.pid})`,
    change: { what: `query on pid ${b.pid}`, from: b.running, to: 'cancelled' },
    service: service.name,
    params: { pid: b.pid, backendStart: b.backendStart, queryStart: b.queryStart, database: b.database },
    reason,
    danger: false,
  };
}

export function terminateSessionProposal(service: ServiceConfig, b: BackendTarget, reason: string): Proposal {
  return {
    action: 'terminate_session',
    label: `Terminate session (pid ${b.pid})`,
    change: {
      what: `session of pid ${b.pid}`,
      from: b.running,
      to: 'terminated (its transaction rolls back)',
    },
    service: service.name,
    params: { pid: b.pid, backendStart: b.backendStart, queryStart: b.queryStart, database: b.database },
    reason,
    danger: true,
  };
}

export function vacuumProposal(
  service: ServiceConfig,
  schema: string,
  table: string,
  database: string,
  reason: string,
): Proposal {
  const name = schema === 'public' ? table : `${schema}.${table}`;
  return {
    action: 'vacuum_analyze',
    label: `VACUUM ANALYZE ${name}`,
    change: { what: `table ${name}`, from: 'as it is', to: 'vacuumed and analyzed' },
    service: service.name,
    params: { schema, table, database },
    reason,
    danger: false,
  };
}
