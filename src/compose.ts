import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Config } from './config/load.ts';
import type { ServiceConfig } from './config/schema.ts';
import { AppError } from './domain/errors.ts';
import type { Checkable, CheckResult } from './domain/ports.ts';
import { POOL_SIZE_KEY } from './domain/proposals.ts';
import type { Logger } from './ops/logger.ts';
import { createSlackCheck } from './slack/check.ts';
import { AlertmanagerSource, alertmanagerAuthFromEnv } from './sources/alertmanager.ts';
import { HttpProbe } from './sources/http-probe.ts';
import { KubernetesSource, loadKubeConfig } from './sources/kubernetes.ts';
import { KubernetesActions } from './sources/kubernetes-actions.ts';
import { DatabaseSource } from './sources/postgres.ts';
import { busiestPodByCpu, PprofSource } from './sources/pprof.ts';
import { PrometheusSource } from './sources/prometheus.ts';
import { RedisSource } from './sources/redis.ts';
import type { ChecklistSources } from './steps/checklist/step.ts';
import type { DbSources, PodLogReader } from './steps/db/step.ts';
import type { LatencySources } from './steps/latency/step.ts';
import type { ProfilingSources } from './steps/profiling/capture.ts';
import type { ProfileCaptures } from './steps/profiling/compare.ts';
import { createPooledAnalyzer } from './steps/profiling/pooled-analyzer.ts';
import type { StepContext, StepDefinition } from './steps/step.ts';
import type { Store } from './store/types.ts';

/**
 * The composition root's half that builds concrete sources from configuration: the only module
 * (with main.ts and cli.ts) that knows which class stands behind each interface the steps use.
 */
export type AllSources = LatencySources & DbSources & ProfilingSources & ChecklistSources;

export interface Runtime {
  readonly sources: AllSources;
  /** True when the configuration names at least one outside system to diagnose (else: demo console). */
  readonly live: boolean;
  /** Every configured source's health check, for `aegis doctor` and the console. */
  readonly checks: readonly Checkable[];
  close(): Promise<void>;
}

/** Lines a pod log reader looks at: the last 10 minutes, at most 2000 lines or 1 MiB per pod. */
const LOG_WINDOW = { sinceSeconds: 600, tailLines: 2000, limitBytes: 2 ** 20 };

export async function buildRuntime(
  config: Config,
  deps: { readonly logger: Logger; readonly store?: Store },
): Promise<Runtime> {
  const perService = <T>(make: (s: ServiceConfig) => T | undefined) => {
    const cache = new Map<string, T | undefined>();
    return (s: ServiceConfig): T | undefined => {
      if (!cache.has(s.name)) cache.set(s.name, make(s));
      return cache.get(s.name);
    };
  };

  const kube = kubernetesSource(config, deps.logger);
  const prometheus = perService((s) =>
    s.prometheus
      ? new PrometheusSource({ url: s.prometheus.url, timeoutMs: s.prometheus.timeout, service: s.name })
      : undefined,
  );
  const databases: DatabaseSource[] = [];
  const database = perService((s) => {
    if (!s.database) return undefined;
    const url = config.secrets.databaseUrls[s.database.url_env];
    if (!url) return undefined;
    const source = new DatabaseSource({
      url,
      service: s.name,
      connectTimeoutMs: s.database.connect_timeout,
      statementTimeoutMs: s.database.statement_timeout,
    });
    databases.push(source);
    return source;
  });
  const pprof = perService((s) =>
    s.pprof
      ? new PprofSource(
          s,
          kube
            ? {
                podProxyBase: (ns, pod, port) => kube.podProxyBase(ns, pod, port),
                busiestPod: busiestPodByCpu((ns, sel, o) => kube.podMetrics(ns, sel, o)),
              }
            : {},
        )
      : undefined,
  );
  const redisUrl = config.secrets.redisUrl;
  const redis =
    config.redis && redisUrl
      ? new RedisSource({ url: redisUrl, timeoutMs: config.redis.timeout })
      : undefined;
  const api = perService((s) =>
    s.api
      ? new HttpProbe({ baseUrl: s.api.url, timeoutMs: s.api.timeout, name: `api ${s.name}` })
      : undefined,
  );
  // reads database.max_connections (the pool size) from the service's ConfigMap: a get RBAC grants
  const configReader = kube ? KubernetesActions.fromConfig(config.kubernetes) : undefined;
  const podLogs = (): PodLogReader => ({
    async poolSize(service) {
      if (!configReader) return undefined;
      try {
        const v = await configReader.readConfigValue(service.namespace, service.configmap, POOL_SIZE_KEY);
        const n = Number(v.value);
        return Number.isInteger(n) && n > 0 ? n : undefined;
      } catch (e) {
        // the pool size only sharpens the proposal: the log count still reports without it
        deps.logger.warn(
          { err: e, configmap: service.configmap },
          'could not read the pool size from the ConfigMap',
        );
        return undefined;
      }
    },
    async recentLogs(service) {
      if (!kube)
        throw new AppError('config', 'no Kubernetes access is configured, so pod logs cannot be read');
      const pods = await kube.listPods(service.namespace, podSelector(service));
      return Promise.all(
        pods.map(async (p) => {
          const text = await kube.readPodLogs(service.namespace, p.name, {
            ...LOG_WINDOW,
            ...(service.container ? { container: service.container } : {}),
          });
          return { pod: p.name, lines: text.split('\n') };
        }),
      );
    },
  });

  const databaseOf = (s: ServiceConfig): DatabaseSource => {
    const db = database(s);
    if (!db) {
      throw new AppError(
        'config',
        s.database
          ? `the database URL for ${s.name} is not set: export ${s.database.url_env}`
          : `no database is configured for service ${s.name} (services[].database)`,
      );
    }
    return db;
  };
  // Profiles, goroutine dumps and large charts are analysed in worker threads, started on first use.
  const analyzer = createPooledAnalyzer();
  const sources: AllSources = {
    analyzer,
    rasterize: (svg, signal) => analyzer.rasterize(svg, signal),
    prometheus,
    ...(kube ? { kubernetes: () => kube, clusterHistory: () => kube } : {}),
    // a service without a database has no settings history; one whose URL is missing says so
    databaseHistory: (s) => (s.database ? databaseOf(s) : undefined),
    database: databaseOf,
    checklistDatabase: databaseOf,
    ...(kube ? { podLogs } : {}),
    pprof,
    pprofCheck: pprof,
    ...(deps.store ? { captures: profileCaptures(deps.store) } : {}),
    redis: () => redis,
    api,
  };

  const checks: Checkable[] = [];
  for (const s of config.services) {
    const p = prometheus(s);
    if (p) checks.push(p);
    const pp = pprof(s);
    if (pp) checks.push(pp);
    if (s.database) {
      const db = database(s);
      checks.push(
        db ??
          missing(
            `postgres ${s.name}`,
            `environment variable ${s.database.url_env} is not set`,
            `export ${s.database.url_env}=postgres://…`,
          ),
      );
    }
  }
  checks.push(createSlackCheck({ config }));
  checks.push(
    kube ??
      missing(
        'kubernetes',
        config.kubernetes.auth === 'kubeconfig'
          ? 'no kubeconfig found ($KUBECONFIG, ~/.kube/config)'
          : 'not configured',
        'set KUBECONFIG (or kubernetes.auth: in_cluster in a pod): pod metrics, logs, pod-proxy profiles and every cluster action need it',
      ),
  );

  const live = config.services.some((s) => s.prometheus || s.pprof || s.database) || kube !== undefined;
  return {
    sources,
    live,
    checks,
    async close() {
      await Promise.allSettled([...databases.map((d) => d.close()), analyzer.close()]);
    },
  };
}

/**
 * Alertmanager's API v2 for silences from Slack, when `alertmanager.url` is configured. Throws
 * AppError('config') when a credential variable it names is not set.
 */
export function alertmanagerFrom(
  config: Config,
  env: Readonly<Record<string, string | undefined>> = process.env,
): AlertmanagerSource | undefined {
  const am = config.alertmanager;
  if (!am) return undefined;
  const auth = alertmanagerAuthFromEnv(am, env);
  return new AlertmanagerSource({ url: am.url, timeoutMs: am.timeout, ...(auth ? { auth } : {}) });
}

/** Runs a step with the runtime's sources: what Slack, the console and the CLI all call. */
export function stepContext<S>(
  config: Config,
  sources: S,
  run: { service: ServiceConfig; signal: AbortSignal; progress: StepContext['progress'] },
): StepContext<S> {
  return {
    config,
    service: run.service,
    sources,
    signal: run.signal,
    progress: run.progress,
    now: () => new Date(),
  };
}

// biome-ignore lint/suspicious/noExplicitAny: steps differ in argument and source types (see steps/registry.ts)
export type AnyStepDefinition = StepDefinition<any, any>;

/** The profiling steps' captures, kept in the store (newest few per service, pod and kind). */
export function profileCaptures(store: Store): ProfileCaptures {
  return {
    previous: (service, kind, before) => store.latestProfileCapture(service, kind, before),
    save: (capture) => store.saveProfileCapture(capture),
  };
}

function podSelector(s: ServiceConfig): string {
  return s.pod_selector ?? `app=${s.deployment}`;
}

/**
 * Kubernetes access as configured: the pod's service account, or a kubeconfig. With no kubeconfig on
 * this machine, the bot runs without cluster access (the pod parts of reports say so) instead of
 * guessing at localhost:8080.
 */
function kubernetesSource(config: Config, logger: Logger): KubernetesSource | undefined {
  const k = config.kubernetes;
  if (k.auth === 'kubeconfig') {
    const files = (process.env.KUBECONFIG ?? join(homedir(), '.kube', 'config')).split(':').filter(Boolean);
    if (!files.some((f) => existsSync(f))) {
      logger.info({ kubeconfig: files }, 'no kubeconfig found: running without Kubernetes access');
      return undefined;
    }
  }
  return new KubernetesSource({ kubeConfig: loadKubeConfig(k), timeoutMs: k.timeout });
}

function missing(name: string, detail: string, hint: string): Checkable {
  const result: CheckResult = { name, ok: false, detail, hint };
  return { check: async () => [result] };
}
