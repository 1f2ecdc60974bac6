/**
 * Memory of the bot process: RSS at idle and over 1,000 mixed commands, in console mode (the demo
 * incident, commands typed at /console/command) and in Slack mode (signed slash commands, the Web API
 * emulated by src/console/slack-api-emulator.ts in this process). Run: `npx node bench/memory.ts
 * [--commands 1000] [--mode console|slack|both] [--src | --entry <main.js>]`.
 *
 * The bot is the production build in a child process: dist/main.js as the Dockerfile runs it,
 * compiled here into bench/out/dist (tsc -p tsconfig.build.json); with --src, `node src/main.ts`
 * (Node's type stripping adds some 25 MB). RSS is read from /proc/<pid>/status (VmRSS)
 * after the process has had 5 s without commands, at idle (after start), after half the commands
 * and after all of them. Commands go 4 at a time; each is acknowledged before the next starts.
 *
 * Targets: idle below 120 MB; no growth over the last half of the commands (RSS after all of them
 * not above RSS after half, give or take 5%).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMULATOR_BOT_TOKEN, start as startEmulator } from '../src/console/slack-api-emulator.ts';
import { commandBody, SECRET, sign } from './support/slack-load.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const IDLE_TARGET_MB = 120;
const SETTLE_MS = 5000;
const MIXED = ['help', 'latency', 'cpu', 'heap', 'goroutines', 'db', 'checklist', 'status', 'help cpu'];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] as string) : fallback;
}
const COMMANDS = Number(arg('commands', '1000'));
const MODE = arg('mode', 'both');
const FROM_SRC = process.argv.includes('--src');

/** The entry point: src/main.ts, or the production build compiled now into bench/out/dist. */
function entryPoint(): string {
  // --entry <main.js>: another build, e.g. an older commit's, to compare with
  const other = arg('entry', '');
  if (other) return path.resolve(other);
  if (FROM_SRC) return path.join(ROOT, 'src/main.ts');
  const out = path.join(ROOT, 'bench/out/dist');
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', out],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
  return path.join(out, 'main.js');
}
const ENTRY = entryPoint();

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startBot(config: string, env: Record<string, string>, port: number): Promise<ChildProcess> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'aegis-memory-'));
  const file = path.join(dir, 'aegis.yml');
  await writeFile(file, config);
  const child = spawn(process.execPath, [ENTRY], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', HOME: dir, AEGIS_CONFIG: file, AEGIS_LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  child.once('exit', () => void rm(dir, { recursive: true, force: true }));
  for (let i = 0; i < 120; i += 1) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) return child;
    } catch {
      // not up yet
    }
    await sleep(250);
  }
  child.kill('SIGKILL');
  throw new Error('the bot did not answer /healthz within 30 s');
}

async function drive(send: (text: string, i: number) => Promise<void>, from: number, to: number) {
  let next = from;
  const lane = async () => {
    while (next < to) {
      const i = next++;
      await send(MIXED[i % MIXED.length] as string, i);
    }
  };
  await Promise.all([lane(), lane(), lane(), lane()]);
}

async function measure(
  name: string,
  child: ChildProcess,
  send: (text: string, i: number) => Promise<void>,
): Promise<void> {
  const pid = child.pid as number;
  await sleep(SETTLE_MS);
  const idle = rssMb(pid);
  const half = Math.floor(COMMANDS / 2);
  const started = performance.now();
  await drive(send, 0, half);
  await sleep(SETTLE_MS);
  const atHalf = rssMb(pid);
  await drive(send, half, COMMANDS);
  await sleep(SETTLE_MS);
  const atEnd = rssMb(pid);
  const growth = atEnd - atHalf;
  console.log(
    `${name.padEnd(8)} ${path.relative(ROOT, ENTRY)}: idle ${idle.toFixed(0)} MB (target < ${IDLE_TARGET_MB}: ${idle < IDLE_TARGET_MB ? 'met' : 'NOT met'}); after ${half} commands ${atHalf.toFixed(0)} MB; after ${COMMANDS} ${atEnd.toFixed(0)} MB: ${growth >= 0 ? '+' : ''}${growth.toFixed(0)} MB over the last ${COMMANDS - half} (${growth <= atHalf * 0.05 ? 'no growth' : 'GROWS'}); ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
}

async function consoleMode(): Promise<void> {
  const port = await freePort();
  // services without any source: the console replays the bundled demo incident on this port
  const config = `slack:\n  port: ${port}\n  host: 127.0.0.1\nservices:\n  - name: aegis-api\n    deployment: aegis-api\n`;
  const child = await startBot(config, {}, port);
  const base = `http://127.0.0.1:${port}`;
  await measure('console', child, async (text) => {
    const r = await fetch(`${base}/console/command`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base },
      body: JSON.stringify({ text }),
      signal: AbortSignal.timeout(60_000),
    });
    await r.arrayBuffer();
  });
}

async function slackMode(): Promise<void> {
  const emulator = await startEmulator();
  const port = await freePort();
  const config = [
    'slack:',
    '  mode: http',
    `  port: ${port}`,
    '  host: 127.0.0.1',
    `  api_url: ${emulator.url}/api/`,
    'services:',
    '  - name: aegis-api',
    '    default: true',
    '    deployment: aegis-api',
    '',
  ].join('\n');
  const child = await startBot(
    config,
    { SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN, SLACK_SIGNING_SECRET: SECRET },
    port,
  );
  const url = `http://127.0.0.1:${port}/slack/events`;
  const responseUrl = emulator.responseUrl('bench');
  let sinceReset = 0;
  await measure('slack', child, async (text, i) => {
    const body = commandBody(text, i, responseUrl);
    const r = await fetch(url, {
      method: 'POST',
      headers: sign(body),
      body,
      signal: AbortSignal.timeout(60_000),
    });
    await r.arrayBuffer();
    // Slack's side keeps nothing of ours: the emulator forgets what it recorded now and then
    if (++sinceReset >= 100) {
      sinceReset = 0;
      emulator.reset();
    }
  });
  await emulator.stop();
}

if (MODE === 'console' || MODE === 'both') await consoleMode();
if (MODE === 'slack' || MODE === 'both') await slackMode();
