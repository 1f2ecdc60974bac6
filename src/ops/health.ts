import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CheckResult } from '../domain/ports.ts';
import { sendJson } from '../lib/http-body.ts';
import type { Logger } from './logger.ts';
import { scrubSecrets } from './logger.ts';
import type { Metrics } from './metrics.ts';

/**
 * An HTTP route in the shape Bolt's HTTPReceiver takes as `customRoutes`, so the Slack app mounts
 * these on its own server; `startOpsServer` serves them alone (socket mode, no Slack tokens, the CLI).
 */
export interface Route {
  readonly path: string;
  readonly method: 'GET';
  handler(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** Whether the process should receive work: started, and not shutting down. */
export interface Readiness {
  readonly started: boolean;
  readonly shuttingDown: boolean;
  markStarted(): void;
  markShuttingDown(): void;
}

export function createReadiness(): Readiness {
  let started = false;
  let shuttingDown = false;
  return {
    get started() {
      return started;
    },
    get shuttingDown() {
      return shuttingDown;
    },
    markStarted: () => {
      started = true;
    },
    markShuttingDown: () => {
      shuttingDown = true;
    },
  };
}

/**
 * Something /readyz asks before answering 200, e.g. `(signal) => store.check(signal)`. A probe that
 * throws or does not answer in time counts as not ok.
 */
export type ReadinessProbe = (signal: AbortSignal) => Promise<CheckResult | readonly CheckResult[]>;

export interface OpsRoutesOptions {
  readonly readiness: Readiness;
  readonly probes?: readonly ReadinessProbe[];
  readonly metrics?: Metrics;
  /** Deadline of each probe; default 2000 ms (Kubernetes' probe timeout is 1 s by default: set it above). */
  readonly probeTimeoutMs?: number;
  readonly logger?: Logger;
}

export interface ReadyAnswer {
  readonly ready: boolean;
  readonly reasons: readonly string[];
  readonly checks: readonly CheckResult[];
}

/** The /readyz decision, usable without HTTP. */
export async function checkReady(options: OpsRoutesOptions): Promise<ReadyAnswer> {
  const { readiness } = options;
  if (readiness.shuttingDown) return { ready: false, reasons: ['shutting down'], checks: [] };
  if (!readiness.started) return { ready: false, reasons: ['starting'], checks: [] };
  const timeoutMs = options.probeTimeoutMs ?? 2000;
  const results = await Promise.all((options.probes ?? []).map((probe, i) => runProbe(probe, i, timeoutMs)));
  const checks = results.flat();
  const reasons = checks
    .filter((c) => !c.ok)
    .map((c) => `${c.name}: ${c.detail}${c.hint ? ` (${c.hint})` : ''}`);
  return { ready: reasons.length === 0, reasons, checks };
}

async function runProbe(probe: ReadinessProbe, index: number, timeoutMs: number): Promise<CheckResult[]> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult[]>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve([
        { name: `readiness probe ${index + 1}`, ok: false, detail: `no answer within ${timeoutMs} ms` },
      ]);
    }, timeoutMs);
  });
  const answer = probe(controller.signal).then(
    (r): CheckResult[] => (Array.isArray(r) ? [...r] : [r as CheckResult]),
    (e: unknown): CheckResult[] => [
      {
        name: `readiness probe ${index + 1}`,
        ok: false,
        detail: e instanceof Error ? e.message : String(e),
      },
    ],
  );
  try {
    const checks = await Promise.race([answer, timeout]);
    return checks.map((c) => ({ ...c, detail: scrubSecrets(c.detail) }));
  } finally {
    clearTimeout(timer);
  }
}

/** GET /healthz, GET /readyz and (with metrics) GET /metrics. */
export function createOpsRoutes(options: OpsRoutesOptions): Route[] {
  const routes: Route[] = [
    {
      path: '/healthz',
      method: 'GET',
      // alive: the event loop answers. Nothing outside the process is asked, so a slow database
      // never gets the pod restarted.
      handler: async (_req, res) => sendJson(res, 200, { status: 'ok' }),
    },
    {
      path: '/readyz',
      method: 'GET',
      handler: async (_req, res) => {
        const answer = await checkReady(options);
        if (!answer.ready) options.logger?.warn({ reasons: answer.reasons }, 'not ready');
        sendJson(
          res,
          answer.ready ? 200 : 503,
          answer.ready
            ? { status: 'ready', checks: answer.checks }
            : { status: 'not_ready', reasons: answer.reasons, checks: answer.checks },
        );
      },
    },
  ];
  const { metrics } = options;
  if (metrics) {
    routes.push({
      path: '/metrics',
      method: 'GET',
      handler: async (_req, res) => {
        const { contentType, body } = await metrics.expose();
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        res.end(body);
      },
    });
  }
  return routes;
}

/**
 * Serves a request if one of the routes matches (HEAD counts as GET); answers false otherwise, so a
 * server can mount the routes beside its own.
 */
export function handleOpsRequest(
  routes: readonly Route[],
  req: IncomingMessage,
  res: ServerResponse,
  logger?: Logger,
): boolean {
  const path = (req.url ?? '/').split('?')[0];
  const route = routes.find((r) => r.path === path);
  if (!route) return false;
  if (req.method !== route.method && !(req.method === 'HEAD' && route.method === 'GET')) {
    res.writeHead(405, { allow: route.method === 'GET' ? 'GET, HEAD' : route.method });
    res.end();
    return true;
  }
  route.handler(req, res).catch((e: unknown) => {
    logger?.error({ err: e, path }, 'ops route failed');
    if (!res.headersSent) sendJson(res, 500, { status: 'error' });
    else res.end();
  });
  return true;
}

export interface OpsServer {
  readonly server: Server;
  /** e.g. http://127.0.0.1:3000 */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** A small HTTP server for the ops routes alone: 404 for any other path. Port 0 picks a free port. */
export async function startOpsServer(options: {
  readonly routes: readonly Route[];
  readonly port: number;
  readonly host?: string;
  readonly logger?: Logger;
}): Promise<OpsServer> {
  const server = createServer((req, res) => {
    if (handleOpsRequest(options.routes, req, res, options.logger)) return;
    sendJson(res, 404, { status: 'not_found' });
  });
  const host = options.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    server,
    port,
    url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`,
    close: () => closeServer(server),
  };
}

/** Stops accepting connections, lets requests in progress finish, drops idle keep-alive connections. */
export function closeServer(server: Server, graceMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
