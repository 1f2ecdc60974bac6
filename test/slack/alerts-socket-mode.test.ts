/**
 * In Socket Mode there is no HTTP endpoint for Slack: POST /alertmanager is served beside the health
 * routes on slack.port, and the thread is posted through the Web API as in HTTP mode.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { parseConfig } from '../../src/config/load.ts';
import { EMULATOR_BOT_TOKEN, type SlackApiEmulator, start } from '../../src/console/slack-api-emulator.ts';
import { alertsWiring } from '../../src/slack/alerts.ts';
import { createSlackApp, type SlackApp } from '../../src/slack/app.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { notification } from '../incidents/fixtures.ts';
import { fakeStep, recordingLog, renderer, runStepDirectly, visibleText } from '../support/slack.ts';

const APP_TOKEN = 'xapp-1-A0AEGIS-1-emulated';
const TOKEN = 'socket-mode-webhook-token';
let wss: WebSocketServer;
let emulator: SlackApiEmulator;
let slack: SlackApp;
let base: string;

beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const connected = new Promise<void>((resolve) => {
    wss.on('connection', (ws) => {
      ws.send(JSON.stringify({ type: 'hello', num_connections: 1, connection_info: { app_id: 'A0AEGIS' } }));
      resolve();
    });
  });
  emulator = await start({
    tokens: [EMULATOR_BOT_TOKEN, APP_TOKEN],
    socketModeUrl: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/link/?ticket=emulated`,
  });
  const config = parseConfig(
    `slack:\n  mode: socket\n  incident_channel: C0INCIDENT\n  api_url: ${emulator.url}/api/\nservices:\n  - name: aegis-api\n    deployment: aegis-api\nalerts:\n  auth: { bearer_token_env: WEBHOOK_TOKEN }\n`,
    'socket.yml',
    { SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN, SLACK_APP_TOKEN: APP_TOKEN, WEBHOOK_TOKEN: TOKEN },
  );
  const steps = [fakeStep({ name: 'latency' })];
  const wiring = alertsWiring({
    config,
    store: new MemoryStore(),
    steps,
    log: recordingLog(),
    owner: 'socket',
  });
  slack = createSlackApp({
    config,
    renderer,
    runStep: runStepDirectly(config),
    logger: recordingLog(),
    steps,
    listen: { host: '127.0.0.1', port: 0 },
    routes: wiring?.routes ?? [],
  });
  wiring?.attach(slack, { botToken: EMULATOR_BOT_TOKEN });
  const address = await slack.start();
  base = `http://${address.host}:${address.port}`;
  await connected;
});

afterAll(async () => {
  await slack?.shutdown(5000);
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  await emulator?.stop();
});

describe('POST /alertmanager in Socket Mode', () => {
  it('is served on slack.port and starts the incident thread', async () => {
    const post = (authorization: string) =>
      fetch(`${base}/alertmanager`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify(notification()),
      });
    expect((await post('Bearer wrong')).status).toBe(401);
    expect((await post(`Bearer ${TOKEN}`)).status).toBe(200);
    await slack.inFlight.drain(15_000);
    const roots = emulator.messages.inChannel('C0INCIDENT').filter((m) => !m.threadTs);
    expect(roots.map((m) => m.text)).toEqual(['Firing: AegisHighP99Latency on aegis-api']);
    expect(visibleText(emulator.messages.thread('C0INCIDENT', roots[0]?.ts ?? '').at(-1) ?? {})).toContain(
      'latency on aegis-api: all normal',
    );
  });
});
