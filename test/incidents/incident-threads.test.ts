import { describe, expect, it } from 'vitest';
import type { Evidence } from '../../src/domain/finding.ts';
import { incidentThreads } from '../../src/incidents/incident-threads.ts';
import type { MetricHistory } from '../../src/incidents/ports.ts';
import { createAlertRouter } from '../../src/incidents/routing.ts';
import type { AlertNotification } from '../../src/incidents/webhook-schema.ts';
import { notificationKey } from '../../src/incidents/webhook-schema.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import type { Store } from '../../src/store/types.ts';
import { fakeResult, fakeStep, recordingLog } from '../support/slack.ts';
import { fakeChat, GROUP_KEY, notification } from './fixtures.ts';
import { alertsConfig } from './support.ts';

const config = alertsConfig();
const STEPS = [fakeStep({ name: 'latency' }), fakeStep({ name: 'cpu' }), fakeStep({ name: 'db' })];
const router = createAlertRouter(config, STEPS);
const T0 = new Date('2026-01-05T10:01:00Z');

function bot(store: Store, chat = fakeChat(), extra: { metrics?: MetricHistory; owner?: string } = {}) {
  let clock = T0.getTime();
  const tick = () => {
    clock += 1000;
    return new Date(clock);
  };
  const threads = incidentThreads({
    config,
    store,
    router,
    chat,
    owner: extra.owner ?? 'bot-1',
    log: recordingLog(),
    now: tick,
    pollMs: 5,
    rootWaitMs: 5000,
    ...(extra.metrics ? { metrics: extra.metrics } : {}),
  });
  /** What the receiver does: record, then handle. */
  const deliver = async (n: AlertNotification, at = tick()) => {
    const record = await store.recordAlertNotification({
      dedupKey: notificationKey(n),
      groupKey: n.groupKey,
      status: n.status,
      payload: n,
      at,
    });
    await threads.handle(record);
  };
  return { threads, chat, deliver };
}

describe('one incident thread per Alertmanager group', () => {
  it('posts one root with the alert, its labels and annotations, then runs the routed step in its thread', async () => {
    const { chat, deliver } = bot(new MemoryStore());
    await deliver(notification());
    expect(chat.roots()).toBe(1);
    const root = chat.calls[0];
    expect(root?.view).toMatchObject({
      status: 'firing',
      service: 'aegis-api',
      alertNames: ['AegisHighP99Latency'],
      commonLabels: { service: 'aegis-api', severity: 'critical' },
      summary: 'P99 latency above 500 ms',
      runbookUrl: 'https://runbooks.example/aegis#step-1',
      startedAt: new Date('2026-01-05T10:00:00Z'),
      steps: ['latency'],
    });
    expect(root?.view?.generatorUrl).toMatch(/^http:\/\/prometheus:9090\/graph\?g0\.expr=/);
    expect(root?.view?.silenceOffers.map((p) => p.label)).toEqual(['Silence 1h', 'Silence 4h']);
    expect(chat.calls.filter((c) => c.kind === 'runStep')).toEqual([
      { kind: 'runStep', thread: { channel: 'C0INCIDENT', ts: '100.1' }, step: 'latency' },
    ]);
  });

  it('never posts a second root nor reruns a step for a repeat or the HA twin: last seen moves', async () => {
    const store = new MemoryStore();
    const { chat, deliver } = bot(store);
    const n = notification();
    await deliver(n);
    await Promise.all([deliver(n), deliver(structuredClone(n))]);
    expect(chat.roots()).toBe(1);
    expect(chat.steps()).toEqual(['latency']);
    const last = chat.calls.filter((c) => c.kind === 'updateRoot').at(-1);
    expect(last?.view?.lastSeen.getTime()).toBeGreaterThan(T0.getTime() + 2000);
    expect((await store.alertIncident(GROUP_KEY))?.lastSeen).toEqual(last?.view?.lastSeen);
  });

  it('updates the root in place when an alert joins and when one leaves, running nothing again', async () => {
    const { chat, deliver } = bot(new MemoryStore());
    await deliver(notification([{ fingerprint: 'f1', labels: { pod: 'aegis-api-1' } }]));
    await deliver(
      notification([
        { fingerprint: 'f1', labels: { pod: 'aegis-api-1' } },
        { fingerprint: 'f2', labels: { pod: 'aegis-api-2' } },
      ]),
    );
    const joined = chat.calls.filter((c) => c.kind === 'updateRoot').at(-1)?.view;
    expect(joined?.firing.map((a) => a.labels.pod)).toEqual(['aegis-api-1', 'aegis-api-2']);
    await deliver(
      notification([
        {
          fingerprint: 'f1',
          labels: { pod: 'aegis-api-1' },
          status: 'resolved',
          endsAt: '2026-01-05T10:05:00Z',
        },
        { fingerprint: 'f2', labels: { pod: 'aegis-api-2' } },
      ]),
    );
    const left = chat.calls.filter((c) => c.kind === 'updateRoot').at(-1)?.view;
    expect([left?.status, left?.firing.map((a) => a.labels.pod), left?.resolvedCount]).toEqual([
      'firing',
      ['aegis-api-2'],
      1,
    ]);
    expect(chat.roots()).toBe(1);
    expect(chat.steps()).toEqual(['latency']);
  });

  it('says resolved in the root with the end, and gives the thread the metric before, at worst and now', async () => {
    const reads: { expr: string; from: Date }[] = [];
    const metrics: MetricHistory = {
      async read(expr, _service, window) {
        reads.push({ expr, from: window.from });
        return { expr, before: 0.12, worst: 1.8, worstAt: new Date('2026-01-05T10:03:00Z'), now: 0.14 };
      },
    };
    const { chat, deliver } = bot(new MemoryStore(), fakeChat(), { metrics });
    await deliver(notification());
    await deliver(
      notification([{ fingerprint: 'a1b2c3d4e5f60708', status: 'resolved', endsAt: '2026-01-05T10:20:00Z' }]),
    );
    const root = chat.calls.filter((c) => c.kind === 'updateRoot').at(-1)?.view;
    expect([root?.status, root?.resolvedAt]).toEqual(['resolved', new Date('2026-01-05T10:20:00Z')]);
    expect(root?.silenceOffers).toEqual([]);
    const resolved = chat.calls.find((c) => c.kind === 'postResolved');
    expect(resolved?.metric).toMatchObject({ before: 0.12, worst: 1.8, now: 0.14 });
    expect(reads[0]?.expr).toBe(
      'histogram_quantile(0.99, sum by (le) (rate(aegis_http_request_duration_seconds_bucket[5m])))',
    );
    expect(reads[0]?.from.getTime()).toBeLessThan(new Date('2026-01-05T10:00:00Z').getTime());
  });

  it('posts one resolved update when the HA pair sends the resolution twice at once', async () => {
    const { chat, deliver } = bot(new MemoryStore());
    await deliver(notification());
    const resolved = notification([
      { fingerprint: 'a1b2c3d4e5f60708', status: 'resolved', endsAt: '2026-01-05T10:20:00Z' },
    ]);
    await Promise.all([deliver(resolved), deliver(structuredClone(resolved))]);
    expect(chat.calls.filter((c) => c.kind === 'postResolved')).toHaveLength(1);
  });

  it('posts nothing for a resolved group it never saw firing', async () => {
    const { chat, deliver } = bot(new MemoryStore());
    await deliver(notification([{ fingerprint: 'f1', status: 'resolved', endsAt: '2026-01-05T10:20:00Z' }]));
    expect(chat.calls).toEqual([]);
  });

  it('reopens the same thread when the group fires again after it resolved', async () => {
    const { chat, deliver } = bot(new MemoryStore());
    await deliver(notification([{ fingerprint: 'f1' }]));
    await deliver(notification([{ fingerprint: 'f1', status: 'resolved', endsAt: '2026-01-05T10:20:00Z' }]));
    await deliver(notification([{ fingerprint: 'f1', startsAt: '2026-01-05T11:00:00Z' }]));
    expect(chat.roots()).toBe(1);
    expect(chat.calls.filter((c) => c.kind === 'updateRoot').at(-1)?.view?.status).toBe('firing');
    expect(chat.calls.find((c) => c.kind === 'postNote')?.text).toMatch(/fires again/);
    expect(chat.steps()).toEqual(['latency']);
  });

  it('with two replicas sharing a store, each receiving the same notifications at once: one root, each step once', async () => {
    const store = new MemoryStore();
    const chat = fakeChat();
    const a = bot(store, chat, { owner: 'bot-a' });
    const b = bot(store, chat, { owner: 'bot-b' });
    const cpu = notification([{ fingerprint: 'c1', labels: { alertname: 'AegisHighCPU' } }], {
      groupKey: 'cpu-group',
      commonLabels: { alertname: 'AegisHighCPU', severity: 'critical', service: 'aegis-api' },
    });
    const p99 = notification();
    await Promise.all([a.deliver(p99), b.deliver(p99), a.deliver(cpu), b.deliver(cpu), b.deliver(p99)]);
    expect(chat.roots()).toBe(2);
    expect(chat.steps().sort()).toEqual(['cpu', 'latency', 'latency']);
  });

  it('keeps the onset evidence of a profile step with the incident, and says so in the thread', async () => {
    const table: Evidence = {
      type: 'table',
      title: 'Top functions by CPU',
      columns: ['flat%', 'function'],
      rows: [['41%', 'regexp.Compile']],
    };
    const store = new MemoryStore();
    const chat = fakeChat((routed, service) =>
      fakeResult(routed.step.name, service.name, {
        findings: [
          {
            id: 'cpu.top',
            severity: 'warning',
            title: 'CPU',
            summary: 'regexp.Compile',
            evidence: [{ type: 'fields', fields: [{ label: 'Pod', value: 'aegis-api-7d9f' }] }, table],
            links: [],
          },
        ],
      }),
    );
    const { deliver } = bot(store, chat);
    const cpu = notification([{ fingerprint: 'c1', labels: { alertname: 'AegisHighCPU' } }], {
      groupKey: 'cpu-group',
      commonLabels: { alertname: 'AegisHighCPU', severity: 'critical', service: 'aegis-api' },
    });
    await deliver(cpu);
    const incident = await store.alertIncident('cpu-group');
    expect(incident?.onset).toEqual([
      {
        step: 'cpu',
        capturedAt: expect.any(Date),
        target: 'aegis-api-7d9f',
        table: {
          title: 'Top functions by CPU',
          columns: ['flat%', 'function'],
          rows: [['41%', 'regexp.Compile']],
        },
      },
    ]);
    expect(chat.calls.filter((c) => c.kind === 'postOnsetKept').map((c) => c.step)).toEqual(['cpu']);
  });

  it("names the CPU step's kept capture as the onset's raw profile, which later captures of the pod do not trim away", async () => {
    const store = new MemoryStore();
    const capture = (ms: number) => ({
      service: 'aegis-api',
      pod: 'aegis-api-7d9f',
      kind: 'cpu' as const,
      capturedAt: new Date(Date.parse('2026-01-05T10:00:00Z') + ms),
      bytes: new Uint8Array([0x1f, 0x8b, ms % 256]),
    });
    const base = fakeChat((routed, service) =>
      fakeResult(routed.step.name, service.name, {
        findings: [
          {
            id: 'cpu.top',
            severity: 'warning',
            title: 'CPU',
            summary: 'regexp.Compile',
            evidence: [
              { type: 'fields', fields: [{ label: 'Pod', value: 'aegis-api-7d9f' }] },
              { type: 'table', columns: ['flat%', 'function'], rows: [['41%', 'regexp.Compile']] },
            ],
            links: [],
          },
        ],
      }),
    );
    // what the real CPU step does while it runs: keeps its capture through ProfilingSources.captures
    const chat = {
      ...base,
      async runStep(...args: Parameters<typeof base.runStep>) {
        await store.saveProfileCapture(capture(500));
        return base.runStep(...args);
      },
    };
    await store.saveProfileCapture(capture(-3_600_000)); // an older /aegis cpu of the pod
    const { deliver } = bot(store, chat);
    await deliver(
      notification([{ fingerprint: 'c1', labels: { alertname: 'AegisHighCPU' } }], {
        groupKey: 'cpu-group',
        commonLabels: { alertname: 'AegisHighCPU', severity: 'critical', service: 'aegis-api' },
      }),
    );
    const onset = (await store.alertIncident('cpu-group'))?.onset[0];
    expect(onset?.capture).toEqual({
      pod: 'aegis-api-7d9f',
      kind: 'cpu',
      capturedAt: capture(500).capturedAt,
    });
    for (let i = 1; i <= 10; i++) await store.saveProfileCapture(capture(500 + i * 60_000));
    expect(
      await store.profileCaptureAt('aegis-api', 'aegis-api-7d9f', 'cpu', capture(500).capturedAt),
    ).toEqual(capture(500));
  });

  it('names no capture when the step kept none while it ran: the tables alone are compared', async () => {
    const store = new MemoryStore();
    const chat = fakeChat((routed, service) =>
      fakeResult(routed.step.name, service.name, {
        findings: [
          {
            id: 'cpu.top',
            severity: 'warning',
            title: 'CPU',
            summary: 'x',
            evidence: [{ type: 'table', columns: ['function'], rows: [['main.f']] }],
            links: [],
          },
        ],
      }),
    );
    // a capture of the pod from long before the step: not this step's
    await store.saveProfileCapture({
      service: 'aegis-api',
      pod: 'p',
      kind: 'cpu',
      capturedAt: new Date('2026-01-05T09:00:00Z'),
      bytes: new Uint8Array([1]),
    });
    const { deliver } = bot(store, chat);
    await deliver(
      notification([{ fingerprint: 'c1', labels: { alertname: 'AegisHighCPU' } }], {
        groupKey: 'cpu-group',
        commonLabels: { alertname: 'AegisHighCPU', severity: 'critical', service: 'aegis-api' },
      }),
    );
    const onset = (await store.alertIncident('cpu-group'))?.onset[0];
    expect(onset?.table.rows).toEqual([['main.f']]);
    expect(onset?.capture).toBeUndefined();
  });
});
