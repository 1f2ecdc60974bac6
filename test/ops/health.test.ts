import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/domain/ports.ts';
import {
  createOpsRoutes,
  createReadiness,
  handleOpsRequest,
  type OpsServer,
  type ReadinessProbe,
  startOpsServer,
} from '../../src/ops/health.ts';
import { createMetrics, type Metrics } from '../../src/ops/metrics.ts';

let server: OpsServer | undefined;
let metrics: Metrics | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  metrics?.close();
});

async function serve(probes: ReadinessProbe[] = [], started = true, probeTimeoutMs?: number) {
  const readiness = createReadiness();
  if (started) readiness.markStarted();
  metrics = createMetrics({ defaultMetrics: false });
  const routes = createOpsRoutes({
    readiness,
    probes,
    metrics,
    ...(probeTimeoutMs ? { probeTimeoutMs } : {}),
  });
  server = await startOpsServer({ routes, port: 0, host: '127.0.0.1' });
  return { readiness, metrics, url: server.url };
}

const storeOk: ReadinessProbe = async () => [{ name: 'store', ok: true, detail: 'PostgreSQL 15.8, 2 ms' }];

describe('ops routes over a loopback server', () => {
  it('GET /healthz answers 200 {"status":"ok"} whatever the probes say', async () => {
    const { url } = await serve([async () => ({ name: 'store', ok: false, detail: 'down' })], false);
    const res = await fetch(`${url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 503 "starting" before the app marks itself started', async () => {
    const { url, readiness } = await serve([storeOk], false);
    let res = await fetch(`${url}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'not_ready', reasons: ['starting'], checks: [] });
    readiness.markStarted();
    res = await fetch(`${url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'ready',
      checks: [{ name: 'store', ok: true, detail: 'PostgreSQL 15.8, 2 ms' }],
    });
  });

  it('when the store does not answer, /readyz answers 503 naming it, with the hint and no password', async () => {
    const { url } = await serve([
      storeOk,
      async (): Promise<CheckResult> => ({
        name: 'store',
        ok: false,
        detail: 'cannot connect to postgres://bot:hunter2@store:5432/aegis_bot (ECONNREFUSED)',
        hint: 'is the store database up?',
      }),
    ]);
    const res = await fetch(`${url}/readyz`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { reasons: string[] };
    expect(body.reasons).toEqual([
      'store: cannot connect to postgres://bot:***@store:5432/aegis_bot (ECONNREFUSED) (is the store database up?)',
    ]);
    expect(JSON.stringify(body)).not.toContain('hunter2');
  });

  it('when a probe throws or hangs, /readyz answers 503 with the reason', async () => {
    const { url } = await serve(
      [
        async () => {
          throw new Error('pool closed');
        },
        (signal) =>
          new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))),
      ],
      true,
      50,
    );
    const res = await fetch(`${url}/readyz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { reasons: string[] }).reasons).toEqual([
      'readiness probe 1: pool closed',
      'readiness probe 2: no answer within 50 ms',
    ]);
  });

  it('when shutting down, /readyz answers 503 "shutting down" without asking the probes', async () => {
    let asked = 0;
    const { url, readiness } = await serve([
      async () => {
        asked++;
        return { name: 'store', ok: true, detail: '' };
      },
    ]);
    readiness.markShuttingDown();
    const res = await fetch(`${url}/readyz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { reasons: string[] }).reasons).toEqual(['shutting down']);
    expect(asked).toBe(0);
  });

  it('GET /metrics answers the Prometheus text exposition', async () => {
    const { url, metrics } = await serve();
    metrics.recordCommand('latency', 'ok');
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toContain('aegis_commands_total{command="latency",outcome="ok"} 1');
  });

  it('answers 404 for other paths, 405 for other methods, and HEAD like GET without a body', async () => {
    const { url } = await serve();
    expect((await fetch(`${url}/slack/events`)).status).toBe(404);
    const post = await fetch(`${url}/healthz`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(`${url}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(`${url}/healthz?probe=kubelet`)).status).toBe(200);
  });
});

describe('the route objects', () => {
  it('have the {path, method, handler} shape Bolt takes as customRoutes, /metrics only with metrics', () => {
    const readiness = createReadiness();
    expect(createOpsRoutes({ readiness }).map((r) => [r.method, r.path])).toEqual([
      ['GET', '/healthz'],
      ['GET', '/readyz'],
    ]);
    metrics = createMetrics({ defaultMetrics: false });
    const routes = createOpsRoutes({ readiness, metrics });
    expect(routes.map((r) => r.path)).toEqual(['/healthz', '/readyz', '/metrics']);
    for (const r of routes) expect(typeof r.handler).toBe('function');
  });

  it('mount beside another server’s own routes through handleOpsRequest', async () => {
    const readiness = createReadiness();
    readiness.markStarted();
    const routes = createOpsRoutes({ readiness });
    const other: Server = createServer((req, res) => {
      if (handleOpsRequest(routes, req, res)) return;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('console');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
      expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: 'ready', checks: [] });
      expect(await (await fetch(`${base}/`)).text()).toBe('console');
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });
});

describe('startOpsServer', () => {
  it('when the port is taken, it rejects with the error instead of hanging', async () => {
    const { url } = await serve();
    const port = Number(new URL(url).port);
    await expect(startOpsServer({ routes: [], port, host: '127.0.0.1' })).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
  });

  it('close ends idle keep-alive connections and frees the port', async () => {
    const { url } = await serve();
    await fetch(`${url}/healthz`, { headers: { connection: 'keep-alive' } });
    await server?.close();
    server = undefined;
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
