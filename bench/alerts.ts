/**
 * Incidents from alerts under a burst, against its anchor measured in the same run: the same step run
 * by slash command. Run: `npx node bench/alerts.ts`.
 *
 * Each round sends 20 alert groups at once to POST /alertmanager, each notification twice at the same
 * moment (an HA pair of Alertmanagers), and times from the send to the group's root message posted and
 * to the first report posted in its thread. The anchor round sends 20 signed `/aegis latency` commands
 * at once and times from the send to each report posted. The step is the real latency step against the
 * console's recorded demo sources (each source call delayed 100 ms). Duplicate roots: roots posted
 * beyond one per group (target 0).
 *
 * The bot (real Bolt app, receiver, MemoryStore) and the emulated Web API share this process; times
 * are from the emulator's side, when the message reached "Slack".
 */
import { availableParallelism, loadavg } from 'node:os';
import { stepContext } from '../src/compose.ts';
import { parseConfig } from '../src/config/load.ts';
import { createDemo } from '../src/console/demo/demo-sources.ts';
import { loadRecordings } from '../src/console/demo/recordings.ts';
import { EMULATOR_BOT_TOKEN, start as startEmulator } from '../src/console/slack-api-emulator.ts';
import type { AlertNotification } from '../src/incidents/webhook-schema.ts';
import { alertsWiring } from '../src/slack/alerts.ts';
import { createSlackApp, type RunStep } from '../src/slack/app.ts';
import * as renderer from '../src/slack/render/index.ts';
import { signSlackRequest } from '../src/slack/signature.ts';
import { STEPS } from '../src/steps/registry.ts';
import { MemoryStore } from '../src/store/memory-store.ts';

const GROUPS = 20;
const ROUNDS = 3;
const SECRET = 'bench-signing-secret';
const TOKEN = 'bench-webhook-token';
const SOURCE_DELAY_MS = 100;

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99) };
};

function notification(round: number, i: number): AlertNotification {
  const labels = { alertname: `BenchAlert${i}`, service: 'aegis-api', severity: 'critical' };
  return {
    version: '4',
    groupKey: `{}:{alertname="BenchAlert${i}", round="${round}"}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'aegis-bot',
    groupLabels: { alertname: labels.alertname },
    commonLabels: labels,
    commonAnnotations: { summary: `bench alert ${i}` },
    externalURL: 'http://alertmanager:9093',
    alerts: [
      {
        status: 'firing',
        labels,
        annotations: { summary: `bench alert ${i}` },
        startsAt: new Date().toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus:9090/graph?g0.expr=up',
        fingerprint: `${round.toString(16)}${i.toString(16).padStart(15, '0')}`,
      },
    ],
  };
}

async function main(): Promise<void> {
  const emulator = await startEmulator();
  const config = parseConfig(
    `slack:\n  mode: http\n  incident_channel: C0INCIDENT\nservices:\n  - name: aegis-api\n    deployment: aegis-api\nalerts:\n  auth: { bearer_token_env: BENCH_TOKEN }\n  default_steps: [latency]\n`,
    'bench.yml',
    { SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN, SLACK_SIGNING_SECRET: SECRET, BENCH_TOKEN: TOKEN },
  );
  const demo = createDemo(await loadRecordings(), { delayMs: SOURCE_DELAY_MS });
  const runStep: RunStep = (step, args, run) => step.run(stepContext(config, demo.sources, run), args);
  const store = new MemoryStore();
  const wiring = alertsWiring({ config, store, steps: STEPS, log: silent, owner: 'bench' });
  if (!wiring) throw new Error('alerts are not configured');
  const slack = createSlackApp({
    config,
    runStep,
    renderer,
    logger: silent,
    steps: STEPS,
    routes: wiring.routes,
    listen: { host: '127.0.0.1', port: 0 },
    clientOptions: { slackApiUrl: `${emulator.url}/api/` },
  });
  wiring.attach(slack, { botToken: EMULATOR_BOT_TOKEN });
  const address = await slack.start();
  const base = `http://${address.host}:${address.port}`;

  // when each message reached the emulator, and when it was first updated away from "Running"
  const posted = new Map<string, number>();
  const reported = new Map<string, number>();
  emulator.onChange((c) => {
    if (c.kind !== 'message') return;
    const key = `${c.message.channel}:${c.message.ts}`;
    if (c.change === 'posted' && !posted.has(key)) posted.set(key, performance.now());
    const wasRunning = (c.message.history[0]?.text ?? '').startsWith('Running');
    if (c.change === 'updated' && wasRunning && !c.message.text.startsWith('Running') && !reported.has(key))
      reported.set(key, performance.now());
  });

  const alertRound = async (round: number) => {
    emulator.reset();
    posted.clear();
    reported.clear();
    const t0 = performance.now();
    const sends = Array.from({ length: GROUPS }, (_, i) => JSON.stringify(notification(round, i))).flatMap(
      (body) =>
        [0, 1].map(() =>
          fetch(`${base}/alertmanager`, {
            method: 'POST',
            headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
            body,
          }).then((r) => r.status),
        ),
    );
    const statuses = await Promise.all(sends);
    if (statuses.some((s) => s !== 200)) throw new Error(`webhook answered ${statuses.join(',')}`);
    await waitUntil(() => {
      const roots = emulator.messages.inChannel('C0INCIDENT').filter((m) => !m.threadTs);
      return roots.length >= GROUPS && roots.every((r) => firstReport(r.ts) !== undefined);
    });
    const roots = emulator.messages.inChannel('C0INCIDENT').filter((m) => !m.threadTs);
    return {
      roots: roots.map((r) => (posted.get(`C0INCIDENT:${r.ts}`) as number) - t0),
      reports: roots.map((r) => (firstReport(r.ts) as number) - t0),
      duplicates: roots.length - GROUPS,
    };
  };
  const firstReport = (rootTs: string): number | undefined => {
    const times = emulator.messages
      .thread('C0INCIDENT', rootTs)
      .filter((m) => m.ts !== rootTs)
      .map((m) => reported.get(`C0INCIDENT:${m.ts}`))
      .filter((t): t is number => t !== undefined);
    return times.length ? Math.min(...times) : undefined;
  };

  const slashRound = async () => {
    emulator.reset();
    posted.clear();
    reported.clear();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: GROUPS }, (_, i) => {
        const body = new URLSearchParams({
          token: 'unused',
          team_id: 'T0AEGIS',
          channel_id: 'C0INCIDENT',
          channel_name: 'incident',
          user_id: 'U0ALICE',
          user_name: 'alice',
          command: '/aegis',
          text: 'latency',
          api_app_id: 'A0AEGIS',
          response_url: emulator.responseUrl(`bench-${i}`),
          trigger_id: `bench.${i}`,
        }).toString();
        const ts = Math.floor(Date.now() / 1000);
        return fetch(`${base}/slack/events`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'x-slack-request-timestamp': String(ts),
            'x-slack-signature': signSlackRequest(SECRET, ts, body),
          },
          body,
        }).then((r) => r.text());
      }),
    );
    await waitUntil(() => reported.size >= GROUPS);
    return [...reported.values()].map((t) => t - t0);
  };

  const roots: number[] = [];
  const reports: number[] = [];
  const slash: number[] = [];
  let duplicates = 0;
  await alertRound(0); // warm-up
  await slashRound();
  for (let r = 1; r <= ROUNDS; r += 1) {
    const a = await alertRound(r);
    roots.push(...a.roots);
    reports.push(...a.reports);
    duplicates += a.duplicates;
    slash.push(...(await slashRound()));
  }
  await slack.shutdown(5000);
  await emulator.stop();

  const fmt = (x: number) => `${x.toFixed(0).padStart(6)} ms`;
  const rRoot = stats(roots);
  const rReport = stats(reports);
  const rSlash = stats(slash);
  console.log(
    `alerts bench: ${GROUPS} groups at once, each notification twice; ${ROUNDS} rounds; latency step on demo sources (+${SOURCE_DELAY_MS} ms per call); cpus ${availableParallelism()}, load ${loadavg()[0]?.toFixed(2)}`,
  );
  console.log(`POST -> root posted          n=${rRoot.n}  p50 ${fmt(rRoot.p50)}  p99 ${fmt(rRoot.p99)}`);
  console.log(
    `POST -> first report posted  n=${rReport.n}  p50 ${fmt(rReport.p50)}  p99 ${fmt(rReport.p99)}`,
  );
  console.log(
    `/aegis latency -> report     n=${rSlash.n}  p50 ${fmt(rSlash.p50)}  p99 ${fmt(rSlash.p99)}  (anchor)`,
  );
  console.log(
    `ratio first report / slash command: p50 ${(rReport.p50 / rSlash.p50).toFixed(2)}  p99 ${(rReport.p99 / rSlash.p99).toFixed(2)}`,
  );
  console.log(`duplicate roots: ${duplicates} (target 0)`);
}

async function waitUntil(done: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('the bench round did not finish in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

await main();
