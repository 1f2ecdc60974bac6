/**
 * Does a command wait behind another's analysis? Event-loop lag and the ack latency of 50 concurrent
 * `/aegis help` while `/aegis cpu` analyses a profile of 1,000,000 samples, against the same with
 * nothing running. Run: `npx node bench/event-loop.ts [--samples 1000000] [--no-inline]`.
 *
 * The bot is the real Bolt app (createSlackApp) with the CPU step, whose pprof source serves the
 * generated profile (bench/support/synthetic-profile.ts). Scenarios:
 * - idle: bursts of 50 signed `/aegis help` with nothing else running;
 * - pooled: the same bursts from the moment the analysis starts until it ends, the analysis in the
 *   worker pool as the bot runs it (steps/profiling/pooled-analyzer.ts);
 * - inline (the code before the pool; skip with --no-inline): the analysis on the event loop.
 * Lag is perf_hooks.monitorEventLoopDelay (10 ms resolution) over each scenario's window. The load
 * generator and the emulated Web API run in worker threads (bench/support/slack-load.ts).
 *
 * Target: pooled / idle ack p99 <= 1.2 (and the lag's p99 likewise).
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseConfig } from '../src/config/load.ts';
import { EMULATOR_BOT_TOKEN } from '../src/console/slack-api-emulator.ts';
import { createSlackApp } from '../src/slack/app.ts';
import * as renderer from '../src/slack/render/index.ts';
import type { FetchedProfile, PprofPort, ProfileTarget } from '../src/sources/pprof.ts';
import { INLINE_ANALYZER, type ProfileAnalyzer } from '../src/steps/profiling/analyzer.ts';
import type { ProfilingSources } from '../src/steps/profiling/capture.ts';
import { CPU_STEP } from '../src/steps/profiling/cpu.ts';
import { createPooledAnalyzer } from '../src/steps/profiling/pooled-analyzer.ts';
import { CONCURRENCY, percentile, SECRET, startSlackLoad } from './support/slack-load.ts';
import { ensureProfile } from './support/synthetic-profile.ts';

const TARGET_RATIO = 1.2;
const MIN_ROUNDS = 6;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const samples = arg('samples', 1_000_000);
const withInline = !process.argv.includes('--no-inline');
const bytes = await readFile(await ensureProfile(samples));

const target: ProfileTarget = { pod: 'aegis-api-bench', label: 'aegis-api-bench', chosen: 'named' };
const port: PprofPort = {
  resolveTarget: async () => target,
  running: () => undefined,
  fetch: async (kind): Promise<FetchedProfile> => ({
    kind,
    target,
    bytes,
    contentType: 'application/octet-stream',
    startedAt: new Date(),
    finishedAt: new Date(),
    joined: false,
    path: '/debug/pprof/profile?seconds=30',
  }),
};

const load = await startSlackLoad();
const config = parseConfig(
  'slack:\n  mode: http\nservices:\n  - name: aegis-api\n    default: true\n    deployment: aegis-api\n    pprof:\n      mode: url\n      base_url: http://aegis-api:6060\n      max_bytes: 268435456\n',
  'bench.yml',
  { SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN, SLACK_SIGNING_SECRET: SECRET },
);

let analyzer: ProfileAnalyzer = INLINE_ANALYZER;
let analysing: { started: () => void; ended: () => void } | undefined;
const app = createSlackApp({
  config,
  renderer,
  steps: [CPU_STEP],
  runStep: (step, args, run) =>
    step.run(
      {
        config,
        service: run.service,
        sources: { pprof: () => port, analyzer } satisfies ProfilingSources,
        signal: run.signal,
        progress: (u) => {
          if (u.name === 'analysis' && u.status === 'running') analysing?.started();
          if (u.name === 'analysis' && u.status !== 'running') {
            if (u.status !== 'ok') console.log(`  analysis ${u.status}: ${u.reason}`);
            analysing?.ended();
          }
          run.progress(u);
        },
        now: () => new Date(),
      },
      args,
    ),
  listen: { host: '127.0.0.1', port: 0 },
  clientOptions: { slackApiUrl: `${load.emulatorUrl}/api/` },
});
const address = await app.start();
const url = `http://127.0.0.1:${address.port}/slack/events`;

interface Figures {
  name: string;
  rounds: number;
  failed: number;
  ackP50: number;
  ackP99: number;
  ackMax: number;
  lagP99: number;
  lagMax: number;
  seconds: number;
  latencies: number[];
  lags: { p99: number; max: number };
}

/**
 * Bursts of 50 `/aegis help`, paced by the load generator, until `until` settles (and at least
 * `minBursts`), with the loop's lag over the same window.
 */
async function measure(name: string, minBursts: number, until: Promise<void>): Promise<Figures> {
  const lag = monitorEventLoopDelay({ resolution: 10 });
  const started = performance.now();
  lag.enable();
  const loop = load.loop(url, 'help', 300_000);
  await until;
  let { latencies, bursts, failed } = await loop.halt();
  while (bursts < minBursts) {
    latencies.push(...(await load.fire(url, 'help', CONCURRENCY, true, 300_000)));
    bursts += 1;
  }
  // a delay is recorded when the loop turns again: let it turn once more before reading
  await new Promise((resolve) => setTimeout(resolve, 20));
  lag.disable();
  const sorted = latencies.sort((a, b) => a - b);
  return {
    name,
    rounds: bursts,
    failed,
    ackP50: percentile(sorted, 50),
    ackP99: percentile(sorted, 99),
    ackMax: sorted[sorted.length - 1] as number,
    lagP99: lag.percentile(99) / 1e6,
    lagMax: lag.max / 1e6,
    seconds: (performance.now() - started) / 1000,
    latencies: sorted,
    lags: { p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 },
  };
}

/** Sends `/aegis cpu`, waits for its analysis to start, measures until it has ended. */
async function duringAnalysis(name: string, using: ProfileAnalyzer): Promise<Figures> {
  analyzer = using;
  let ended: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    ended = resolve;
  });
  const started = new Promise<void>((resolve) => {
    analysing = { started: resolve, ended };
  });
  await load.fire(url, 'cpu 30', 1, false);
  await started;
  const figures = await measure(name, 1, done);
  console.log(`  measured: ${name}`);
  const left = await app.inFlight.drain(300_000);
  if (left.length) throw new Error('the /aegis cpu run did not finish');
  return figures;
}

// warm-up: one at a time, then a few bursts
await load.fire(url, 'help', 20, false);
for (let i = 0; i < 10; i += 1) await load.fire(url, 'help', CONCURRENCY, true);
const pooled = createPooledAnalyzer();
const results: Figures[] = [];
const idleFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
results.push(await measure('idle (nothing running)', MIN_ROUNDS * 2, idleFor(5000)));
console.log('  measured: idle');
results.push(await duringAnalysis('/aegis cpu analysing, worker pool', pooled));
if (withInline) results.push(await duringAnalysis('/aegis cpu analysing, inline', INLINE_ANALYZER));
results.push(await measure('idle again', MIN_ROUNDS * 2, idleFor(5000)));

// The reference: both idle runs together (before and after), since the machine's load drifts.
const idleRuns = [results[0], results.at(-1)] as Figures[];
const idleAcks = idleRuns.flatMap((r) => r.latencies).sort((a, b) => a - b);
const idle = {
  ackP99: percentile(idleAcks, 99),
  lagP99: idleRuns.reduce((sum, r) => sum + r.lags.p99, 0) / idleRuns.length,
};
console.log(
  `event loop under analysis: ${samples.toLocaleString('en-US')}-sample CPU profile (${(bytes.length / 2 ** 20).toFixed(1)} MiB gzipped), bursts of ${CONCURRENCY} signed /aegis help over loopback (Node ${process.version}, ${availableParallelism()} cores, load average ${loadavg()[0]?.toFixed(2)})`,
);
console.log(
  `${'scenario'.padEnd(38)}${'rounds'.padStart(7)}${'s'.padStart(7)}${'ack p50'.padStart(9)}${'ack p99'.padStart(9)}${'ack max'.padStart(9)}${'lag p99'.padStart(9)}${'lag max'.padStart(9)}${'p99/idle'.padStart(10)}${'failed'.padStart(8)}`,
);
for (const r of results) {
  console.log(
    `${r.name.padEnd(38)}${String(r.rounds).padStart(7)}${r.seconds.toFixed(1).padStart(7)}${r.ackP50.toFixed(1).padStart(9)}${r.ackP99.toFixed(1).padStart(9)}${r.ackMax.toFixed(1).padStart(9)}${r.lagP99.toFixed(1).padStart(9)}${r.lagMax.toFixed(1).padStart(9)}${(r.ackP99 / idle.ackP99).toFixed(2).padStart(10)}${String(r.failed).padStart(8)}`,
  );
}
const during = results[1] as Figures;
const ackRatio = during.ackP99 / idle.ackP99;
const lagRatio = during.lagP99 / idle.lagP99;
console.log(
  `(ms; the idle reference: ack p99 of both idle runs' requests together, the mean of their lag p99) ack p99 ratio ${ackRatio.toFixed(2)}, lag p99 ratio ${lagRatio.toFixed(2)}: target <= ${TARGET_RATIO} ${ackRatio <= TARGET_RATIO && lagRatio <= TARGET_RATIO ? 'met' : 'NOT met'}`,
);

await app.shutdown(5000);
await pooled.close();
load.stop();
