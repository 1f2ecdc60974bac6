import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/domain/errors.ts';
import type { StepResult } from '../../../src/domain/finding.ts';
import { ChartFontError } from '../../../src/lib/charts/png.ts';
import { KubernetesSource } from '../../../src/sources/kubernetes.ts';
import { PrometheusSource } from '../../../src/sources/prometheus.ts';
import {
  type LatencySources,
  latencyStep,
  PARTS,
  parseLatencyArgs,
} from '../../../src/steps/latency/step.ts';
import {
  ANSWER_TIMEOUT_MS,
  context,
  type FakeServer,
  HANG_TIMEOUT_MS,
  kubeConfigFor,
  PODS,
  startFakeKubernetes,
  startFakePrometheus,
  testConfig,
} from './fakes.ts';

const NOW = new Date('2026-03-02T10:02:30Z');
const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

let prom: FakeServer & { expressions: string[] };
let k8s: FakeServer;

beforeAll(async () => {
  prom = await startFakePrometheus();
  k8s = await startFakeKubernetes();
});
afterAll(async () => {
  await prom.close();
  await k8s.close();
});

function sources(
  promUrl: string | undefined,
  k8sUrl: string | undefined,
  extra: Partial<LatencySources> = {},
  kubernetesTimeoutMs = ANSWER_TIMEOUT_MS,
): LatencySources {
  return {
    prometheus: (s) =>
      s.prometheus
        ? new PrometheusSource({ url: promUrl ?? s.prometheus.url, timeoutMs: s.prometheus.timeout })
        : undefined,
    ...(k8sUrl
      ? {
          kubernetes: () =>
            new KubernetesSource({ kubeConfig: kubeConfigFor(k8sUrl), timeoutMs: kubernetesTimeoutMs }),
        }
      : {}),
    ...extra,
  };
}

async function run(
  config = testConfig(prom.url),
  src: LatencySources = sources(prom.url, k8s.url),
  args = { windowMs: 300_000 },
) {
  const { ctx, updates } = context(config, src, { now: () => NOW });
  const result = await latencyStep.run(ctx, args);
  return { result, updates };
}

const part = (r: StepResult, name: string) => r.parts.find((p) => p.name === name);

describe('latency step arguments', () => {
  const config = testConfig('http://prometheus:9090');

  it('takes [service] [window] in any order, window 5m by default', () => {
    expect(parseLatencyArgs([], config)).toEqual({ windowMs: 300_000 });
    expect(parseLatencyArgs(['15m'], config)).toEqual({ windowMs: 900_000 });
    expect(parseLatencyArgs(['aegis-api', '1h'], config)).toEqual({
      service: 'aegis-api',
      windowMs: 3_600_000,
    });
    expect(parseLatencyArgs(['24h', 'aegis-api'], config)).toEqual({
      service: 'aegis-api',
      windowMs: 86_400_000,
    });
    expect(parseLatencyArgs(['1m'], config)).toEqual({ windowMs: 60_000 });
  });

  it('refuses windows outside 1m to 24h with a clear message', () => {
    for (const w of ['30s', '59s', '25h', '2d']) {
      expect(() => parseLatencyArgs([w], config)).toThrow(/out of range: use 1m to 24h/);
    }
    expect(() => parseLatencyArgs(['5'], config)).toThrow(/needs a unit: e\.g\. 5m/);
    expect(() => parseLatencyArgs(['5m', '10m'], config)).toThrow(/two windows/);
  });

  it('names the known services when the service is unknown', () => {
    try {
      parseLatencyArgs(['billing'], config);
      throw new Error('expected a failure');
    } catch (e) {
      expect(e).toBeInstanceOf(AppError);
      expect((e as AppError).code).toBe('not_found');
      expect((e as AppError).message).toBe('unknown service "billing": known services are aegis-api');
    }
  });
});

describe('latency step', () => {
  it('names the slow endpoint, the hot pod, and proposes the next steps', async () => {
    const { result } = await run();
    expect(result.headline).toBe(
      'P99 2.9 s CRITICAL, driven by /api/search; OOMKilled on 2 pods CRITICAL; CPU 94% CRITICAL on 1 of 3 pods',
    );
    expect(result.severity).toBe('critical');
    expect(result.parts.every((p) => p.status === 'ok')).toBe(true);
    expect(result.findings[0]?.id).toBe('latency.p99');
    expect(result.findings.map((f) => f.id)).toEqual(
      expect.arrayContaining([
        'latency.endpoint:/api/search',
        'resources.cpu',
        'resources.throttling',
        'resources.restarts',
      ]),
    );
    const cpu = result.findings.find((f) => f.id === 'resources.cpu');
    const table = cpu?.evidence[0];
    if (table?.type !== 'table') throw new Error('expected the pods table');
    expect(table.columns).toEqual([
      'Pod',
      'CPU',
      'Memory',
      'Throttled',
      'Restarts',
      'Last termination',
      'State',
      'kubectl top',
    ]);
    expect(table.rows.map((r) => [r[0], r[1], r[4], r[5]?.split(' ')[0], r[6], r[7]])).toEqual([
      [PODS[0], '94% (940m of 1 core)', '3', 'OOMKilled', 'running', '942m, 1.8 GiB'],
      [PODS[1], '35% (350m of 1 core)', '0', '-', 'running', '251m, 700 MiB'],
      [PODS[2], '20% (200m of 1 core)', '7', 'OOMKilled', 'waiting: CrashLoopBackOff', '2m, 121 MiB'],
    ]);
    expect(result.proposals.map((p) => p.label)).toEqual([
      'Scale to 5 replicas',
      'Raise memory limit to 4Gi',
      'Page on-call',
    ]);
    expect(result.proposals[0]?.params).toEqual({
      namespace: 'aegis',
      deployment: 'aegis-api',
      from: 3,
      to: 5,
    });
    expect(result.nextSteps[0]).toEqual({
      label: `CPU profile of ${PODS[0]} (30 s)`,
      step: 'cpu',
      args: ['30', PODS[0]],
    });
    expect(result.nextSteps.map((s) => s.step).sort()).toEqual(['cpu', 'db', 'goroutines', 'heap']);
  });

  it('attaches PNG charts: percentiles, heatmap, request and error rate, error rate by endpoint', async () => {
    const { result } = await run();
    expect(result.attachments.map((a) => a.filename)).toEqual([
      'latency-aegis-api-percentiles.png',
      'latency-aegis-api-heatmap.png',
      'latency-aegis-api-traffic.png',
      'latency-aegis-api-errors-by-endpoint.png',
    ]);
    for (const a of result.attachments) {
      expect(a).toMatchObject({ mimeType: 'image/png', image: true });
      expect([...(a.content as Uint8Array).slice(0, 8)]).toEqual(PNG);
    }
  });

  it('reports progress: every part running first, then ok or unavailable', async () => {
    const { result, updates } = await run();
    const names = result.parts.map((p) => p.name).sort();
    expect(names).toEqual(
      [
        PARTS.latency,
        PARTS.endpoints,
        PARTS.errors,
        PARTS.containers,
        PARTS.trend,
        PARTS.pods,
        PARTS.top,
        PARTS.replicas,
        PARTS.sustained,
        PARTS.charts,
      ].sort(),
    );
    for (const name of names) {
      const mine = updates.filter((u) => u.name === name).map((u) => u.status);
      expect(mine).toEqual(['running', 'ok']);
    }
    const firstDone = updates.findIndex((u) => u.status !== 'running');
    expect(
      updates
        .slice(0, firstDone)
        .map((u) => u.name)
        .sort(),
    ).toEqual(names);
  });

  it('pages only when the P99 condition has held for the rule duration', async () => {
    const rule = [
      'escalation:',
      '  - id: p99-sustained',
      '    metric: api_p99_latency_ms',
      '    above: 2000',
      '    for: 10s',
      '    action: page',
      '    prompt: "P99 > 2s for > 10 s: page on-call"',
      '',
    ].join('\n');
    const { result } = await run(testConfig(prom.url, rule));
    expect(result.escalations.map((e) => e.ruleId)).toEqual(['p99-sustained']);
    expect(result.proposals.map((p) => p.action)).toEqual(['scale', 'set_memory_limit', 'page']);
    const sustainedQuery = prom.expressions.find(
      (e) => e.startsWith('histogram_quantile(0.99, sum by (le) (rate(') && e.endsWith('[1m])))'),
    );
    expect(sustainedQuery).toBeDefined();
  });

  it('without Kubernetes access reports from Prometheus alone', async () => {
    const { result } = await run(testConfig(prom.url), sources(prom.url, undefined));
    expect(result.parts.map((p) => p.name)).not.toContain(PARTS.pods);
    expect(result.headline).toBe(
      'P99 2.9 s CRITICAL, driven by /api/search; CPU 94% CRITICAL on 1 of 3 pods; CPU throttled on 1 of 3 pods WARNING',
    );
    // replicas from the pods Prometheus sees
    expect(result.proposals.find((p) => p.action === 'scale')?.params).toMatchObject({ from: 3, to: 5 });
  });

  it('says once that a service has no Prometheus, and still reports the pods', async () => {
    const { result } = await run(testConfig(undefined), sources(undefined, k8s.url));
    const unavailable = result.findings.filter((f) => f.severity === 'unavailable');
    expect(unavailable.map((f) => f.id)).toEqual(['unavailable.prometheus']);
    expect(unavailable[0]?.summary).toContain('no Prometheus configured for service aegis-api');
    // worst first: the pods' findings lead, then why there is no latency
    expect(result.headline).toMatch(
      /^OOMKilled on 2 pods CRITICAL; CPU 94% CRITICAL on 1 of 3 pods; memory 90% WARNING on 1 of 3 pods; Latency unavailable \(no Prometheus configured/,
    );
    expect(result.findings.find((f) => f.id === 'resources.cpu')?.evidence[0]).toMatchObject({
      rows: expect.arrayContaining([expect.arrayContaining(['94% (942m of 1 core) (top)'])]),
    });
  });

  it('leaves the charts out when their font is missing, and says why', async () => {
    const rasterize = async () => {
      throw new ChartFontError('chart font /nonexistent.ttf not found (ENOENT): install fonts-dejavu-core');
    };
    const { result } = await run(testConfig(prom.url), sources(prom.url, k8s.url, { rasterize }));
    expect(result.attachments).toEqual([]);
    expect(part(result, PARTS.charts)).toEqual({
      name: PARTS.charts,
      status: 'unavailable',
      reason: 'chart font /nonexistent.ttf not found (ENOENT): install fonts-dejavu-core',
    });
    expect(result.findings.find((f) => f.id === 'unavailable.charts')?.severity).toBe('unavailable');
    expect(result.headline).toMatch(/^P99 2\.9 s CRITICAL/);
  });
});

describe('when a source fails, its parts are unavailable and the rest still report', () => {
  const promParts = [
    PARTS.latency,
    PARTS.endpoints,
    PARTS.errors,
    PARTS.containers,
    PARTS.trend,
    PARTS.sustained,
    PARTS.charts,
  ];
  const k8sParts = [PARTS.pods, PARTS.top, PARTS.replicas];
  const cases = [
    { failure: 'down', expect: /cannot connect \(ECONNREFUSED\)/ },
    { failure: 'hang', expect: new RegExp(`no answer within ${HANG_TIMEOUT_MS} ms`) },
    { failure: '500', expect: /HTTP 500/ },
    { failure: 'malformed', expect: /malformed|not valid JSON|not JSON|unexpected answer/ },
  ] as const;
  // only the source made to hang has a short deadline: the other one answers, however slowly
  const deadline = (failure: string) => (failure === 'hang' ? HANG_TIMEOUT_MS : ANSWER_TIMEOUT_MS);

  for (const c of cases) {
    it(`Prometheus ${c.failure === 'hang' ? 'slow past its timeout' : c.failure}`, async () => {
      const broken = await startFakePrometheus();
      const url = broken.url;
      if (c.failure === 'down') await broken.close();
      else broken.failure = c.failure;
      try {
        const { result, updates } = await run(
          testConfig(url, '', deadline(c.failure)),
          sources(url, k8s.url),
        );
        for (const name of promParts) {
          expect(part(result, name)?.status).toBe('unavailable');
          expect(part(result, name)?.reason).toMatch(c.expect);
          expect(updates.filter((u) => u.name === name).map((u) => u.status)).toEqual([
            'running',
            'unavailable',
          ]);
        }
        for (const name of k8sParts) expect(part(result, name)?.status).toBe('ok');
        expect(result.findings.find((f) => f.id === 'unavailable.latency')?.summary).toMatch(c.expect);
        expect(result.headline).toMatch(
          /^OOMKilled on 2 pods CRITICAL; CPU 94% CRITICAL on 1 of 3 pods; memory 90% WARNING on 1 of 3 pods; Latency unavailable \(prometheus: instant query failed: /,
        );
        expect(result.attachments).toEqual([]);
      } finally {
        if (c.failure !== 'down') await broken.close();
      }
    });

    it(`Kubernetes ${c.failure === 'hang' ? 'slow past its timeout' : c.failure}`, async () => {
      const broken = await startFakeKubernetes();
      const url = broken.url;
      if (c.failure === 'down') await broken.close();
      else broken.failure = c.failure;
      try {
        const { result } = await run(testConfig(prom.url), sources(prom.url, url, {}, deadline(c.failure)));
        for (const name of k8sParts) {
          expect(part(result, name)?.status).toBe('unavailable');
          expect(part(result, name)?.reason).toMatch(c.expect);
        }
        for (const name of promParts) expect(part(result, name)?.status).toBe('ok');
        expect(result.headline).toBe(
          'P99 2.9 s CRITICAL, driven by /api/search; CPU 94% CRITICAL on 1 of 3 pods; CPU throttled on 1 of 3 pods WARNING',
        );
        expect(result.attachments).toHaveLength(4);
        expect(
          result.findings
            .filter((f) => f.severity === 'unavailable')
            .map((f) => f.id)
            .sort(),
        ).toEqual(['unavailable.kubectl-top', 'unavailable.pods', 'unavailable.replicas']);
      } finally {
        if (c.failure !== 'down') await broken.close();
      }
    });
  }
});

describe('what changed before the onset', () => {
  const history = (url: string) => new KubernetesSource({ kubeConfig: kubeConfigFor(url), timeoutMs: 1000 });
  const settings = {
    startedAt: new Date('2026-02-01T00:00:00Z'),
    configLoadedAt: new Date('2026-03-02T09:58:40Z'),
    changed: [
      { name: 'work_mem', setting: '1024', unit: 'kB', source: 'configuration file', pendingRestart: false },
    ],
  };

  it('lists rollouts, HPA scaling, ConfigMap edits, database reloads and restarts, and marks them on the latency chart', async () => {
    const svgs: string[] = [];
    const src = sources(prom.url, k8s.url, {
      clusterHistory: () => history(k8s.url),
      databaseHistory: () => ({ settingsHistory: async () => settings }),
      rasterize: async (svg) => {
        svgs.push(svg);
        return new Uint8Array(PNG);
      },
    });
    const { result } = await run(testConfig(prom.url), src, { windowMs: 15 * 60_000 });
    for (const name of [PARTS.rollouts, PARTS.hpa, PARTS.configmaps, PARTS.database])
      expect(part(result, name)?.status).toBe('ok');
    const changes = result.findings.find((f) => f.id === 'changes');
    // P99 is above its bound for the whole window: no onset inside it, so the whole window counts
    expect(changes?.title).toBe('5 changes in the last 15m');
    const table = changes?.evidence[0];
    if (table?.type !== 'table') throw new Error('expected the changes table');
    expect(table.rows.map((r) => [r[0], r[1]])).toEqual([
      ['09:52:30', 'rollout'],
      ['09:55:05', 'scaling'],
      ['09:57:12', 'config'],
      ['09:58:40', 'database'],
      ['09:59:40', 'restart'],
    ]);
    expect(table.rows[0]?.[2]).toContain('aegis-api=registry.example.com/aegis-api:1.4.2');
    expect(table.rows[0]?.[2]).toContain('change-cause: release 1.4.2: new search ranking');
    const percentiles = svgs.find((svg) => svg.includes('latency P50 / P95 / P99')) ?? '';
    for (const label of ['rev 7 aegis-api:1.4.2', 'HPA → 5', 'ConfigMap aegis-config', 'PostgreSQL reload'])
      expect(percentiles).toContain(label);
  });

  it('marks a source that fails unavailable with the reason, and still reports the rest', async () => {
    const broken = await startFakeKubernetes({ failure: '500' });
    try {
      const src = sources(prom.url, k8s.url, {
        clusterHistory: () => history(broken.url),
        databaseHistory: () => {
          throw new AppError('config', 'the database URL for aegis-api is not set: export AEGIS_DB_URL');
        },
      });
      const { result } = await run(testConfig(prom.url), src, { windowMs: 15 * 60_000 });
      expect(part(result, PARTS.rollouts)?.reason).toMatch(/^kubernetes: list replicasets failed: /);
      expect(part(result, PARTS.database)).toMatchObject({
        status: 'unavailable',
        reason: 'the database URL for aegis-api is not set: export AEGIS_DB_URL',
      });
      expect(result.findings.find((f) => f.id === 'unavailable.database-changes')?.summary).toContain(
        'AEGIS_DB_URL',
      );
      // the pods still answered: their restarts are still listed
      expect(result.findings.find((f) => f.id === 'changes')?.title).toBe('1 change in the last 15m');
      expect(result.headline).toMatch(/^P99 2\.9 s CRITICAL/);
    } finally {
      await broken.close();
    }
  });
});
