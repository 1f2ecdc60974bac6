import { gzipSync } from 'node:zlib';
import type { ServiceConfig } from '../../src/config/schema.ts';
import type { StepResult } from '../../src/domain/finding.ts';
import type { IncidentView, ResolvedMetric } from '../../src/incidents/model.ts';
import type { IncidentChat, ThreadRef } from '../../src/incidents/ports.ts';
import type { RoutedStep } from '../../src/incidents/routing.ts';
import type { AlertNotification } from '../../src/incidents/webhook-schema.ts';
import { encodeProfile, type ProfileSpec } from '../../src/lib/pprof/encode.ts';
import { fakeResult } from '../support/slack.ts';

export const GROUP_KEY = '{}/{severity=~"warning|critical"}:{alertname="AegisHighP99Latency"}';
export const STARTS = '2026-01-05T10:00:00Z';

export interface AlertInput {
  readonly fingerprint: string;
  readonly status?: 'firing' | 'resolved';
  readonly labels?: Record<string, string>;
  readonly startsAt?: string;
  readonly endsAt?: string;
}

/** A version-4 notification as Alertmanager sends it: P99 above 500 ms on aegis-api. */
export function notification(
  alerts: readonly AlertInput[] = [{ fingerprint: 'a1b2c3d4e5f60708' }],
  overrides: Partial<AlertNotification> = {},
): AlertNotification {
  const common = { alertname: 'AegisHighP99Latency', service: 'aegis-api', severity: 'critical' };
  const list = alerts.map((a) => ({
    status: a.status ?? 'firing',
    labels: { ...common, ...(a.labels ?? {}) },
    annotations: {
      summary: 'P99 latency above 500 ms',
      description: 'P99 of aegis-api is 1.8 s (critical above 500 ms)',
      runbook_url: 'https://runbooks.example/aegis#step-1',
    },
    startsAt: a.startsAt ?? STARTS,
    endsAt: a.endsAt ?? '0001-01-01T00:00:00Z',
    generatorURL:
      'http://prometheus:9090/graph?g0.expr=histogram_quantile%280.99%2C+sum+by+%28le%29+%28rate%28aegis_http_request_duration_seconds_bucket%5B5m%5D%29%29%29+%3E+0.5&g0.tab=1',
    fingerprint: a.fingerprint,
  }));
  const status = list.some((a) => a.status === 'firing') ? 'firing' : 'resolved';
  return {
    version: '4',
    groupKey: GROUP_KEY,
    truncatedAlerts: 0,
    status,
    receiver: 'aegis-bot',
    groupLabels: { alertname: 'AegisHighP99Latency' },
    commonLabels: common,
    commonAnnotations: {
      summary: 'P99 latency above 500 ms',
      description: 'P99 of aegis-api is 1.8 s (critical above 500 ms)',
      runbook_url: 'https://runbooks.example/aegis#step-1',
    },
    externalURL: 'http://alertmanager:9093',
    alerts: list,
    ...overrides,
  };
}

export interface ChatCall {
  readonly kind: 'postRoot' | 'updateRoot' | 'runStep' | 'postResolved' | 'postOnsetKept' | 'postNote';
  readonly thread?: ThreadRef;
  readonly view?: IncidentView;
  readonly step?: string;
  readonly metric?: ResolvedMetric;
  readonly text?: string;
}

/** The chat as a list of calls: roots are numbered 100.1, 100.2, ... */
export function fakeChat(
  result: (routed: RoutedStep, service: ServiceConfig) => StepResult | undefined = (r, s) =>
    fakeResult(r.step.name, s.name),
): IncidentChat & { calls: ChatCall[]; roots(): number; steps(): string[] } {
  const calls: ChatCall[] = [];
  let n = 0;
  return {
    calls,
    roots: () => calls.filter((c) => c.kind === 'postRoot').length,
    steps: () => calls.filter((c) => c.kind === 'runStep').map((c) => c.step as string),
    async postRoot(channel, view) {
      n += 1;
      const thread = { channel, ts: `100.${n}` };
      calls.push({ kind: 'postRoot', thread, view });
      return thread;
    },
    async updateRoot(thread, view) {
      calls.push({ kind: 'updateRoot', thread, view });
    },
    async runStep(thread, routed, service) {
      calls.push({ kind: 'runStep', thread, step: routed.text });
      await new Promise((r) => setTimeout(r, 5));
      return result(routed, service);
    },
    async postResolved(thread, view, metric) {
      calls.push({ kind: 'postResolved', thread, view, ...(metric ? { metric } : {}) });
    },
    async postOnsetKept(thread, onset) {
      calls.push({ kind: 'postOnsetKept', thread, step: onset.step });
    },
    async postNote(thread, text) {
      calls.push({ kind: 'postNote', thread, text });
    },
  };
}

/** A gzipped CPU profile whose stacks (root first) get the given number of 10 ms samples each. */
export function cpuBytes(stacks: [string[], number][]): Uint8Array {
  const ids = new Map<string, number>();
  const functions: ProfileSpec['functions'][number][] = [];
  const locations: ProfileSpec['locations'][number][] = [];
  const loc = (name: string) => {
    let id = ids.get(name);
    if (!id) {
      id = functions.length + 1;
      ids.set(name, id);
      functions.push({ id, name, filename: '/src/x.go' });
      locations.push({ id, lines: [{ functionId: id, line: id }] });
    }
    return id;
  };
  return gzipSync(
    encodeProfile({
      sampleTypes: [
        { type: 'samples', unit: 'count' },
        { type: 'cpu', unit: 'nanoseconds' },
      ],
      period: 10_000_000,
      durationNanos: 10e9,
      functions,
      locations,
      samples: stacks.map(([stack, n]) => ({ locationIds: stack.map(loc).reverse(), values: [n, n * 1e7] })),
    }),
  );
}
