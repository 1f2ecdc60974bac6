/**
 * Stand-ins for the latency step's outside systems, on loopback: a Prometheus that answers the
 * step's queries from a scenario, and a Kubernetes API server that serves the fixtures in
 * test/fixtures/k8s. Both can be delayed, or made to fail (500, malformed JSON, hang).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { type Config, parseConfig } from '../../../src/config/load.ts';
import type { ServiceConfig } from '../../../src/config/schema.ts';
import type { PartUpdate, StepContext } from '../../../src/steps/step.ts';

export type Failure = 'none' | '500' | 'malformed' | 'hang';

export interface FakeServer {
  readonly url: string;
  /** Requests served, by path. */
  readonly requests: string[];
  failure: Failure;
  delayMs: number;
  close(): Promise<void>;
}

async function serve(
  handler: (req: IncomingMessage, url: URL) => { status: number; body: string; type?: string },
  options: { delayMs?: number; failure?: Failure } = {},
): Promise<FakeServer> {
  const requests: string[] = [];
  const state = { failure: options.failure ?? ('none' as Failure), delayMs: options.delayMs ?? 0 };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(url.pathname);
    if (state.failure === 'hang') return; // never answers
    const answer = () => {
      if (state.failure === '500') {
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end('{"status":"error","error":"internal error"}');
        return;
      }
      if (state.failure === 'malformed') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"status":"success","data":{"resultType":');
        return;
      }
      const out = handler(req, url);
      res.writeHead(out.status, { 'content-type': out.type ?? 'application/json' }).end(out.body);
    };
    if (state.delayMs > 0) setTimeout(answer, state.delayMs);
    else answer();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    requests,
    get failure() {
      return state.failure;
    },
    set failure(f: Failure) {
      state.failure = f;
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(ms: number) {
      state.delayMs = ms;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Prometheus

export const PODS = ['aegis-api-7d9f6c8b5-2xkqp', 'aegis-api-7d9f6c8b5-8hzrt', 'aegis-api-7d9f6c8b5-q4w7n'];

export interface PromScenario {
  /** Seconds, by path. */
  readonly p50: Record<string, number>;
  readonly p95: Record<string, number>;
  readonly p99: Record<string, number>;
  /** Overall quantiles, seconds. */
  readonly overall: { readonly p50: number; readonly p95: number; readonly p99: number };
  /** Requests per second by path. */
  readonly rate: Record<string, number>;
  /** 0..1 */
  readonly errorRatio: number;
  /** Per pod: cores used, cores limit, bytes used, bytes limit, throttled ratio. */
  readonly pods: Record<
    string,
    { cpu: number; cpuLimit: number; mem: number; memLimit: number; throttled: number }
  >;
}

/** The test bed's shape: /api/search slow (1.5-3 s), the rest fast; pod 2xkqp hot. */
export const SLOW_SEARCH: PromScenario = {
  p50: { '/api/search': 2.1, '/api/findings': 0.012, '/api/report': 0.03, '/api/health': 0.002 },
  p95: { '/api/search': 2.9, '/api/findings': 0.04, '/api/report': 0.09, '/api/health': 0.004 },
  p99: { '/api/search': 2.98, '/api/findings': 0.07, '/api/report': 0.2, '/api/health': 0.0049 },
  overall: { p50: 0.02, p95: 2.4, p99: 2.9 },
  rate: { '/api/search': 5, '/api/findings': 5, '/api/report': 5, '/api/health': 5 },
  errorRatio: 0.0005,
  pods: {
    [PODS[0] as string]: {
      cpu: 0.94,
      cpuLimit: 1,
      mem: 1.2 * 2 ** 30,
      memLimit: 2 * 2 ** 30,
      throttled: 0.31,
    },
    [PODS[1] as string]: { cpu: 0.35, cpuLimit: 1, mem: 0.8 * 2 ** 30, memLimit: 2 * 2 ** 30, throttled: 0 },
    [PODS[2] as string]: { cpu: 0.2, cpuLimit: 1, mem: 0.5 * 2 ** 30, memLimit: 2 * 2 ** 30, throttled: 0 },
  },
};

type Labeled = { labels: Record<string, string>; value: number }[];

/** Answers an expression of the latency step from the scenario (by its shape, not by evaluating it). */
export function evaluate(expr: string, s: PromScenario): Labeled {
  const byPath = (m: Record<string, number>) =>
    Object.entries(m).map(([path, value]) => ({ labels: { path }, value }));
  const byPod = (f: (p: PromScenario['pods'][string]) => number) =>
    Object.entries(s.pods).map(([pod, v]) => ({ labels: { pod }, value: f(v) }));
  const max = (rows: Labeled) => [{ labels: {}, value: Math.max(...rows.map((r) => r.value)) }];
  const q = /histogram_quantile\((0\.5|0\.95|0\.99),/.exec(expr)?.[1];
  if (q && expr.includes('by (le, path)')) return byPath(q === '0.5' ? s.p50 : q === '0.95' ? s.p95 : s.p99);
  if (q)
    return [
      { labels: {}, value: q === '0.5' ? s.overall.p50 : q === '0.95' ? s.overall.p95 : s.overall.p99 },
    ];
  if (expr.includes('status=~')) return [{ labels: {}, value: s.errorRatio }];
  if (expr.startsWith('sum by (path)')) return byPath(s.rate);
  const cpuRatio =
    expr.includes('container_cpu_usage_seconds_total') && expr.includes('container_spec_cpu_quota');
  const memRatio =
    expr.includes('container_memory_usage_bytes') && expr.includes('container_spec_memory_limit_bytes');
  if (expr.startsWith('max(') && cpuRatio) return max(byPod((p) => p.cpu / p.cpuLimit));
  if (expr.startsWith('max(') && memRatio) return max(byPod((p) => p.mem / p.memLimit));
  if (expr.includes('cfs_throttled')) return byPod((p) => p.throttled);
  if (cpuRatio) return byPod((p) => p.cpu / p.cpuLimit);
  if (expr.includes('container_cpu_usage_seconds_total')) return byPod((p) => p.cpu);
  if (expr.includes('container_spec_cpu_quota')) return byPod((p) => p.cpuLimit);
  if (memRatio) return byPod((p) => p.mem / p.memLimit);
  if (expr.includes('container_memory_usage_bytes')) return byPod((p) => p.mem);
  if (expr.includes('container_spec_memory_limit_bytes')) return byPod((p) => p.memLimit);
  throw new Error(`the fake Prometheus does not know ${expr}`);
}

export async function startFakePrometheus(
  scenario: PromScenario = SLOW_SEARCH,
  options: { delayMs?: number; failure?: Failure } = {},
): Promise<FakeServer & { expressions: string[] }> {
  const expressions: string[] = [];
  const server = await serve((_req, url) => {
    const expr = url.searchParams.get('query') ?? '';
    expressions.push(expr);
    const rows = evaluate(expr, scenario);
    if (url.pathname === '/api/v1/query') {
      const time = Number(url.searchParams.get('time') ?? Date.now() / 1000);
      const result = rows.map((r) => ({ metric: r.labels, value: [time, String(r.value)] }));
      return {
        status: 200,
        body: JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }),
      };
    }
    if (url.pathname === '/api/v1/query_range') {
      const start = Number(url.searchParams.get('start'));
      const end = Number(url.searchParams.get('end'));
      const step = Number(url.searchParams.get('step'));
      const result = rows.map((r) => {
        const values: [number, string][] = [];
        for (let t = start; t <= end + 1e-9; t += step) values.push([t, String(r.value)]);
        return { metric: r.labels, values };
      });
      return {
        status: 200,
        body: JSON.stringify({ status: 'success', data: { resultType: 'matrix', result } }),
      };
    }
    return { status: 404, body: '{"status":"error","error":"not found"}' };
  }, options);
  return Object.assign(server, { expressions });
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

export const fixture = (name: string) =>
  readFileSync(new URL(`../../fixtures/k8s/${name}`, import.meta.url), 'utf8');

/** The fixtures with their three pods renamed (e.g. to the test bed's simulated pods). */
export function renamedFixture(name: string, podNames?: readonly string[]): string {
  let text = fixture(name);
  PODS.forEach((from, i) => {
    text = text.replaceAll(from, podNames?.[i] ?? from);
  });
  return text;
}

export async function startFakeKubernetes(
  options: { delayMs?: number; failure?: Failure; podNames?: readonly string[] } = {},
): Promise<FakeServer> {
  return serve((_req, url) => {
    const p = url.pathname;
    if (p === '/api/v1/namespaces/aegis/pods')
      return { status: 200, body: renamedFixture('pod-list.json', options.podNames) };
    if (p === '/apis/metrics.k8s.io/v1beta1/namespaces/aegis/pods') {
      return { status: 200, body: renamedFixture('pod-metrics.json', options.podNames) };
    }
    if (p === '/apis/apps/v1/namespaces/aegis/deployments/aegis-api/scale') {
      return { status: 200, body: fixture('deployment-scale.json') };
    }
    // what changed: the list calls of the latency step's history parts
    if (p === '/apis/apps/v1/namespaces/aegis/replicasets')
      return { status: 200, body: fixture('replicaset-list.json') };
    if (p === '/apis/autoscaling/v2/namespaces/aegis/horizontalpodautoscalers')
      return { status: 200, body: fixture('hpa-list.json') };
    if (p === '/api/v1/namespaces/aegis/configmaps')
      return { status: 200, body: fixture('configmap-list.json') };
    if (p === '/version') return { status: 200, body: fixture('version.json') };
    return { status: 404, body: '{"kind":"Status","code":404,"message":"not found"}' };
  }, options);
}

export function kubeConfigFor(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server, skipTLSVerify: server.startsWith('http:') }],
    users: [{ name: 'aegis-bot', token: 'sa-token-123' }],
    contexts: [{ name: 'test', cluster: 'test', user: 'aegis-bot', namespace: 'aegis' }],
    currentContext: 'test',
  });
  return kc;
}

// ---------------------------------------------------------------------------------------------
// config and context

/**
 * The deadline of a source that answers: generous, because on a loaded machine (several test runs
 * on 2 cores) a loopback answer can take seconds, and no test here is about speed.
 */
export const ANSWER_TIMEOUT_MS = 30_000;
/** The deadline of a source a test makes hang: the test waits it out, so it is short. */
export const HANG_TIMEOUT_MS = 1000;

export function testConfig(
  prometheusUrl: string | undefined,
  extra = '',
  prometheusTimeoutMs = ANSWER_TIMEOUT_MS,
): Config {
  const prom = prometheusUrl
    ? `    prometheus:\n      url: "${prometheusUrl}"\n      timeout: ${prometheusTimeoutMs}ms\n`
    : '';
  return parseConfig(
    `services:\n  - name: aegis-api\n    deployment: aegis-api\n    pod_selector: app=aegis-api\n${prom}kubernetes:\n  timeout: ${ANSWER_TIMEOUT_MS}ms\n${extra}`,
    'test.yml',
    {},
  );
}

export function context<S>(
  config: Config,
  sources: S,
  options: { now?: () => Date; signal?: AbortSignal } = {},
): { ctx: StepContext<S>; updates: PartUpdate[] } {
  const updates: PartUpdate[] = [];
  return {
    updates,
    ctx: {
      config,
      service: config.services[0] as ServiceConfig,
      sources,
      signal: options.signal ?? new AbortController().signal,
      progress: (u) => updates.push(u),
      now: options.now ?? (() => new Date()),
    },
  };
}
