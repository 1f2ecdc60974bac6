import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EMULATOR_BOT_TOKEN } from '../../src/console/slack-api-emulator.ts';
import { SIGNING_SECRET } from './slack.ts';
import { freePort, waitFor } from './testbed.ts';

/** A bot process (`node src/main.ts`) with its Web API pointed at an emulator, on a free loopback port. */
export interface BotProcess {
  /** e.g. http://127.0.0.1:41234 */
  readonly base: string;
  readonly name: string;
  output(): string;
  /** SIGKILL: the process dies where it is, with no graceful shutdown (a crashed or evicted replica). */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export interface BotProcessOptions {
  readonly name: string;
  readonly emulatorUrl: string;
  /** YAML appended to the configuration (services, alerts, authorization, ...). */
  readonly yaml: string;
  readonly env?: Record<string, string>;
  /** How long it may take to answer /readyz; default 30 s. */
  readonly readyTimeoutMs?: number;
}

export async function startBotProcess(o: BotProcessOptions): Promise<BotProcess> {
  const dir = mkdtempSync(join(tmpdir(), `aegis-${o.name}-`));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const config = join(dir, 'aegis.yml');
  writeFileSync(
    config,
    [
      'slack:',
      '  mode: http',
      '  host: 127.0.0.1',
      `  port: ${port}`,
      `  api_url: ${o.emulatorUrl}/api/`,
      '  incident_channel: C0INCIDENT',
      o.yaml,
      '',
    ].join('\n'),
  );
  let output = '';
  const proc: ChildProcess = spawn(process.execPath, ['src/main.ts'], {
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      KUBECONFIG: join(dir, 'none'),
      AEGIS_CONFIG: config,
      SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      AEGIS_LOG_LEVEL: 'info',
      POD_NAME: o.name,
      ...o.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout?.on('data', (d) => {
    output += String(d);
  });
  proc.stderr?.on('data', (d) => {
    output += String(d);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  try {
    await waitFor(
      `bot ${o.name} to answer /readyz`,
      async () => {
        if (proc.exitCode !== null) throw new Error(`bot ${o.name} exited: ${output}`);
        return (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200;
      },
      { timeoutMs: o.readyTimeoutMs ?? 30_000, intervalMs: 200 },
    );
  } catch (e) {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    base,
    name: o.name,
    output: () => output,
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const killed = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(killed);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
