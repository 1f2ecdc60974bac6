import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type SlackApiEmulator, start } from '../../src/console/slack-api-emulator.ts';
import type { AlertNotification } from '../../src/incidents/webhook-schema.ts';
import { type BotProcess, startBotProcess } from '../support/bot-process.ts';
import { createDatabase, dropDatabase, type TestDatabase, waitFor } from '../support/testbed.ts';
import { notification } from './fixtures.ts';

/**
 * Two bot processes (separate OS processes) sharing one PostgreSQL store, both receiving every
 * notification at the same time, as two replicas behind a Service would from an HA pair of Alertmanagers.
 */
const testbed = inject('testbed');
const TOKEN = 'replica-test-webhook-token';
let emulator: SlackApiEmulator;
let db: TestDatabase;
let bots: BotProcess[] = [];

const YAML = `services:
  - name: aegis-api
    deployment: aegis-api
store:
  database_url_env: AEGIS_STORE_URL
alerts:
  auth: { bearer_token_env: ALERTMANAGER_WEBHOOK_TOKEN }
  routes:
    - match_re: { alertname: "AegisHigh(CPU|Memory)" }
      steps: [latency, checklist]
`;

beforeAll(async () => {
  emulator = await start();
  db = await createDatabase(testbed, 'alerts_replicas');
  const env = { AEGIS_STORE_URL: db.url, ALERTMANAGER_WEBHOOK_TOKEN: TOKEN };
  bots = await Promise.all(
    ['replica-a', 'replica-b'].map((name) =>
      startBotProcess({ name, emulatorUrl: emulator.url, yaml: YAML, env }),
    ),
  );
}, 90_000);

afterAll(async () => {
  await Promise.all(bots.map((b) => b.stop()));
  await emulator?.stop();
  if (db) await dropDatabase(testbed, db.name);
});

const send = (bot: BotProcess, n: AlertNotification) =>
  fetch(`${bot.base}/alertmanager`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(n),
  }).then((r) => r.status);

function group(i: number, alertname: string): AlertNotification {
  return notification([{ fingerprint: `f${i}`, labels: { alertname, instance: `pod-${i}` } }], {
    groupKey: `{}:{alertname="${alertname}", instance="pod-${i}"}`,
    groupLabels: { alertname, instance: `pod-${i}` },
    commonLabels: { alertname, service: 'aegis-api', severity: 'critical', instance: `pod-${i}` },
  });
}

const roots = () =>
  emulator.calls.filter(
    (c) => c.method === 'chat.postMessage' && c.args.channel === 'C0INCIDENT' && !c.args.thread_ts,
  );
/** Each step run posts its progress message into the thread first: one per run. */
const stepRuns = () =>
  emulator.calls.filter(
    (c) =>
      c.method === 'chat.postMessage' &&
      c.args.thread_ts &&
      /Running|running/.test(String(c.args.text ?? '')),
  );

describe('several replicas sharing the PostgreSQL store', () => {
  it('post exactly one root per alert group and run no step twice, whichever receives what', async () => {
    const groups = [
      group(1, 'AegisHighP99Latency'),
      group(2, 'AegisHighCPU'),
      group(3, 'AegisHighP99Latency'),
    ];
    const [a, b] = bots as [BotProcess, BotProcess];
    // every notification to both replicas at once, twice (the HA pair's twin, then a repeat)
    const statuses = await Promise.all(
      groups.flatMap((n) => [send(a, n), send(b, n), send(b, n), send(a, n)]),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
    // group 1 gains an alert: both replicas receive that too
    const joined = notification(
      [
        { fingerprint: 'f1', labels: { alertname: 'AegisHighP99Latency', instance: 'pod-1' } },
        {
          fingerprint: 'f1b',
          labels: { alertname: 'AegisHighP99Latency', instance: 'pod-1', path: '/api/search' },
        },
      ],
      {
        groupKey: groups[0]?.groupKey as string,
        groupLabels: groups[0]?.groupLabels,
        commonLabels: groups[0]?.commonLabels,
      },
    );
    await Promise.all([send(a, joined), send(b, joined)]);
    const expectedRuns = 1 + 2 + 1; // latency; latency + checklist; latency
    await waitFor(
      'every step to report',
      async () => {
        const steps = stepMessages();
        return steps.length >= expectedRuns && steps.every((m) => !m.text.startsWith('Running'));
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    // give a wrongly duplicated run time to show up
    await new Promise((r) => setTimeout(r, 1500));
    expect(roots()).toHaveLength(3);
    expect(stepRuns()).toHaveLength(expectedRuns);
    const threads = new Set(stepRuns().map((c) => c.args.thread_ts));
    expect(threads.size).toBe(3);
    // the join updated group 1's root in place
    const root1 = roots().find((c) => String(c.args.text).includes('AegisHighP99Latency'));
    expect(root1).toBeDefined();
    const updates = emulator.calls.filter(
      (c) => c.method === 'chat.update' && JSON.stringify(c.args.blocks).includes('/api/search'),
    );
    expect(updates.length).toBeGreaterThan(0);
  }, 120_000);
});

/** The step messages in threads (each starts as "Running <step> on <service>…"), reported or not. */
function stepMessages() {
  return emulator.messages
    .all()
    .filter((m) => m.threadTs && m.threadTs !== m.ts && (m.history[0]?.text ?? m.text).startsWith('Running'));
}
