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
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import { parseConfig } from '../src/config/load.ts';
import { EMULATOR_BOT_TOKEN } from '../src/console/slack-api-emulator.ts';
import { finishResult } from '../src/domain/report.ts';
import { createSlackApp } from '../src/slack/app.ts';
import * as renderer from '../src/slack/render/index.ts';
import type { StepDefinition } from '../src/steps/step.ts';
import { CONCURRENCY, percentile, SECRET, startSlackLoad } from './support/slack-load.ts';

const ROUNDS = 4;
const WARMUP = 20;
const SEQUENTIAL = 50;
const WORK_MS = 2000;
const SLACK_DEADLINE_MS = 3000;
const TARGET_P99_MS = 50;

async function main(): Promise<void> {
  const load = await startSlackLoad();
  const { emulatorUrl } = load;
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
    await load.fire(s.url, 'help', WARMUP, false);
  }
  // One at a time: the service time of one request, without queueing behind the others.
  const sequential = new Map<string, number>();
  for (const s of scenarios) {
    const one = await load.fire(s.url, s.text, SEQUENTIAL, false);
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
      const latencies = await load.fire(s.url, s.text, CONCURRENCY, true);
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
  const posted = await load.posted();

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
  load.stop();
}

await main();
