import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type App, HTTPReceiver, type Receiver } from '@slack/bolt';
import { answerTooLarge, readBody } from '../lib/http-body.ts';
import type { AckGate } from './ack-gate.ts';
import { boltLogger, type Log } from './logger.ts';
import { MAX_CLOCK_SKEW_SECONDS, verifySlackSignature } from './signature.ts';

/** An extra HTTP route served beside Slack's endpoint (/healthz, /readyz, /metrics). */
export interface HttpRoute {
  readonly path: string;
  /** GET, POST, ...: compared case-insensitively. */
  readonly method: string;
  handler(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
}

export const SLACK_EVENTS_PATH = '/slack/events';
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface VerifyingReceiverOptions {
  readonly signingSecret: string;
  readonly routes: readonly HttpRoute[];
  readonly listen: ListenAddress;
  readonly log: Log;
  readonly endpoint?: string;
  /** Largest request body accepted, in bytes; a larger one is answered 413. */
  readonly bodyLimit?: number;
  /** Clock used for the replay window (tests). */
  readonly nowMs?: () => number;
  /** Told of every Slack request until it is answered (work after acks waits for it). */
  readonly ackGate?: AckGate;
  /**
   * The replay cache (the store's, shared by replicas): a verified request whose signature and
   * timestamp were already seen within the signature window is answered 200 with an empty body and
   * reaches no listener.
   */
  readonly replays?: ReplayCache;
  /** Told, once a verified request is acknowledged, how long that took from its receipt (seconds). */
  readonly onAck?: (seconds: number, body: Buffer) => void;
}

/** Store.firstDelivery: true for the first delivery of a key within its lifetime. */
export interface ReplayCache {
  firstDelivery(key: string, now: Date, expiresAt: Date): Promise<boolean>;
}

export interface VerifyingReceiver extends Receiver {
  /** Where the server listens once started. */
  address(): ListenAddress | undefined;
}

/**
 * Bolt's HTTPReceiver behind our own gate: the body is read with a size limit and the signature and the
 * timestamp are checked (in the past AND in the future, which Bolt alone does not) before Bolt sees the
 * request. A refused request is answered 401 (413 when too large, read to its end so that the client
 * reads the answer; 400 when not form-encoded) and reaches no listener. Bolt's own
 * verification stays on behind ours. Extra routes are served by the same server.
 */
export function createVerifyingReceiver(opts: VerifyingReceiverOptions): VerifyingReceiver {
  const endpoint = opts.endpoint ?? SLACK_EVENTS_PATH;
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const nowMs = opts.nowMs ?? Date.now;
  const bolt = new HTTPReceiver({
    signingSecret: opts.signingSecret,
    endpoints: [endpoint],
    logger: boltLogger(opts.log),
    processBeforeResponse: false,
    bodyLimit,
  });
  let server: Server | undefined;

  const onSlackRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const receivedAt = process.hrtime.bigint();
    const body = await readBody(req, bodyLimit);
    if (body === 'too_large') {
      opts.log.warn({ limit: bodyLimit }, 'refused a Slack request: body too large');
      answerTooLarge(req, res);
      return;
    }
    if (isSslCheck(req, body)) {
      res.writeHead(200).end();
      return;
    }
    const outcome = verifySlackSignature(
      opts.signingSecret,
      {
        body,
        timestamp: header(req, 'x-slack-request-timestamp'),
        signature: header(req, 'x-slack-signature'),
      },
      nowMs(),
    );
    if (!outcome.ok) {
      opts.log.warn({ reason: outcome.reason, remote: req.socket.remoteAddress }, 'refused a Slack request');
      res.writeHead(401).end();
      return;
    }
    if (opts.replays && !(await firstDelivery(opts.replays, req, nowMs(), opts.log))) {
      res.writeHead(200).end();
      return;
    }
    const onAck = opts.onAck;
    if (onAck) {
      res.once('finish', () => onAck(Number(process.hrtime.bigint() - receivedAt) / 1e9, body));
    }
    if (!isFormEncoded(req)) {
      // Slash commands and clicks are form-encoded; the bot subscribes to no Events API (JSON) events.
      // Bolt would run a JSON "command" and then fail in its error path: refuse it before any listener.
      opts.log.warn(
        { contentType: header(req, 'content-type') },
        'refused a Slack request: not form-encoded',
      );
      res
        .writeHead(400, { 'content-type': 'text/plain; charset=utf-8' })
        .end('slash commands and interactivity are form-encoded (application/x-www-form-urlencoded)\n');
      return;
    }
    // Bolt reuses an already buffered body (BufferedIncomingMessage) instead of reading the stream again.
    Object.assign(req, { rawBody: body });
    bolt.requestListener(req, res);
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    const slack = pathname === endpoint && req.method === 'POST';
    if (slack && opts.ackGate) {
      const leave = opts.ackGate.enter();
      res.once('finish', leave);
      res.once('close', leave);
    }
    const work = slack ? onSlackRequest(req, res) : serveRoute(opts.routes, pathname, req, res);
    work.catch((error: unknown) => {
      opts.log.error({ err: error, path: pathname }, 'HTTP request failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };

  return {
    init(app: App) {
      bolt.init(app);
    },
    async start() {
      if (server) throw new Error('the Slack receiver is already started');
      server = await listen(listener, opts.listen);
      return server;
    },
    async stop() {
      const s = server;
      server = undefined;
      if (s) await close(s);
    },
    address() {
      const a = server?.address() as AddressInfo | null | undefined;
      return a ? { host: a.address, port: a.port } : undefined;
    },
  };
}

/** A small server for the extra routes alone (Socket Mode has no HTTP endpoint for Slack). */
export async function startRouteServer(
  routes: readonly HttpRoute[],
  address: ListenAddress,
  log: Log,
): Promise<{ address: ListenAddress; stop(): Promise<void> }> {
  const server = await listen((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    serveRoute(routes, pathname, req, res).catch((error: unknown) => {
      log.error({ err: error, path: pathname }, 'HTTP request failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  }, address);
  const a = server.address() as AddressInfo;
  return { address: { host: a.address, port: a.port }, stop: () => close(server) };
}

async function serveRoute(
  routes: readonly HttpRoute[],
  pathname: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const method = (req.method ?? 'GET').toUpperCase();
  const route = routes.find((r) => r.path === pathname && r.method.toUpperCase() === method);
  if (route) {
    await route.handler(req, res);
    return;
  }
  const allowed = routes.filter((r) => r.path === pathname).map((r) => r.method.toUpperCase());
  if (allowed.length) res.writeHead(405, { allow: allowed.join(', ') }).end();
  else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
}

function listen(
  listener: (req: IncomingMessage, res: ServerResponse) => void,
  address: ListenAddress,
): Promise<Server> {
  const server = createServer(listener);
  // Slow or stalled clients cannot hold a connection open for long.
  server.requestTimeout = 15_000;
  server.headersTimeout = 10_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeIdleConnections();
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Whether this signed request is seen for the first time. The key is its timestamp and signature (the
 * signature covers the body), kept until the timestamp leaves the signature window, after which the
 * request is refused by its timestamp anyway.
 *
 * Slack's own retries (X-Slack-Retry-Num) are of Events API deliveries, which this bot does not
 * subscribe to; slash commands and interactivity are not retried. A copy with the same timestamp and
 * signature is answered 200 without running whatever its headers say (X-Slack-Retry-Num is not signed,
 * so it cannot be a way around the cache): the first copy was verified and handed to Bolt. What this
 * gives up: if the process handling the first copy died before acknowledging it, an identical retry
 * would not run it again (a user retypes the command; a click's once-only claim frees itself as stale).
 * A store that cannot answer lets the request through (logged): the signature window still bounds it,
 * and the once-only claims of remediation clicks still hold.
 */
async function firstDelivery(
  replays: ReplayCache,
  req: IncomingMessage,
  nowMs: number,
  log: Log,
): Promise<boolean> {
  const timestamp = header(req, 'x-slack-request-timestamp') ?? '';
  const key = createHash('sha256')
    .update(`${timestamp}:${header(req, 'x-slack-signature') ?? ''}`)
    .digest('hex');
  const expiresAt = new Date((Number(timestamp) + MAX_CLOCK_SKEW_SECONDS + 1) * 1000);
  try {
    const first = await replays.firstDelivery(key, new Date(nowMs), expiresAt);
    if (!first) {
      log.warn(
        { remote: req.socket.remoteAddress, retry: header(req, 'x-slack-retry-num') },
        'a replayed Slack request was answered without running',
      );
    }
    return first;
  } catch (error) {
    log.warn({ err: error }, 'the replay cache did not answer: the request runs');
    return true;
  }
}

function isFormEncoded(req: IncomingMessage): boolean {
  const type = header(req, 'content-type')?.split(';')[0]?.trim().toLowerCase();
  return type === 'application/x-www-form-urlencoded';
}

/** Slack's SSL check: answered 200 here, and never handed to Bolt or a listener. */
function isSslCheck(req: IncomingMessage, body: Buffer): boolean {
  return (
    req.headers['content-type'] === 'application/x-www-form-urlencoded' &&
    new URLSearchParams(body.toString('utf8')).get('ssl_check') === '1'
  );
}
