import { formatDuration } from '../lib/format.ts';
import type { ParamValue, Proposal } from './finding.ts';

/**
 * Proposal builders: the one shape every producer of an action uses (the runbook steps' findings, the
 * `/aegis scale …` commands, a conflict asking again, a reminder's Revert button), so the handlers in
 * actions/ read the same params whoever proposed, and the confirm dialog words the change the same way.
 * Services are passed structurally: config's ServiceConfig fits.
 */

/** The deployment a change applies to. */
export interface DeploymentRef {
  /** The service's name in config. */
  readonly name: string;
  readonly namespace: string;
  readonly deployment: string;
}

export const POOL_SIZE_KEY = 'database.max_connections';

export interface ScaleBounds {
  readonly min_replicas: number;
  readonly max_replicas: number;
  readonly scale_step_percent: number;
}

/**
 * "Scale to N": current replicas plus the configured step (+50% by default, at least one more), within
 * min and max replicas. Undefined when that is no more than now (already at the maximum).
 */
export function scaleTarget(current: number, bounds: ScaleBounds): number | undefined {
  if (!Number.isInteger(current) || current < 0) return undefined;
  const step = Math.max(1, Math.ceil((current * bounds.scale_step_percent) / 100));
  const n = Math.min(bounds.max_replicas, Math.max(bounds.min_replicas, current + step));
  return n > current ? n : undefined;
}

export function scaleProposal(service: DeploymentRef, from: number, to: number, reason: string): Proposal {
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
  service: DeploymentRef,
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

const KIB = 1024;
const MIB = KIB * 1024;
const GIB = MIB * 1024;

/** Bytes as an exact Kubernetes memory quantity, in the largest unit that divides it: 4Gi, 1536Mi, 1G. */
export function memoryQuantity(bytes: number): string {
  const units: readonly [string, number][] = [
    ['Gi', GIB],
    ['G', 1e9],
    ['Mi', MIB],
    ['M', 1e6],
    ['Ki', KIB],
  ];
  for (const [unit, size] of units) if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  return String(Math.round(bytes));
}

/**
 * The runbook's temporary memory raise (Memory Exhaustion: "Increase memory limit"): double the current
 * limit, rounded up to a whole Gi when over 1 Gi, within the configured maximum. Undefined when that
 * would not raise it.
 */
export function memoryRaiseTarget(limitBytes: number, maxBytes: number): number | undefined {
  const doubled = limitBytes * 2;
  const rounded = doubled >= GIB ? Math.ceil(doubled / GIB) * GIB : Math.ceil(doubled / MIB) * MIB;
  const target = Math.min(rounded, maxBytes);
  return target > limitBytes ? target : undefined;
}

export function poolProposal(
  service: Omit<DeploymentRef, 'deployment'> & { readonly configmap: string; readonly deployment?: string },
  from: string | undefined,
  to: number,
  restart: boolean,
  reason: string,
): Proposal {
  return {
    action: 'set_pool_size',
    label: restart ? `Set pool size to ${to} and restart` : `Set pool size to ${to}`,
    change: {
      what: `${POOL_SIZE_KEY} in ConfigMap ${service.configmap}${restart ? `, then restart deployment/${service.deployment ?? service.name}` : ''}`,
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

/** A backend as pg_stat_activity showed it: pid and start times pin it, so a recycled pid is never signalled. */
export interface BackendTarget {
  readonly pid: number;
  readonly backendStart: string;
  readonly queryStart: string;
  readonly database: string;
  /** More pins the handler checks, e.g. xactStart of an idle-in-transaction session. */
  readonly extra?: Readonly<Record<string, ParamValue>>;
  /** "running for 45 s": what the confirm dialog shows as `from`. */
  readonly running: string;
}

function backendParams(b: BackendTarget): Record<string, ParamValue> {
  return {
    pid: b.pid,
    backendStart: b.backendStart,
    queryStart: b.queryStart,
    database: b.database,
    ...(b.extra ?? {}),
  };
}

export function cancelQueryProposal(service: string, b: BackendTarget, reason: string): Proposal {
  return {
    action: 'cancel_query',
    label: `Cancel query (pid ${b.pid})`,
    change: { what: `query on pid ${b.pid}`, from: b.running, to: 'cancelled' },
    service,
    params: backendParams(b),
    reason,
    danger: false,
  };
}

export function terminateSessionProposal(service: string, b: BackendTarget, reason: string): Proposal {
  return {
    action: 'terminate_session',
    label: `Terminate session (pid ${b.pid})`,
    change: {
      what: `session of pid ${b.pid}`,
      from: b.running,
      to: 'terminated (its transaction rolls back)',
    },
    service,
    params: backendParams(b),
    reason,
    danger: true,
  };
}

export function vacuumProposal(
  service: string,
  t: { readonly schema: string; readonly table: string; readonly database: string },
  reason: string,
  from = 'as it is',
): Proposal {
  const name = t.schema === 'public' ? t.table : `${t.schema}.${t.table}`;
  return {
    action: 'vacuum_analyze',
    label: `VACUUM ANALYZE ${name}`,
    change: { what: `table ${name}`, from, to: 'vacuumed and analyzed' },
    service,
    params: { schema: t.schema, table: t.table, database: t.database },
    reason,
    danger: false,
  };
}

export type PageEventAction = 'trigger' | 'acknowledge' | 'resolve';
export const PAGE_EVENTS: readonly PageEventAction[] = ['trigger', 'acknowledge', 'resolve'];
export type PageSeverity = 'critical' | 'error' | 'warning' | 'info';
export const PAGE_SEVERITIES: readonly PageSeverity[] = ['critical', 'error', 'warning', 'info'];

export const MESSAGE_MAX = 500;

export interface PageProposalInput {
  readonly summary: string;
  readonly reason: string;
  readonly severity?: PageSeverity;
  /** Words the user typed (`/aegis page …`) or the text of the message (the shortcut). */
  readonly message?: string;
  /** The message the shortcut was used on. */
  readonly messageLink?: string;
  readonly rules?: string;
  readonly event?: PageEventAction;
  readonly label?: string;
}

/** "Page on-call" (PagerDuty): trigger, or acknowledge / resolve the thread's incident. */
export function pageProposal(service: { readonly name: string }, p: PageProposalInput): Proposal {
  const event = p.event ?? 'trigger';
  const label =
    p.label ??
    (event === 'trigger' ? 'Page on-call' : event === 'acknowledge' ? 'Acknowledge page' : 'Resolve page');
  return {
    action: 'page',
    label,
    change: {
      what: 'on-call (PagerDuty)',
      from: event === 'trigger' ? 'not paged' : 'paged',
      to: event === 'trigger' ? 'paged' : event === 'acknowledge' ? 'acknowledged' : 'resolved',
    },
    service: service.name,
    params: {
      event,
      severity: p.severity ?? 'error',
      summary: cut(p.summary, 480),
      ...(p.message ? { message: cut(p.message, MESSAGE_MAX) } : {}),
      ...(p.messageLink ? { messageLink: cut(p.messageLink, 400) } : {}),
      ...(p.rules ? { rules: cut(p.rules, 200) } : {}),
    },
    reason: cut(p.reason, 1000),
    danger: false,
  };
}

/** Cuts text to max characters, marking the cut. */
export function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * Silence an alert group for a while (op "create"), or expire its silence (op "expire"). The matchers
 * and the silence id are never carried by the button: the click's thread names the incident, and the
 * store holds its labels and its silence.
 */
export function silenceProposal(
  service: { readonly name: string },
  p:
    | { readonly op: 'create'; readonly durationMs: number; readonly alerts: string }
    | {
        readonly op: 'expire';
        readonly alerts: string;
      },
): Proposal {
  if (p.op === 'expire') {
    return {
      action: 'silence',
      label: 'Expire silence',
      change: { what: `silence of ${p.alerts}`, from: 'active', to: 'expired (alerts notify again)' },
      service: service.name,
      params: { op: 'expire' },
      reason: 'end the silence: Alertmanager notifies about this group again',
      danger: false,
    };
  }
  const span = formatDuration(p.durationMs);
  return {
    action: 'silence',
    label: `Silence ${span}`,
    change: { what: `notifications of ${p.alerts}`, from: 'sent', to: `silenced for ${span}` },
    service: service.name,
    params: { op: 'create', durationMs: p.durationMs },
    reason: 'a silence in Alertmanager matching this alert group’s labels; the thread keeps it',
    danger: false,
  };
}
