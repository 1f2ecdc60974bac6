import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type SlackApiEmulator, start } from '../../src/console/slack-api-emulator.ts';
import type { AlertNotification } from '../../src/incidents/webhook-schema.ts';
import { type BotProcess, startBotProcess } from '../support/bot-process.ts';
import { createDatabase, dropDatabase, type TestDatabase, waitFor } from '../support/testbed.ts';
import { notification } from './fixtures.ts';

/**
 * A replica answers a notification 2xx, starts handling it and is SIGKILLed part-way (the emulated Slack
 * stops answering the call it is making, and the test kills it there). Another bot process sharing the
 * PostgreSQL store takes the notification up with its periodic sweep once the claim is stale, and
 * finishes it: one root per group, no step run twice.
 */
const testbed = inject('testbed');
const TOKEN = 'replica-crash-webhook-token';
let emulator: SlackApiEmulator;
let db: TestDatabase;
let survivor: BotProcess;
const victims: BotProcess[] = [];

const YAML = `services:
  - name: aegis-api
    deployment: aegis-api
store:
  database_url_env: AEGIS_STORE_URL
alerts:
  auth: { bearer_token_env: ALERTMANAGER_WEBHOOK_TOKEN }
  stale_claim: 3s
  sweep_interval: 1s
  routes:
    - match_re: { alertname: "AegisHigh(CPU|Memory)" }
      steps: [latency, checklist]
`;

beforeAll(async () => {
  emulator = await start();
  db = await createDatabase(testbed, 'alerts_replica_crash');
  const env = { AEGIS_STORE_URL: db.url, ALERTMANAGER_WEBHOOK_TOKEN: TOKEN };
  // one after the other: three processes starting at once on a busy machine are slow to be ready
  for (const name of ['replica-survivor', 'replica-victim-1', 'replica-victim-2']) {
    const bot = await startBotProcess({
      name,
      emulatorUrl: emulator.url,
      yaml: YAML,
      env,
      readyTimeoutMs: 60_000,
    });
    if (name === 'replica-survivor') survivor = bot;
    else victims.push(bot);
  }
}, 200_000);

afterAll(async () => {
  await Promise.all([survivor, ...victims].filter(Boolean).map((b) => b.stop()));
  await emulator?.stop();
  if (db) await dropDatabase(testbed, db.name);
});

const send = (bot: BotProcess, n: AlertNotification) =>
  fetch(`${bot.base}/alertmanager`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(n),
  }).then((r) => r.status);

function group(name: string, alertname: string): AlertNotification {
  return notification([{ fingerprint: `f-${name}`, labels: { alertname, instance: name } }], {
    groupKey: `{}:{alertname="${alertname}", instance="${name}"}`,
    groupLabels: { alertname, instance: name },
    commonLabels: { alertname, service: 'aegis-api', severity: 'critical', instance: name },
  });
}

const isRoot = (args: Record<string, unknown>) => args.channel === 'C0INCIDENT' && !args.thread_ts;
/** Root messages Slack has (a call that was never answered made none). */
const roots = (groupKey: string) =>
  emulator.messages
    .inChannel('C0INCIDENT')
    .filter((m) => JSON.stringify(m.history[0]?.blocks ?? m.blocks).includes(instanceOf(groupKey)));
/** Step runs: each starts by posting "Running <step> on <service>…" into the thread, answered or not. */
const stepRuns = (threadTs: string | undefined) =>
  emulator.calls
    .filter(
      (c) =>
        c.method === 'chat.postMessage' &&
        c.args.thread_ts === threadTs &&
        String(c.args.text ?? '').startsWith('Running'),
    )
    .map((c) => String(c.args.text).split(' ')[1]);
const instanceOf = (groupKey: string) => /instance="([^"]+)"/.exec(groupKey)?.[1] as string;

async function notificationRow(groupKey: string): Promise<{ state: string; claimed_by: string }> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    const { rows } = await c.query(
      'SELECT state, claimed_by FROM aegis_bot.alert_notifications WHERE group_key = $1',
      [groupKey],
    );
    expect(rows).toHaveLength(1);
    return rows[0];
  } finally {
    await c.end();
  }
}

describe('a replica killed while handling a notification it answered', () => {
  it('between claiming the root and posting it: another replica posts the one root and runs each step once', async () => {
    const victim = victims[0] as BotProcess;
    const n = group('crash-root', 'AegisHighCPU');
    emulator.hangNext('chat.postMessage', isRoot);
    expect(await send(victim, n)).toBe(200);
    await waitFor(
      'the victim to start posting the root',
      async () => emulator.calls.some((c) => c.method === 'chat.postMessage' && isRoot(c.args)),
      { timeoutMs: 20_000, intervalMs: 25 },
    );
    await victim.kill();

    await waitFor(
      'the survivor to post the root and both steps to report',
      async () => {
        const [root] = roots(n.groupKey);
        const steps = root
          ? emulator.messages
              .thread('C0INCIDENT', root.ts)
              .filter((m) => (m.history[0]?.text ?? m.text).startsWith('Running'))
          : [];
        return steps.length >= 2 && steps.every((m) => !m.text.startsWith('Running'));
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    // give a wrongly duplicated root or run time to show up
    await new Promise((r) => setTimeout(r, 2500));
    expect(roots(n.groupKey)).toHaveLength(1);
    expect(stepRuns(roots(n.groupKey)[0]?.ts).sort()).toEqual(['checklist', 'latency']);
    // any live replica may take it up (the second victim too, still alive then)
    const row = await notificationRow(n.groupKey);
    expect(row.state).toBe('done');
    expect(row.claimed_by).not.toBe(victim.name);
  }, 120_000);

  it('while a step runs: the other replica finishes the notification, updates the root and reruns no step', async () => {
    const victim = victims[1] as BotProcess;
    const n = group('crash-step', 'AegisHighMemory');
    emulator.hangNext('chat.postMessage', (args) => String(args.text ?? '').startsWith('Running latency'));
    expect(await send(victim, n)).toBe(200);
    await waitFor(
      'the victim to start the latency step',
      async () => stepRuns(roots(n.groupKey)[0]?.ts).includes('latency'),
      { timeoutMs: 20_000, intervalMs: 25 },
    );
    await victim.kill();
    const root = roots(n.groupKey)[0];

    await waitFor(
      'the survivor (the one replica alive) to take the notification up',
      async () => (await notificationRow(n.groupKey)).claimed_by === survivor.name,
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    await waitFor(
      'the survivor to mark it done',
      async () => (await notificationRow(n.groupKey)).state === 'done',
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    await new Promise((r) => setTimeout(r, 2500));
    expect(roots(n.groupKey)).toHaveLength(1);
    const runs = stepRuns(root?.ts);
    expect(runs.filter((s) => s === 'latency')).toEqual(['latency']);
    expect(runs.filter((s) => s === 'checklist').length).toBeLessThanOrEqual(1);
    // the survivor updated the root in place (chat.update), it did not post another
    expect(
      emulator.calls.some((c) => c.method === 'chat.update' && c.args.ts === root?.ts && c.ok === true),
    ).toBe(true);
  }, 120_000);
});
