/**
 * Against the real test bed: Prometheus scraping the Go aegis-api with its slow endpoint on.
 * The Kubernetes API cannot run here: where it takes part, a loopback stand-in serves the
 * fixtures renamed to the test bed's simulated pods.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Config } from '../../../src/config/load.ts';
import type { StepResult } from '../../../src/domain/finding.ts';
import { KubernetesSource } from '../../../src/sources/kubernetes.ts';
import { PrometheusSource } from '../../../src/sources/prometheus.ts';
import { type LatencySources, latencyStep, PARTS } from '../../../src/steps/latency/step.ts';
import { type AegisApi, startAegisApi, waitFor } from '../../support/testbed.ts';
import { context, type FakeServer, kubeConfigFor, startFakeKubernetes, testConfig } from './fakes.ts';

const testbed = inject('testbed');
const GiB = 2 ** 30;

let api: AegisApi;
let podNames: string[];

const RULES = [
  'escalation:',
  '  - id: p99-sustained',
  '    metric: api_p99_latency_ms',
  '    above: 2000',
  '    for: 5s',
  '    action: page',
  '    prompt: "P99 > 2s for > 5 s: page on-call"',
  '  - id: cpu-high',
  '    metric: cpu_percent',
  '    above: 90',
  '    action: scale_and_page',
  '    prompt: "CPU > 90%: scale and page on-call"',
  '',
].join('\n');

/** The test bed's Prometheus, this file's instance selected, escalation durations in seconds. */
function config(instance: string): Config {
  return withSelector(testConfig(testbed.prometheusUrl, RULES), instance);
}

function withSelector(c: Config, instance: string): Config {
  const s = c.services[0];
  if (!s?.prometheus) throw new Error('no prometheus in the test config');
  const prometheus = { ...s.prometheus, metrics: { ...s.prometheus.metrics, selector: { instance } } };
  return { ...c, services: [{ ...s, prometheus }] };
}

function sources(k8sUrl?: string): LatencySources {
  return {
    prometheus: (s) =>
      s.prometheus ? new PrometheusSource({ url: s.prometheus.url, timeoutMs: 5000 }) : undefined,
    ...(k8sUrl
      ? { kubernetes: () => new KubernetesSource({ kubeConfig: kubeConfigFor(k8sUrl), timeoutMs: 5000 }) }
      : {}),
  };
}

async function report(c: Config, src: LatencySources): Promise<StepResult> {
  const { ctx } = context(c, src);
  return latencyStep.run(ctx, latencyStep.parse(['1m'], { config: c }));
}

beforeAll(async () => {
  api = await startAegisApi(testbed, {
    pathologies: ['slow-endpoint'],
    pods: [
      {
        cpu_cores: 0.96,
        cpu_limit_cores: 1,
        memory_bytes: 0.5 * GiB,
        memory_limit_bytes: GiB,
        throttled_ratio: 0.4,
      },
      { cpu_cores: 0.95, cpu_limit_cores: 1, memory_bytes: 0.4 * GiB, memory_limit_bytes: GiB },
      { cpu_cores: 0.2, cpu_limit_cores: 1, memory_bytes: 0.3 * GiB, memory_limit_bytes: GiB },
    ],
  });
  podNames = (await api.pods()).map((p) => p.name);
});

afterAll(async () => {
  await api?.stop();
});

describe('latency step against the test bed', () => {
  it('names the slow endpoint, classifies it CRITICAL and pages once P99 > 2s has held', async () => {
    const c = config(api.instance);
    // rate() over the 1m window averages over the whole minute, so the pods' CPU reads true only
    // once the instance has run for a minute; the 5 s P99 rule needs 5 s of the slow endpoint.
    const result = await waitFor(
      'a report with the sustained P99 and the CPU escalations',
      async () => {
        const r = await report(c, sources());
        const fired = r.escalations.map((e) => e.ruleId);
        // both hot pods read above 90% only once the rate window has filled: wait for that, not the first
        const bothHot = /CPU 9\d% CRITICAL on 2 of 3 pods(;|$)/.test(r.headline);
        return fired.includes('p99-sustained') && fired.includes('cpu-high') && bothHot ? r : undefined;
      },
      { timeoutMs: 100_000, intervalMs: 2000 },
    );
    expect(result.headline).toMatch(
      /^P99 \d+(\.\d)? s CRITICAL, driven by \/api\/search; CPU 9\d% CRITICAL on 2 of 3 pods; CPU throttled on 1 of 3 pods WARNING$/,
    );
    expect(result.parts.filter((p) => p.status !== 'ok')).toEqual([]);

    const p99 = result.findings.find((f) => f.id === 'latency.p99');
    expect(p99?.severity).toBe('critical');
    const table = p99?.evidence.find((e) => e.type === 'table');
    if (table?.type !== 'table') throw new Error('expected the endpoints table');
    expect(table.rows[0]?.[0]).toBe('/api/search');
    expect(table.rows[0]?.[5]).toBe('CRITICAL');
    const health = table.rows.find((r) => r[0] === '/api/health');
    expect(health?.[5]).toBe('normal');
    expect(result.findings.find((f) => f.id === 'latency.endpoint:/api/search')?.severity).toBe('critical');

    expect(result.findings.find((f) => f.id === 'errors.rate')?.severity).toBe('normal');
    expect(result.findings.find((f) => f.id === 'resources.memory')?.severity).toBe('normal');
    expect(result.findings.find((f) => f.id === 'resources.throttling')?.summary).toContain(podNames[0]);

    expect(result.escalations.map((e) => e.ruleId).sort()).toEqual(['cpu-high', 'p99-sustained']);
    expect(result.proposals.map((p) => p.label)).toEqual(['Scale to 5 replicas', 'Page on-call']);
    expect(result.nextSteps[0]).toEqual({
      label: `CPU profile of ${podNames[0]} (30 s)`,
      step: 'cpu',
      args: ['30', podNames[0]],
    });
    expect(result.attachments.map((a) => a.filename)).toHaveLength(4);
  }, 120_000);

  it('reports pods from the Kubernetes API against the same Prometheus', async () => {
    const k8s: FakeServer = await startFakeKubernetes({ podNames });
    try {
      const result = await report(config(api.instance), sources(k8s.url));
      expect(result.parts.filter((p) => p.status !== 'ok')).toEqual([]);
      const cpu = result.findings.find((f) => f.id === 'resources.cpu');
      const table = cpu?.evidence[0];
      if (table?.type !== 'table') throw new Error('expected the pods table');
      expect(table.rows.map((r) => [r[0], r[4], r[5]?.split(' ')[0]])).toEqual([
        [podNames[0], '3', 'OOMKilled'],
        [podNames[1], '0', '-'],
        [podNames[2], '7', 'OOMKilled'],
      ]);
      // the deployment scale subresource says 3 replicas
      expect(result.proposals.find((p) => p.action === 'scale')?.params).toMatchObject({ from: 3, to: 5 });
    } finally {
      await k8s.close();
    }
  });

  it('sends a hostile selector to the real Prometheus as a plain label value', async () => {
    const result = await report(config('"}) or vector(1) #'), sources());
    // vector(1) would have answered P99 = 1 s; an escaped value matches no series at all
    expect(result.headline).toBe('No requests in the last 1m');
    expect(result.parts.find((p) => p.name === PARTS.containers)?.reason).toMatch(
      /^no container series matched/,
    );
    for (const p of result.parts.filter((x) => x.name !== PARTS.containers)) expect(p.status).toBe('ok');
  });
});
