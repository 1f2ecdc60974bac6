/**
 * Ack latency of `/aegis` under concurrent commands, over loopback, against its anchor measured in the
 * same run: a bare Bolt app whose listener only acks. Run: `npx node bench/ack-latency.ts`.
 *
 * Each round fires 50 signed slash commands at once and times each request until its HTTP answer
 * (the ack) arrives. Scenarios: bare Bolt ack; `/aegis help` (rendered in the ack); `/aegis latency`
 * whose work takes 2 s after the ack. Target: p99 < 50 ms, far inside Slack's 3000 ms deadline.
 *
 * Columns: "alone" is the median of 50 requests sent one at a time (the service time of one request,
 * including the background work of the one before); p50 / p99 are over all concurrent requests; the
 * ratios are against the bare app measured in the same run (these machines are shared and noisy).
 *
 * The bot and the bare app share the main thread; the load generator and the emulated Web API (Slack's
 * side, remote in production) run in worker threads so that their work does not sit in the bot's event loop.
 */
import type { AddressInfo } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import { parseConfig } from '../src/config/load.ts';
import { EMULATOR_BOT_TOKEN, start as startEmulator } from '../src/console/slack-api-emulator.ts';
import { finishResult } from '../src/domain/report.ts';
import { createSlackApp } from '../src/slack/app.ts';
import * as renderer from '../src/slack/render/index.ts';
import { signSlackRequest } from '../src/slack/signature.ts';
import type { StepDefinition } from '../src/steps/step.ts';

const CONCURRENCY = 50;
const ROUNDS = 4;
const WARMUP = 20;
const SEQUENTIAL = 50;
const WORK_MS = 2000;
const SLACK_DEADLINE_MS = 3000;
const TARGET_P99_MS = 50;
const SECRET = 'bench-signing-secret';

function sign(body: string): Record<string, string> {
  const ts = Math.floor(Date.now() / 1000);
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(ts),
    'x-slack-signature': signSlackRequest(SECRET, ts, body),
  };
}

function commandBody(text: string, i: number, responseUrl: string): string {
  return new URLSearchParams({
    token: 'unused',
    team_id: 'T0AEGIS',
    team_domain: 'aegis-emulated',
    channel_id: 'C0INCIDENT',
    channel_name: 'incident',
    user_id: 'U0ALICE',
    user_name: 'alice',
    command: '/aegis',
    text,
    api_app_id: 'A0AEGIS',
    response_url: responseUrl,
    trigger_id: `bench.${i}`,
  }).toString();
}

/** One request: milliseconds from sending until the whole answer (the ack) has arrived. */
async function timedPost(url: string, body: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: sign(body),
    body,
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  const ms = performance.now() - started;
  if (res.status !== 200) throw new Error(`HTTP ${res.status} from ${url}`);
  return ms;
}

async function burst(url: string, text: string, responseUrl: string): Promise<number[]> {
  return Promise.all(
    Array.from({ length: CONCURRENCY }, (_, i) => timedPost(url, commandBody(text, i, responseUrl))),
  );
}

function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}

type ToClient =
  | { url: string; text: string; count: number; concurrent: boolean; responseUrl: string }
  | 'stop';
type ToEmulator = 'stats' | 'stop';

/** Worker: fires requests when told and answers with their latencies. */
function clientWorker(): void {
  const port = parentPort as NonNullable<typeof parentPort>;
  port.on('message', async (m: ToClient) => {
    if (m === 'stop') {
      port.close();
      return;
    }
    if (m.concurrent) {
      port.postMessage(await burst(m.url, m.text, m.responseUrl));
      return;
    }
    const out: number[] = [];
    for (let i = 0; i < m.count; i += 1)
      out.push(await timedPost(m.url, commandBody(m.text, i, m.responseUrl)));
    port.postMessage(out);
  });
}

/** Worker: Slack's side, the emulated Web API. */
async function emulatorWorker(): Promise<void> {
  const port = parentPort as NonNullable<typeof parentPort>;
  const emulator = await startEmulator();
  port.on('message', async (m: ToEmulator) => {
    if (m === 'stats') {
      port.postMessage({
        posted: emulator.calls.filter((c) => c.method === 'chat.postMessage' && c.ok).length,
      });
      return;
    }
    await emulator.stop();
    port.close();
  });
  port.postMessage({ url: emulator.url, responseUrl: emulator.responseUrl('bench') });
}

function ask<T>(worker: Worker, message: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: T) => {
      worker.off('error', onError);
      resolve(m);
    };
    const onError = (e: Error) => {
      worker.off('message', onMessage);
      reject(e);
    };
    worker.once('message', onMessage);
    worker.once('error', onError);
    if (message !== undefined) worker.postMessage(message);
  });
}

async function main(): Promise<void> {
  const emulatorThread = new Worker(new URL(import.meta.url), { workerData: { role: 'emulator' } });
  const { url: emulatorUrl, responseUrl } = await ask<{ url: string; responseUrl: string }>(
    emulatorThread,
    undefined,
  );
  const client = new Worker(new URL(import.meta.url), { workerData: { role: 'client' } });
  const config = parseConfig(
    'slack:\n  mode: http\nservices:\n  - name: aegis-api\n    default: true\n    deployment: aegis-api\n',
    'bench.yml',
    { SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN, SLACK_SIGNING_SECRET: SECRET },
  );

  const slowStep: StepDefinition<{ service?: string }> = {
    name: 'latency',
    summary: 'Identify the bottleneck (bench: sleeps 2 s)',
    usage: 'latency [service]',
    runbook: 'Step 1: Identify the Bottleneck',
    parse: (words) => (words[0] ? { service: words[0] } : {}),
    run: async (ctx) => {
      const startedAt = new Date();
      ctx.progress({ name: 'prometheus', status: 'running' });
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, WORK_MS);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(t);
          resolve();
        });
      });
      return finishResult({
        step: 'latency',
        service: ctx.service.name,
        headline: 'P99 120 ms, normal',
        findings: [],
        proposals: [],
        nextSteps: [],
        escalations: [],
        attachments: [],
        parts: [{ name: 'prometheus', status: 'ok' }],
        links: [],
        startedAt,
      });
    },
  };

  const aegis = createSlackApp({
    config,
    renderer,
    steps: [slowStep],
    runStep: (step, args, run) =>
      step.run(
        {
          config,
          service: run.service,
          sources: {},
          signal: run.signal,
          progress: run.progress,
          now: () => new Date(),
        },
        args,
      ),
    listen: { host: '127.0.0.1', port: 0 },
    clientOptions: { slackApiUrl: `${emulatorUrl}/api/` },
  });
  const aegisAddress = await aegis.start();
  const aegisUrl = `http://127.0.0.1:${aegisAddress.port}/slack/events`;

  const bare = new App({
    receiver: new HTTPReceiver({ signingSecret: SECRET, logLevel: LogLevel.ERROR }),
    authorize: async () => ({ botToken: EMULATOR_BOT_TOKEN }),
    ignoreSelf: false,
    logLevel: LogLevel.ERROR,
    clientOptions: { slackApiUrl: `${emulatorUrl}/api/` },
  });
  bare.command('/aegis', async ({ ack }) => {
    await ack();
  });
  const bareServer = (await bare.start({ port: 0, host: '127.0.0.1' })) as { address(): AddressInfo };
  const bareUrl = `http://127.0.0.1:${bareServer.address().port}/slack/events`;

  const scenarios = [
    { name: 'bare Bolt, ack only', url: bareUrl, text: 'help', drain: false },
    { name: '/aegis help', url: aegisUrl, text: 'help', drain: false },
    { name: `/aegis latency (${WORK_MS / 1000} s work)`, url: aegisUrl, text: 'latency', drain: true },
  ] as const;

  for (const s of scenarios) {
    await ask(client, { url: s.url, text: 'help', count: WARMUP, concurrent: false, responseUrl });
  }
  // One at a time: the service time of one request, without queueing behind the others.
  const sequential = new Map<string, number>();
  for (const s of scenarios) {
    const one = await ask<number[]>(client, {
      url: s.url,
      text: s.text,
      count: SEQUENTIAL,
      concurrent: false,
      responseUrl,
    });
    sequential.set(
      s.name,
      percentile(
        [...one].sort((a, b) => a - b),
        50,
      ),
    );
    if (s.drain) await aegis.inFlight.drain(30_000);
  }
  const samples = new Map<string, number[]>(scenarios.map((s) => [s.name, []]));
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const s of scenarios) {
      const latencies = await ask<number[]>(client, {
        url: s.url,
        text: s.text,
        count: CONCURRENCY,
        concurrent: true,
        responseUrl,
      });
      samples.get(s.name)?.push(...latencies);
      if (s.drain) {
        const left = await aegis.inFlight.drain(30_000);
        if (left.length) throw new Error(`${left.length} step runs did not finish`);
      }
    }
  }

  const stats = scenarios.map((s) => {
    const sorted = [...(samples.get(s.name) ?? [])].sort((a, b) => a - b);
    return {
      name: s.name,
      n: sorted.length,
      one: sequential.get(s.name) ?? Number.NaN,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
    };
  });
  const anchor = stats[0] as (typeof stats)[number];
  const { posted } = await ask<{ posted: number }>(emulatorThread, 'stats');

  console.log(
    `ack latency: ${CONCURRENCY} concurrent signed /aegis requests over loopback, ${ROUNDS} rounds per scenario (Node ${process.version}, ${availableParallelism()} cores, load average ${loadavg()[0]?.toFixed(2)})`,
  );
  console.log(
    `${'scenario'.padEnd(30)}${'n'.padStart(5)}${'alone ms'.padStart(10)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'p50/bare'.padStart(10)}${'p99/bare'.padStart(10)}${'p99/3000ms'.padStart(12)}`,
  );
  for (const s of stats) {
    console.log(
      `${s.name.padEnd(30)}${String(s.n).padStart(5)}${s.one.toFixed(2).padStart(10)}${s.p50.toFixed(1).padStart(9)}${s.p99.toFixed(1).padStart(9)}${(s.p50 / anchor.p50).toFixed(2).padStart(10)}${(s.p99 / anchor.p99).toFixed(2).padStart(10)}${(s.p99 / SLACK_DEADLINE_MS).toFixed(4).padStart(12)}`,
    );
  }
  const worst = Math.max(...stats.slice(1).map((s) => s.p99));
  console.log(
    `target p99 < ${TARGET_P99_MS} ms: ${worst < TARGET_P99_MS ? 'met' : 'NOT met'} (worst aegis p99 ${worst.toFixed(1)} ms); step runs that posted their root message: ${posted}`,
  );

  await aegis.shutdown(5000);
  await bare.stop();
  client.postMessage('stop');
  emulatorThread.postMessage('stop');
}

if (isMainThread) await main();
else if ((workerData as { role: string }).role === 'client') clientWorker();
else await emulatorWorker();
