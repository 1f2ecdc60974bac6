import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { parseConfig } from '../../src/config/load.ts';
import { EMULATOR_BOT_TOKEN, type SlackApiEmulator, start } from '../../src/console/slack-api-emulator.ts';
import { createMetrics } from '../../src/ops/metrics.ts';
import { createSlackApp, type SlackApp } from '../../src/slack/app.ts';
import { fakeStep, recordingLog, renderer, runStepDirectly, visibleText } from '../support/slack.ts';

const APP_TOKEN = 'xapp-1-A0AEGIS-1-emulated';

/** A stand-in for Slack's Socket Mode endpoint: hands out envelopes and collects the acks. */
let wss: WebSocketServer;
let socket: WebSocket | undefined;
const acks: { envelope_id: string; payload?: Record<string, unknown> }[] = [];
let emulator: SlackApiEmulator;
let slack: SlackApp;
let healthUrl: string;
const metrics = createMetrics({ defaultMetrics: false, observeSources: false });

beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const connected = new Promise<void>((resolve) => {
    wss.on('connection', (ws) => {
      socket = ws;
      ws.on('message', (data) => acks.push(JSON.parse(String(data))));
      ws.send(JSON.stringify({ type: 'hello', num_connections: 1, connection_info: { app_id: 'A0AEGIS' } }));
      resolve();
    });
  });
  const port = (wss.address() as AddressInfo).port;
  emulator = await start({
    tokens: [EMULATOR_BOT_TOKEN, APP_TOKEN],
    socketModeUrl: `ws://127.0.0.1:${port}/link/?ticket=emulated`,
  });
  const config = parseConfig(
    [
      'slack:',
      '  mode: socket',
      '  incident_channel: C0INCIDENT',
      `  api_url: ${emulator.url}/api/`,
      'services:',
      '  - name: aegis-api',
      '    deployment: aegis-api',
      '',
    ].join('\n'),
    'socket.yml',
    { SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN, SLACK_APP_TOKEN: APP_TOKEN },
  );
  slack = createSlackApp({
    config,
    renderer,
    runStep: runStepDirectly(config),
    logger: recordingLog(),
    steps: [fakeStep({ name: 'latency' })],
    listen: { host: '127.0.0.1', port: 0 },
    metrics,
    routes: [
      {
        path: '/healthz',
        method: 'GET',
        handler: (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"status":"ok"}');
        },
      },
    ],
  });
  const address = await slack.start();
  healthUrl = `http://${address.host}:${address.port}/healthz`;
  await connected;
});

afterAll(async () => {
  await slack?.shutdown(5000);
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  await emulator.stop();
});

function slashEnvelope(id: string, text: string) {
  return JSON.stringify({
    envelope_id: id,
    type: 'slash_commands',
    accepts_response_payload: true,
    payload: {
      token: 'legacy-verification-token-unused',
      team_id: 'T0AEGIS',
      team_domain: 'aegis-emulated',
      channel_id: 'C0INCIDENT',
      channel_name: 'incident',
      user_id: 'U0ALICE',
      user_name: 'alice',
      command: '/aegis',
      text,
      api_app_id: 'A0AEGIS',
      response_url: emulator.responseUrl(),
      trigger_id: '13345224609.738474920.8088930838d88f008e0',
    },
  });
}

describe('Socket Mode (slack.mode: socket)', () => {
  it('connects with the app token through apps.connections.open', () => {
    const open = emulator.calls.find((c) => c.method === 'apps.connections.open');
    expect(open?.token).toBe(APP_TOKEN);
    expect(socket).toBeDefined();
  });

  it('acknowledges /aegis help over the socket with the help text as the ack payload', async () => {
    socket?.send(slashEnvelope('env-help', 'help'));
    await vi.waitFor(() => expect(acks.find((a) => a.envelope_id === 'env-help')).toBeDefined());
    const ack = acks.find((a) => a.envelope_id === 'env-help');
    expect(ack?.payload?.response_type).toBe('ephemeral');
    expect(visibleText(ack?.payload ?? {})).toContain('/aegis latency');
  });

  it('runs a step after the ack and posts its report into the incident channel', async () => {
    socket?.send(slashEnvelope('env-latency', 'latency'));
    await vi.waitFor(() => expect(acks.find((a) => a.envelope_id === 'env-latency')).toBeDefined());
    await slack.inFlight.drain(10_000);
    const root = emulator.messages.inChannel('C0INCIDENT')[0];
    expect(root && visibleText(root)).toContain('latency on aegis-api');
  });

  it('observes aegis_ack_latency_seconds for every acknowledged envelope, by subcommand or "interaction"', async () => {
    const count = async (command: string) => {
      const line = (await metrics.registry.metrics())
        .split('\n')
        .find((l) => l.startsWith(`aegis_ack_latency_seconds_count{command="${command}"}`));
      return line === undefined ? 0 : Number(line.split(' ').pop());
    };
    const before = { help: await count('help'), interaction: await count('interaction') };
    socket?.send(slashEnvelope('env-help-2', 'help'));
    socket?.send(
      JSON.stringify({
        envelope_id: 'env-click',
        type: 'interactive',
        accepts_response_payload: false,
        payload: {
          type: 'block_actions',
          user: { id: 'U0ALICE', username: 'alice', team_id: 'T0AEGIS' },
          team: { id: 'T0AEGIS', domain: 'aegis-emulated' },
          api_app_id: 'A0AEGIS',
          token: 'legacy-verification-token-unused',
          trigger_id: '1.2.3',
          container: { type: 'message', message_ts: '1.000001', channel_id: 'C0INCIDENT' },
          channel: { id: 'C0INCIDENT', name: 'incident' },
          actions: [{ action_id: 'aegis_unknown', block_id: 'b', type: 'button', action_ts: '1.2' }],
        },
      }),
    );
    await vi.waitFor(() =>
      expect(
        acks.filter((a) => a.envelope_id === 'env-help-2' || a.envelope_id === 'env-click'),
      ).toHaveLength(2),
    );
    await vi.waitFor(async () => {
      expect(await count('help')).toBe(before.help + 1);
      expect(await count('interaction')).toBe(before.interaction + 1);
    });
  });

  it('serves the health routes on slack.port, since there is no HTTP endpoint for Slack', async () => {
    expect((await fetch(healthUrl)).status).toBe(200);
  });
});
