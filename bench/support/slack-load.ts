/**
 * What the ack benchmarks share: signed slash commands to a Bolt app over loopback, a load generator
 * and Slack's side (the emulated Web API) each in a worker thread of their own, so that their work
 * does not sit in the event loop being measured. `startSlackLoad()` starts both workers.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { start as startEmulator } from '../../src/console/slack-api-emulator.ts';
import { signSlackRequest } from '../../src/slack/signature.ts';

export const CONCURRENCY = 50;
export const SECRET = 'bench-signing-secret';

export function sign(body: string): Record<string, string> {
  const ts = Math.floor(Date.now() / 1000);
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(ts),
    'x-slack-signature': signSlackRequest(SECRET, ts, body),
  };
}

export function commandBody(text: string, i: number, responseUrl: string): string {
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
export async function timedPost(url: string, body: string, timeoutMs = 10_000): Promise<number> {
  const started = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: sign(body),
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  await res.arrayBuffer();
  const ms = performance.now() - started;
  if (res.status !== 200) throw new Error(`HTTP ${res.status} from ${url}`);
  return ms;
}

export async function burst(
  url: string,
  text: string,
  responseUrl: string,
  timeoutMs?: number,
): Promise<number[]> {
  return Promise.all(
    Array.from({ length: CONCURRENCY }, (_, i) =>
      timedPost(url, commandBody(text, i, responseUrl), timeoutMs),
    ),
  );
}

export function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}

export type ToClient =
  | {
      url: string;
      text: string;
      count: number;
      concurrent: boolean;
      responseUrl: string;
      timeoutMs?: number;
      /** Burst after burst, without waiting for the main thread, until 'halt'. */
      loop?: boolean;
    }
  | 'halt'
  | 'stop';
type ToEmulator = 'stats' | 'stop';

/** Worker: fires requests when told and answers with their latencies. */
function clientWorker(): void {
  const port = parentPort as NonNullable<typeof parentPort>;
  let looping = false;
  port.on('message', async (m: ToClient) => {
    if (m === 'stop') {
      port.close();
      return;
    }
    if (m === 'halt') {
      looping = false;
      return;
    }
    if (m.loop) {
      looping = true;
      const all: number[] = [];
      let bursts = 0;
      let failed = 0;
      while (looping || bursts === 0) {
        // a request that fails (a connection reset after a long stall) counts with its time to failure
        const settled = await Promise.all(
          Array.from({ length: CONCURRENCY }, (_, i) => {
            const started = performance.now();
            return timedPost(m.url, commandBody(m.text, i, m.responseUrl), m.timeoutMs).catch(() => {
              failed += 1;
              return performance.now() - started;
            });
          }),
        );
        all.push(...settled);
        bursts += 1;
      }
      port.postMessage({ latencies: all, bursts, failed });
      return;
    }
    if (m.concurrent) {
      port.postMessage(await burst(m.url, m.text, m.responseUrl, m.timeoutMs));
      return;
    }
    const out: number[] = [];
    for (let i = 0; i < m.count; i += 1)
      out.push(await timedPost(m.url, commandBody(m.text, i, m.responseUrl), m.timeoutMs));
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

export function ask<T>(worker: Worker, message: unknown): Promise<T> {
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

export interface SlackLoad {
  /** The emulated Web API's base URL, and a response_url it answers. */
  readonly emulatorUrl: string;
  readonly responseUrl: string;
  /** Sends `count` signed commands with `text` to `url`: all at once, or one after the other. */
  fire(url: string, text: string, count: number, concurrent: boolean, timeoutMs?: number): Promise<number[]>;
  /**
   * Bursts of `text` to `url`, one after the other, paced by the load generator alone (a blocked
   * main thread cannot hold the next burst back) until `halt()`; answers every latency.
   */
  loop(
    url: string,
    text: string,
    timeoutMs?: number,
  ): { halt(): Promise<{ latencies: number[]; bursts: number; failed: number }> };
  /** chat.postMessage calls the emulator answered ok. */
  posted(): Promise<number>;
  stop(): void;
}

export async function startSlackLoad(): Promise<SlackLoad> {
  const self = new URL(import.meta.url);
  const emulatorThread = new Worker(self, { workerData: { role: 'emulator' } });
  const { url: emulatorUrl, responseUrl } = await ask<{ url: string; responseUrl: string }>(
    emulatorThread,
    undefined,
  );
  const client = new Worker(self, { workerData: { role: 'client' } });
  return {
    emulatorUrl,
    responseUrl,
    fire: (url, text, count, concurrent, timeoutMs) =>
      ask<number[]>(client, {
        url,
        text,
        count,
        concurrent,
        responseUrl,
        ...(timeoutMs ? { timeoutMs } : {}),
      } satisfies ToClient),
    loop(url, text, timeoutMs) {
      const done = ask<{ latencies: number[]; bursts: number; failed: number }>(client, {
        url,
        text,
        count: CONCURRENCY,
        concurrent: true,
        loop: true,
        responseUrl,
        ...(timeoutMs ? { timeoutMs } : {}),
      } satisfies ToClient);
      return {
        halt() {
          client.postMessage('halt' satisfies ToClient);
          return done;
        },
      };
    },
    posted: async () => (await ask<{ posted: number }>(emulatorThread, 'stats')).posted,
    stop() {
      client.postMessage('stop');
      emulatorThread.postMessage('stop');
    },
  };
}

if (!isMainThread) {
  const role = (workerData as { role?: string } | null)?.role;
  if (role === 'client') clientWorker();
  else if (role === 'emulator') await emulatorWorker();
}
