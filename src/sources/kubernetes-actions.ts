import type { AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, V1Deployment } from '@kubernetes/client-node';
import type {
  ClusterActions,
  ConfigValueState,
  MemoryLimitState,
  RolloutStatus,
  ScaleState,
} from '../actions/ports.ts';
import { AppError, SourceError } from '../domain/errors.ts';
import { parseMemoryBytes } from '../lib/quantity.ts';
import { errorSummary, sourceCall } from './http.ts';
import {
  type ClientCall,
  type KubernetesAuthConfig,
  loadKubeConfig,
  toKubernetesError,
  withDeadline,
} from './kubernetes.ts';
import { clientNode } from './kubernetes-client.ts';

/**
 * The Kubernetes changes the runbook's fixes make, and nothing else:
 *
 * | call                         | request                                                    | RBAC (deploy/rbac.yaml)        |
 * |------------------------------|------------------------------------------------------------|--------------------------------|
 * | readScale                    | GET   apps/v1 …/deployments/{name}/scale                   | deployments/scale get          |
 * | scale                        | PATCH apps/v1 …/deployments/{name}/scale (merge patch)     | deployments/scale patch        |
 * | readMemoryLimit, rolloutStatus | GET apps/v1 …/deployments/{name}                          | deployments get                |
 * | setMemoryLimit               | PATCH apps/v1 …/deployments/{name} (JSON patch)            | deployments patch              |
 * | restartRollout               | PATCH apps/v1 …/deployments/{name} (strategic merge patch) | deployments patch              |
 * | readConfigValue              | GET   v1 …/configmaps/{name}                               | configmaps get                 |
 * | setConfigValue               | PATCH v1 …/configmaps/{name} (JSON patch)                  | configmaps patch               |
 *
 * Every change is guarded: the scale patch carries the resourceVersion it was read at, the JSON patches
 * start with "test" operations on what they replace. 404, 409 and 403 come back as messages that say
 * what to do (not found in the namespace; changed meanwhile, ask again; the Role lacks the verb).
 */

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const SOURCE = 'kubernetes';
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';

function checkName(kind: string, value: string): void {
  if (!NAME.test(value)) throw new AppError('usage', `${kind} "${value}" is not a valid Kubernetes name`);
}

/** RFC 6901: "~" and "/" inside a JSON pointer token. */
export function jsonPointerToken(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** What a request needs from RBAC, named in the 403 message. */
interface Access {
  readonly verb: 'get' | 'patch';
  /** e.g. "deployments/scale" (apps), "configmaps" (core). */
  readonly resource: string;
  readonly group: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
}

export interface KubernetesActionsOptions {
  readonly kubeConfig: KubeConfig;
  readonly timeoutMs: number;
  /** Shown as the field manager of every change (kubectl shows it in managedFields). Default "aegis-bot". */
  readonly fieldManager?: string;
}

export class KubernetesActions implements ClusterActions {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly timeoutMs: number;
  private readonly fieldManager: string;

  constructor(options: KubernetesActionsOptions) {
    this.apps = options.kubeConfig.makeApiClient(clientNode().AppsV1Api);
    this.core = options.kubeConfig.makeApiClient(clientNode().CoreV1Api);
    this.timeoutMs = options.timeoutMs;
    this.fieldManager = options.fieldManager ?? 'aegis-bot';
  }

  /** In-cluster service account or kubeconfig, as config.kubernetes says. */
  static fromConfig(k: KubernetesAuthConfig): KubernetesActions {
    return new KubernetesActions({ kubeConfig: loadKubeConfig(k), timeoutMs: k.timeout });
  }

  async readScale(namespace: string, deployment: string): Promise<ScaleState> {
    const access = this.access('get', 'deployments/scale', 'apps', 'deployment', deployment, namespace);
    return this.call(`read scale of deployment/${deployment}`, access, undefined, async (opts) => {
      const scale = await this.apps.readNamespacedDeploymentScale({ namespace, name: deployment }, opts);
      const replicas = scale?.spec?.replicas ?? 0;
      const resourceVersion = scale?.metadata?.resourceVersion;
      if (!Number.isInteger(replicas) || typeof resourceVersion !== 'string') {
        throw new SourceError(
          SOURCE,
          `read scale of deployment/${deployment}`,
          'malformed',
          'no replicas or resourceVersion',
        );
      }
      return { replicas, resourceVersion };
    });
  }

  async scale(
    namespace: string,
    deployment: string,
    replicas: number,
    resourceVersion: string,
  ): Promise<void> {
    if (!Number.isInteger(replicas) || replicas < 0)
      throw new AppError('usage', `${replicas} is not a replica count`);
    const access = this.access('patch', 'deployments/scale', 'apps', 'deployment', deployment, namespace);
    await this.call(
      `scale deployment/${deployment} to ${replicas}`,
      access,
      clientNode().PatchStrategy.MergePatch,
      (opts) =>
        this.apps.patchNamespacedDeploymentScale(
          {
            namespace,
            name: deployment,
            fieldManager: this.fieldManager,
            // resourceVersion makes the API server refuse (409) a scale that changed since it was read
            body: { metadata: { resourceVersion }, spec: { replicas } },
          },
          opts,
        ),
    );
  }

  async readMemoryLimit(
    namespace: string,
    deployment: string,
    container?: string,
  ): Promise<MemoryLimitState> {
    const d = await this.readDeployment(namespace, deployment);
    const containers = d.spec?.template?.spec?.containers ?? [];
    const index = container === undefined ? 0 : containers.findIndex((c) => c.name === container);
    const c = containers[index];
    if (!c) {
      throw new AppError(
        'not_found',
        container === undefined
          ? `deployment/${deployment} in namespace ${namespace} has no containers`
          : `deployment/${deployment} in namespace ${namespace} has no container "${container}" (it has ${containers.map((x) => x.name).join(', ') || 'none'})`,
      );
    }
    const limits = c.resources?.limits as Record<string, string> | undefined;
    const requests = c.resources?.requests as Record<string, string> | undefined;
    const limit = limits?.memory !== undefined ? String(limits.memory) : undefined;
    const limitBytes = limit !== undefined ? parseMemoryBytes(limit) : undefined;
    const requestBytes =
      requests?.memory !== undefined ? parseMemoryBytes(String(requests.memory)) : undefined;
    return {
      index,
      container: c.name,
      hasLimits: limits !== undefined,
      ...(limit !== undefined ? { limit } : {}),
      ...(limitBytes !== undefined ? { limitBytes } : {}),
      ...(requestBytes !== undefined ? { requestBytes } : {}),
    };
  }

  /**
   * The runbook's patch, `[{"op": "replace", "path": "/spec/template/spec/containers/0/resources/limits/memory",
   * "value": "4Gi"}]`, at the named container's index, after "test" operations that fail the whole patch
   * if the container at that index or its current limit changed since they were read.
   */
  async setMemoryLimit(
    namespace: string,
    deployment: string,
    current: MemoryLimitState,
    to: string,
  ): Promise<void> {
    const base = `/spec/template/spec/containers/${current.index}`;
    const ops: object[] = [{ op: 'test', path: `${base}/name`, value: current.container }];
    if (current.limit !== undefined) {
      ops.push({ op: 'test', path: `${base}/resources/limits/memory`, value: current.limit });
      ops.push({ op: 'replace', path: `${base}/resources/limits/memory`, value: to });
    } else if (current.hasLimits) {
      ops.push({ op: 'add', path: `${base}/resources/limits/memory`, value: to });
    } else {
      ops.push({ op: 'add', path: `${base}/resources/limits`, value: { memory: to } });
    }
    const access = this.access('patch', 'deployments', 'apps', 'deployment', deployment, namespace);
    await this.call(
      `set the memory limit of deployment/${deployment}`,
      access,
      clientNode().PatchStrategy.JsonPatch,
      (opts) =>
        this.apps.patchNamespacedDeployment(
          { namespace, name: deployment, fieldManager: this.fieldManager, body: ops },
          opts,
        ),
    );
  }

  async readConfigValue(namespace: string, configmap: string, key: string): Promise<ConfigValueState> {
    const access = this.access('get', 'configmaps', '', 'ConfigMap', configmap, namespace);
    return this.call(`read ConfigMap ${configmap}`, access, undefined, async (opts) => {
      const cm = await this.core.readNamespacedConfigMap({ namespace, name: configmap }, opts);
      const data = cm?.data ?? {};
      const resourceVersion = cm?.metadata?.resourceVersion;
      if (typeof resourceVersion !== 'string') {
        throw new SourceError(SOURCE, `read ConfigMap ${configmap}`, 'malformed', 'no resourceVersion');
      }
      const value = data[key];
      return {
        keys: Object.keys(data),
        resourceVersion,
        ...(value !== undefined ? { value: String(value) } : {}),
      };
    });
  }

  async setConfigValue(
    namespace: string,
    configmap: string,
    key: string,
    current: ConfigValueState,
    to: string,
  ): Promise<void> {
    const path = `/data/${jsonPointerToken(key)}`;
    const ops: object[] =
      current.value !== undefined
        ? [
            { op: 'test', path, value: current.value },
            { op: 'replace', path, value: to },
          ]
        : [
            { op: 'test', path: '/metadata/resourceVersion', value: current.resourceVersion },
            current.keys.length > 0
              ? { op: 'add', path, value: to }
              : { op: 'add', path: '/data', value: { [key]: to } },
          ];
    const access = this.access('patch', 'configmaps', '', 'ConfigMap', configmap, namespace);
    await this.call(
      `set ${key} in ConfigMap ${configmap}`,
      access,
      clientNode().PatchStrategy.JsonPatch,
      (opts) =>
        this.core.patchNamespacedConfigMap(
          { namespace, name: configmap, fieldManager: this.fieldManager, body: ops },
          opts,
        ),
    );
  }

  /** What `kubectl rollout restart` does: a new pod-template annotation, so the controller rolls every pod. */
  async restartRollout(namespace: string, deployment: string, at: Date): Promise<void> {
    const access = this.access('patch', 'deployments', 'apps', 'deployment', deployment, namespace);
    const body = {
      spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: at.toISOString() } } } },
    };
    await this.call(
      `restart deployment/${deployment}`,
      access,
      clientNode().PatchStrategy.StrategicMergePatch,
      (opts) =>
        this.apps.patchNamespacedDeployment(
          { namespace, name: deployment, fieldManager: this.fieldManager, body },
          opts,
        ),
    );
  }

  async rolloutStatus(namespace: string, deployment: string): Promise<RolloutStatus> {
    const d = await this.readDeployment(namespace, deployment);
    const s = d.status ?? {};
    const stalled = (s.conditions ?? []).find(
      (c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded',
    );
    return {
      generation: d.metadata?.generation ?? 0,
      observedGeneration: s.observedGeneration ?? 0,
      desired: d.spec?.replicas ?? 1,
      total: s.replicas ?? 0,
      updated: s.updatedReplicas ?? 0,
      ready: s.readyReplicas ?? 0,
      available: s.availableReplicas ?? 0,
      ...(stalled ? { failed: stalled.message ?? 'ProgressDeadlineExceeded' } : {}),
    };
  }

  private readDeployment(namespace: string, deployment: string): Promise<V1Deployment> {
    const access = this.access('get', 'deployments', 'apps', 'deployment', deployment, namespace);
    return this.call(`read deployment/${deployment}`, access, undefined, (opts) =>
      this.apps.readNamespacedDeployment({ namespace, name: deployment }, opts),
    );
  }

  private access(
    verb: Access['verb'],
    resource: string,
    group: string,
    kind: string,
    name: string,
    namespace: string,
  ): Access {
    checkName('namespace', namespace);
    checkName(kind, name);
    return { verb, resource, group, kind, name, namespace };
  }

  /** One API call: a deadline, the patch content type, and errors that say what to do. */
  private call<T>(
    operation: string,
    access: Access,
    contentType: PatchStrategy | undefined,
    fn: ClientCall<T>,
  ): Promise<T> {
    return unwrapped(() =>
      sourceCall(SOURCE, operation, async () => {
        const signal = AbortSignal.timeout(this.timeoutMs);
        try {
          return await withDeadline(signal, fn, contentType);
        } catch (e) {
          if (signal.aborted) {
            throw new SourceError(SOURCE, operation, 'timeout', `no answer within ${this.timeoutMs} ms`, {
              cause: e,
            });
          }
          const mapped = actionError(operation, access, e);
          // sourceCall passes SourceErrors on (and counts them); a conflict or not-found rides inside one
          if (mapped instanceof SourceError) throw mapped;
          throw new SourceError(SOURCE, operation, 'http_error', mapped.message, {
            cause: new Carried(mapped),
          });
        }
      }),
    );
  }
}

/** An AppError carried through sourceCall, which turns anything but a SourceError into one. */
class Carried {
  readonly error: AppError;
  constructor(error: AppError) {
    this.error = error;
  }
}

async function unwrapped<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof SourceError && e.cause instanceof Carried) throw e.cause.error;
    throw e;
  }
}

/** A Status body's message and, for 422, its causes (where a failed JSON-patch "test" is named). */
function statusMessage(body: unknown): string {
  let b: unknown = body;
  if (typeof body === 'string') {
    try {
      b = JSON.parse(body);
    } catch {
      return body.trim().slice(0, 300);
    }
  }
  if (!b || typeof b !== 'object') return '';
  const status = b as { message?: unknown; details?: { causes?: { message?: unknown }[] } };
  const parts = [typeof status.message === 'string' ? status.message : ''];
  for (const c of Array.isArray(status.details?.causes) ? status.details.causes : []) {
    if (typeof c?.message === 'string') parts.push(c.message);
  }
  return parts.filter(Boolean).join(': ').slice(0, 400);
}

/** 404, 409, 422 (a failed "test"), 403 and 401 as messages that say what happened and what to do. */
export function actionError(operation: string, a: Access, e: unknown): AppError {
  if (!(e instanceof clientNode().ApiException)) return toKubernetesError(SOURCE, operation, e);
  const server = statusMessage(e.body);
  const summary = errorSummary(server);
  const said = summary ? ` (API server: ${summary})` : '';
  const target = a.kind === 'ConfigMap' ? `ConfigMap ${a.name}` : `${a.kind}/${a.name}`;
  switch (e.code) {
    case 404:
      return new AppError('not_found', `${target} not found in namespace ${a.namespace}${said}`, {
        cause: e,
      });
    case 409:
      return new AppError(
        'conflict',
        `${target} in namespace ${a.namespace} changed meanwhile (409 Conflict): nothing was changed; ask again${said}`,
        {
          cause: e,
        },
      );
    case 422:
      if (/test operation|testing value|test failed/i.test(server)) {
        return new AppError(
          'conflict',
          `${target} in namespace ${a.namespace} changed meanwhile (the patch's test of the current value failed): nothing was changed; ask again`,
          {
            cause: e,
          },
        );
      }
      return new SourceError(
        SOURCE,
        operation,
        'refused',
        `the API server refused the change (422 Invalid)${said}`,
        { cause: e },
      );
    case 403: {
      const resource = a.group ? `${a.resource} (API group ${a.group})` : a.resource;
      return new SourceError(
        SOURCE,
        operation,
        'auth',
        `forbidden by RBAC: the bot's service account may not ${a.verb} ${resource} in namespace ${a.namespace}; grant "${a.verb}" on "${a.resource}" in the Role in deploy/rbac.yaml${said}`,
        { cause: e },
      );
    }
    case 401:
      return new SourceError(
        SOURCE,
        operation,
        'auth',
        `the API server did not accept the bot's credentials (401)${said}`,
        { cause: e },
      );
    default:
      return toKubernetesError(SOURCE, operation, e);
  }
}
