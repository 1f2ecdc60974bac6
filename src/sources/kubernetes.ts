import type { Agent as HttpsAgent, RequestOptions } from 'node:https';
import type {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  ObservableMiddleware,
  RequestContext,
  ResponseContext,
  V1Container,
  V1ContainerStatus,
  V1Pod,
  VersionApi,
} from '@kubernetes/client-node';
import { AppError, SourceError, type SourceFailure } from '../domain/errors.ts';
import type { Checkable, CheckResult } from '../domain/ports.ts';
import { parseCpuQuantity, parseMemoryBytes } from '../lib/quantity.ts';
import { errorSummary, sourceCall } from './http.ts';
import { clientNode } from './kubernetes-client.ts';

/**
 * The Kubernetes API, as the runbook uses it: `kubectl top pods -n aegis` (metrics.k8s.io), pod
 * status (restarts, OOMKilled), resource limits, the deployment's scale, pod logs, and the API
 * server's pod proxy for pprof. Every call has its own deadline and fails as a SourceError that
 * names the source and the operation.
 */

// ---------------------------------------------------------------------------------------------
// Typed data the source returns

export interface Resources {
  /** Cores. */
  readonly cpu?: number;
  /** Bytes. */
  readonly memory?: number;
}

export interface Termination {
  readonly reason: string;
  readonly exitCode: number;
  readonly finishedAt?: Date;
}

export interface ContainerInfo {
  readonly name: string;
  readonly requests: Resources;
  readonly limits: Resources;
  readonly ready: boolean;
  readonly restartCount: number;
  /** "running", "waiting: CrashLoopBackOff", "terminated: OOMKilled". */
  readonly state: string;
  readonly lastTermination?: Termination;
  /** The container's current or last termination was an OOM kill. */
  readonly oomKilled: boolean;
}

export interface PodInfo {
  readonly name: string;
  readonly namespace: string;
  readonly phase: string;
  readonly node?: string;
  readonly startedAt?: Date;
  readonly labels: Readonly<Record<string, string>>;
  readonly containers: readonly ContainerInfo[];
}

/** One pod's line of `kubectl top pods`: usage per container. */
export interface PodUsage {
  readonly name: string;
  readonly timestamp?: Date;
  /** The sampling window metrics-server averaged over, ms. */
  readonly windowMs?: number;
  readonly containers: readonly { readonly name: string; readonly cpu: number; readonly memory: number }[];
}

export interface DeploymentScale {
  /** Desired replicas (spec). */
  readonly replicas: number;
  /** Replicas the controller sees now (status). */
  readonly current: number;
}

/** A Deployment revision: one ReplicaSet, when it was created, its images and why. */
export interface ReplicaSetRevision {
  readonly name: string;
  /** The Deployment that owns it, when one does. */
  readonly deployment?: string;
  /** deployment.kubernetes.io/revision. */
  readonly revision?: number;
  readonly createdAt?: Date;
  /** "container=image:tag" of every container. */
  readonly images: readonly string[];
  /** kubernetes.io/change-cause. */
  readonly changeCause?: string;
  readonly replicas: number;
}

/** An HPA's last scaling. */
export interface HpaScaling {
  readonly name: string;
  /** "Deployment/aegis-api". */
  readonly target: string;
  readonly lastScaleTime?: Date;
  readonly currentReplicas: number;
  readonly desiredReplicas: number;
  readonly minReplicas?: number;
  readonly maxReplicas: number;
}

/** When a ConfigMap was last written, from its managedFields (which carry no data). */
export interface ConfigMapEdit {
  readonly name: string;
  readonly editedAt?: Date;
  /** The field manager of the latest write, e.g. "kubectl-edit", "helm". */
  readonly manager?: string;
}

export interface LogOptions {
  readonly container?: string;
  readonly sinceSeconds?: number;
  readonly tailLines?: number;
  readonly limitBytes?: number;
}

/** What an axios call needs to reach a pod's port through the API server's proxy. */
export interface PodProxyBase {
  /** e.g. https://k8s.example:6443/api/v1/namespaces/aegis/pods/aegis-api-7d9f:6060/proxy */
  readonly baseURL: string;
  readonly headers: Record<string, string>;
  /** Carries the cluster CA and client certificate (for an https:// API server). */
  readonly httpsAgent?: HttpsAgent;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
  /** Overrides the source's default deadline for this call. */
  readonly timeoutMs?: number;
}

// ---------------------------------------------------------------------------------------------

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** Label selector syntax we pass on: key=value, key!=value, key in (a,b), key, !key; comma-joined. */
const SELECTOR = /^[A-Za-z0-9_./,=!() -]*$/;

function checkName(kind: string, value: string): string {
  if (!NAME.test(value)) {
    throw new AppError('usage', `${kind} "${value}" is not a valid Kubernetes name`);
  }
  return value;
}

function checkSelector(selector: string | undefined): string | undefined {
  if (selector === undefined || selector === '') return undefined;
  if (!SELECTOR.test(selector) || selector.length > 1024) {
    throw new AppError('usage', `"${selector}" is not a valid label selector`);
  }
  return selector;
}

export interface KubernetesSourceOptions {
  readonly kubeConfig: KubeConfig;
  readonly timeoutMs: number;
  /** Shown in check() results and errors; default "kubernetes". */
  readonly name?: string;
}

export interface KubernetesAuthConfig {
  readonly auth: 'in_cluster' | 'kubeconfig';
  readonly context?: string;
  readonly timeout: number;
}

/** Builds the KubeConfig the configuration asks for: the pod's service account, or $KUBECONFIG / ~/.kube/config. */
export function loadKubeConfig(k: Pick<KubernetesAuthConfig, 'auth' | 'context'>): KubeConfig {
  const kc = new (clientNode().KubeConfig)();
  if (k.auth === 'in_cluster') {
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
    if (k.context) {
      if (!kc.getContextObject(k.context)) {
        throw new AppError(
          'config',
          `kubernetes.context: no context "${k.context}" in the kubeconfig (have: ${kc
            .getContexts()
            .map((c) => c.name)
            .join(', ')})`,
        );
      }
      kc.setCurrentContext(k.context);
    }
  }
  return kc;
}

export class KubernetesSource implements Checkable {
  readonly name: string;
  private readonly kc: KubeConfig;
  private readonly timeoutMs: number;
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly autoscaling: AutoscalingV2Api;
  private readonly version: VersionApi;

  constructor(options: KubernetesSourceOptions) {
    this.kc = options.kubeConfig;
    this.timeoutMs = options.timeoutMs;
    this.name = options.name ?? 'kubernetes';
    const k8s = clientNode();
    this.core = this.kc.makeApiClient(k8s.CoreV1Api);
    this.apps = this.kc.makeApiClient(k8s.AppsV1Api);
    this.custom = this.kc.makeApiClient(k8s.CustomObjectsApi);
    this.autoscaling = this.kc.makeApiClient(k8s.AutoscalingV2Api);
    this.version = this.kc.makeApiClient(k8s.VersionApi);
  }

  static fromConfig(k: KubernetesAuthConfig): KubernetesSource {
    return new KubernetesSource({ kubeConfig: loadKubeConfig(k), timeoutMs: k.timeout });
  }

  /** The API server's URL, from the current context. */
  get server(): string {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new AppError('config', 'kubernetes: the kubeconfig has no current cluster');
    return cluster.server.replace(/\/+$/, '');
  }

  /** Pods of a namespace (optionally by label selector) with limits, requests, restarts and OOM kills. */
  async listPods(namespace: string, selector?: string, options: CallOptions = {}): Promise<PodInfo[]> {
    checkName('namespace', namespace);
    const labelSelector = checkSelector(selector);
    return this.call('list pods', options, async (opts) => {
      const list = await this.core.listNamespacedPod({ namespace, labelSelector }, opts);
      if (!list || !Array.isArray(list.items)) throw malformed(this.name, 'list pods', 'no items array');
      return list.items.map((p) => toPodInfo(p, namespace));
    });
  }

  /** `kubectl top pods`: metrics.k8s.io/v1beta1 PodMetricsList, usage parsed to cores and bytes. */
  async podMetrics(namespace: string, selector?: string, options: CallOptions = {}): Promise<PodUsage[]> {
    checkName('namespace', namespace);
    const labelSelector = checkSelector(selector);
    return this.call('read pod metrics (metrics.k8s.io)', options, async (opts) => {
      const list: unknown = await this.custom.listNamespacedCustomObject(
        { group: 'metrics.k8s.io', version: 'v1beta1', namespace, plural: 'pods', labelSelector },
        opts,
      );
      return parsePodMetricsList(list, this.name);
    });
  }

  /** The deployment's scale subresource: desired and current replicas. */
  async getDeploymentScale(
    namespace: string,
    name: string,
    options: CallOptions = {},
  ): Promise<DeploymentScale> {
    checkName('namespace', namespace);
    checkName('deployment', name);
    return this.call(`read scale of deployment/${name}`, options, async (opts) => {
      const scale = await this.apps.readNamespacedDeploymentScale({ namespace, name }, opts);
      const replicas = scale?.spec?.replicas ?? 0;
      const current = scale?.status?.replicas ?? 0;
      if (!Number.isInteger(replicas) || !Number.isInteger(current)) {
        throw malformed(this.name, `read scale of deployment/${name}`, 'replicas are not integers');
      }
      return { replicas, current };
    });
  }

  /** The ReplicaSets of a namespace (by label selector): the Deployment's revisions, with images and change-cause. */
  async listReplicaSets(
    namespace: string,
    selector?: string,
    options: CallOptions = {},
  ): Promise<ReplicaSetRevision[]> {
    checkName('namespace', namespace);
    const labelSelector = checkSelector(selector);
    return this.call('list replicasets', options, async (opts) => {
      const list = await this.apps.listNamespacedReplicaSet({ namespace, labelSelector }, opts);
      if (!list || !Array.isArray(list.items))
        throw malformed(this.name, 'list replicasets', 'no items array');
      return list.items.map((rs): ReplicaSetRevision => {
        const meta = rs.metadata ?? {};
        const annotations = meta.annotations ?? {};
        const revision = Number(annotations['deployment.kubernetes.io/revision']);
        const owner = meta.ownerReferences?.find((o) => o.kind === 'Deployment')?.name;
        const cause = annotations['kubernetes.io/change-cause'];
        return {
          name: meta.name ?? '?',
          ...(owner ? { deployment: owner } : {}),
          ...(Number.isInteger(revision) ? { revision } : {}),
          ...(meta.creationTimestamp ? { createdAt: new Date(meta.creationTimestamp) } : {}),
          images: (rs.spec?.template?.spec?.containers ?? []).map((c) => `${c.name}=${c.image ?? '?'}`),
          ...(cause ? { changeCause: cause } : {}),
          replicas: rs.status?.replicas ?? 0,
        };
      });
    });
  }

  /** The HorizontalPodAutoscalers of a namespace (autoscaling/v2): their last scaling and replicas. */
  async listHpaScaling(namespace: string, options: CallOptions = {}): Promise<HpaScaling[]> {
    checkName('namespace', namespace);
    return this.call('list horizontalpodautoscalers', options, async (opts) => {
      const list = await this.autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace }, opts);
      if (!list || !Array.isArray(list.items))
        throw malformed(this.name, 'list horizontalpodautoscalers', 'no items array');
      return list.items.map(
        (h): HpaScaling => ({
          name: h.metadata?.name ?? '?',
          target: `${h.spec?.scaleTargetRef?.kind ?? '?'}/${h.spec?.scaleTargetRef?.name ?? '?'}`,
          ...(h.status?.lastScaleTime ? { lastScaleTime: new Date(h.status.lastScaleTime) } : {}),
          currentReplicas: h.status?.currentReplicas ?? 0,
          desiredReplicas: h.status?.desiredReplicas ?? 0,
          ...(h.spec?.minReplicas !== undefined ? { minReplicas: h.spec.minReplicas } : {}),
          maxReplicas: h.spec?.maxReplicas ?? 0,
        }),
      );
    });
  }

  /** When each ConfigMap of a namespace was last written (managedFields[].time); the data is not kept. */
  async listConfigMapEdits(namespace: string, options: CallOptions = {}): Promise<ConfigMapEdit[]> {
    checkName('namespace', namespace);
    return this.call('list configmaps', options, async (opts) => {
      const list = await this.core.listNamespacedConfigMap({ namespace }, opts);
      if (!list || !Array.isArray(list.items))
        throw malformed(this.name, 'list configmaps', 'no items array');
      return list.items.map((cm): ConfigMapEdit => {
        let latest: { time: Date; manager?: string } | undefined;
        for (const f of cm.metadata?.managedFields ?? []) {
          if (!f.time) continue;
          const time = new Date(f.time);
          if (!latest || time > latest.time) latest = { time, ...(f.manager ? { manager: f.manager } : {}) };
        }
        return {
          name: cm.metadata?.name ?? '?',
          ...(latest
            ? { editedAt: latest.time, ...(latest.manager ? { manager: latest.manager } : {}) }
            : {}),
        };
      });
    });
  }

  /** A pod's log (one container), bounded by time, lines and bytes. */
  async readPodLogs(
    namespace: string,
    pod: string,
    log: LogOptions = {},
    options: CallOptions = {},
  ): Promise<string> {
    checkName('namespace', namespace);
    checkName('pod', pod);
    if (log.container) checkName('container', log.container);
    return this.call(`read logs of pod/${pod}`, options, async (opts) => {
      const text: unknown = await this.core.readNamespacedPodLog(
        {
          name: pod,
          namespace,
          container: log.container,
          sinceSeconds: log.sinceSeconds,
          tailLines: log.tailLines,
          limitBytes: log.limitBytes,
        },
        opts,
      );
      if (typeof text !== 'string') throw malformed(this.name, `read logs of pod/${pod}`, 'not text');
      return text;
    });
  }

  /**
   * Base URL, headers and agent to reach `/api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy/` with
   * axios, authenticated as the kubeconfig's user (bearer token, client certificate, cluster CA).
   */
  async podProxyBase(namespace: string, pod: string, port: number): Promise<PodProxyBase> {
    checkName('namespace', namespace);
    checkName('pod', pod);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new AppError('usage', `port ${port} is not a TCP port`);
    }
    const opts: RequestOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) {
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
    }
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    const baseURL = `${this.server}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(
      pod,
    )}:${port}/proxy`;
    // client-node builds an https.Agent (or a proxy agent, which axios takes the same way)
    const agent = opts.agent && typeof opts.agent === 'object' ? (opts.agent as HttpsAgent) : undefined;
    return baseURL.startsWith('https:') ? { baseURL, headers, httpsAgent: agent } : { baseURL, headers };
  }

  /** GET /version. */
  async check(signal?: AbortSignal): Promise<CheckResult[]> {
    const started = performance.now();
    try {
      const v = await this.call('read version', { signal }, (opts) => this.version.getCode(undefined, opts));
      if (!v || typeof v.gitVersion !== 'string') throw malformed(this.name, 'read version', 'no gitVersion');
      return [
        {
          name: this.name,
          ok: true,
          detail: `${this.server}: Kubernetes ${v.gitVersion}, answered in ${Math.round(performance.now() - started)} ms`,
        },
      ];
    } catch (e) {
      return [
        {
          name: this.name,
          ok: false,
          detail: e instanceof Error ? e.message : String(e),
          hint:
            e instanceof SourceError && e.reason === 'auth'
              ? 'the service account or kubeconfig user lacks permission: see the RBAC role in the docs'
              : 'check kubernetes.auth / kubernetes.context and that the API server is reachable',
        },
      ];
    }
  }

  /** Runs one API call with a deadline (middleware sets the fetch signal) and maps its failure. */
  private call<T>(operation: string, options: CallOptions, fn: ClientCall<T>): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return sourceCall(this.name, operation, async () => {
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
      try {
        return await withDeadline(signal, fn);
      } catch (e) {
        if (timeout.aborted && !options.signal?.aborted) {
          throw new SourceError(this.name, operation, 'timeout', `no answer within ${timeoutMs} ms`, {
            cause: e,
          });
        }
        throw toKubernetesError(this.name, operation, e);
      }
    });
  }
}

export type ClientCall<T> = (opts: {
  middleware: ObservableMiddleware[];
  middlewareMergeStrategy: 'append';
}) => Promise<T>;

/**
 * Runs one generated-client call bounded by `signal`: a middleware hands the signal to fetch (and sets
 * the patch content type, which client-node 2 otherwise defaults to JSON patch), and since the client
 * does not pass the signal on to reading the body, the call is raced against it as well.
 */
export async function withDeadline<T>(
  signal: AbortSignal,
  fn: ClientCall<T>,
  contentType?: string,
): Promise<T> {
  const middleware: ObservableMiddleware = {
    pre: (ctx: RequestContext) => {
      ctx.setSignal(signal);
      if (contentType) ctx.setHeaderParam('Content-Type', contentType);
      return new (clientNode().Observable)(Promise.resolve(ctx));
    },
    post: (ctx: ResponseContext) => new (clientNode().Observable)(Promise.resolve(ctx)),
  };
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason ?? new Error('aborted'));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([fn({ middleware: [middleware], middlewareMergeStrategy: 'append' }), aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

function malformed(source: string, operation: string, detail: string): SourceError {
  return new SourceError(source, operation, 'malformed', `unexpected answer: ${detail}`);
}

/** Maps what client-node throws (ApiException, fetch errors, JSON errors) to a SourceError. */
export function toKubernetesError(source: string, operation: string, e: unknown): SourceError {
  if (e instanceof SourceError) return e;
  if (e instanceof clientNode().ApiException) {
    const status = e.code;
    const reason: SourceFailure = status === 401 || status === 403 ? 'auth' : 'http_error';
    const message = errorSummary(e.body);
    // client-node reports a body it could not parse as JSON with the status of the response.
    if (status >= 200 && status < 300) {
      return new SourceError(source, operation, 'malformed', `answer is not valid JSON${hint(message)}`, {
        cause: e,
      });
    }
    if (
      status === 500 &&
      /Error occurred in metrics request: .*(ECONNREFUSED|fetch failed)/.test(e.message)
    ) {
      return new SourceError(source, operation, 'unreachable', e.message, { cause: e });
    }
    return new SourceError(source, operation, reason, `HTTP ${status}${hint(message)}`, { cause: e });
  }
  if (e instanceof SyntaxError) {
    return new SourceError(source, operation, 'malformed', `answer is not valid JSON: ${e.message}`, {
      cause: e,
    });
  }
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'AbortError' || err?.name === 'TimeoutError') {
    return new SourceError(source, operation, 'timeout', 'no answer in time', { cause: e });
  }
  const code = err?.cause?.code;
  if (code) {
    const reason: SourceFailure = code === 'UND_ERR_HEADERS_TIMEOUT' ? 'timeout' : 'unreachable';
    return new SourceError(source, operation, reason, `cannot connect (${code})`, { cause: e });
  }
  return new SourceError(source, operation, 'unreachable', err?.message ?? String(e), { cause: e });
}

function hint(message: string): string {
  return message ? `: ${message}` : '';
}

function resources(map: Record<string, string> | undefined): Resources {
  const cpu = map?.cpu !== undefined ? parseCpuQuantity(String(map.cpu)) : undefined;
  const memory = map?.memory !== undefined ? parseMemoryBytes(String(map.memory)) : undefined;
  return { ...(cpu !== undefined ? { cpu } : {}), ...(memory !== undefined ? { memory } : {}) };
}

function describeState(s: V1ContainerStatus | undefined): string {
  const st = s?.state;
  if (st?.running) return 'running';
  if (st?.waiting) return `waiting${st.waiting.reason ? `: ${st.waiting.reason}` : ''}`;
  if (st?.terminated) return `terminated${st.terminated.reason ? `: ${st.terminated.reason}` : ''}`;
  return 'unknown';
}

function toContainerInfo(spec: V1Container, status: V1ContainerStatus | undefined): ContainerInfo {
  const last = status?.lastState?.terminated;
  const current = status?.state?.terminated;
  const lastTermination: Termination | undefined = last
    ? { reason: last.reason ?? 'Unknown', exitCode: last.exitCode, finishedAt: toDate(last.finishedAt) }
    : undefined;
  return {
    name: spec.name,
    requests: resources(spec.resources?.requests as Record<string, string> | undefined),
    limits: resources(spec.resources?.limits as Record<string, string> | undefined),
    ready: status?.ready ?? false,
    restartCount: status?.restartCount ?? 0,
    state: describeState(status),
    ...(lastTermination ? { lastTermination } : {}),
    oomKilled: last?.reason === 'OOMKilled' || current?.reason === 'OOMKilled',
  };
}

function toDate(v: unknown): Date | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v;
  if (typeof v === 'string') {
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

export function toPodInfo(p: V1Pod, namespace: string): PodInfo {
  const statuses = p.status?.containerStatuses ?? [];
  return {
    name: p.metadata?.name ?? '?',
    namespace: p.metadata?.namespace ?? namespace,
    phase: p.status?.phase ?? 'Unknown',
    ...(p.spec?.nodeName ? { node: p.spec.nodeName } : {}),
    ...(toDate(p.status?.startTime) ? { startedAt: toDate(p.status?.startTime) } : {}),
    labels: { ...(p.metadata?.labels ?? {}) },
    containers: (p.spec?.containers ?? []).map((c) =>
      toContainerInfo(
        c,
        statuses.find((s) => s.name === c.name),
      ),
    ),
  };
}

const WINDOW = /^(\d+(?:\.\d+)?)(ms|s|m)$/;

/** Validates a metrics.k8s.io PodMetricsList and parses its quantities. */
export function parsePodMetricsList(list: unknown, source = 'kubernetes'): PodUsage[] {
  const op = 'read pod metrics (metrics.k8s.io)';
  if (!list || typeof list !== 'object') throw malformed(source, op, 'not an object');
  const l = list as { kind?: unknown; items?: unknown };
  if (l.kind !== undefined && l.kind !== 'PodMetricsList')
    throw malformed(source, op, `kind ${String(l.kind)}`);
  if (!Array.isArray(l.items)) throw malformed(source, op, 'no items array');
  return l.items.map((raw: unknown) => {
    const item = raw as {
      metadata?: { name?: unknown };
      timestamp?: unknown;
      window?: unknown;
      containers?: unknown;
    };
    const name = item?.metadata?.name;
    if (typeof name !== 'string' || !Array.isArray(item.containers)) {
      throw malformed(source, op, 'an item without metadata.name or containers');
    }
    const containers = item.containers.map((c: unknown) => {
      const cc = c as { name?: unknown; usage?: { cpu?: unknown; memory?: unknown } };
      const cpu = typeof cc?.usage?.cpu === 'string' ? parseCpuQuantity(cc.usage.cpu) : undefined;
      const memory = typeof cc?.usage?.memory === 'string' ? parseMemoryBytes(cc.usage.memory) : undefined;
      if (typeof cc?.name !== 'string' || cpu === undefined || memory === undefined) {
        throw malformed(source, op, `pod ${name}: container usage is not cpu/memory quantities`);
      }
      return { name: cc.name, cpu, memory };
    });
    const w = typeof item.window === 'string' ? WINDOW.exec(item.window) : null;
    const unit = w?.[2] === 'ms' ? 1 : w?.[2] === 's' ? 1000 : 60_000;
    const timestamp = toDate(item.timestamp);
    return {
      name,
      ...(timestamp ? { timestamp } : {}),
      ...(w ? { windowMs: Number(w[1]) * unit } : {}),
      containers,
    };
  });
}
