import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import axios from 'axios';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError, SourceError } from '../../src/domain/errors.ts';
import { KubernetesSource, parsePodMetricsList } from '../../src/sources/kubernetes.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/k8s/${name}`, import.meta.url), 'utf8');
const json = (name: string) => JSON.parse(fixture(name)) as unknown;

function kubeConfig(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server, skipTLSVerify: server.startsWith('http:') }],
    users: [{ name: 'aegis-bot', token: 'sa-token-123' }],
    contexts: [{ name: 'test', cluster: 'test', user: 'aegis-bot', namespace: 'aegis' }],
    currentContext: 'test',
  });
  return kc;
}

const K8S = 'https://k8s.test';
const source = (timeoutMs = 1000) => new KubernetesSource({ kubeConfig: kubeConfig(K8S), timeoutMs });

async function failure(p: Promise<unknown>): Promise<SourceError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SourceError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

beforeEach(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('KubernetesSource', () => {
  it('reads what changed: ReplicaSet revisions with images and change-cause, HPA scaling, ConfigMap edit times', async () => {
    const scope = nock(K8S, { reqheaders: { authorization: 'Bearer sa-token-123' } })
      .get('/apis/apps/v1/namespaces/aegis/replicasets')
      .query({ labelSelector: 'app=aegis-api' })
      .reply(200, fixture('replicaset-list.json'), { 'content-type': 'application/json' })
      .get('/apis/autoscaling/v2/namespaces/aegis/horizontalpodautoscalers')
      .reply(200, fixture('hpa-list.json'), { 'content-type': 'application/json' })
      .get('/api/v1/namespaces/aegis/configmaps')
      .reply(200, fixture('configmap-list.json'), { 'content-type': 'application/json' });
    const k8s = source();
    const [rs, hpa, cms] = await Promise.all([
      k8s.listReplicaSets('aegis', 'app=aegis-api'),
      k8s.listHpaScaling('aegis'),
      k8s.listConfigMapEdits('aegis'),
    ]);
    scope.done();
    expect(rs[1]).toEqual({
      name: 'aegis-api-7d9f6c8b5',
      deployment: 'aegis-api',
      revision: 7,
      createdAt: new Date('2026-03-02T09:52:30Z'),
      images: ['aegis-api=registry.example.com/aegis-api:1.4.2', 'envoy=envoyproxy/envoy:v1.29.1'],
      changeCause: 'release 1.4.2: new search ranking',
      replicas: 3,
    });
    expect(hpa).toEqual([
      {
        name: 'aegis-api',
        target: 'Deployment/aegis-api',
        lastScaleTime: new Date('2026-03-02T09:55:05Z'),
        currentReplicas: 3,
        desiredReplicas: 5,
        minReplicas: 2,
        maxReplicas: 10,
      },
    ]);
    // the latest managedFields entry, and nothing of the data
    expect(cms).toEqual([
      { name: 'aegis-config', editedAt: new Date('2026-03-02T09:57:12Z'), manager: 'kubectl-edit' },
      {
        name: 'kube-root-ca.crt',
        editedAt: new Date('2025-11-01T00:00:00Z'),
        manager: 'kube-controller-manager',
      },
    ]);
  });

  it('a refused list of ReplicaSets fails as auth, naming the operation', async () => {
    nock(K8S)
      .get('/apis/apps/v1/namespaces/aegis/replicasets')
      .reply(403, fixture('status-forbidden.json'), { 'content-type': 'application/json' });
    const e = await failure(source().listReplicaSets('aegis'));
    expect(e.reason).toBe('auth');
    expect(e.message).toMatch(/^kubernetes: list replicasets failed: /);
  });

  it('lists pods by label selector with limits, restarts and OOMKilled terminations', async () => {
    const scope = nock(K8S, { reqheaders: { authorization: 'Bearer sa-token-123' } })
      .get('/api/v1/namespaces/aegis/pods')
      .query({ labelSelector: 'app=aegis-api' })
      .reply(200, fixture('pod-list.json'), { 'content-type': 'application/json' });
    const pods = await source().listPods('aegis', 'app=aegis-api');
    scope.done();
    expect(pods.map((p) => p.name)).toEqual([
      'aegis-api-7d9f6c8b5-2xkqp',
      'aegis-api-7d9f6c8b5-8hzrt',
      'aegis-api-7d9f6c8b5-q4w7n',
    ]);
    const [first, second, third] = pods;
    expect(first?.containers[0]).toMatchObject({
      name: 'aegis-api',
      limits: { cpu: 1, memory: 2 * 1024 ** 3 },
      requests: { cpu: 0.5, memory: 1024 ** 3 },
      restartCount: 3,
      ready: true,
      state: 'running',
      oomKilled: true,
      lastTermination: { reason: 'OOMKilled', exitCode: 137 },
    });
    expect(first?.containers[0]?.lastTermination?.finishedAt?.toISOString()).toBe('2026-03-02T09:47:11.000Z');
    expect(second?.containers[0]).toMatchObject({ restartCount: 0, oomKilled: false });
    expect(second?.containers[0]?.lastTermination).toBeUndefined();
    expect(third?.containers[0]).toMatchObject({
      restartCount: 7,
      ready: false,
      state: 'waiting: CrashLoopBackOff',
      oomKilled: true,
    });
    expect(first?.node).toBe('ip-10-0-12-34.eu-west-1.compute.internal');
  });

  it('reads kubectl top pods from metrics.k8s.io with quantities parsed', async () => {
    const scope = nock(K8S)
      .get('/apis/metrics.k8s.io/v1beta1/namespaces/aegis/pods')
      .query({ labelSelector: 'app=aegis-api' })
      .reply(200, fixture('pod-metrics.json'), { 'content-type': 'application/json' });
    const usage = await source().podMetrics('aegis', 'app=aegis-api');
    scope.done();
    expect(usage).toHaveLength(3);
    expect(usage[0]?.name).toBe('aegis-api-7d9f6c8b5-2xkqp');
    expect(usage[0]?.containers[0]?.cpu).toBeCloseTo(0.942137519, 9);
    expect(usage[0]?.containers[0]?.memory).toBe(1879048 * 1024);
    expect(usage[0]?.windowMs).toBeCloseTo(15017, 6);
    expect(usage[1]?.containers[0]).toEqual({ name: 'aegis-api', cpu: 0.251, memory: 734003200 });
    expect(usage[2]?.containers[0]?.cpu).toBeCloseTo(0.0015, 12);
    expect(usage[2]?.timestamp?.toISOString()).toBe('2026-03-02T10:02:12.000Z');
  });

  it('reads the current replicas from the deployment scale subresource', async () => {
    const scope = nock(K8S)
      .get('/apis/apps/v1/namespaces/aegis/deployments/aegis-api/scale')
      .reply(200, fixture('deployment-scale.json'), { 'content-type': 'application/json' });
    expect(await source().getDeploymentScale('aegis', 'aegis-api')).toEqual({ replicas: 3, current: 3 });
    scope.done();
  });

  it('reads pod logs bounded by container, time, lines and bytes', async () => {
    const scope = nock(K8S)
      .get('/api/v1/namespaces/aegis/pods/aegis-api-7d9f6c8b5-2xkqp/log')
      .query({ container: 'aegis-api', sinceSeconds: '300', tailLines: '5000', limitBytes: '1048576' })
      .reply(200, fixture('pod-log.txt'), { 'content-type': 'text/plain' });
    const text = await source().readPodLogs('aegis', 'aegis-api-7d9f6c8b5-2xkqp', {
      container: 'aegis-api',
      sinceSeconds: 300,
      tailLines: 5000,
      limitBytes: 1048576,
    });
    scope.done();
    expect(text.split('\n').filter((l) => l.includes('connection pool exhausted'))).toHaveLength(1);
  });

  it('gives axios what it needs to reach a pod port through the API server proxy', async () => {
    const base = await source().podProxyBase('aegis', 'aegis-api-7d9f6c8b5-2xkqp', 6060);
    expect(base.baseURL).toBe(
      'https://k8s.test/api/v1/namespaces/aegis/pods/aegis-api-7d9f6c8b5-2xkqp:6060/proxy',
    );
    expect(base.headers.Authorization).toBe('Bearer sa-token-123');
    expect(base.httpsAgent).toBeDefined();
    const scope = nock(K8S, { reqheaders: { authorization: 'Bearer sa-token-123' } })
      .get('/api/v1/namespaces/aegis/pods/aegis-api-7d9f6c8b5-2xkqp:6060/proxy/debug/pprof/goroutine')
      .query({ debug: '1' })
      .reply(200, 'goroutine profile: total 12\n');
    const res = await axios.get(`${base.baseURL}/debug/pprof/goroutine?debug=1`, {
      headers: base.headers,
      httpsAgent: base.httpsAgent,
    });
    scope.done();
    expect(res.data).toContain('goroutine profile: total 12');
  });

  it('refuses names that are not Kubernetes names before calling the API', async () => {
    await expect(source().listPods('aegis/../kube-system')).rejects.toBeInstanceOf(AppError);
    await expect(source().podProxyBase('aegis', 'pod?x=1', 6060)).rejects.toThrow(
      /not a valid Kubernetes name/,
    );
    await expect(source().podMetrics('aegis', 'app=aegis-api&watch=true')).rejects.toThrow(/label selector/);
  });

  it('checks the API server with GET /version', async () => {
    nock(K8S).get('/version').reply(200, fixture('version.json'), { 'content-type': 'application/json' });
    const [result] = await source().check();
    expect(result?.ok).toBe(true);
    expect(result?.detail).toContain('v1.31.4');
  });

  it('reports a failed check with the reason and a hint', async () => {
    nock(K8S)
      .get('/version')
      .reply(403, fixture('status-forbidden.json'), { 'content-type': 'application/json' });
    const [result] = await source().check();
    expect(result?.ok).toBe(false);
    expect(result?.detail).toMatch(/HTTP 403/);
    expect(result?.hint).toMatch(/RBAC/);
  });

  describe('when metrics.k8s.io fails', () => {
    const path = '/apis/metrics.k8s.io/v1beta1/namespaces/aegis/pods';

    it('is down: the call fails as unreachable', async () => {
      const port = await closedPort();
      const down = new KubernetesSource({
        kubeConfig: kubeConfig(`http://127.0.0.1:${port}`),
        timeoutMs: 2000,
      });
      const err = await failure(down.podMetrics('aegis'));
      expect(err.reason).toBe('unreachable');
      expect(err.message).toMatch(/ECONNREFUSED/);
      expect(err.source).toBe('kubernetes');
    });

    it('is slow past its timeout: the call fails as a timeout', async () => {
      // A real loopback server that answers too late (nock's delay and undici's abort do not mix).
      const slow = createHttpServer((_req, res) => {
        setTimeout(
          () => res.writeHead(200, { 'content-type': 'application/json' }).end(fixture('pod-metrics.json')),
          1500,
        );
      });
      await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
      try {
        const port = (slow.address() as { port: number }).port;
        const src = new KubernetesSource({
          kubeConfig: kubeConfig(`http://127.0.0.1:${port}`),
          timeoutMs: 200,
        });
        const err = await failure(src.podMetrics('aegis'));
        expect(err.reason).toBe('timeout');
        expect(err.message).toContain('200 ms');
      } finally {
        slow.closeAllConnections();
        await new Promise<void>((r) => slow.close(() => r()));
      }
    });

    it('answers 500: the call fails as an HTTP error with the message', async () => {
      nock(K8S).get(path).reply(503, fixture('status-internal.json'), { 'content-type': 'application/json' });
      const err = await failure(source().podMetrics('aegis'));
      expect(err.reason).toBe('http_error');
      expect(err.message).toMatch(/HTTP 503/);
    });

    it('answers 500 for pods: the call fails as an HTTP error', async () => {
      nock(K8S).get('/api/v1/namespaces/aegis/pods').reply(500, 'internal error');
      const err = await failure(source().listPods('aegis'));
      expect(err.reason).toBe('http_error');
      expect(err.message).toMatch(/HTTP 500/);
    });

    it('answers 403: the call fails as an authorization problem', async () => {
      nock(K8S)
        .get(path)
        .reply(403, fixture('status-forbidden.json'), { 'content-type': 'application/json' });
      const err = await failure(source().podMetrics('aegis'));
      expect(err.reason).toBe('auth');
    });

    it('answers malformed JSON: the call fails as malformed', async () => {
      nock(K8S)
        .get(path)
        .reply(200, '{"kind":"PodMetricsList","items":[{', { 'content-type': 'application/json' });
      const err = await failure(source().podMetrics('aegis'));
      expect(err.reason).toBe('malformed');
    });

    it('answers JSON of the wrong shape: the call fails as malformed', async () => {
      nock(K8S)
        .get(path)
        .reply(200, {
          kind: 'PodMetricsList',
          items: [{ metadata: { name: 'p' }, containers: [{ name: 'c', usage: { cpu: 'lots' } }] }],
        });
      const err = await failure(source().podMetrics('aegis'));
      expect(err.reason).toBe('malformed');
    });

    it('answers malformed JSON for pods: the call fails as malformed', async () => {
      nock(K8S).get('/api/v1/namespaces/aegis/pods').reply(200, '<html>proxy error</html>', {
        'content-type': 'application/json',
      });
      const err = await failure(source().listPods('aegis'));
      expect(err.reason).toBe('malformed');
    });
  });

  it('validates a PodMetricsList without the network', () => {
    expect(parsePodMetricsList(json('pod-metrics.json')).map((p) => p.name)).toHaveLength(3);
    expect(() => parsePodMetricsList({ kind: 'PodList', items: [] })).toThrow(SourceError);
    expect(() => parsePodMetricsList('nope')).toThrow(/not an object/);
  });
});
