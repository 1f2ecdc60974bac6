/**
 * A Kubernetes API server for the action tests, behind nock: it keeps a Deployment and a ConfigMap,
 * answers GET and PATCH the way the API server does (Scale objects built from the Deployment,
 * merge / JSON / strategic-merge patches by content type, resourceVersion preconditions answered 409,
 * a failed JSON-patch "test" answered 422, unknown objects 404), simulates a rollout progressing one
 * pod per status read, and records every request so the tests can check it against deploy/rbac.yaml.
 */
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import nock from 'nock';

export const K8S_SERVER = 'https://k8s.actions.test';

type Json = Record<string, unknown>;

export function fixture(name: string): Json {
  return JSON.parse(
    readFileSync(new URL(`../fixtures/k8s-actions/${name}`, import.meta.url), 'utf8'),
  ) as Json;
}

export interface RecordedRequest {
  readonly method: string;
  /** Path without the query. */
  readonly path: string;
  readonly query: string;
  readonly contentType: string | null;
  readonly body: unknown;
}

export interface Fault {
  readonly method: string;
  readonly path: RegExp;
  readonly status: number;
  readonly body: Json;
  /** How many matching requests get it; default 1. */
  times?: number;
}

export function kubeConfigFor(server = K8S_SERVER): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server, skipTLSVerify: false }],
    users: [{ name: 'aegis-bot', token: 'sa-token-actions' }],
    contexts: [{ name: 'test', cluster: 'test', user: 'aegis-bot', namespace: 'aegis' }],
    currentContext: 'test',
  });
  return kc;
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function status(code: number, reason: string, message: string, details: Json = {}): Json {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    details,
    code,
  };
}

export class FakeCluster {
  readonly requests: RecordedRequest[] = [];
  readonly faults: Fault[] = [];
  deployment: Json;
  configmap: Json;
  /** Status reads it takes a rollout to bring one more pod up. */
  podsPerRead = 1;
  /** Objects deleted from the cluster: requests for them get 404. */
  readonly gone = new Set<'deployment' | 'configmap'>();
  private scope: nock.Scope | undefined;
  private rv = 48_300_000;

  constructor() {
    this.deployment = fixture('deployment.json');
    this.configmap = fixture('configmap.json');
  }

  get patches(): RecordedRequest[] {
    return this.requests.filter((r) => r.method === 'PATCH');
  }

  get replicas(): number {
    return (this.deployment.spec as { replicas: number }).replicas;
  }

  containerLimit(name: string): string | undefined {
    const c = this.containers().find((x) => x.name === name) as
      | { resources?: { limits?: { memory?: string } } }
      | undefined;
    return c?.resources?.limits?.memory;
  }

  containers(): Json[] {
    return ((this.deployment.spec as Json).template as { spec: { containers: Json[] } }).spec.containers;
  }

  /** Someone else changes the replicas (as an HPA or a colleague with kubectl would). */
  setReplicasBehindTheBotsBack(n: number): void {
    (this.deployment.spec as Json).replicas = n;
    this.bump(this.deployment, true);
    this.settle();
  }

  fail(f: Fault): void {
    this.faults.push({ times: 1, ...f });
  }

  install(): this {
    this.scope = nock(K8S_SERVER)
      .persist()
      .get(/.*/)
      .reply((req: Request) => this.handle(req))
      .patch(/.*/)
      .reply((req: Request) => this.handle(req))
      .put(/.*/)
      .reply((req: Request) => this.handle(req))
      .post(/.*/)
      .reply((req: Request) => this.handle(req))
      .delete(/.*/)
      .reply((req: Request) => this.handle(req));
    return this;
  }

  uninstall(): void {
    this.scope?.persist(false);
    nock.cleanAll();
  }

  private async handle(req: Request): Promise<[number, Json, Record<string, string>]> {
    const url = new URL(req.url);
    const text = req.method === 'GET' ? '' : await req.clone().text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const contentType = req.headers.get('content-type');
    this.requests.push({ method: req.method, path: url.pathname, query: url.search, contentType, body });
    const json = (code: number, b: Json): [number, Json, Record<string, string>] => [
      code,
      b,
      { 'content-type': 'application/json', 'audit-id': `fake-${this.requests.length}` },
    ];
    const fault = this.faults.find(
      (f) => f.method === req.method && f.path.test(url.pathname) && (f.times ?? 1) > 0,
    );
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      return json(fault.status, fault.body);
    }
    const m =
      /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)(\/scale)?$/.exec(url.pathname) ??
      /^\/api\/v1\/namespaces\/([^/]+)\/(configmaps)\/([^/]+)$/.exec(url.pathname);
    if (!m) return json(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    if (m[2] === 'configmaps')
      return json(...this.configmapRequest(req.method, m[1] as string, m[3] as string, contentType, body));
    return json(
      ...this.deploymentRequest(req.method, m[1] as string, m[2] as string, Boolean(m[3]), contentType, body),
    );
  }

  private deploymentRequest(
    method: string,
    ns: string,
    name: string,
    scale: boolean,
    contentType: string | null,
    body: unknown,
  ): [number, Json] {
    const meta = this.deployment.metadata as Json;
    if (ns !== meta.namespace || name !== meta.name || this.gone.has('deployment')) {
      return [
        404,
        status(404, 'NotFound', `deployments.apps "${name}" not found`, {
          name,
          group: 'apps',
          kind: 'deployments',
        }),
      ];
    }
    if (method === 'GET') {
      if (scale) return [200, this.scaleObject()];
      this.progress();
      return [200, clone(this.deployment)];
    }
    if (method !== 'PATCH') return [405, status(405, 'MethodNotAllowed', `${method} is not supported here`)];
    if (scale) {
      if (
        contentType !== 'application/merge-patch+json' &&
        contentType !== 'application/strategic-merge-patch+json'
      ) {
        return [
          415,
          status(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
          ),
        ];
      }
      const patch = body as { metadata?: { resourceVersion?: string }; spec?: { replicas?: number } };
      if (
        patch.metadata?.resourceVersion !== undefined &&
        patch.metadata.resourceVersion !== meta.resourceVersion
      ) {
        return [409, fixture('status-conflict.json')];
      }
      if (typeof patch.spec?.replicas === 'number') {
        (this.deployment.spec as Json).replicas = patch.spec.replicas;
        this.bump(this.deployment, true);
      }
      return [200, this.scaleObject()];
    }
    const result = this.applyPatch(this.deployment, contentType, body);
    if (result) return result;
    this.bump(this.deployment, true);
    this.startRollout();
    return [200, clone(this.deployment)];
  }

  private configmapRequest(
    method: string,
    ns: string,
    name: string,
    contentType: string | null,
    body: unknown,
  ): [number, Json] {
    const meta = this.configmap.metadata as Json;
    if (ns !== meta.namespace || name !== meta.name || this.gone.has('configmap')) {
      return [404, status(404, 'NotFound', `configmaps "${name}" not found`, { name, kind: 'configmaps' })];
    }
    if (method === 'GET') return [200, clone(this.configmap)];
    if (method !== 'PATCH') return [405, status(405, 'MethodNotAllowed', `${method} is not supported here`)];
    const result = this.applyPatch(this.configmap, contentType, body);
    if (result) return result;
    this.bump(this.configmap, false);
    return [200, clone(this.configmap)];
  }

  /** Applies a patch in place; an error answer when it cannot be applied. */
  private applyPatch(target: Json, contentType: string | null, body: unknown): [number, Json] | undefined {
    if (contentType === 'application/json-patch+json') {
      if (!Array.isArray(body))
        return [
          400,
          status(400, 'BadRequest', 'json: cannot unmarshal object into Go value of type jsonpatch.Patch'),
        ];
      const copy = clone(target);
      for (const op of body as { op: string; path: string; value?: unknown }[]) {
        const error = applyOp(copy, op);
        if (error) {
          return [
            422,
            status(422, 'Invalid', 'the server rejected our request due to an error in our request', {
              causes: [{ reason: 'UnexpectedServerResponse', message: error }],
            }),
          ];
        }
      }
      for (const k of Object.keys(target)) delete target[k];
      Object.assign(target, copy);
      return undefined;
    }
    if (
      contentType === 'application/merge-patch+json' ||
      contentType === 'application/strategic-merge-patch+json'
    ) {
      mergeInto(target, body as Json);
      return undefined;
    }
    return [
      415,
      status(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
      ),
    ];
  }

  private scaleObject(): Json {
    const meta = this.deployment.metadata as Json;
    const st = this.deployment.status as Json;
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: meta.name,
        namespace: meta.namespace,
        uid: meta.uid,
        resourceVersion: meta.resourceVersion,
        creationTimestamp: meta.creationTimestamp,
      },
      spec: { replicas: (this.deployment.spec as Json).replicas },
      status: { replicas: st.replicas, selector: 'app=aegis-api' },
    };
  }

  private bump(obj: Json, generation: boolean): void {
    this.rv += 1;
    const meta = obj.metadata as Json;
    meta.resourceVersion = String(this.rv);
    if (generation) meta.generation = Number(meta.generation ?? 0) + 1;
  }

  private rolling = false;

  private startRollout(): void {
    const st = this.deployment.status as Json;
    st.updatedReplicas = 0;
    this.rolling = true;
  }

  /** The controller: catches up with the generation, then brings one more pod per read. */
  private progress(): void {
    const meta = this.deployment.metadata as Json;
    const st = this.deployment.status as Record<string, number>;
    const desired = this.replicas;
    if ((st.observedGeneration ?? 0) < Number(meta.generation)) {
      st.observedGeneration = Number(meta.generation);
      if (!this.rolling) {
        // a scale: new pods come up, old ones stay
        st.updatedReplicas = Math.min(st.updatedReplicas ?? 0, desired);
        st.readyReplicas = Math.min(st.readyReplicas ?? 0, desired);
        st.availableReplicas = st.readyReplicas;
        st.replicas = Math.max(st.readyReplicas, Math.min(st.replicas ?? 0, desired));
      }
      return;
    }
    const step = this.podsPerRead;
    if (this.rolling) {
      st.updatedReplicas = Math.min(desired, (st.updatedReplicas ?? 0) + step);
      st.replicas = desired + (st.updatedReplicas < desired ? 1 : 0);
      st.readyReplicas = Math.min(desired, st.updatedReplicas);
      st.availableReplicas = st.readyReplicas;
      if (st.updatedReplicas >= desired) this.rolling = false;
      return;
    }
    st.readyReplicas = Math.min(desired, (st.readyReplicas ?? 0) + step);
    st.updatedReplicas = st.readyReplicas;
    st.availableReplicas = st.readyReplicas;
    st.replicas = st.readyReplicas;
  }

  /** Status as it is with no rollout going on. */
  settle(): void {
    const st = this.deployment.status as Record<string, number>;
    const meta = this.deployment.metadata as Json;
    st.observedGeneration = Number(meta.generation);
    st.replicas = this.replicas;
    st.updatedReplicas = this.replicas;
    st.readyReplicas = this.replicas;
    st.availableReplicas = this.replicas;
    this.rolling = false;
  }
}

function unescapeToken(t: string): string {
  return t.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** RFC 6902 test / replace / add / remove on `doc`; an error message like the API server's, or undefined. */
function applyOp(doc: Json, op: { op: string; path: string; value?: unknown }): string | undefined {
  const tokens = op.path.split('/').slice(1).map(unescapeToken);
  const last = tokens.pop();
  if (last === undefined) return `invalid path ${op.path}`;
  let parent: unknown = doc;
  for (const t of tokens) {
    if (parent === null || typeof parent !== 'object')
      return `doc is missing path: ${op.path}: missing value`;
    parent = (parent as Record<string, unknown>)[t];
  }
  if (parent === null || typeof parent !== 'object') {
    return op.op === 'test'
      ? `testing value ${op.path} failed: test failed`
      : `doc is missing path: ${op.path}: missing value`;
  }
  const p = parent as Record<string, unknown>;
  switch (op.op) {
    case 'test':
      return JSON.stringify(p[last]) === JSON.stringify(op.value)
        ? undefined
        : `testing value ${op.path} failed: test failed`;
    case 'replace':
      if (!(last in p))
        return `replace operation does not apply: doc is missing key: ${op.path}: missing value`;
      p[last] = op.value;
      return undefined;
    case 'add':
      p[last] = op.value;
      return undefined;
    case 'remove':
      if (!(last in p)) return `remove operation does not apply: doc is missing path: ${op.path}`;
      delete p[last];
      return undefined;
    default:
      return `Unexpected kind: ${op.op}`;
  }
}

function mergeInto(target: Json, patch: Json): void {
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete target[k];
    else if (
      typeof v === 'object' &&
      !Array.isArray(v) &&
      typeof target[k] === 'object' &&
      target[k] !== null
    ) {
      mergeInto(target[k] as Json, v as Json);
    } else target[k] = clone(v);
  }
}
