/**
 * The real process (`npm start` with no Slack tokens: the local console and its demo) whose stdout
 * reader goes away, as when the pipe to a log collector closes: logging must not wedge it, SIGTERM
 * during a rollout follow must still shut it down, and a second signal must end it at once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../support/wait.ts';

interface Running {
  readonly proc: ChildProcess;
  readonly base: string;
  readonly dir: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: string;
}

let running: Running | undefined;

afterEach(() => {
  if (running && running.proc.exitCode === null && running.proc.signalCode === null)
    running.proc.kill('SIGKILL');
  if (running) rmSync(running.dir, { recursive: true, force: true });
  running = undefined;
});

async function startConsoleProcess(): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'aegis-epipe-'));
  const port = await freePort();
  const config = join(dir, 'aegis.yml');
  // no sources configured: the bundled demo incident, its cluster stand-in, on this port
  writeFileSync(
    config,
    `slack:\n  port: ${port}\nservices:\n  - name: aegis-api\n    deployment: aegis-api\n`,
  );
  const proc = spawn(process.execPath, ['src/main.ts'], {
    env: { PATH: process.env.PATH, HOME: dir, KUBECONFIG: join(dir, 'none'), AEGIS_CONFIG: config },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const r: Running = {
    proc,
    dir,
    base: `http://127.0.0.1:${port}`,
    exited: new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal }))),
    stderr: '',
  };
  proc.stderr?.on('data', (d) => {
    r.stderr += String(d);
  });
  proc.stdout?.resume();
  await waitFor(
    'the console to answer /readyz',
    async () => (await fetch(`${r.base}/readyz`).catch(() => undefined))?.status === 200,
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  return r;
}

async function pageSecretOf(base: string): Promise<string> {
  const html = await (await fetch(base)).text();
  const boot = /<script type="application\/json" id="boot"[^>]*>(.*?)<\/script>/s.exec(html)?.[1];
  return (JSON.parse(boot ?? '{}') as { secret: string }).secret;
}

async function post(r: Running, secret: string, path: string, body: unknown): Promise<number> {
  const res = await fetch(`${r.base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-aegis-console-secret': secret },
    body: JSON.stringify(body),
  });
  await res.text();
  return res.status;
}

interface Item {
  readonly key: string;
  readonly kind: string;
  readonly html: string;
  readonly text?: string;
}

async function items(r: Running): Promise<Item[]> {
  return ((await (await fetch(`${r.base}/console/state`)).json()) as { items: Item[] }).items;
}

/**
 * Scales the demo deployment 3 -> 6 through the page: the offer, then the click. The rollout (one pod
 * every 1.5 s in the demo) is then followed in the thread for a few seconds: work a shutdown waits for.
 */
async function startRolloutFollow(r: Running): Promise<void> {
  const secret = await pageSecretOf(r.base);
  expect(await post(r, secret, '/console/command', { text: '/aegis scale 6', user: 'U0LOCAL' })).toBe(200);
  const offer = await waitFor('the scale offer', async () =>
    (await items(r)).find(
      (i) => i.kind === 'message' && i.html.includes('data-action-id="aegis_action:scale"'),
    ),
  );
  expect(
    await post(r, secret, '/console/click', {
      key: offer.key,
      action_id: 'aegis_action:scale',
      user: 'U0LOCAL',
    }),
  ).toBe(200);
  await waitFor('the change to be made', async () =>
    (await items(r)).some((i) => i.html.includes('from 3 to 6 replicas')),
  );
}

const within = <T>(p: Promise<T>, ms: number): Promise<T | 'still running'> =>
  Promise.race([
    p,
    new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), ms)),
  ]);

describe('the console process with its stdout reader gone', () => {
  it('shuts down on SIGTERM (it used to hang in its exit, deaf to any further signal)', async () => {
    running = await startConsoleProcess();
    running.proc.stdout?.destroy();
    // something to log after the reader left: a request, then the shutdown itself
    await fetch(`${running.base}/readyz`).catch(() => undefined);
    running.proc.kill('SIGTERM');
    const end = await within(running.exited, 45_000);
    expect(end, running.stderr).not.toBe('still running');
    expect(end).toEqual({ code: 0, signal: null });
  }, 120_000);

  it('shuts down on SIGTERM during a rollout follow', async () => {
    running = await startConsoleProcess();
    await startRolloutFollow(running);
    running.proc.stdout?.destroy();
    // something to log after the reader left: a request
    await fetch(`${running.base}/readyz`).catch(() => undefined);
    running.proc.kill('SIGTERM');
    const end = await within(running.exited, 45_000);
    expect(end, running.stderr).not.toBe('still running');
    expect(end).toEqual({ code: 0, signal: null });
  }, 120_000);

  it('exits at once on a second signal', async () => {
    running = await startConsoleProcess();
    await startRolloutFollow(running);
    running.proc.stdout?.destroy();
    running.proc.kill('SIGTERM');
    // the first shutdown waits for the rollout follow; the second signal does not
    await waitFor(
      'the shutdown to begin',
      async () => (await fetch(`${running?.base}/readyz`).catch(() => undefined))?.status === 503,
      { timeoutMs: 10_000, intervalMs: 20 },
    );
    running.proc.kill('SIGTERM');
    const end = await within(running.exited, 5_000);
    expect(end, running.stderr).not.toBe('still running');
    expect(end).toEqual({ code: 128 + 15, signal: null });
  }, 120_000);
});
