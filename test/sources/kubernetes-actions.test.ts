import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError, SourceError } from '../../src/domain/errors.ts';
import { KubernetesActions, RESTARTED_AT_ANNOTATION } from '../../src/sources/kubernetes-actions.ts';
import { FakeCluster, fixture, kubeConfigFor } from '../support/fake-cluster.ts';
import { expectGrantedByRbac } from '../support/harness.ts';

let cluster: FakeCluster;
let k8s: KubernetesActions;

beforeEach(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
  cluster = new FakeCluster().install();
  k8s = new KubernetesActions({ kubeConfig: kubeConfigFor(), timeoutMs: 5000 });
});
afterEach(() => {
  cluster.uninstall();
  nock.enableNetConnect();
  // every request a test made is one the bot's Role grants
  expectGrantedByRbac(cluster);
});

async function failure(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

describe('scale through the scale subresource', () => {
  it('reads replicas and resourceVersion from GET …/deployments/aegis-api/scale', async () => {
    const s = await k8s.readScale('aegis', 'aegis-api');
    expect(s).toEqual({ replicas: 3, resourceVersion: '48211950' });
    expect(cluster.requests[0]).toMatchObject({
      method: 'GET',
      path: '/apis/apps/v1/namespaces/aegis/deployments/aegis-api/scale',
    });
  });

  it('sets spec.replicas with a merge patch that carries the resourceVersion it read', async () => {
    const s = await k8s.readScale('aegis', 'aegis-api');
    await k8s.scale('aegis', 'aegis-api', 5, s.resourceVersion);
    const patch = cluster.patches[0];
    expect(patch?.path).toBe('/apis/apps/v1/namespaces/aegis/deployments/aegis-api/scale');
    expect(patch?.contentType).toBe('application/merge-patch+json');
    expect(patch?.body).toEqual({ metadata: { resourceVersion: '48211950' }, spec: { replicas: 5 } });
    expect(cluster.replicas).toBe(5);
  });

  it('answers a scale that changed since it was read (409) with "changed meanwhile, ask again"', async () => {
    const s = await k8s.readScale('aegis', 'aegis-api');
    cluster.setReplicasBehindTheBotsBack(4);
    const e = await failure(k8s.scale('aegis', 'aegis-api', 5, s.resourceVersion));
    expect(e.code).toBe('conflict');
    expect(e.message).toMatch(
      /deployment\/aegis-api in namespace aegis changed meanwhile \(409 Conflict\): nothing was changed; ask again/,
    );
    expect(cluster.replicas).toBe(4);
  });

  it('answers 404 with the deployment and namespace it looked for', async () => {
    cluster.gone.add('deployment');
    const e = await failure(k8s.readScale('aegis', 'aegis-api'));
    expect(e.code).toBe('not_found');
    expect(e.message).toMatch(
      /^deployment\/aegis-api not found in namespace aegis \(API server: deployments.apps "aegis-api" not found\)/,
    );
  });

  it('answers 403 by naming the verb and resource RBAC forbids and pointing at deploy/rbac.yaml', async () => {
    cluster.fail({
      method: 'PATCH',
      path: /\/scale$/,
      status: 403,
      body: fixture('status-forbidden-scale.json'),
    });
    const e = await failure(k8s.scale('aegis', 'aegis-api', 5, '48211950'));
    expect(e).toBeInstanceOf(SourceError);
    expect((e as SourceError).reason).toBe('auth');
    expect(e.message).toMatch(/may not patch deployments\/scale \(API group apps\) in namespace aegis/);
    expect(e.message).toMatch(/deploy\/rbac\.yaml/);
  });
});

describe("the runbook's JSON patch of the memory limit", () => {
  it('finds the named container by name, not position', async () => {
    const m = await k8s.readMemoryLimit('aegis', 'aegis-api', 'aegis-api');
    expect(m).toMatchObject({
      index: 1,
      container: 'aegis-api',
      limit: '2Gi',
      limitBytes: 2 * 2 ** 30,
      requestBytes: 2 ** 30,
    });
  });

  it("without a configured container takes the first, as the runbook's containers/0 does", async () => {
    const m = await k8s.readMemoryLimit('aegis', 'aegis-api');
    expect(m).toMatchObject({ index: 0, container: 'log-shipper', limit: '128Mi' });
  });

  it('patches /spec/template/spec/containers/<index>/resources/limits/memory as application/json-patch+json, tested first', async () => {
    const m = await k8s.readMemoryLimit('aegis', 'aegis-api', 'aegis-api');
    await k8s.setMemoryLimit('aegis', 'aegis-api', m, '4Gi');
    const patch = cluster.patches[0];
    expect(patch?.path).toBe('/apis/apps/v1/namespaces/aegis/deployments/aegis-api');
    expect(patch?.contentType).toBe('application/json-patch+json');
    expect(patch?.body).toEqual([
      { op: 'test', path: '/spec/template/spec/containers/1/name', value: 'aegis-api' },
      { op: 'test', path: '/spec/template/spec/containers/1/resources/limits/memory', value: '2Gi' },
      { op: 'replace', path: '/spec/template/spec/containers/1/resources/limits/memory', value: '4Gi' },
    ]);
    expect(cluster.containerLimit('aegis-api')).toBe('4Gi');
    expect(cluster.containerLimit('log-shipper')).toBe('128Mi');
  });

  it('reports a limit changed since it was read (the failed "test", 422) as a conflict, changing nothing', async () => {
    const m = await k8s.readMemoryLimit('aegis', 'aegis-api', 'aegis-api');
    const c = cluster.containers()[1] as { resources: { limits: Record<string, string> } };
    c.resources.limits.memory = '3Gi';
    const e = await failure(k8s.setMemoryLimit('aegis', 'aegis-api', m, '4Gi'));
    expect(e.code).toBe('conflict');
    expect(e.message).toMatch(/changed meanwhile \(the patch's test of the current value failed\)/);
    expect(cluster.containerLimit('aegis-api')).toBe('3Gi');
  });

  it('adds the limit when the container has none', async () => {
    const c = cluster.containers()[1] as { resources: Record<string, unknown> };
    c.resources = { requests: { cpu: '500m' } };
    const m = await k8s.readMemoryLimit('aegis', 'aegis-api', 'aegis-api');
    expect(m.limit).toBeUndefined();
    await k8s.setMemoryLimit('aegis', 'aegis-api', m, '1Gi');
    expect((cluster.patches[0]?.body as object[] | undefined)?.[1]).toEqual({
      op: 'add',
      path: '/spec/template/spec/containers/1/resources/limits',
      value: { memory: '1Gi' },
    });
    expect(cluster.containerLimit('aegis-api')).toBe('1Gi');
  });

  it('names a container the deployment lacks', async () => {
    const e = await failure(k8s.readMemoryLimit('aegis', 'aegis-api', 'worker'));
    expect(e.code).toBe('not_found');
    expect(e.message).toMatch(/no container "worker" \(it has log-shipper, aegis-api\)/);
  });
});

describe('ConfigMap, rollout restart and rollout status', () => {
  it('patches database.max_connections with a JSON patch tested against the value it read', async () => {
    const v = await k8s.readConfigValue('aegis', 'aegis-config', 'database.max_connections');
    expect(v.value).toBe('50');
    await k8s.setConfigValue('aegis', 'aegis-config', 'database.max_connections', v, '100');
    const patch = cluster.patches[0];
    expect(patch?.path).toBe('/api/v1/namespaces/aegis/configmaps/aegis-config');
    expect(patch?.contentType).toBe('application/json-patch+json');
    expect(patch?.body).toEqual([
      { op: 'test', path: '/data/database.max_connections', value: '50' },
      { op: 'replace', path: '/data/database.max_connections', value: '100' },
    ]);
    expect((cluster.configmap.data as Record<string, string>)['database.max_connections']).toBe('100');
    expect((cluster.configmap.data as Record<string, string>)['log.level']).toBe('info');
  });

  it('answers a missing ConfigMap with its name and namespace', async () => {
    cluster.gone.add('configmap');
    const e = await failure(k8s.readConfigValue('aegis', 'aegis-config', 'database.max_connections'));
    expect(e.code).toBe('not_found');
    expect(e.message).toMatch(/^ConfigMap aegis-config not found in namespace aegis/);
  });

  it('restarts the rollout with a strategic merge patch of the restartedAt annotation', async () => {
    const at = new Date('2026-01-05T10:00:00.000Z');
    await k8s.restartRollout('aegis', 'aegis-api', at);
    const patch = cluster.patches[0];
    expect(patch?.contentType).toBe('application/strategic-merge-patch+json');
    expect(patch?.body).toEqual({
      spec: {
        template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: '2026-01-05T10:00:00.000Z' } } },
      },
    });
  });

  it('reads rollout status from the deployment: generations and ready, updated, available replicas', async () => {
    const s = await k8s.rolloutStatus('aegis', 'aegis-api');
    expect(s).toEqual({
      generation: 7,
      observedGeneration: 7,
      desired: 3,
      total: 3,
      updated: 3,
      ready: 3,
      available: 3,
    });
  });

  it('reports a stalled rollout (ProgressDeadlineExceeded)', async () => {
    const st = cluster.deployment.status as { conditions: Record<string, string>[] };
    st.conditions.push({
      type: 'Progressing',
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
      message: 'ReplicaSet "aegis-api-5f7c9d" has timed out progressing.',
    });
    const s = await k8s.rolloutStatus('aegis', 'aegis-api');
    expect(s.failed).toBe('ReplicaSet "aegis-api-5f7c9d" has timed out progressing.');
  });

  it('refuses a name that is not a Kubernetes name before any request', async () => {
    const e = await failure(k8s.readScale('aegis', 'Aegis API'));
    expect(e.code).toBe('usage');
    expect(cluster.requests).toHaveLength(0);
  });
});
