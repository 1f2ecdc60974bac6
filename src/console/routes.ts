import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpRoute } from '../slack/app.ts';
import type { Log } from '../slack/logger.ts';
import { forwardClick } from './click.ts';
import type { Forwarding } from './deliver.ts';
import { serveFile } from './files.ts';
import { HttpError, readJson, sendJson } from './http.ts';
import { consolePage } from './page.ts';
import type { EmulatedFile } from './slack-api-emulator.ts';
import { forwardCommand } from './typed-command.ts';
import { CONSOLE_CHANNEL, CONSOLE_USERS } from './workspace.ts';

export interface ConsoleRouting {
  /** /healthz, /readyz, /metrics: answered before anything else. */
  readonly routes: readonly HttpRoute[];
  /** Listening on every address (0.0.0.0, ::): any Host is taken. */
  readonly wildcard: boolean;
  /** Whether "host:port" is an address the console listens on (Host and Origin are checked against it). */
  readonly isOwn: (hostPort: string) => boolean;
  readonly demo: false | { readonly recordedAt: Date };
  readonly services: readonly string[];
  readonly files: ReadonlyMap<string, EmulatedFile>;
  readonly forwarding: Forwarding;
  /** The demo alert control (POST /console/demo-alert); absent when alerts are configured. */
  readonly demoAlert?: (input: Record<string, unknown>) => Promise<unknown>;
  /** Made at start and given to the page: every state-changing request must carry it. */
  readonly pageSecret: string;
  readonly log: Log;
}

/** The header the page sends its per-process secret in (a custom header: never sent cross-origin without CORS). */
export const PAGE_SECRET_HEADER = 'x-aegis-console-secret';

/**
 * The console's HTTP routes: the page, its state and event stream, uploaded files, and the page's
 * commands and clicks. A refusal is answered as JSON with its status; anything else is logged and
 * answered "internal error".
 */
export function consoleRequestHandler(
  o: ConsoleRouting,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    route(o, req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) o.log.error({ err: e, path: req.url }, 'console request failed');
      if (!res.headersSent)
        sendJson(res, status, { error: e instanceof HttpError ? e.message : 'internal error' });
      else res.end();
    });
  };
}

async function route(o: ConsoleRouting, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  const method = (req.method ?? 'GET').toUpperCase();
  const extra = o.routes.find((r) => r.path === path && r.method.toUpperCase() === method);
  if (extra) return void (await extra.handler(req, res));
  // against DNS rebinding: only the address the console listens on
  if (!o.wildcard && !o.isOwn(String(req.headers.host ?? '').toLowerCase())) {
    throw new HttpError(403, 'unexpected Host header: the console answers only on the address it listens on');
  }
  const demo = o.demo ? { recordedAt: o.demo.recordedAt.toISOString() } : false;
  if (method === 'GET' && path === '/') {
    servePage(res, demo, o.services, o.demoAlert !== undefined, o.pageSecret);
    return;
  }
  if (method === 'GET' && path === '/console/state') {
    sendJson(res, 200, {
      demo,
      channel: CONSOLE_CHANNEL,
      users: CONSOLE_USERS,
      items: o.forwarding.feed.items(),
    });
    return;
  }
  if (method === 'GET' && path === '/console/events') {
    o.forwarding.feed.stream(res);
    return;
  }
  const file = /^\/console\/files\/([A-Z0-9]+)(?:\/[^/]*)?$/.exec(path);
  if (method === 'GET' && file) {
    serveFile(res, o.files, file[1] as string);
    return;
  }
  const posts = ['/console/command', '/console/click', ...(o.demoAlert ? ['/console/demo-alert'] : [])];
  if (method === 'POST' && posts.includes(path)) {
    // same-origin JSON with the page's secret only (a web page elsewhere can send a form, not this)
    checkSameOrigin(o, req);
    checkPageSecret(o.pageSecret, req);
    const input = await readJson(req);
    const result =
      path === '/console/command'
        ? await forwardCommand(o.forwarding, input)
        : path === '/console/click'
          ? await forwardClick(o.forwarding, input)
          : await o.demoAlert?.(input);
    sendJson(res, 200, result);
    return;
  }
  throw new HttpError(404, 'not found');
}

/** The page, under a CSP that lets only its own nonce'd script and style run. */
function servePage(
  res: ServerResponse,
  demo: false | { readonly recordedAt: string },
  services: readonly string[],
  demoAlert: boolean,
  secret: string,
): void {
  const nonce = randomBytes(16).toString('base64');
  const html = consolePage({
    nonce,
    demo,
    channel: CONSOLE_CHANNEL,
    users: CONSOLE_USERS,
    services,
    demoAlert,
    secret,
  });
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(html);
}

/**
 * A browser says where a request comes from: Origin (every cross-origin POST carries it) and
 * Sec-Fetch-Site. Either, when present, must be this console itself.
 */
function checkSameOrigin(o: ConsoleRouting, req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (
    origin !== undefined &&
    !o.isOwn(
      String(origin)
        .replace(/^https?:\/\//, '')
        .toLowerCase(),
    )
  ) {
    throw new HttpError(403, 'cross-origin request refused');
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new HttpError(403, 'cross-origin request refused');
  }
}

function checkPageSecret(secret: string, req: IncomingMessage): void {
  const given = Buffer.from(String(req.headers[PAGE_SECRET_HEADER] ?? ''), 'utf8');
  const expected = Buffer.from(secret, 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new HttpError(403, 'missing or wrong console secret: reload the page');
  }
}
