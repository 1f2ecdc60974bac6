import type {
  BackendMatch,
  BackendState,
  ClusterActions,
  ConfigValueState,
  DatabaseActions,
  MemoryLimitState,
  RolloutStatus,
  ScaleState,
} from '../../actions/ports.ts';
import { AppError } from '../../domain/errors.ts';
import { parseMemoryBytes } from '../../lib/quantity.ts';

/**
 * The demo's stand-in for the cluster and the database that remediation changes: in memory, with the
 * same guards the real ones have (a scale guarded by resourceVersion, a memory patch guarded by the
 * current value), and a rollout that completes over a few seconds so the thread shows it progress.
 * Nothing here reaches a real system.
 */

export interface DemoDeployment {
  readonly namespace: string;
  readonly name: string;
  replicas: number;
  container: { name: string; memoryLimit?: string; memoryRequest?: string };
  resourceVersion: number;
  generation: number;
  /** When the current rollout started (ms), and the replicas it started from. */
  rollout?: { startedAt: number; from: number; restart: boolean };
}

export interface DemoClusterOptions {
  readonly namespace: string;
  readonly deployment: string;
  readonly replicas: number;
  readonly container: {
    readonly name: string;
    readonly memoryLimit?: string;
    readonly memoryRequest?: string;
  };
  readonly configmap: { readonly name: string; readonly data: Readonly<Record<string, string>> };
  /** How long a pod takes to become ready in a rollout (default 1.5 s). */
  readonly podReadyMs?: number;
  readonly now?: () => number;
}

export class DemoCluster implements ClusterActions {
  readonly deployment: DemoDeployment;
  readonly configmap: {
    readonly namespace: string;
    readonly name: string;
    data: Record<string, string>;
    resourceVersion: number;
  };
  /** Every change made, in order: what the console's audit would show. */
  readonly changes: string[] = [];
  private readonly podReadyMs: number;
  private readonly now: () => number;

  constructor(o: DemoClusterOptions) {
    this.deployment = {
      namespace: o.namespace,
      name: o.deployment,
      replicas: o.replicas,
      container: { ...o.container },
      resourceVersion: 1,
      generation: 1,
    };
    this.configmap = {
      namespace: o.namespace,
      name: o.configmap.name,
      data: { ...o.configmap.data },
      resourceVersion: 1,
    };
    this.podReadyMs = o.podReadyMs ?? 1500;
    this.now = o.now ?? Date.now;
  }

  private find(namespace: string, deployment: string): DemoDeployment {
    const d = this.deployment;
    if (d.namespace !== namespace || d.name !== deployment) {
      throw new AppError(
        'not_found',
        `deployment/${deployment} not found in namespace ${namespace} (demo cluster)`,
      );
    }
    return d;
  }

  private bump(d: DemoDeployment, from: number, restart: boolean): void {
    d.resourceVersion += 1;
    d.generation += 1;
    d.rollout = { startedAt: this.now(), from, restart };
  }

  async readScale(namespace: string, deployment: string): Promise<ScaleState> {
    const d = this.find(namespace, deployment);
    return { replicas: d.replicas, resourceVersion: String(d.resourceVersion) };
  }

  async scale(
    namespace: string,
    deployment: string,
    replicas: number,
    resourceVersion: string,
  ): Promise<void> {
    const d = this.find(namespace, deployment);
    if (String(d.resourceVersion) !== resourceVersion) {
      throw new AppError('conflict', `deployment/${deployment} changed meanwhile (demo cluster): ask again`);
    }
    const from = d.replicas;
    d.replicas = replicas;
    this.bump(d, from, false);
    this.changes.push(`scale ${namespace}/${deployment} ${from} -> ${replicas}`);
  }

  async readMemoryLimit(
    namespace: string,
    deployment: string,
    container?: string,
  ): Promise<MemoryLimitState> {
    const d = this.find(namespace, deployment);
    if (container && container !== d.container.name) {
      throw new AppError(
        'not_found',
        `container ${container} not found in deployment/${deployment} (demo cluster)`,
      );
    }
    const limitBytes = d.container.memoryLimit ? parseMemoryBytes(d.container.memoryLimit) : undefined;
    const requestBytes = d.container.memoryRequest ? parseMemoryBytes(d.container.memoryRequest) : undefined;
    return {
      index: 0,
      container: d.container.name,
      ...(d.container.memoryLimit ? { limit: d.container.memoryLimit } : {}),
      ...(limitBytes !== undefined ? { limitBytes } : {}),
      hasLimits: d.container.memoryLimit !== undefined,
      ...(requestBytes !== undefined ? { requestBytes } : {}),
    };
  }

  async setMemoryLimit(
    namespace: string,
    deployment: string,
    current: MemoryLimitState,
    to: string,
  ): Promise<void> {
    const d = this.find(namespace, deployment);
    if (current.container !== d.container.name || current.limit !== d.container.memoryLimit) {
      throw new AppError(
        'conflict',
        `the memory limit of ${current.container} changed meanwhile (demo cluster): ask again`,
      );
    }
    const from = d.container.memoryLimit ?? 'none';
    d.container.memoryLimit = to;
    this.bump(d, d.replicas, true);
    this.changes.push(`memory limit ${namespace}/${deployment}/${current.container} ${from} -> ${to}`);
  }

  async readConfigValue(namespace: string, configmap: string, key: string): Promise<ConfigValueState> {
    const c = this.configmap;
    if (c.namespace !== namespace || c.name !== configmap) {
      throw new AppError(
        'not_found',
        `configmap/${configmap} not found in namespace ${namespace} (demo cluster)`,
      );
    }
    return {
      ...(key in c.data ? { value: c.data[key] } : {}),
      keys: Object.keys(c.data),
      resourceVersion: String(c.resourceVersion),
    };
  }

  async setConfigValue(
    namespace: string,
    configmap: string,
    key: string,
    current: ConfigValueState,
    to: string,
  ): Promise<void> {
    const live = await this.readConfigValue(namespace, configmap, key);
    if (live.value !== current.value) {
      throw new AppError(
        'conflict',
        `${key} in configmap/${configmap} changed meanwhile (demo cluster): ask again`,
      );
    }
    this.configmap.data[key] = to;
    this.configmap.resourceVersion += 1;
    this.changes.push(`configmap ${namespace}/${configmap} ${key} ${current.value ?? 'unset'} -> ${to}`);
  }

  async restartRollout(namespace: string, deployment: string, _at: Date): Promise<void> {
    const d = this.find(namespace, deployment);
    this.bump(d, d.replicas, true);
    this.changes.push(`rollout restart ${namespace}/${deployment}`);
  }

  /** The rollout moves one pod every podReadyMs: new pods come up, then (on a restart) old ones go. */
  async rolloutStatus(namespace: string, deployment: string): Promise<RolloutStatus> {
    const d = this.find(namespace, deployment);
    const base = { generation: d.generation, observedGeneration: d.generation, desired: d.replicas };
    const r = d.rollout;
    if (!r)
      return { ...base, total: d.replicas, updated: d.replicas, ready: d.replicas, available: d.replicas };
    const steps = Math.floor((this.now() - r.startedAt) / this.podReadyMs);
    if (r.restart) {
      const updated = Math.min(d.replicas, steps);
      const old = d.replicas - updated;
      return { ...base, total: updated + old, updated, ready: d.replicas, available: d.replicas };
    }
    const ready = Math.min(d.replicas, r.from + steps);
    return { ...base, total: d.replicas, updated: d.replicas, ready, available: ready };
  }
}

/** The demo's database actions: the sessions the recording saw, signalled in memory. */
export class DemoDatabaseActions implements DatabaseActions {
  readonly database: string;
  readonly changes: string[] = [];
  private readonly sessions = new Map<number, BackendState>();

  constructor(database: string, sessions: readonly BackendState[]) {
    this.database = database;
    for (const s of sessions) this.sessions.set(s.pid, s);
  }

  async session(pid: number): Promise<BackendState | undefined> {
    return this.sessions.get(pid);
  }

  private signal(verb: 'cancel' | 'terminate', m: BackendMatch): { matched: boolean } {
    const s = this.sessions.get(m.pid);
    if (!s || s.backendStart !== m.backendStart || s.queryStart !== m.queryStart) return { matched: false };
    if (verb === 'terminate') this.sessions.delete(m.pid);
    else this.sessions.set(m.pid, { ...s, state: 'idle', queryStart: null });
    this.changes.push(`${verb} pid ${m.pid}`);
    return { matched: true };
  }

  async cancel(m: BackendMatch): Promise<{ matched: boolean }> {
    return this.signal('cancel', m);
  }

  async terminate(m: BackendMatch): Promise<{ matched: boolean }> {
    return this.signal('terminate', m);
  }

  async tableExists(_schema: string, _table: string): Promise<boolean> {
    return true;
  }

  async vacuumAnalyze(schema: string, table: string): Promise<void> {
    this.changes.push(`VACUUM ANALYZE ${schema}.${table}`);
  }
}
