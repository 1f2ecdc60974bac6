import type { Config } from '../../config/load.ts';
import type { ServiceConfig } from '../../config/schema.ts';
import { AppError, isAppError } from '../../domain/errors.ts';
import type { StepResult } from '../../domain/finding.ts';
import type { CheckResult } from '../../domain/ports.ts';
import { worstFirstHeadline } from '../../domain/report.ts';
import { worstSeverity } from '../../domain/severity.ts';
import type { ChecklistSettingsRows, IndexUsageRows } from '../../sources/postgres.ts';
import type { InstantResult } from '../../sources/prometheus.ts';
import * as promql from '../../sources/promql.ts';
import type { TtlSample } from '../../sources/redis.ts';
import { parseServiceWindow } from '../args.ts';
import type { PodLogReader } from '../db/step.ts';
import type { ClusterPort, MetricsPort } from '../latency/step.ts';
import { createParts } from '../parts.ts';
import type { StepContext, StepDefinition } from '../step.ts';
import {
  type ApiProbeFacts,
  type ChecklistFacts,
  checklistFindings,
  checklistHeadline,
  type DbSettingsFacts,
  DEFAULT_CHECKLIST_RULES,
  effectiveSetting,
  evaluateChecklist,
  type GoroutineFacts,
  type IndexFacts,
  type Known,
  known,
  type LoggingFacts,
  type MemoryLimitFacts,
  type PoolFacts,
  type RedisFacts,
  type SlowClientFacts,
  type TtlFacts,
  unknownBecause,
} from './evaluate.ts';
import * as q from './promql.ts';

/**
 * The runbook's Optimization Checklist as an automated audit: `/aegis checklist [service] [window]`
 * and `aegis run checklist`. One finding per checklist item, grouped by layer in the runbook's order,
 * each pass, fail or unknown with its evidence (steps/checklist/evaluate.ts says which severity
 * each gets). One part per layer reports progress; a source that fails makes the items that need it
 * unknown with the reason, and the other items still report.
 */

export interface ChecklistDatabase {
  checklistSettings(q: { role?: string }): Promise<ChecklistSettingsRows>;
  indexUsage(q: { minRows: number; minSeqScans: number; limit: number }): Promise<IndexUsageRows>;
}

export interface RedisPort {
  readonly target: string;
  info(signal?: AbortSignal): Promise<Record<string, string>>;
  configGet(name: string, signal?: AbortSignal): Promise<string | undefined>;
  sampleTtls(limit: number, signal?: AbortSignal): Promise<TtlSample>;
}

export interface ApiProbePort {
  probe(path: string, signal?: AbortSignal): Promise<ApiProbeFacts>;
  slowClient(windowMs: number, signal?: AbortSignal): Promise<SlowClientFacts>;
}

export interface ChecklistSources {
  readonly prometheus?: (service: ServiceConfig) => MetricsPort | undefined;
  readonly kubernetes?: (service: ServiceConfig) => ClusterPort | undefined;
  /** Throws AppError('config') when the service has no database (as DbSources.database does). */
  readonly checklistDatabase?: (service: ServiceConfig) => ChecklistDatabase;
  readonly podLogs?: (service: ServiceConfig) => PodLogReader;
  /** The service's pprof health check (PprofSource.check). */
  readonly pprofCheck?: (
    service: ServiceConfig,
  ) => { check(signal?: AbortSignal): Promise<CheckResult[]> } | undefined;
  readonly redis?: () => RedisPort | undefined;
  readonly api?: (service: ServiceConfig) => ApiProbePort | undefined;
}

export interface ChecklistArgs {
  readonly service?: string;
  readonly windowMs: number;
}

export const CHECKLIST_WINDOW = { default: 3_600_000, min: 60_000, max: 7 * 86_400_000 } as const;
/** Heavy sequential scans: at least this many, reading at least seqScanMinRows rows each on average. */
const MIN_SEQ_SCANS = 20;

export function parseChecklistArgs(words: readonly string[], config: Config): ChecklistArgs {
  return parseServiceWindow(words, config, 'checklist', {
    defaultMs: CHECKLIST_WINDOW.default,
    minMs: CHECKLIST_WINDOW.min,
    maxMs: CHECKLIST_WINDOW.max,
    range: '1m to 7d',
    examples: '1h',
  });
}

const PARTS = {
  api: 'API layer',
  database: 'database layer',
  caching: 'caching layer',
  application: 'application layer',
} as const;

function reasonOf(e: unknown): string {
  if (isAppError(e)) return e.message;
  throw e;
}

/** Settles a fact: a source failure (AppError) becomes "unknown" with its message; a bug still throws. */
async function fact<T>(fn: () => Promise<T>): Promise<Known<T>> {
  try {
    return known(await fn());
  } catch (e) {
    return unknownBecause(reasonOf(e));
  }
}

/** A value that only refines an item (the pool size from the ConfigMap, the replicas): a source failure leaves it out. */
async function soft<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (!isAppError(e)) throw e;
    return undefined;
  }
}

function scalar(r: InstantResult): number | undefined {
  const v = r.samples[0]?.value;
  return v !== undefined && Number.isFinite(v) ? v : undefined;
}

export async function runChecklist(
  ctx: StepContext<ChecklistSources>,
  args: ChecklistArgs,
): Promise<StepResult> {
  const startedAt = ctx.now();
  const { service, signal, config } = ctx;
  const windowMs = args.windowMs;
  const t = promql.targetFor(service);
  const prom = ctx.sources.prometheus?.(service);
  const k8s = ctx.sources.kubernetes?.(service);
  const noProm = `no Prometheus configured for service ${service.name} (services[].prometheus.url)`;
  const at = { signal, time: ctx.now() };
  const instant = (expr: string) => {
    if (!prom) throw new AppError('config', noProm);
    return prom.instantQuery(expr, at);
  };

  // Facts settle their own source failures (fact() below): a layer that throws is a bug and rejects.
  const parts = createParts(ctx.progress, { unavailableOn: () => false });

  /** One layer's part: ok, or unavailable when every fact of the layer is unknown. */
  const layer = async <T extends Record<string, Known<unknown>>>(
    name: string,
    work: () => Promise<T>,
    /** Facts that come from configuration, not from a source call: they do not make a part ok. */
    fromConfig: readonly (keyof T)[] = [],
  ): Promise<T> => {
    const o = await parts.run(name, work, (facts) => {
      const sourced = Object.entries(facts).filter(([k]) => !fromConfig.includes(k as keyof T));
      const failed = sourced.map(([, f]) => f).filter((f) => !f.ok) as { ok: false; reason: string }[];
      return failed.length === sourced.length && failed.length > 0
        ? [...new Set(failed.map((f) => f.reason))].join('; ')
        : undefined;
    });
    if (!o.ok) throw o.error;
    return o.value;
  };

  const apiPart = layer(PARTS.api, async () => {
    const probe = ctx.sources.api?.(service);
    const noApi = `no API URL configured for service ${service.name} (services[].api.url)`;
    const [api, slowClient, tooManyRequests] = await Promise.all([
      fact(async () => {
        if (!probe || !service.api) throw new AppError('config', noApi);
        return probe.probe(service.api.path, signal);
      }),
      fact(async () => {
        if (!probe || !service.api) throw new AppError('config', noApi);
        return probe.slowClient(service.api.slow_client_window, signal);
      }),
      fact(async () => scalar(await instant(q.tooManyRequests(t, windowMs))) ?? 0),
    ]);
    return { api, slowClient, tooManyRequests };
  });

  const dbPart = layer(PARTS.database, async () => {
    const db = () => {
      if (!ctx.sources.checklistDatabase) throw new AppError('config', 'no database source is configured');
      return ctx.sources.checklistDatabase(service);
    };
    const role = service.database?.app_role;
    const [dbSettings, pool, indexes] = await Promise.all([
      fact(async (): Promise<DbSettingsFacts> => {
        const rows = await db().checklistSettings(role ? { role } : {});
        const who = { ...(role ? { role } : {}), database: rows.database };
        const relevant = role ? rows.roleSettings : rows.roleSettings.filter((r) => r.anyRole);
        return {
          database: rows.database,
          ...(role ? { role } : {}),
          maxConnections: rows.maxConnections,
          superuserReserved: rows.superuserReserved,
          statementTimeout: effectiveSetting('statement_timeout', relevant, rows.statementTimeout, who),
          logMinDuration: effectiveSetting('log_min_duration_statement', relevant, rows.logMinDuration, who),
          ...(rows.roleConnections !== undefined ? { roleConnections: rows.roleConnections } : {}),
        };
      }),
      fact(async (): Promise<PoolFacts> => {
        const logs = ctx.sources.podLogs?.(service);
        const [fromConfigMap, scale] = await Promise.all([
          logs?.poolSize ? soft(logs.poolSize(service)) : undefined,
          k8s ? soft(k8s.getDeploymentScale(service.namespace, service.deployment, { signal })) : undefined,
        ]);
        const poolSize = fromConfigMap ?? service.database?.pool_size;
        const poolSizeFrom =
          fromConfigMap !== undefined
            ? `ConfigMap ${service.configmap} database.max_connections`
            : poolSize !== undefined
              ? 'services[].database.pool_size'
              : undefined;
        return {
          ...(poolSize !== undefined ? { poolSize } : {}),
          ...(poolSizeFrom ? { poolSizeFrom } : {}),
          ...(scale ? { replicas: scale.replicas } : {}),
        };
      }),
      fact(
        async (): Promise<IndexFacts> =>
          db().indexUsage({
            minRows: DEFAULT_CHECKLIST_RULES.seqScanMinRows,
            minSeqScans: MIN_SEQ_SCANS,
            limit: 10,
          }),
      ),
    ]);
    return { dbSettings, pool, indexes };
  }, ['pool']);

  const cachePart = layer(PARTS.caching, async () => {
    const redis = ctx.sources.redis?.();
    const noRedis = config.redis
      ? `the Redis URL is not set: export ${config.redis.url_env}`
      : 'no Redis configured (redis.url_env)';
    const need = () => {
      if (!redis) throw new AppError('config', noRedis);
      return redis;
    };
    const [info, ttls] = await Promise.all([
      fact(async (): Promise<RedisFacts> => {
        const r = need();
        const [i, policy] = await Promise.all([
          r.info(signal),
          r.configGet('maxmemory-policy', signal).catch(() => undefined),
        ]);
        return { target: r.target, info: i, ...(policy ? { maxmemoryPolicy: policy } : {}) };
      }),
      fact(async (): Promise<TtlFacts> => need().sampleTtls(config.redis?.ttl_sample ?? 200, signal)),
    ]);
    return { redis: info, ttls };
  });

  const appPart = layer(PARTS.application, async () => {
    const [goroutines, memoryLimits, profiling, logging] = await Promise.all([
      fact(async (): Promise<GoroutineFacts> => {
        const [now, max, growth] = await Promise.all([
          instant(q.goroutinesNow(t)),
          instant(q.goroutinesMax(t, windowMs)),
          instant(q.goroutinesGrowth(t, windowMs)),
        ]);
        const current = scalar(now);
        if (current === undefined)
          throw new AppError(
            'not_found',
            `no go_goroutines series matched ${promql.selector(t.selector) || '(all)'}`,
          );
        return { current, max: scalar(max) ?? current, growth: scalar(growth) ?? 0, windowMs };
      }),
      fact(async (): Promise<MemoryLimitFacts> => {
        const containerName =
          service.prometheus?.metrics.container_label_value ?? service.container ?? service.deployment;
        if (k8s) {
          const pods = await k8s.listPods(
            service.namespace,
            service.pod_selector ?? `app=${service.deployment}`,
            { signal },
          );
          return {
            from: 'Kubernetes pod specs',
            pods: pods.map((p) => {
              const c =
                p.containers.find((x) => x.name === containerName) ??
                (p.containers.length === 1 ? p.containers[0] : undefined);
              return { name: p.name, ...(c?.limits.memory ? { limitBytes: c.limits.memory } : {}) };
            }),
          };
        }
        const r = await instant(q.memoryLimitByPod(t));
        return {
          from: `Prometheus ${t.cadvisor.memoryLimit}`,
          pods: r.samples.map((s) => ({
            name: s.labels[t.podLabel] ?? '?',
            ...(s.value > 0 && Number.isFinite(s.value) ? { limitBytes: s.value } : {}),
          })),
        };
      }),
      fact(async () => {
        const p = ctx.sources.pprofCheck?.(service);
        if (!p)
          throw new AppError(
            'config',
            `no pprof endpoint configured for service ${service.name} (services[].pprof)`,
          );
        const [r] = await p.check(signal);
        if (!r) throw new AppError('source', 'pprof check gave no answer');
        return { reachable: r.ok, detail: r.detail };
      }),
      fact(async (): Promise<LoggingFacts> => {
        const metric = service.prometheus?.metrics.log_lines_total;
        if (!metric)
          throw new AppError(
            'config',
            'no log-volume metric configured (services[].prometheus.metrics.log_lines_total)',
          );
        const [lines, reqs] = await Promise.all([
          instant(q.logLinesRate(metric, t, windowMs)),
          instant(q.requestRate(t, windowMs)),
        ]);
        const linesPerSecond = scalar(lines);
        if (linesPerSecond === undefined)
          throw new AppError('not_found', `no ${metric} series for ${service.name}`);
        const rps = scalar(reqs);
        return { metric, linesPerSecond, ...(rps ? { requestsPerSecond: rps } : {}) };
      }),
    ]);
    return { goroutines, memoryLimits, profiling, logging };
  });

  const [api, db, cache, app] = await Promise.all([apiPart, dbPart, cachePart, appPart]);
  const facts: ChecklistFacts = { service: service.name, windowMs, ...api, ...db, ...cache, ...app };
  const items = evaluateChecklist(facts);
  const findings = checklistFindings(items);
  const order = Object.values(PARTS) as string[];
  return {
    step: 'checklist',
    service: service.name,
    // worst first: the most severe item with the report's severity word, then the counts
    headline: worstFirstHeadline(findings, [checklistHeadline(items)], { max: 1 }),
    severity: worstSeverity(findings.map((f) => f.severity)),
    // In the runbook's order, layer by layer (not ranked): the checklist reads top to bottom.
    findings,
    proposals: [],
    nextSteps: [
      { label: `Database analysis of ${service.name}`, step: 'db', args: [service.name] },
      { label: `Goroutines of ${service.name}`, step: 'goroutines', args: [] },
    ],
    escalations: [],
    attachments: [],
    parts: [...parts.statuses].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name)),
    links: [],
    startedAt,
    finishedAt: ctx.now(),
  };
}

export const checklistStep: StepDefinition<ChecklistArgs, ChecklistSources> = {
  name: 'checklist',
  summary: 'Optimization checklist: pass, fail or unknown for every item of the runbook, with the evidence',
  usage: 'checklist [service] [window]  (window 1m to 7d, default 1h)',
  runbook: 'Optimization Checklist',
  parse: (words, { config }) => parseChecklistArgs(words, config),
  run: runChecklist,
};
