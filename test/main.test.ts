import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMULATOR_BOT_TOKEN, type SlackApiEmulator, start } from '../src/console/slack-api-emulator.ts';
import { postSigned, SIGNING_SECRET, slashCommandBody, visibleText } from './support/slack.ts';
import { freePort, waitFor } from './support/wait.ts';

/** `npm start` with Slack tokens: the real process, its Web API pointed at the emulator. */
let emulator: SlackApiEmulator;
let proc: ChildProcess;
let dir: string;
let base: string;
let output = '';
let exited: Promise<number | null>;

beforeAll(async () => {
  emulator = await start();
  dir = mkdtempSync(join(tmpdir(), 'aegis-main-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const config = join(dir, 'aegis.yml');
  writeFileSync(
    config,
    [
      'slack:',
      '  mode: http',
      '  host: 127.0.0.1',
      `  port: ${port}`,
      `  api_url: ${emulator.url}/api/`,
      '  incident_channel: C0INCIDENT',
      'services:',
      '  - name: aegis-api',
      '    deployment: aegis-api',
      'authorization:',
      '  scale: { users: [U0ALICE] }',
      '',
    ].join('\n'),
  );
  proc = spawn(process.execPath, ['src/main.ts'], {
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      KUBECONFIG: join(dir, 'none'),
      AEGIS_CONFIG: config,
      SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      AEGIS_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout?.on('data', (d) => {
    output += String(d);
  });
  proc.stderr?.on('data', (d) => {
    output += String(d);
  });
  exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  await waitFor(
    'the bot to answer /readyz',
    async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200,
    { timeoutMs: 30_000, intervalMs: 200 },
  );
});

afterAll(async () => {
  if (proc.exitCode === null) proc.kill('SIGKILL');
  await emulator.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('npm start with Slack tokens', () => {
  it('serves the health routes and its own metrics on the Slack port', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('aegis_ack_latency_seconds');
  });

  it('answers signed /aegis help listing the runbook steps and the action subcommands', async () => {
    const res = await postSigned(`${base}/slack/events`, slashCommandBody({ text: 'help' }));
    expect(res.status).toBe(200);
    const shown = visibleText(res.json());
    for (const name of ['latency', 'cpu', 'heap', 'db', 'goroutines', 'scale', 'memory', 'cancel']) {
      expect(shown).toContain(`/aegis ${name}`);
    }
  });

  it('rejects a request signed with another secret', async () => {
    const res = await postSigned(`${base}/slack/events`, slashCommandBody({ text: 'help' }), {
      secret: 'not-the-secret',
    });
    expect(res.status).toBe(401);
  });

  it('never writes the bot token into its logs', () => {
    expect(output).not.toContain(EMULATOR_BOT_TOKEN);
    expect(output).toContain('aegis-bot is running');
  });

  it('shuts down gracefully on SIGTERM', async () => {
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
