/**
 * What actions/ needs from the outside systems it changes. sources/kubernetes-actions.ts and
 * sources/postgres-actions.ts implement these; tests may hand fakes. Every method fails with an AppError
 * that says what happened: not_found (the target is gone), conflict (changed meanwhile), source (the
 * system refused or failed, 403 naming the RBAC rule).
 */

/** The deployment's scale subresource. */
export interface ScaleState {
  readonly replicas: number;
  /** Optimistic-concurrency token: the patch fails with a conflict if the scale changed since. */
  readonly resourceVersion: string;
}

/** One container's memory limit in a deployment's pod template. */
export interface MemoryLimitState {
  /** Index of the container in spec.template.spec.containers (the JSON patch path needs it). */
  readonly index: number;
  readonly container: string;
  /** The limit as written in the spec ("2Gi"), undefined when the container has none. */
  readonly limit?: string;
  /** The same in bytes. */
  readonly limitBytes?: number;
  /** Whether resources.limits exists at all (a patch adds it otherwise). */
  readonly hasLimits: boolean;
  /** The memory request in bytes: a limit below it is refused by the API server. */
  readonly requestBytes?: number;
}

export interface ConfigValueState {
  /** The key's value, undefined when the ConfigMap lacks the key. */
  readonly value?: string;
  readonly keys: readonly string[];
  readonly resourceVersion: string;
}

/** `kubectl rollout status`: what the deployment controller reports. */
export interface RolloutStatus {
  readonly generation: number;
  readonly observedGeneration: number;
  /** Desired replicas (spec). */
  readonly desired: number;
  /** Pods of any revision (status.replicas). */
  readonly total: number;
  readonly updated: number;
  readonly ready: number;
  readonly available: number;
  /** The controller gave up: ProgressDeadlineExceeded, with its message. */
  readonly failed?: string;
}

export interface ClusterActions {
  readScale(namespace: string, deployment: string): Promise<ScaleState>;
  /** Sets spec.replicas through the scale subresource, guarded by resourceVersion. */
  scale(namespace: string, deployment: string, replicas: number, resourceVersion: string): Promise<void>;
  /** The container named `container`, or the first container when none is named. */
  readMemoryLimit(namespace: string, deployment: string, container?: string): Promise<MemoryLimitState>;
  /**
   * The runbook's JSON patch of /spec/template/spec/containers/<index>/resources/limits/memory,
   * guarded by "test" operations on the container's name and the current value.
   */
  setMemoryLimit(namespace: string, deployment: string, current: MemoryLimitState, to: string): Promise<void>;
  readConfigValue(namespace: string, configmap: string, key: string): Promise<ConfigValueState>;
  /** Sets data[key], guarded by a "test" of the current value (or of the resourceVersion when the key is new). */
  setConfigValue(
    namespace: string,
    configmap: string,
    key: string,
    current: ConfigValueState,
    to: string,
  ): Promise<void>;
  /** `kubectl rollout restart`: stamps kubectl.kubernetes.io/restartedAt on the pod template. */
  restartRollout(namespace: string, deployment: string, at: Date): Promise<void>;
  rolloutStatus(namespace: string, deployment: string): Promise<RolloutStatus>;
}

/** A backend as pg_stat_activity shows it; timestamps exact (microseconds, UTC, ISO). */
export interface BackendState {
  readonly pid: number;
  readonly database: string | null;
  readonly user: string | null;
  readonly state: string | null;
  readonly backendStart: string | null;
  readonly queryStart: string | null;
  readonly query: string | null;
}

export interface BackendMatch {
  readonly pid: number;
  readonly backendStart: string;
  readonly queryStart: string;
}

export interface DatabaseActions {
  /** The database the action role is connected to (the service's). */
  readonly database: string;
  session(pid: number): Promise<BackendState | undefined>;
  /**
   * pg_cancel_backend / pg_terminate_backend, in one statement with the check that the pid still has the
   * same backend start and query start: `matched` is false when it does not (nothing was signalled).
   */
  cancel(match: BackendMatch): Promise<{ matched: boolean }>;
  terminate(match: BackendMatch): Promise<{ matched: boolean }>;
  /** Whether schema.table is a table (or materialized view) in the catalog. */
  tableExists(schema: string, table: string): Promise<boolean>;
  /** VACUUM ANALYZE, outside any transaction block, with escaped identifiers. */
  vacuumAnalyze(schema: string, table: string): Promise<void>;
}

/** A reading of the metric that motivated a change, e.g. the hottest pod's CPU as a share of its limit. */
export interface MetricReading {
  readonly value: number;
  /** Formatted for people: "94%", "1.8 s". */
  readonly text: string;
}

export interface MetricProbe {
  /** e.g. "CPU of the hottest pod (share of its limit)". */
  readonly name: string;
  /** Undefined when there is no value (no series, NaN). */
  read(): Promise<MetricReading | undefined>;
}
