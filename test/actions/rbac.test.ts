import { readFileSync } from 'node:fs';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { KubernetesSource } from '../../src/sources/kubernetes.ts';
import { K8S_SERVER, kubeConfigFor } from '../support/fake-cluster.ts';
import { accessOf, allows, loadRbac, refusedRequests } from '../support/rbac.ts';

const rbac = loadRbac();
type Doc = Record<string, unknown> & { kind?: string; metadata?: { name?: string; namespace?: string } };
const deployment = parseAllDocuments(
  readFileSync(new URL('../../deploy/deployment.yaml', import.meta.url), 'utf8'),
).map((d) => d.toJS() as Doc);
const k8sFixture = (name: string) =>
  readFileSync(new URL(`../fixtures/k8s/${name}`, import.meta.url), 'utf8');

describe('deploy/rbac.yaml: least privilege', () => {
  it("binds one namespaced Role to the bot's service account, nothing cluster-wide", () => {
    expect(rbac.kinds).toEqual(['ServiceAccount', 'Role', 'RoleBinding']);
    expect(rbac.serviceAccount).toEqual({ name: 'aegis-bot', namespace: 'aegis-bot' });
    expect([...rbac.rulesByNamespace.keys()]).toEqual(['aegis']);
  });

  it('grants exactly the verbs and resources the bot uses, no wildcard', () => {
    const granted = (rbac.rulesByNamespace.get('aegis') ?? []).flatMap((r) =>
      r.apiGroups.flatMap((g) =>
        r.resources.flatMap((res) =>
          r.verbs.map(
            (v) => `${v} ${g || 'core'}/${res}${r.resourceNames ? ` [${r.resourceNames.join(',')}]` : ''}`,
          ),
        ),
      ),
    );
    expect(granted.sort()).toEqual(
      [
        'get core/pods',
        'list core/pods',
        'get core/pods/log',
        'get core/pods/proxy',
        'get metrics.k8s.io/pods',
        'list metrics.k8s.io/pods',
        'get apps/deployments [aegis-api]',
        'patch apps/deployments [aegis-api]',
        'get apps/deployments/scale [aegis-api]',
        'patch apps/deployments/scale [aegis-api]',
        'get core/configmaps [aegis-config]',
        'patch core/configmaps [aegis-config]',
        // /aegis latency "what changed": list only
        'list apps/replicasets',
        'list autoscaling/horizontalpodautoscalers',
        'list core/configmaps',
      ].sort(),
    );
  });

  it('refuses what it does not grant: other verbs, resources, names and namespaces', () => {
    const refused = refusedRequests(rbac, [
      { method: 'DELETE', path: '/api/v1/namespaces/aegis/pods/aegis-api-7d9f8b6c5-x2x9q' },
      { method: 'GET', path: '/api/v1/namespaces/aegis/secrets/aegis-db' },
      { method: 'PATCH', path: '/apis/apps/v1/namespaces/aegis/deployments/billing' },
      { method: 'PUT', path: '/apis/apps/v1/namespaces/aegis/deployments/aegis-api/scale' },
      { method: 'GET', path: '/apis/apps/v1/namespaces/kube-system/deployments/aegis-api' },
      { method: 'GET', path: '/api/v1/namespaces/aegis/secrets' },
      { method: 'GET', path: '/api/v1/namespaces/aegis/pods', query: '?watch=true' },
      { method: 'GET', path: '/apis/apps/v1/namespaces/aegis/replicasets/aegis-api-7d9f6c8b5' },
      { method: 'PATCH', path: '/api/v1/namespaces/aegis/configmaps/kube-root-ca.crt' },
    ]);
    expect(refused).toHaveLength(9);
    expect(refused[0]).toBe(
      'DELETE /api/v1/namespaces/aegis/pods/aegis-api-7d9f8b6c5-x2x9q: delete pods aegis-api-7d9f8b6c5-x2x9q in aegis',
    );
  });

  it('maps requests to RBAC attributes as the API server does', () => {
    expect(accessOf('PATCH', '/apis/apps/v1/namespaces/aegis/deployments/aegis-api/scale')).toEqual({
      verb: 'patch',
      group: 'apps',
      namespace: 'aegis',
      resource: 'deployments/scale',
      name: 'aegis-api',
    });
    expect(accessOf('GET', '/api/v1/namespaces/aegis/pods')).toMatchObject({
      verb: 'list',
      group: '',
      resource: 'pods',
    });
    expect(
      accessOf('GET', '/api/v1/namespaces/aegis/pods/aegis-api-1:6060/proxy/debug/pprof/profile'),
    ).toMatchObject({
      verb: 'get',
      resource: 'pods/proxy',
    });
  });
});

describe("deploy/rbac.yaml covers the read-only steps too (the bot's whole footprint)", () => {
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('grants every request of /aegis latency, db and the pprof pod proxy', async () => {
    nock.disableNetConnect();
    const seen: { method: string; path: string; query: string }[] = [];
    const scope = nock(K8S_SERVER)
      .get('/api/v1/namespaces/aegis/pods')
      .query(true)
      .reply(200, k8sFixture('pod-list.json'), { 'content-type': 'application/json' })
      .get('/apis/metrics.k8s.io/v1beta1/namespaces/aegis/pods')
      .query(true)
      .reply(200, k8sFixture('pod-metrics.json'), { 'content-type': 'application/json' })
      .get('/apis/apps/v1/namespaces/aegis/deployments/aegis-api/scale')
      .reply(200, k8sFixture('deployment-scale.json'), { 'content-type': 'application/json' })
      .get(/\/api\/v1\/namespaces\/aegis\/pods\/[^/]+\/log/)
      .query(true)
      .reply(200, k8sFixture('pod-log.txt'), { 'content-type': 'text/plain' })
      .get('/apis/apps/v1/namespaces/aegis/replicasets')
      .query(true)
      .reply(200, k8sFixture('replicaset-list.json'), { 'content-type': 'application/json' })
      .get('/apis/autoscaling/v2/namespaces/aegis/horizontalpodautoscalers')
      .reply(200, k8sFixture('hpa-list.json'), { 'content-type': 'application/json' })
      .get('/api/v1/namespaces/aegis/configmaps')
      .reply(200, k8sFixture('configmap-list.json'), { 'content-type': 'application/json' });
    scope.on('request', (req: Request) => {
      const u = new URL(req.url);
      seen.push({ method: req.method, path: u.pathname, query: u.search });
    });
    const k8s = new KubernetesSource({ kubeConfig: kubeConfigFor(), timeoutMs: 5000 });
    await k8s.listPods('aegis', 'app=aegis-api');
    await k8s.podMetrics('aegis', 'app=aegis-api');
    await k8s.getDeploymentScale('aegis', 'aegis-api');
    await k8s.readPodLogs('aegis', 'aegis-api-7d9f8b6c5-x2x9q', { container: 'aegis-api', tailLines: 100 });
    await k8s.listReplicaSets('aegis', 'app=aegis-api');
    await k8s.listHpaScaling('aegis');
    await k8s.listConfigMapEdits('aegis');
    const proxy = await k8s.podProxyBase('aegis', 'aegis-api-7d9f8b6c5-x2x9q', 6060);
    seen.push({
      method: 'GET',
      path: `${new URL(proxy.baseURL).pathname}/debug/pprof/profile`,
      query: '?seconds=30',
    });
    expect(scope.isDone()).toBe(true);
    expect(seen).toHaveLength(8);
    expect(refusedRequests(rbac, seen)).toEqual([]);
  });
});

describe('deploy/deployment.yaml: the bot itself', () => {
  const d = deployment.find((x) => x.kind === 'Deployment') as Doc & {
    spec: {
      replicas: number;
      template: { spec: Record<string, unknown> & { containers: Record<string, unknown>[] } };
    };
  };
  const pod = d.spec.template.spec;
  const container = pod.containers[0] as Record<string, never>;

  it('runs two or more replicas as the service account rbac.yaml binds', () => {
    expect(d.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(pod.serviceAccountName).toBe(rbac.serviceAccount.name);
    expect(d.metadata?.namespace).toBe(rbac.serviceAccount.namespace);
  });

  it('runs as non-root with a read-only root filesystem and no privilege escalation', () => {
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(Number((pod.securityContext as { runAsUser: number }).runAsUser)).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
  });

  it('has readiness on /readyz, liveness on /healthz, secrets from a Secret and resources', () => {
    expect(container.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 'http' } });
    expect(container.livenessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 'http' } });
    expect(container.envFrom).toEqual([{ secretRef: { name: 'aegis-bot' } }]);
    expect(container.resources).toMatchObject({
      requests: { cpu: expect.any(String), memory: expect.any(String) },
      limits: { memory: expect.any(String) },
    });
  });

  it('configures a valid bot that shares a PostgreSQL store (two replicas need one) and touches only what RBAC grants', () => {
    const cm = deployment.find((x) => x.kind === 'ConfigMap') as Doc & { data: Record<string, string> };
    const env = {
      SLACK_BOT_TOKEN: 'xoxb-1',
      SLACK_SIGNING_SECRET: 's',
      AEGIS_STORE_DATABASE_URL: 'postgres://aegis_bot@store-db:5432/aegis_bot',
      DATABASE_URL: 'postgres://aegis_diag@aegis-db:5432/aegis',
      DATABASE_ACTION_URL: 'postgres://aegis_actions@aegis-db:5432/aegis',
    };
    const config = parseConfig(cm.data['aegis.yml'] as string, 'deploy/deployment.yaml', env);
    expect(config.secrets.storeDatabaseUrl).toBe(env.AEGIS_STORE_DATABASE_URL);
    expect(config.kubernetes.auth).toBe('in_cluster');
    for (const s of config.services) {
      const allowed = (verb: string, resource: string, name: string, group: string) =>
        allows(rbac, { verb, group, resource, namespace: s.namespace, name });
      expect(allowed('patch', 'deployments/scale', s.deployment, 'apps')).toBe(true);
      expect(allowed('patch', 'deployments', s.deployment, 'apps')).toBe(true);
      expect(allowed('patch', 'configmaps', s.configmap, '')).toBe(true);
    }
  });
});
