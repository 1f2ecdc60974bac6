import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { App } from '@slack/bolt';
import type { Pager } from '../actions/page.ts';
import type { ClusterActions, DatabaseActions } from '../actions/ports.ts';
import { type AllSources, stepContext } from '../compose.ts';
import type { Config } from '../config/load.ts';
import type { ServiceConfig } from '../config/schema.ts';
import { AppError } from '../domain/errors.ts';
import {
  type AnyStep,
  createSlackApp,
  type HttpRoute,
  type RunStep,
  SLACK_EVENTS_PATH,
  type SlackApp,
} from '../slack/app.ts';
import type { InFlightWork } from '../slack/in-flight.ts';
import type { FollowSettings } from '../slack/interactions.ts';
import { type Log, silentLog } from '../slack/logger.ts';
import { remediation } from '../slack/remediation.ts';
import * as render from '../slack/render/index.ts';
import { MemoryStore, type Store } from '../store/index.ts';
import { consolePage } from './page.ts';
import { blockIdOf, type FileView, messageBodyToHtml, type RenderContext } from './render-html.ts';
import {
  EMULATOR_BOT_TOKEN,
  type EmulatedMessage,
  type EmulatorChange,
  type SlackApiEmulator,
  start as startEmulator,
} from './slack-api-emulator.ts';

/**
 * The local console: the incident channel in a browser, for trying the bot without a Slack workspace.
 *
 * It runs the real Slack app (createSlackApp: the same Bolt app, signature gate and handlers as in
 * Slack) on a private loopback port, with its Web API pointed at the emulated Slack Web API. The page
 * talks to this server only: a typed command becomes a slash-command request signed with a secret made
 * at start and delivered to the Bolt app as Slack delivers it; a click becomes a signed block_actions
 * payload built from the message as the emulator holds it (the value comes from the posted message,
 * not from the page). What the bot posts, updates, uploads and answers through response_url comes back
 * from the emulator, is drawn into HTML here (render-html.ts, everything escaped) and reaches the page
 * over Server-Sent Events.
 *
 * It has no authentication: it binds to 127.0.0.1 by default, answers only requests whose Host is the
 * address it listens on (against DNS rebinding), and takes POSTs only as JSON from its own origin.
 */

export interface ConsoleUser {
  readonly id: string;
  readonly name: string;
  readonly realName: string;
}

export const CONSOLE_CHANNEL = { id: 'C0INCIDENT', name: 'incident' } as const;

/** The people at the keyboard: "you" (listed in the demo's authorization) and a guest who may do nothing. */
export const CONSOLE_USERS: readonly ConsoleUser[] = [
  { id: 'U0LOCAL', name: 'you', realName: 'You (local console)' },
  { id: 'U0GUEST', name: 'guest', realName: 'Guest (authorized for nothing)' },
];

export interface ConsoleActions {
  /** The cluster the remediation buttons change (the demo's stand-in, or the real Kubernetes API). */
  readonly cluster?: ClusterActions;
  /** The action role's connection per service. */
  readonly databaseFor?: (service: ServiceConfig) => DatabaseActions;
  /** Default: a MemoryStore (the console is one process and one user). */
  readonly store?: Store;
  readonly follow?: FollowSettings;
  /** Pages on-call (PagerDuty Events API v2); without it `/aegis page` says paging is not configured. */
  readonly pager?: Pager;
}

export interface ConsoleOptions {
  readonly config: Config;
  /** What the runbook steps run against: the configured sources, or the demo's recordings. */
  readonly sources: AllSources;
  /** Default: the runbook registry. */
  readonly steps?: readonly AnyStep[];
  readonly logger?: Log;
  /** /healthz, /readyz, /metrics: served by the console server too. */
  readonly routes?: readonly HttpRoute[];
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default config.slack.port; 0 picks a free port. */
  readonly port?: number;
  /** A recorded demo incident, not live systems: the page says so. */
  readonly demo: false | { readonly recordedAt: Date };
  /** Remediation (the `aegis_action:*` buttons); absent, the buttons answer that nothing handles them. */
  readonly actions?: ConsoleActions;
  /** More listeners on the Bolt app (e.g. paging), registered after the built-in ones. */
  readonly registerExtras?: (app: App, ctx: { readonly slack: SlackApp; readonly botToken: string }) => void;
}

export interface ConsoleHandle {
  /** The page, e.g. http://127.0.0.1:3000/. */
  readonly url: string;
  /** The Bolt app's Slack endpoint (on a private loopback port): signed requests only. */
  readonly eventsUrl: string;
  readonly emulator: SlackApiEmulator;
  readonly slack: SlackApp;
  /** Stops taking commands, waits up to drainMs for work in flight, then closes everything. */
  shutdown(drainMs: number): Promise<InFlightWork[]>;
  stop(): Promise<void>;
}

/** What the page gets for one thing to show. */
export interface ConsoleItem {
  /** "m:<channel>:<ts>" for a channel message, "e:<n>" for an ephemeral one, "c:<n>" for a typed command. */
  readonly key: string;
  /** Raised on every change; the page keeps the newest. */
  readonly version: number;
  /** Order of first appearance. */
  readonly seq: number;
  readonly kind: 'message' | 'ephemeral' | 'command';
  readonly channel: string;
  readonly ts?: string;
  /** The thread it belongs in (replies and ephemeral answers in a thread). */
  readonly threadTs?: string;
  /** Ephemeral and command items: the one user who sees them. */
  readonly user?: string;
  readonly author: string;
  readonly time: string;
  readonly edited: boolean;
  /** Escaped HTML of the body. */
  readonly html: string;
  /** The command as typed (command items). */
  readonly text?: string;
}

interface Held {
  item: ConsoleItem;
  /** What a click on one of its buttons needs. */
  blocks: readonly unknown[];
  text: string;
}

interface ResponseOrigin {
  readonly channel: string;
  readonly user: string;
  readonly threadTs?: string;
}

const JSON_LIMIT = 64 * 1024;

/** Slack's v0 request signature. */
export function signSlackRequest(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export async function startConsole(opts: ConsoleOptions): Promise<ConsoleHandle> {
  const log = opts.logger ?? silentLog;
  const users = CONSOLE_USERS;
  const channel = CONSOLE_CHANNEL;
  const secret = randomBytes(32).toString('hex');
  const groups = new Set<string>();
  for (const p of Object.values(opts.config.authorization)) for (const g of p?.groups ?? []) groups.add(g);
  if (opts.config.slack.oncall_usergroup) groups.add(opts.config.slack.oncall_usergroup);

  const emulator = await startEmulator({
    channels: [{ id: channel.id, name: channel.name }],
    users: users.map((u) => ({ id: u.id, name: u.name, realName: u.realName })),
    // "you" is in every group the configuration names: the console is one person's.
    usergroups: Object.fromEntries([...groups].map((g) => [g, ['U0LOCAL']])),
  });

  const config: Config = {
    ...opts.config,
    slack: { ...opts.config.slack, mode: 'http', incident_channel: channel.id },
    secrets: { ...opts.config.secrets, slackBotToken: EMULATOR_BOT_TOKEN, slackSigningSecret: secret },
  };
  const runStep: RunStep = (step, args, run) => step.run(stepContext(config, opts.sources, run), args);
  const actions = opts.actions;
  const remedy = actions
    ? remediation({
        config,
        store: actions.store ?? new MemoryStore(),
        ...(actions.cluster ? { cluster: actions.cluster } : {}),
        ...(actions.databaseFor ? { databaseFor: actions.databaseFor } : {}),
        ...(actions.pager ? { pager: actions.pager } : {}),
        log,
      })
    : undefined;
  const slack = createSlackApp({
    config,
    runStep,
    renderer: render,
    logger: log,
    ...(opts.steps ? { steps: opts.steps } : {}),
    ...(remedy ? { actionCommands: remedy.actionCommands } : {}),
    listen: { host: '127.0.0.1', port: 0 },
    clientOptions: {
      slackApiUrl: `${emulator.url}/api/`,
      retryConfig: { retries: 1, factor: 1, minTimeout: 100, maxTimeout: 200 },
    },
  });
  const reminders = remedy?.wire(slack, {
    botToken: EMULATOR_BOT_TOKEN,
    log,
    ...(actions?.follow ? { follow: actions.follow } : {}),
  });
  opts.registerExtras?.(slack.app, { slack, botToken: EMULATOR_BOT_TOKEN });
  const boltAddress = await slack.start();
  const eventsUrl = `http://${boltAddress.host}:${boltAddress.port}${SLACK_EVENTS_PATH}`;
  reminders?.start();

  // --- what the page shows
  const renderCtx: RenderContext = {
    users: Object.fromEntries([...users.map((u) => [u.id, u.name]), ['U0AEGISBOT', 'aegis']]),
    channels: { [channel.id]: channel.name },
  };
  const held = new Map<string, Held>();
  const clients = new Set<ServerResponse>();
  let seq = 0;
  let ephemeralSeq = 0;
  const origins = new Map<string, ResponseOrigin>();
  const remember = (id: string, origin: ResponseOrigin) => {
    origins.set(id, origin);
    // response_urls are good for 30 minutes in Slack; here the newest thousand are plenty
    if (origins.size > 1000) origins.delete(origins.keys().next().value as string);
  };

  const publish = (h: Held) => {
    held.set(h.item.key, h);
    const data = `event: item\ndata: ${JSON.stringify(h.item)}\n\n`;
    for (const c of clients) c.write(data);
  };
  const filesOf = (m: EmulatedMessage): FileView[] =>
    (m.files ?? []).map((f) => ({
      id: f.id,
      name: f.name,
      title: f.title,
      size: f.size,
      url: `/console/files/${encodeURIComponent(f.id)}/${encodeURIComponent(f.name)}`,
    }));
  const showMessage = (m: EmulatedMessage) => {
    const key = `m:${m.channel}:${m.ts}`;
    const previous = held.get(key);
    const blocks = m.blocks ?? [];
    publish({
      blocks,
      text: m.text,
      item: {
        key,
        version: (previous?.item.version ?? 0) + 1,
        seq: previous?.item.seq ?? ++seq,
        kind: 'message',
        channel: m.channel,
        ts: m.ts,
        ...(m.threadTs ? { threadTs: m.threadTs } : {}),
        author: 'aegis',
        time: previous?.item.time ?? new Date().toISOString(),
        edited: m.history.length > 0,
        html: messageBodyToHtml({ text: m.text, blocks, files: filesOf(m) }, renderCtx),
      },
    });
  };
  const showEphemeral = (e: {
    channel: string;
    user: string;
    text: string;
    blocks?: readonly unknown[];
    threadTs?: string;
  }) => {
    ephemeralSeq += 1;
    const ts = `${Math.floor(Date.now() / 1000)}.${String(900_000 + ephemeralSeq).padStart(6, '0')}`;
    const blocks = e.blocks ?? [];
    publish({
      blocks,
      text: e.text,
      item: {
        key: `e:${ephemeralSeq}`,
        version: 1,
        seq: ++seq,
        kind: 'ephemeral',
        channel: e.channel,
        ts,
        ...(e.threadTs ? { threadTs: e.threadTs } : {}),
        user: e.user,
        author: 'aegis',
        time: new Date().toISOString(),
        edited: false,
        html: messageBodyToHtml({ text: e.text, blocks }, renderCtx),
      },
    });
  };
  const onChange = (c: EmulatorChange) => {
    if (c.kind === 'message') showMessage(c.message);
    else if (c.kind === 'ephemeral') showEphemeral(c.message);
    else {
      const origin = origins.get(c.response.id);
      if (!origin) return;
      const body = c.response.body;
      const text = typeof body.text === 'string' ? body.text : '';
      const blocks = Array.isArray(body.blocks) ? body.blocks : [];
      if (body.response_type === 'in_channel') {
        void postAsBot({
          channel: origin.channel,
          text,
          blocks,
          ...(origin.threadTs ? { thread_ts: origin.threadTs } : {}),
        });
        return;
      }
      showEphemeral({
        channel: origin.channel,
        user: origin.user,
        text,
        blocks,
        ...(origin.threadTs ? { threadTs: origin.threadTs } : {}),
      });
    }
  };
  const unsubscribe = emulator.onChange(onChange);
  const postAsBot = async (args: Record<string, unknown>) => {
    await fetch(`${emulator.url}/api/chat.postMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${EMULATOR_BOT_TOKEN}` },
      body: JSON.stringify(args),
    }).catch((e: unknown) => log.warn({ err: e }, 'console: could not post an in_channel response'));
  };

  // --- delivering to the Bolt app as Slack does
  const deliver = async (body: string): Promise<{ status: number; text: string }> => {
    const ts = Math.floor(Date.now() / 1000);
    const res = await fetch(eventsUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': String(ts),
        'x-slack-signature': signSlackRequest(secret, ts, body),
      },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, text: await res.text() };
  };
  const userOf = (id: unknown): ConsoleUser => {
    const u = users.find((x) => x.id === id) ?? (id === undefined ? users[0] : undefined);
    if (!u)
      throw new HttpError(
        400,
        `unknown user ${String(id)}: the console's users are ${users.map((x) => x.id).join(', ')}`,
      );
    return u;
  };

  const command = async (input: Record<string, unknown>) => {
    const user = userOf(input.user);
    const raw = typeof input.text === 'string' ? input.text.trim() : '';
    if (raw.length > 4000) throw new HttpError(400, 'the command is too long');
    const m = /^(\/\S+)\s*([\s\S]*)$/.exec(raw);
    if (m && m[1] !== '/aegis')
      throw new HttpError(400, `only /aegis commands reach the bot here, not ${m[1]}`);
    const text = m ? (m[2] ?? '') : raw;
    const typed = `/aegis ${text}`.trim();
    publish({
      blocks: [],
      text: typed,
      item: {
        key: `c:${++seq}`,
        version: 1,
        seq,
        kind: 'command',
        channel: channel.id,
        user: user.id,
        author: user.name,
        time: new Date().toISOString(),
        edited: false,
        html: '',
        text: typed,
      },
    });
    const responseId = `c${randomBytes(6).toString('hex')}`;
    remember(responseId, { channel: channel.id, user: user.id });
    const body = new URLSearchParams({
      token: 'console-verification-token-unused',
      team_id: 'T0AEGIS',
      team_domain: 'aegis-emulated',
      channel_id: channel.id,
      channel_name: channel.name,
      user_id: user.id,
      user_name: user.name,
      command: '/aegis',
      text,
      api_app_id: 'A0AEGISCONSOLE',
      is_enterprise_install: 'false',
      response_url: emulator.responseUrl(responseId),
      trigger_id: `${Date.now()}.console.${randomBytes(4).toString('hex')}`,
    }).toString();
    const answer = await deliver(body);
    let ack: { text: string; blocks: unknown[] } | undefined;
    if (answer.status === 200 && answer.text.trim()) {
      try {
        const parsed = JSON.parse(answer.text) as { text?: unknown; blocks?: unknown };
        ack = {
          text: typeof parsed.text === 'string' ? parsed.text : '',
          blocks: Array.isArray(parsed.blocks) ? parsed.blocks : [],
        };
      } catch {
        ack = { text: answer.text, blocks: [] };
      }
    }
    if (ack) showEphemeral({ channel: channel.id, user: user.id, ...ack });
    if (answer.status !== 200) {
      showEphemeral({
        channel: channel.id,
        user: user.id,
        text: `:warning: the bot answered HTTP ${answer.status} to this command instead of acknowledging it`,
      });
    }
    return { status: answer.status, ...(ack ? { answer: ack } : {}) };
  };

  const click = async (input: Record<string, unknown>) => {
    const user = userOf(input.user);
    const actionId = typeof input.action_id === 'string' ? input.action_id : '';
    let h: Held | undefined;
    if (typeof input.key === 'string') h = held.get(input.key);
    else if (typeof input.channel === 'string' && typeof input.ts === 'string')
      h = held.get(`m:${input.channel}:${input.ts}`);
    if (!h || h.item.kind === 'command') throw new HttpError(404, 'no such message');
    if (h.item.kind === 'ephemeral' && h.item.user !== user.id) throw new HttpError(404, 'no such message');
    const found = findButton(
      h.blocks,
      actionId,
      typeof input.block_index === 'number' ? input.block_index : undefined,
    );
    if (!found) throw new HttpError(404, `the message has no button ${actionId}`);
    const { button, blockId } = found;
    const item = h.item;
    const responseId = `a${randomBytes(6).toString('hex')}`;
    remember(responseId, {
      channel: item.channel,
      user: user.id,
      ...(item.threadTs ? { threadTs: item.threadTs } : {}),
    });
    const ephemeral = item.kind === 'ephemeral';
    const payload = {
      type: 'block_actions',
      user: { id: user.id, username: user.name, name: user.name, team_id: 'T0AEGIS' },
      api_app_id: 'A0AEGISCONSOLE',
      token: 'console-verification-token-unused',
      container: {
        type: 'message',
        message_ts: item.ts,
        channel_id: item.channel,
        is_ephemeral: ephemeral,
        ...(item.threadTs ? { thread_ts: item.threadTs } : {}),
      },
      trigger_id: `${Date.now()}.console.${randomBytes(4).toString('hex')}`,
      team: { id: 'T0AEGIS', domain: 'aegis-emulated' },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: item.channel, name: channel.name },
      ...(ephemeral
        ? {}
        : {
            message: {
              type: 'message',
              user: 'U0AEGISBOT',
              bot_id: 'B0AEGISBOT',
              text: h.text,
              ts: item.ts,
              ...(item.threadTs ? { thread_ts: item.threadTs } : {}),
              blocks: h.blocks,
            },
          }),
      state: { values: {} },
      response_url: emulator.responseUrl(responseId),
      actions: [
        {
          ...button,
          block_id: blockId,
          action_ts: `${(Date.now() / 1000).toFixed(6)}`,
        },
      ],
    };
    const answer = await deliver(new URLSearchParams({ payload: JSON.stringify(payload) }).toString());
    if (answer.status !== 200) {
      showEphemeral({
        channel: item.channel,
        user: user.id,
        ...(item.threadTs ? { threadTs: item.threadTs } : {}),
        text: `:warning: nothing in the bot handled this click (HTTP ${answer.status})`,
      });
    }
    return { status: answer.status };
  };

  // --- the HTTP server
  const host = opts.host ?? '127.0.0.1';
  const routes = opts.routes ?? [];
  let own = new Set<string>();
  const wildcard = host === '0.0.0.0' || host === '::';
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) log.error({ err: e, path: req.url }, 'console request failed');
      if (!res.headersSent)
        sendJson(res, status, { error: e instanceof HttpError ? e.message : 'internal error' });
      else res.end();
    });
  });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    const route = routes.find((r) => r.path === path && r.method.toUpperCase() === method);
    if (route) return void (await route.handler(req, res));
    if (!wildcard && !own.has(String(req.headers.host ?? '').toLowerCase())) {
      throw new HttpError(
        403,
        'unexpected Host header: the console answers only on the address it listens on',
      );
    }
    if (method === 'GET' && path === '/') {
      const nonce = randomBytes(16).toString('base64');
      const html = consolePage({
        nonce,
        demo: opts.demo ? { recordedAt: opts.demo.recordedAt.toISOString() } : false,
        channel,
        users,
        services: opts.config.services.map((s) => s.name),
      });
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
      res.end(html);
      return;
    }
    if (method === 'GET' && path === '/console/state') {
      sendJson(res, 200, {
        demo: opts.demo ? { recordedAt: opts.demo.recordedAt.toISOString() } : false,
        channel,
        users,
        items: [...held.values()].map((h) => h.item).sort((a, b) => a.seq - b.seq),
      });
      return;
    }
    if (method === 'GET' && path === '/console/events') {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write('retry: 1000\n\n');
      for (const h of [...held.values()].sort((a, b) => a.item.seq - b.item.seq)) {
        res.write(`event: item\ndata: ${JSON.stringify(h.item)}\n\n`);
      }
      clients.add(res);
      const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
      res.on('close', () => {
        clearInterval(ping);
        clients.delete(res);
      });
      return;
    }
    const file = /^\/console\/files\/([A-Z0-9]+)(?:\/[^/]*)?$/.exec(path);
    if (method === 'GET' && file) {
      const f = emulator.files.get(file[1] as string);
      if (!f) throw new HttpError(404, 'no such file');
      res.writeHead(200, {
        'content-type': contentTypeOf(f.name),
        'content-length': f.content.length,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'; sandbox",
        'content-disposition': `${/\.(png|jpe?g|gif|webp|txt)$/i.test(f.name) ? 'inline' : 'attachment'}; filename="${f.name.replace(/[^A-Za-z0-9._-]/g, '_')}"`,
      });
      res.end(f.content);
      return;
    }
    if (method === 'POST' && (path === '/console/command' || path === '/console/click')) {
      const origin = req.headers.origin;
      if (
        origin !== undefined &&
        !own.has(
          String(origin)
            .replace(/^https?:\/\//, '')
            .toLowerCase(),
        )
      ) {
        throw new HttpError(403, 'cross-origin request refused');
      }
      const input = await readJson(req);
      const result = path === '/console/command' ? await command(input) : await click(input);
      sendJson(res, 200, result);
      return;
    }
    throw new HttpError(404, 'not found');
  };

  const port = opts.port ?? opts.config.slack.port;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await slack.shutdown(1000);
    await emulator.stop();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new AppError(
        'config',
        `the local console cannot listen on ${host}:${port} (${code}): set slack.port in the configuration to a free port`,
        { cause: e },
      );
    }
    throw e;
  }
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  own = new Set([
    `${shownHost}:${address.port}`,
    `127.0.0.1:${address.port}`,
    `localhost:${address.port}`,
    `[::1]:${address.port}`,
  ]);
  const url = `http://${wildcard ? '127.0.0.1' : shownHost}:${address.port}/`;
  log.info({ url, demo: Boolean(opts.demo) }, 'local console listening');

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    unsubscribe();
    await reminders?.stop();
    for (const c of clients) c.end();
    clients.clear();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await emulator.stop();
  };
  return {
    url,
    eventsUrl,
    emulator,
    slack,
    async shutdown(drainMs) {
      const interrupted = await slack.shutdown(drainMs);
      await close();
      return interrupted;
    },
    async stop() {
      await slack.shutdown(5000);
      await close();
    },
  };
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** The clicked button as the message holds it, and the block_id Slack would send with it. */
function findButton(
  blocks: readonly unknown[],
  actionId: string,
  blockIndex: number | undefined,
): { button: Record<string, unknown>; blockId: string } | undefined {
  const candidates =
    blockIndex === undefined
      ? blocks.map((b, i) => [b, i] as const)
      : [[blocks[blockIndex], blockIndex] as const];
  for (const [block, i] of candidates) {
    if (typeof block !== 'object' || block === null) continue;
    const b = block as { elements?: unknown; accessory?: unknown };
    const elements = [
      ...(Array.isArray(b.elements) ? b.elements : []),
      ...(b.accessory ? [b.accessory] : []),
    ];
    for (const e of elements) {
      if (
        typeof e === 'object' &&
        e !== null &&
        (e as { type?: unknown }).type === 'button' &&
        (e as { action_id?: unknown }).action_id === actionId
      ) {
        return { button: e as Record<string, unknown>, blockId: blockIdOf(block, i) };
      }
    }
  }
  return undefined;
}

function contentTypeOf(name: string): string {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase();
  switch (ext) {
    case 'png':
      return 'image/png';
    case 'jpg':
    case 'jpeg':
      return 'image/jpeg';
    case 'gif':
      return 'image/gif';
    case 'webp':
      return 'image/webp';
    case 'txt':
    case 'log':
      return 'text/plain; charset=utf-8';
    case 'json':
      return 'application/json';
    case 'svg':
      return 'image/svg+xml';
    default:
      return 'application/octet-stream';
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, 'send JSON (content-type: application/json)');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > JSON_LIMIT) throw new HttpError(413, 'request too large');
    chunks.push(chunk as Buffer);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new HttpError(400, 'expected a JSON object');
  return parsed as Record<string, unknown>;
}
