import { describe, expect, it } from 'vitest';
import { RUNBOOK_ESCALATION_RULES } from '../../../src/domain/escalation.ts';
import { finishResult } from '../../../src/domain/report.ts';
import { RUNBOOK_BASELINES } from '../../../src/domain/thresholds.ts';
import type { EndpointRow, PodRow } from '../../../src/steps/latency/analysis.ts';
import {
  buildLatencyReport,
  type LatencyReportInput,
  sustainedKey,
} from '../../../src/steps/latency/report.ts';

const NOW = new Date('2026-03-02T10:00:00Z');

function pod(name: string, cpuPercent: number, memoryPercent = 50, extra: Partial<PodRow> = {}): PodRow {
  const sev = (v: number, b: { normal: number; critical: number }) =>
    v < b.normal ? 'normal' : v > b.critical ? 'critical' : 'warning';
  return {
    name,
    cpuCores: cpuPercent / 100,
    cpuLimitCores: 1,
    cpuPercent,
    cpuSource: 'prometheus',
    memoryBytes: memoryPercent * 1e7,
    memoryLimitBytes: 1e9,
    memoryPercent,
    memorySource: 'prometheus',
    throttledPercent: 0,
    restarts: 0,
    oomKilled: false,
    state: 'running',
    ready: true,
    cpuSeverity: sev(cpuPercent, RUNBOOK_BASELINES.cpu_percent),
    memorySeverity: sev(memoryPercent, RUNBOOK_BASELINES.memory_percent),
    ...extra,
  };
}

const endpoints: EndpointRow[] = [
  { path: '/api/search', p50: 1700, p95: 2500, p99: 2900, rate: 5, severity: 'critical' },
  { path: '/api/findings', p50: 12, p95: 40, p99: 90, rate: 5, severity: 'normal' },
];

function input(overrides: Partial<LatencyReportInput> = {}): LatencyReportInput {
  return {
    service: { name: 'aegis-api', namespace: 'aegis', deployment: 'aegis-api' },
    windowMs: 300_000,
    now: NOW,
    baselines: RUNBOOK_BASELINES,
    rules: RUNBOOK_ESCALATION_RULES,
    actions: {
      scale_step_percent: 50,
      max_replicas: 20,
      min_replicas: 1,
      max_memory: { bytes: 8 * 2 ** 30 },
    },
    quantiles: { p50: 30, p95: 900, p99: 2600 },
    endpoints,
    errors: { percent: 0.05 },
    pods: [pod('aegis-api-a', 94), pod('aegis-api-b', 95), pod('aegis-api-c', 92), pod('aegis-api-d', 40)],
    replicas: { current: 4, source: 'deployment scale' },
    sustained: new Map(),
    unavailable: [],
    ...overrides,
  };
}

describe('the latency report', () => {
  it('opens with the one line an SRE needs', () => {
    const r = buildLatencyReport(input());
    expect(r.headline).toBe('P99 2.6 s CRITICAL, driven by /api/search; CPU 95% CRITICAL on 3 of 4 pods');
  });

  it('ranks the findings with the critical ones first', () => {
    const r = buildLatencyReport(input());
    const result = finishResult({
      step: 'latency',
      service: 'aegis-api',
      headline: r.headline,
      findings: r.findings,
      proposals: r.proposals,
      nextSteps: r.nextSteps,
      escalations: r.escalations,
      attachments: [],
      parts: [],
      links: r.links,
      startedAt: NOW,
    });
    expect(result.severity).toBe('critical');
    // all three critical: all traffic (P99), then 3 of 4 pods, then the endpoint with half the traffic
    expect(result.findings.slice(0, 3).map((f) => f.id)).toEqual([
      'latency.p99',
      'resources.cpu',
      'latency.endpoint:/api/search',
    ]);
    const p99 = result.findings[0];
    expect(p99?.summary).toContain('Driven by /api/search');
    expect(p99?.evidence.find((e) => e.type === 'table')).toMatchObject({
      columns: ['Endpoint', 'P50', 'P95', 'P99', 'Rate', 'P99 status'],
      rows: [
        ['/api/search', '1.7 s', '2.5 s', '2.9 s', '5.00/s', 'CRITICAL'],
        ['/api/findings', '12 ms', '40 ms', '90 ms', '5.00/s', 'normal'],
      ],
    });
    expect(p99?.advice?.quickFix.join('\n')).toContain('VACUUM ANALYZE');
  });

  it('shows pods with CPU and memory against their limits', () => {
    const r = buildLatencyReport(input());
    const cpu = r.findings.find((f) => f.id === 'resources.cpu');
    expect(cpu?.title).toBe('CPU up to 95%: 3 of 4 pods CRITICAL');
    const table = cpu?.evidence[0];
    expect(table?.type).toBe('table');
    if (table?.type !== 'table') return;
    expect(table.columns).toEqual([
      'Pod',
      'CPU',
      'Memory',
      'Throttled',
      'Restarts',
      'Last termination',
      'State',
    ]);
    expect(table.rows[0]).toEqual([
      'aegis-api-a',
      '94% (940m of 1 core)',
      '50% (477 MiB of 954 MiB)',
      '0%',
      '0',
      '-',
      'running',
    ]);
  });

  describe('escalation', () => {
    it('does not page for P99 > 2s until it has held for the rule duration', () => {
      const r = buildLatencyReport(input({ pods: [pod('p', 40)] }));
      expect(r.escalations.map((e) => e.ruleId)).toEqual([]);
      expect(r.proposals).toEqual([]);
    });

    it('pages for P99 > 2s held over five minutes', () => {
      const sustained = new Map([[sustainedKey('api_p99_latency_ms', 300_000), 2100]]);
      const r = buildLatencyReport(input({ pods: [pod('p', 40)], sustained }));
      expect(r.escalations).toEqual([
        expect.objectContaining({
          ruleId: 'p99-sustained',
          action: 'page',
          prompt: 'P99 > 2s for > 5 min: page on-call',
        }),
      ]);
      expect(r.proposals).toEqual([
        expect.objectContaining({
          action: 'page',
          label: 'Page on-call',
          params: expect.objectContaining({
            severity: 'critical',
            rules: 'p99-sustained',
          }),
        }),
      ]);
    });

    it('does not page when P99 dipped below 2s inside the five minutes', () => {
      const sustained = new Map([[sustainedKey('api_p99_latency_ms', 300_000), 1900]]);
      expect(buildLatencyReport(input({ pods: [pod('p', 40)], sustained })).escalations).toEqual([]);
    });

    it('proposes scaling and paging when CPU is above 90%', () => {
      const r = buildLatencyReport(input());
      expect(r.escalations.map((e) => e.ruleId)).toEqual(['cpu-high']);
      const scale = r.proposals.find((p) => p.action === 'scale');
      expect(scale).toEqual({
        action: 'scale',
        label: 'Scale to 6 replicas',
        change: { what: 'replicas of deployment/aegis-api', from: '4', to: '6' },
        service: 'aegis-api',
        params: { namespace: 'aegis', deployment: 'aegis-api', from: 4, to: 6 },
        reason: 'CPU > 90%: scale and page on-call',
        danger: true,
      });
      expect(r.proposals.find((p) => p.action === 'page')?.params.rules).toBe('cpu-high');
      expect(r.findings.find((f) => f.id === 'resources.cpu')?.advice?.quickFix[0]).toContain(
        'kubectl scale deployment aegis-api -n aegis --replicas=6',
      );
    });

    it("offers the runbook's temporary memory raise: double the limit, within actions.max_memory", () => {
      const critical = buildLatencyReport(input({ pods: [pod('p', 30, 96)] }));
      expect(critical.proposals.find((p) => p.action === 'set_memory_limit')).toMatchObject({
        label: 'Raise memory limit to 2Gi',
        change: {
          what: 'memory limit of container aegis-api in deployment/aegis-api',
          from: '1G',
          to: '2Gi',
        },
        params: {
          namespace: 'aegis',
          deployment: 'aegis-api',
          container: 'aegis-api',
          from: '1G',
          to: '2Gi',
        },
        danger: true,
      });
      const capped = buildLatencyReport(
        input({
          pods: [pod('p', 30, 96)],
          actions: {
            scale_step_percent: 50,
            max_replicas: 20,
            min_replicas: 1,
            max_memory: { bytes: 1536 * 2 ** 20 },
          },
        }),
      );
      expect(capped.proposals.find((p) => p.action === 'set_memory_limit')?.change.to).toBe('1536Mi');
      const atMax = buildLatencyReport(
        input({
          pods: [pod('p', 30, 96)],
          actions: { scale_step_percent: 50, max_replicas: 20, min_replicas: 1, max_memory: { bytes: 1e9 } },
        }),
      );
      expect(atMax.proposals.map((p) => p.action)).not.toContain('set_memory_limit');
      const calm = buildLatencyReport(input({ pods: [pod('p', 30, 60)] }));
      expect(calm.proposals.map((p) => p.action)).not.toContain('set_memory_limit');
    });

    it('scales and pages for memory above 90% though memory is only a warning there', () => {
      const r = buildLatencyReport(
        input({
          quantiles: { p50: 10, p95: 50, p99: 120 },
          endpoints: [],
          pods: [pod('p', 30, 91)],
          replicas: { current: 2, source: 'deployment scale' },
        }),
      );
      expect(r.findings.find((f) => f.id === 'resources.memory')?.severity).toBe('warning');
      expect(r.escalations.map((e) => e.ruleId)).toEqual(['memory-high']);
      expect(r.proposals.map((p) => p.label)).toEqual([
        'Scale to 3 replicas',
        'Raise memory limit to 2Gi',
        'Page on-call',
      ]);
      expect(r.headline).toBe('memory 91% WARNING on 1 of 1 pods; P99 120 ms normal');
    });

    it('pages immediately for an error rate above 5%', () => {
      const r = buildLatencyReport(input({ pods: [pod('p', 40)], errors: { percent: 6.2 } }));
      expect(r.escalations.map((e) => e.action)).toEqual(['page_immediately']);
      expect(r.proposals[0]).toMatchObject({
        label: 'Page on-call now',
        params: { severity: 'critical', event: 'trigger' },
      });
      expect(r.headline).toBe('P99 2.6 s CRITICAL, driven by /api/search; errors 6.2% CRITICAL');
    });

    it('offers no scaling past the configured maximum and says so', () => {
      const r = buildLatencyReport(input({ replicas: { current: 20, source: 'deployment scale' } }));
      expect(r.proposals.map((p) => p.action)).toEqual(['page']);
      expect(r.findings.find((f) => f.id === 'resources.cpu')?.summary).toContain('already at 20 replicas');
    });
  });

  it('says all is within baselines when it is', () => {
    const r = buildLatencyReport(
      input({
        quantiles: { p50: 12, p95: 60, p99: 150 },
        endpoints: [],
        pods: [pod('p', 30, 40)],
        errors: { percent: 0.02 },
      }),
    );
    expect(r.headline).toBe(
      "P99 150 ms normal; errors 0.02%, CPU max 30%, memory max 40%: within the runbook's baselines",
    );
    expect(r.proposals).toEqual([]);
    expect(r.escalations).toEqual([]);
  });

  it('marks unavailable parts with their reason and still reports the rest', () => {
    const r = buildLatencyReport(
      input({
        quantiles: undefined,
        endpoints: undefined,
        unavailable: [
          { part: 'latency', reason: 'prometheus: instant query failed: no answer within 5000 ms' },
        ],
      }),
    );
    expect(r.headline).toBe(
      'CPU 95% CRITICAL on 3 of 4 pods; Latency unavailable (prometheus: instant query failed: no answer within 5000 ms)',
    );
    expect(r.findings.find((f) => f.id === 'unavailable.latency')).toMatchObject({
      severity: 'unavailable',
      summary: 'prometheus: instant query failed: no answer within 5000 ms',
    });
    expect(r.findings.some((f) => f.id === 'resources.cpu')).toBe(true);
  });

  it('reports OOMKilled pods, restarts and a rising memory trend with the runbook advice', () => {
    const r = buildLatencyReport(
      input({
        pods: [
          pod('a', 40, 60, {
            restarts: 3,
            oomKilled: true,
            lastTerminationReason: 'OOMKilled',
            lastTerminatedAt: new Date(NOW.getTime() - 120_000),
          }),
          pod('b', 40, 60),
        ],
        trends: [
          {
            pod: 'a',
            startBytes: 5e8,
            endBytes: 6e8,
            slopeBytesPerHour: 1.2e9,
            r2: 0.97,
            increasePercentOfLimit: 10,
            reachesLimitAt: new Date(NOW.getTime() + 1_200_000),
            rising: true,
          },
        ],
      }),
    );
    const oom = r.findings.find((f) => f.id === 'resources.restarts');
    expect(oom).toMatchObject({ severity: 'critical', title: 'OOMKilled on 1 of 2 pods' });
    expect(oom?.summary).toContain('a (2m ago)');
    expect(oom?.advice?.quickFix[0]).toContain('kubectl patch deployment aegis-api -n aegis');
    const trend = r.findings.find((f) => f.id === 'resources.memory-trend');
    expect(trend?.summary).toContain('reaches the limit in 20m');
    expect(r.headline).toContain('OOMKilled on 1 pod');
    expect(r.nextSteps[0]).toEqual({ label: 'Heap profile of a', step: 'heap', args: ['a'] });
  });

  it('offers the next runbook steps, the most relevant first', () => {
    const cpuBound = buildLatencyReport(input());
    expect(cpuBound.nextSteps.map((s) => [s.step, ...s.args])).toEqual([
      ['cpu', '30', 'aegis-api-b'],
      ['db'],
      ['goroutines', 'aegis-api-b'],
      ['heap', 'aegis-api-a'],
    ]);
    const slowOnly = buildLatencyReport(input({ pods: [pod('p', 20)] }));
    expect(slowOnly.nextSteps[0]?.step).toBe('db');
  });

  it('links to Grafana when a Grafana URL is configured', () => {
    const explore = buildLatencyReport(
      input({
        grafana: { url: 'https://grafana.example.com/' },
        grafanaQueries: ['histogram_quantile(0.99, x)'],
      }),
    );
    const url = new URL(explore.links[0]?.url ?? '');
    expect(url.pathname).toBe('/explore');
    expect(JSON.parse(url.searchParams.get('panes') ?? '{}')).toEqual({
      a: {
        queries: [{ refId: 'A', expr: 'histogram_quantile(0.99, x)' }],
        range: { from: 'now-5m', to: 'now' },
      },
    });
    const dash = buildLatencyReport(
      input({ grafana: { url: 'https://grafana.example.com', dashboard_uid: 'aegis-perf' } }),
    );
    expect(dash.links[0]?.url).toBe(
      'https://grafana.example.com/d/aegis-perf?from=now-5m&to=now&var-namespace=aegis',
    );
    expect(buildLatencyReport(input()).links).toEqual([]);
  });
});

describe('the latency headline, worst first', () => {
  const oneSlowEndpoint: EndpointRow[] = [
    { path: '/api/export', p50: 900, p95: 3000, p99: 5000, rate: 0.2, severity: 'critical' },
    { path: '/api/findings', p50: 20, p95: 90, p99: 180, rate: 9.8, severity: 'normal' },
  ];

  it('leads with one endpoint critical while the overall P99 is a warning, and the word is the report severity', () => {
    const r = buildLatencyReport(
      input({ quantiles: { p50: 20, p95: 120, p99: 215 }, endpoints: oneSlowEndpoint, pods: [pod('p', 30)] }),
    );
    const result = finishResult({
      ...r,
      step: 'latency',
      service: 'aegis-api',
      attachments: [],
      parts: [],
      startedAt: NOW,
    });
    expect(result.severity).toBe('critical');
    expect(r.headline).toBe('/api/export P99 5.0 s CRITICAL; P99 215 ms WARNING, driven by /api/export');
    expect(result.findings[0]?.id).toBe('latency.endpoint:/api/export');
  });

  it('among equally severe findings, leads with the one touching the most traffic', () => {
    const r = buildLatencyReport(
      input({
        quantiles: { p50: 20, p95: 120, p99: 150 },
        endpoints: [
          { path: '/api/rare', p50: 900, p95: 3000, p99: 4000, rate: 0.1, severity: 'critical' },
          { path: '/api/busy', p50: 900, p95: 2500, p99: 3000, rate: 9, severity: 'critical' },
        ],
        pods: [pod('p', 30)],
      }),
    );
    expect(r.headline).toBe('/api/busy P99 3.0 s CRITICAL; /api/rare P99 4.0 s CRITICAL; P99 150 ms normal');
  });

  it('leads with a warning the old headline left out (throttling) when nothing is worse', () => {
    const r = buildLatencyReport(
      input({
        quantiles: { p50: 20, p95: 60, p99: 150 },
        endpoints: [],
        errors: { percent: 0.01 },
        pods: [pod('a', 40, 40, { throttledPercent: 60 }), pod('b', 40, 40)],
      }),
    );
    expect(r.headline).toBe('CPU throttled on 1 of 2 pods WARNING; P99 150 ms normal');
  });

  it('names the endpoints with the highest 5xx ratio and their share when errors are the worst finding', () => {
    const r = buildLatencyReport(
      input({
        quantiles: { p50: 20, p95: 60, p99: 150 },
        endpoints: [],
        pods: [pod('p', 30)],
        errors: {
          percent: 4,
          byEndpoint: [
            {
              path: '/api/pay',
              errorsPerSecond: 0.3,
              ratioPercent: 30,
              sharePercent: 75,
              statuses: [
                { status: '503', perSecond: 0.2 },
                { status: '500', perSecond: 0.1 },
              ],
            },
            {
              path: '/api/list',
              errorsPerSecond: 0.1,
              ratioPercent: 1.1,
              sharePercent: 25,
              statuses: [{ status: '500', perSecond: 0.1 }],
            },
          ],
          onset: { at: new Date(NOW.getTime() - 120_000), ongoing: true, beforeWindow: false },
        },
      }),
    );
    expect(r.headline).toBe(
      'errors 4.0% WARNING from /api/pay (75% of 5xx), /api/list (25% of 5xx); P99 150 ms normal',
    );
    const f = r.findings.find((x) => x.id === 'errors.rate');
    expect(f?.summary).toContain('Highest 5xx ratio: /api/pay 30% 5xx (75% of all 5xx: 503, 500)');
    expect(f?.summary).toContain('Rose above 0.10% at 09:58 UTC (2m ago) and stays above.');
    expect(f?.evidence[0]).toMatchObject({
      type: 'table',
      rows: [
        ['/api/pay', '30%', '75%', '0.30/s', '503 0.20/s, 500 0.10/s'],
        ['/api/list', '1.1%', '25%', '0.10/s', '500 0.10/s'],
      ],
    });
  });
});
