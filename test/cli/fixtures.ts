import type { Config } from '../../src/config/load.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { ServiceConfig } from '../../src/config/schema.ts';
import { AppError, SourceError } from '../../src/domain/errors.ts';
import type { Finding, StepResult } from '../../src/domain/finding.ts';
import { finishResult } from '../../src/domain/report.ts';
import type { StepContext, StepDefinition } from '../../src/steps/step.ts';

export const CONFIG_TEXT = `services:
  - name: aegis-api
    default: true
    deployment: aegis-api
  - name: aegis-worker
    deployment: aegis-worker
`;

export function testConfig(): Config {
  return parseConfig(CONFIG_TEXT, 'test.yml', {});
}

const STARTED = new Date('2026-03-01T12:00:00.000Z');
const FINISHED = new Date('2026-03-01T12:00:01.250Z');

export const CRITICAL_P99: Finding = {
  id: 'latency.p99',
  severity: 'critical',
  title: 'API P99 latency 2.4 s is above the critical bound (2 s)',
  summary: 'P99 over the last 5m, driven by /api/search.',
  evidence: [
    {
      type: 'table',
      title: 'P99 by endpoint',
      columns: ['path', 'p99', 'requests/s'],
      rows: [
        ['/api/search', '2.4 s', '120'],
        ['/api/findings', '310 ms', '8.5'],
      ],
    },
    {
      type: 'fields',
      fields: [
        { label: 'P50', value: '140 ms' },
        { label: 'Window', value: '5m' },
      ],
    },
  ],
  links: [{ label: 'Grafana', url: 'https://grafana.example.com/d/aegis' }],
  advice: {
    quickFix: ['Scale horizontally: kubectl scale deployment aegis-api -n aegis --replicas=5'],
    longTerm: ['Cache computed results', 'Optimize hot code paths'],
  },
};

export const WARNING_CPU: Finding = {
  id: 'latency.cpu',
  severity: 'warning',
  title: 'CPU 72% of the limit',
  summary: 'Between the normal (60%) and critical (90%) bounds.',
  evidence: [],
  links: [],
};

export function sampleResult(findings: readonly Finding[] = [WARNING_CPU, CRITICAL_P99]): StepResult {
  return finishResult(
    {
      step: 'latency',
      service: 'aegis-api',
      headline: 'P99 2.4 s CRITICAL, driven by /api/search',
      findings,
      proposals: [
        {
          action: 'scale',
          label: 'Scale to 5 replicas',
          change: { what: 'replicas of deployment aegis-api', from: '3', to: '5' },
          service: 'aegis-api',
          params: { replicas: 5, deployment: 'aegis-api' },
          reason: 'P99 above the critical bound',
          danger: false,
        },
      ],
      nextSteps: [{ label: 'CPU profile of aegis-api-7d9f', step: 'cpu', args: ['30', 'aegis-api-7d9f'] }],
      escalations: [
        {
          ruleId: 'p99-sustained',
          condition: 'P99 > 2s for > 5 min',
          action: 'page',
          prompt: 'P99 > 2s for > 5 min: page on-call',
          observed: '2.4 s for 7m',
        },
      ],
      attachments: [
        {
          filename: 'p99.svg',
          title: 'P99 over 1h',
          mimeType: 'image/svg+xml',
          content: '<svg>…</svg>',
          image: true,
        },
        {
          filename: '../cpu.prof',
          title: 'CPU profile',
          mimeType: 'application/octet-stream',
          content: new Uint8Array(2048),
        },
      ],
      parts: [
        { name: 'prometheus p99', status: 'ok' },
        { name: 'kubernetes pod usage', status: 'unavailable', reason: 'metrics.k8s.io: HTTP 503' },
      ],
      links: [{ label: 'Grafana dashboard', url: 'https://grafana.example.com/d/aegis' }],
      startedAt: STARTED,
    },
    FINISHED,
  );
}

export interface FakeSources {
  readonly [name: string]: ((service: ServiceConfig) => unknown) | undefined;
  readonly metrics: (service: ServiceConfig) => { serviceName: string };
}

export type Behaviour = 'report' | 'warning' | 'unavailable' | 'bug' | 'source-error' | 'wait-for-abort';

/** A step that records what it was given and behaves as told. */
export function fakeStep(behaviour: Behaviour = 'report') {
  const calls: { args: { window: string; service?: string }; ctx: StepContext<FakeSources> }[] = [];
  const step: StepDefinition<{ window: string }, FakeSources> = {
    name: 'latency',
    summary: 'Step 1: P99, error rate, CPU and memory',
    usage: 'latency [service] [window]',
    runbook: 'Step 1: Identify the Bottleneck',
    parse(words, { config }) {
      const args: { window: string; service?: string } = { window: '5m' };
      for (const w of words) {
        if (/^\d+[smh]$/.test(w)) args.window = w;
        else if (config.services.some((s) => s.name === w)) args.service = w;
        else throw new AppError('usage', `"${w}" is neither a service nor a window`);
      }
      return args;
    },
    async run(ctx, args) {
      calls.push({ args, ctx });
      ctx.progress({ name: 'prometheus p99', status: 'running' });
      ctx.progress({ name: 'prometheus p99', status: 'ok' });
      ctx.progress({
        name: 'kubernetes pod usage',
        status: 'unavailable',
        reason: 'metrics.k8s.io: HTTP 503',
      });
      ctx.sources.metrics(ctx.service);
      switch (behaviour) {
        case 'report':
          return sampleResult();
        case 'warning':
          return sampleResult([WARNING_CPU]);
        case 'unavailable':
          return sampleResult([
            {
              ...WARNING_CPU,
              id: 'latency.metrics',
              severity: 'unavailable',
              title: 'Prometheus did not answer',
            },
          ]);
        case 'bug':
          throw new TypeError("Cannot read properties of undefined (reading 'value')");
        case 'source-error':
          throw new SourceError('prometheus', 'query p99', 'unreachable', 'cannot connect (ECONNREFUSED)');
        case 'wait-for-abort':
          return new Promise((_, reject) =>
            ctx.signal.addEventListener('abort', () => reject(new Error('aborted'))),
          );
      }
    },
  };
  return { step, calls };
}
