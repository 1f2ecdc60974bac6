import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { alertmanagerRoute, type WebhookAuth } from '../../src/incidents/receiver.ts';
import { startRouteServer } from '../../src/slack/receiver.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import type { AlertNotificationRecord, Store } from '../../src/store/types.ts';
import { recordingLog } from '../support/slack.ts';
import { notification } from './fixtures.ts';

const TOKEN = 'webhook-token-81c2';
let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

async function start(opts: { auth?: WebhookAuth; store?: Store; bodyLimit?: number } = {}) {
  const store = opts.store ?? new MemoryStore();
  const handled: AlertNotificationRecord[] = [];
  const log = recordingLog();
  let recordCalls = 0;
  const counting: Store = Object.create(store, {
    recordAlertNotification: {
      value: (...args: Parameters<Store['recordAlertNotification']>) => {
        recordCalls += 1;
        return store.recordAlertNotification(...args);
      },
    },
  });
  const route = alertmanagerRoute({
    auth: opts.auth ?? { kind: 'bearer', token: TOKEN },
    bodyLimit: opts.bodyLimit ?? 8192,
    store: counting,
    log,
    onRecorded: async (r) => {
      handled.push(r);
    },
  });
  const server = await startRouteServer([route], { host: '127.0.0.1', port: 0 }, log);
  stop = server.stop;
  const url = `http://127.0.0.1:${server.address.port}/alertmanager`;
  return { url, handled, log, store, recorded: () => recordCalls };
}

const post = (url: string, body: string, authorization?: string) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body,
  });

describe('POST /alertmanager', () => {
  it('records a notification sent with the bearer token, answers 200, then hands it on', async () => {
    const bot = await start();
    const res = await post(bot.url, JSON.stringify(notification()), `Bearer ${TOKEN}`);
    expect([res.status, await res.json()]).toEqual([200, { status: 'recorded', duplicate: false }]);
    await expect.poll(() => bot.handled.length).toBe(1);
    expect(bot.handled[0]).toMatchObject({
      groupKey: notification().groupKey,
      status: 'firing',
      fresh: true,
    });
    const twin = await post(bot.url, JSON.stringify(notification()), `bearer ${TOKEN}`);
    expect(await twin.json()).toEqual({ status: 'recorded', duplicate: true });
  });

  it('refuses no or wrong credentials with 401, never reading the body', async () => {
    const bot = await start();
    for (const auth of [
      undefined,
      `Bearer ${TOKEN}x`,
      `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`,
      TOKEN,
    ]) {
      const res = await post(bot.url, '{not even json', auth);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="aegis-bot"');
    }
    expect(bot.recorded()).toBe(0);
    expect(bot.log.entries.filter((e) => e.msg?.includes('malformed'))).toEqual([]);
    expect(bot.log.entries.filter((e) => e.msg?.includes('no or wrong credentials'))).toHaveLength(4);
  });

  it('takes basic auth when configured so', async () => {
    const bot = await start({ auth: { kind: 'basic', username: 'alertmanager', password: 's3cret' } });
    const good = Buffer.from('alertmanager:s3cret').toString('base64');
    const bad = Buffer.from('alertmanager:s3cre').toString('base64');
    expect((await post(bot.url, JSON.stringify(notification()), `Basic ${good}`)).status).toBe(200);
    expect((await post(bot.url, JSON.stringify(notification()), `Basic ${bad}`)).status).toBe(401);
    expect((await post(bot.url, JSON.stringify(notification()), `Bearer s3cret`)).status).toBe(401);
  });

  it('answers 400 naming what was wrong in a malformed notification, logs it, and records nothing', async () => {
    const bot = await start();
    const bad = { ...notification(), alerts: [{ ...notification().alerts[0], fingerprint: '' }] };
    const res = await post(bot.url, JSON.stringify(bad), `Bearer ${TOKEN}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: 'invalid notification',
      problems: ['alerts.0.fingerprint: Too small: expected string to have >=1 characters'],
    });
    expect(bot.recorded()).toBe(0);
    expect(
      bot.log.entries.find((e) => e.msg === 'refused a malformed Alertmanager notification')?.fields,
    ).toMatchObject({
      problems: ['alerts.0.fingerprint: Too small: expected string to have >=1 characters'],
    });
  });

  it('answers 413 to a body over the limit, and the sender reads that answer (no reset), declared or streamed', async () => {
    const bot = await start({ bodyLimit: 2048 });
    const big = JSON.stringify({ ...notification(), padding: 'x'.repeat(8_000_000) });
    const declared = await post(bot.url, big, `Bearer ${TOKEN}`);
    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual({
      error: 'the notification is larger than 2048 bytes (alerts.body_limit)',
    });
    // a raw client that keeps sending after the answer: it must read the 413, not a connection reset
    const streamed = await new Promise<{ answer: string; error?: string }>((resolve) => {
      const { port } = new URL(bot.url);
      const socket = connect(Number(port), '127.0.0.1');
      let answer = '';
      socket.on('data', (d) => {
        answer += d.toString();
      });
      socket.on('error', (e: NodeJS.ErrnoException) => resolve({ answer, error: e.code ?? e.message }));
      socket.on('close', () => resolve({ answer }));
      socket.write(
        `POST /alertmanager HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${TOKEN}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`,
      );
      const chunk = `1000\r\n${'x'.repeat(4096)}\r\n`;
      let sent = 0;
      const pump = () => {
        while (sent < 1000 && !socket.destroyed) {
          sent += 1;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
        if (!socket.destroyed) socket.end('0\r\n\r\n');
      };
      pump();
    });
    expect(streamed.error).toBeUndefined();
    expect(streamed.answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(bot.recorded()).toBe(0);
  });

  it('answers 503 when the store cannot record it, so that Alertmanager retries', async () => {
    const broken: Store = Object.create(new MemoryStore(), {
      recordAlertNotification: { value: async () => Promise.reject(new Error('connection refused')) },
    });
    const bot = await start({ store: broken });
    const res = await post(bot.url, JSON.stringify(notification()), `Bearer ${TOKEN}`);
    expect(res.status).toBe(503);
    expect(bot.handled).toEqual([]);
  });

  it('answers other requests while a notification is being handled', async () => {
    let release: () => void = () => {};
    const slow = new Promise<void>((r) => {
      release = r;
    });
    const store = new MemoryStore();
    const route = alertmanagerRoute({
      auth: { kind: 'bearer', token: TOKEN },
      bodyLimit: 8192,
      store,
      log: recordingLog(),
      onRecorded: () => slow,
    });
    const server = await startRouteServer([route], { host: '127.0.0.1', port: 0 }, recordingLog());
    stop = async () => {
      release();
      await server.stop();
    };
    const url = `http://127.0.0.1:${server.address.port}/alertmanager`;
    const first = await post(url, JSON.stringify(notification()), `Bearer ${TOKEN}`);
    const second = await post(url, JSON.stringify(notification([{ fingerprint: 'f9' }])), `Bearer ${TOKEN}`);
    expect([first.status, second.status]).toEqual([200, 200]);
  });
});
