import type { Config } from '../../config/load.ts';
import type { ServiceConfig } from '../../config/schema.ts';
import { AppError } from '../../domain/errors.ts';
import type { Attachment, StepResult } from '../../domain/finding.ts';
import { finishResult } from '../../domain/report.ts';
import type { BaselineMetric } from '../../domain/thresholds.ts';
import { ChartFontError, preloadChartFont, svgToPng } from '../../lib/charts/png.ts';
import type { Marker } from '../../lib/charts/svg.ts';
import { formatDuration } from '../../lib/format.ts';
import type {
  CallOptions,
  ConfigMapEdit,
  DeploymentScale,
  HpaScaling,
  PodInfo,
  PodUsage,
  ReplicaSetRevision,
} from '../../sources/kubernetes.ts';
import type { SettingsHistory } from '../../sources/postgres-types.ts';
import type {
  InstantResult,
  QueryOptions,
  RangeResult,
  Series,
  TimeRange,
} from '../../sources/prometheus.ts';
import * as promql from '../../sources/promql.ts';
import { parseServiceWindow, type WindowRule } from '../args.ts';
import { createParts } from '../parts.ts';
import type { StepContext, StepDefinition } from '../step.ts';
import {
  buildEndpoints,
  buildErrorEndpoints,
  type MemoryTrend,
  memoryTrend,
  mergePods,
  type Onset,
  onsetAbove,
  type PathValue,
  type PodSeriesValues,
  type PodStatusValues,
  type PodTopValues,
  type Quantiles,
  ratioToPercent,
  secondsToMs,
  stepFor,
  sustainedMin,
} from './analysis.ts';
import { type Change, changesFinding, collectChanges } from './changes.ts';
import {
  errorRateByEndpointSvg,
  latencyChartSvg,
  latencyHeatmapSvg,
  type PathSeries,
  trafficChartSvg,
} from './chart.ts';
import { buildLatencyReport, type LatencyErrors, sustainedKey } from './report.ts';

/**
 * Runbook Step 1, "Identify the Bottleneck": `/aegis latency [service] [window]` and
 * `aegis run latency`. Every query runs in parallel with its own deadline; each part reports its
 * progress as it completes, and a part whose source fails is marked unavailable while the others
 * still report.
 */

// ---------------------------------------------------------------------------------------------
// the sources this step uses (implemented by src/sources/prometheus.ts and kubernetes.ts)

export interface MetricsPort {
  instantQuery(expr: string, options?: QueryOptions): Promise<InstantResult>;
  rangeQuery(expr: string, range: TimeRange, options?: QueryOptions): Promise<RangeResult>;
}

export interface ClusterPort {
  listPods(namespace: string, selector?: string, options?: CallOptions): Promise<PodInfo[]>;
  podMetrics(namespace: string, selector?: string, options?: CallOptions): Promise<PodUsage[]>;
  getDeploymentScale(namespace: string, name: string, options?: CallOptions): Promise<DeploymentScale>;
}

/** What changed in the cluster (implemented by sources/kubernetes.ts): list verbs only, see deploy/rbac.yaml. */
export interface ClusterHistoryPort {
  listReplicaSets(namespace: string, selector?: string, options?: CallOptions): Promise<ReplicaSetRevision[]>;
  listHpaScaling(namespace: string, options?: CallOptions): Promise<HpaScaling[]>;
  listConfigMapEdits(namespace: string, options?: CallOptions): Promise<ConfigMapEdit[]>;
}

/** What changed on the service's PostgreSQL (implemented by sources/postgres.ts, read-only). */
export interface DatabaseHistoryPort {
  settingsHistory(): Promise<SettingsHistory>;
}

export interface LatencySources {
  /** The service's Prometheus; undefined when the service has none configured. */
  readonly prometheus?: (service: ServiceConfig) => MetricsPort | undefined;
  /** The Kubernetes API; absent when the bot has no cluster access (the pod parts are then left out). */
  readonly kubernetes?: (service: ServiceConfig) => ClusterPort | undefined;
  /** Rollouts, HPA scaling and ConfigMap edits; absent without cluster access (those parts are left out). */
  readonly clusterHistory?: (service: ServiceConfig) => ClusterHistoryPort | undefined;
  /**
   * The service's database for its settings history; undefined when the service has none, throws
   * AppError when it has one that cannot be reached (the part is then unavailable with the reason).
   */
  readonly databaseHistory?: (service: ServiceConfig) => DatabaseHistoryPort | undefined;
  /** SVG to PNG; default: resvg with the DejaVu fonts (lib/charts/png.ts). */
  readonly rasterize?: (svg: string, signal: AbortSignal) => Promise<Uint8Array>;
}

export interface LatencyArgs {
  readonly service?: string;
  readonly windowMs: number;
  /**
   * Where "what changed" starts looking; default the window's start. An incident from an alert
   * passes its own onset (minus a margin) here.
   */
  readonly changesSince?: Date;
}

export const DEFAULT_WINDOW_MS = 5 * 60_000;
export const MIN_WINDOW_MS = 60_000;
export const MAX_WINDOW_MS = 24 * 3_600_000;

/** The part names, as progress and the report show them. */
export const PARTS = {
  latency: 'latency',
  endpoints: 'endpoints',
  errors: 'error rate',
  containers: 'container metrics',
  trend: 'memory trend',
  pods: 'pods',
  top: 'kubectl top',
  replicas: 'replicas',
  sustained: 'sustained conditions',
  charts: 'charts',
  rollouts: 'rollouts',
  hpa: 'hpa scaling',
  configmaps: 'configmap edits',
  database: 'database changes',
  prometheus: 'prometheus',
} as const;

// ---------------------------------------------------------------------------------------------
// arguments

export const LATENCY_WINDOW: WindowRule = {
  defaultMs: DEFAULT_WINDOW_MS,
  minMs: MIN_WINDOW_MS,
  maxMs: MAX_WINDOW_MS,
  range: '1m to 24h',
  examples: '5m, 30m or 2h',
};

export function parseLatencyArgs(words: readonly string[], config: Config): LatencyArgs {
  return parseServiceWindow(words, config, 'latency', LATENCY_WINDOW);
}

// ---------------------------------------------------------------------------------------------
// the run

/** What changed before the onset, and the chart markers for it. */
interface WhatChanged {
  readonly items: readonly Change[];
  readonly markers: readonly Marker[];
  readonly since: Date;
  readonly until: Date;
  readonly onset?: Date;
  /** The sources that answered; none means there is nothing to say. */
  readonly checked: readonly string[];
  readonly database?: SettingsHistory;
}

function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Only user-meaningful failures make a part unavailable: a source's AppError, a missing chart font, a chart that failed to render. */
function isPartFailure(e: unknown): boolean {
  return e instanceof AppError || e instanceof ChartFontError || e instanceof ChartRenderError;
}

class ChartRenderError extends Error {
  override name = 'ChartRenderError';
}

function pathValues(r: InstantResult, label: string): PathValue[] {
  return r.samples
    .filter((s) => s.labels[label] !== undefined)
    .map((s) => ({ path: s.labels[label] as string, value: s.value }));
}

function scalarOf(r: InstantResult): number | undefined {
  return r.samples[0]?.value;
}

function byLabel(r: InstantResult, label: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of r.samples) {
    const k = s.labels[label];
    if (k !== undefined && Number.isFinite(s.value)) m.set(k, s.value);
  }
  return m;
}

function seriesByLabel(r: RangeResult, label: string): PathSeries[] {
  return r.series
    .filter((s) => s.labels[label] !== undefined)
    .map((s) => ({ path: s.labels[label] as string, points: s.points }));
}

function firstSeries(r: RangeResult): Series['points'] {
  return r.series[0]?.points ?? [];
}

function containerOf(pod: PodInfo, name: string) {
  return (
    pod.containers.find((c) => c.name === name) ??
    (pod.containers.length === 1 ? pod.containers[0] : undefined)
  );
}

const SUSTAINED_METRICS: readonly BaselineMetric[] = [
  'api_p99_latency_ms',
  'api_p50_latency_ms',
  'error_rate_percent',
  'cpu_percent',
  'memory_percent',
];

export async function runLatency(ctx: StepContext<LatencySources>, args: LatencyArgs): Promise<StepResult> {
  const startedAt = ctx.now();
  const { config, service, signal } = ctx;
  const windowMs = args.windowMs;
  const parts = createParts(ctx.progress, { unavailableOn: isPartFailure });
  const t = promql.targetFor(service);
  const prom = ctx.sources.prometheus?.(service);
  const k8s = ctx.sources.kubernetes?.(service);
  const end = ctx.now();
  const endS = Math.floor(end.getTime() / 1000);
  const at: QueryOptions = { signal, time: new Date(endS * 1000) };
  const containerName =
    service.prometheus?.metrics.container_label_value ?? service.container ?? service.deployment;
  const podSelector = service.pod_selector ?? `app=${service.deployment}`;
  const unavailable: { part: string; reason: string }[] = [];
  const noProm = `no Prometheus configured for service ${service.name} (services[].prometheus.url)`;

  const instant = (expr: string) => {
    if (!prom) throw new AppError('config', noProm);
    return prom.instantQuery(expr, at);
  };
  const rangeOf = (expr: string, periodMs: number, stepMs: number) => {
    if (!prom) throw new AppError('config', noProm);
    return prom.rangeQuery(
      expr,
      { start: new Date((endS - periodMs / 1000) * 1000), end: new Date(endS * 1000), stepMs },
      { signal },
    );
  };

  // Which escalation rules need a sustained value, over which durations.
  const sustainedPlan = [
    ...new Map(
      config.escalationRules
        .filter((r) => r.forMs > 0 && SUSTAINED_METRICS.includes(r.metric))
        .map((r) => [sustainedKey(r.metric, r.forMs), { metric: r.metric, forMs: r.forMs }]),
    ).values(),
  ];
  const shortRateMs = Math.min(windowMs, 60_000);
  const sustainedExpr = (metric: BaselineMetric, rateMs: number): { expr: string; scale: number } => {
    switch (metric) {
      case 'api_p99_latency_ms':
        return { expr: promql.latencyQuantile(t, 0.99, rateMs), scale: 1000 };
      case 'api_p50_latency_ms':
        return { expr: promql.latencyQuantile(t, 0.5, rateMs), scale: 1000 };
      case 'error_rate_percent':
        return { expr: promql.errorRatio(t, rateMs), scale: 100 };
      case 'cpu_percent':
        return { expr: promql.maxOverPods(promql.cpuRatioByPod(t, rateMs)), scale: 100 };
      default:
        return { expr: promql.maxOverPods(promql.memoryRatioByPod(t)), scale: 100 };
    }
  };

  const chartStepMs = stepFor(windowMs, 90);
  const chartRateMs = Math.max(shortRateMs, 2 * chartStepMs);
  const onsetWindow = { startS: endS - windowMs / 1000, stepS: chartStepMs / 1000 };
  const rasterize = ctx.sources.rasterize ?? ((svg: string, s: AbortSignal) => svgToPng(svg, { signal: s }));

  // The Kubernetes calls and the charts' range queries go out first: they take longest to turn
  // into a report (client-node's request setup; rendering after the data arrives).
  const podsP = k8s
    ? parts.run(PARTS.pods, () => k8s.listPods(service.namespace, podSelector, { signal }))
    : undefined;
  const topP = k8s
    ? parts.run(PARTS.top, () => k8s.podMetrics(service.namespace, podSelector, { signal }))
    : undefined;
  const replicasP = k8s
    ? parts.run(PARTS.replicas, () =>
        k8s.getDeploymentScale(service.namespace, service.deployment, { signal }),
      )
    : undefined;

  // What changed: each source call is a part; its window is fixed once the onset is known.
  const history = ctx.sources.clusterHistory?.(service);
  const rolloutsP = history
    ? parts.run(PARTS.rollouts, () => history.listReplicaSets(service.namespace, podSelector, { signal }))
    : undefined;
  const hpaP = history
    ? parts.run(PARTS.hpa, () => history.listHpaScaling(service.namespace, { signal }))
    : undefined;
  const configMapsP = history
    ? parts.run(PARTS.configmaps, () => history.listConfigMapEdits(service.namespace, { signal }))
    : undefined;
  const databaseP = ctx.sources.databaseHistory
    ? parts.run(PARTS.database, async () => {
        const db = ctx.sources.databaseHistory?.(service);
        return db ? db.settingsHistory() : undefined;
      })
    : undefined;
  // assigned below, once the latency and error parts exist; the charts await it for their markers
  let changesP!: Promise<WhatChanged>;

  const chartsP = parts.run(PARTS.charts, async (): Promise<Attachment[]> => {
    const q = (expr: string) => rangeOf(expr, windowMs, chartStepMs);
    const queries = Promise.all([
      q(promql.latencyQuantile(t, 0.5, chartRateMs)),
      q(promql.latencyQuantile(t, 0.95, chartRateMs)),
      q(promql.latencyQuantile(t, 0.99, chartRateMs)),
      q(promql.latencyQuantileByPath(t, 0.5, chartRateMs)),
      q(promql.latencyQuantileByPath(t, 0.95, chartRateMs)),
      q(promql.latencyQuantileByPath(t, 0.99, chartRateMs)),
      q(promql.requestRateByPath(t, chartRateMs)),
      q(promql.errorRatio(t, chartRateMs)),
      q(promql.errorRatioByPath(t, chartRateMs)),
    ]);
    if (!ctx.sources.rasterize) {
      // Parse the chart font while the queries are in flight (once per process).
      try {
        preloadChartFont();
      } catch (e) {
        queries.catch(() => undefined);
        throw e;
      }
    }
    const [p50, p95, p99, h50, h95, h99, rate, errors, errorsByPath] = await queries;
    const { markers } = await changesP;
    const w = { start: endS - windowMs / 1000, end: endS, stepS: chartStepMs / 1000 };
    const charts = [
      {
        filename: `latency-${service.name}-percentiles.png`,
        title: `${service.name}: P50 / P95 / P99 latency, last ${formatDuration(windowMs)}`,
        svg: latencyChartSvg(
          { p50: firstSeries(p50), p95: firstSeries(p95), p99: firstSeries(p99) },
          w,
          config.baselines,
          service.name,
          markers,
        ),
      },
      {
        filename: `latency-${service.name}-heatmap.png`,
        title: `${service.name}: latency heatmap by endpoint, last ${formatDuration(windowMs)}`,
        svg: latencyHeatmapSvg(
          {
            p50: seriesByLabel(h50, t.pathLabel),
            p95: seriesByLabel(h95, t.pathLabel),
            p99: seriesByLabel(h99, t.pathLabel),
          },
          w,
          service.name,
        ),
      },
      {
        filename: `latency-${service.name}-traffic.png`,
        title: `${service.name}: request and error rate, last ${formatDuration(windowMs)}`,
        svg: trafficChartSvg(
          { rateByPath: seriesByLabel(rate, t.pathLabel), errorRatio: firstSeries(errors) },
          w,
          config.baselines,
          service.name,
        ),
      },
      {
        filename: `latency-${service.name}-errors-by-endpoint.png`,
        title: `${service.name}: error rate by endpoint, last ${formatDuration(windowMs)}`,
        svg: errorRateByEndpointSvg(
          { ratioByPath: seriesByLabel(errorsByPath, t.pathLabel) },
          w,
          config.baselines,
          service.name,
          markers,
        ),
      },
    ];
    const pngs = await Promise.all(
      charts.map((c) =>
        rasterize(c.svg, signal).catch((e: unknown) => {
          if (e instanceof ChartFontError || e instanceof AppError) throw e;
          throw new ChartRenderError(`rendering ${c.filename} failed: ${reasonOf(e)}`, { cause: e });
        }),
      ),
    );
    return charts.map(
      (c, i): Attachment => ({
        filename: c.filename,
        title: c.title,
        mimeType: 'image/png',
        content: pngs[i] as Uint8Array,
        image: true,
      }),
    );
  });

  const latencyP = parts.run(PARTS.latency, async () => {
    const [[p50, p95, p99], overTime] = await Promise.all([
      Promise.all([0.5, 0.95, 0.99].map((q) => instant(promql.latencyQuantile(t, q, windowMs)))),
      rangeOf(promql.latencyQuantile(t, 0.99, chartRateMs), windowMs, chartStepMs),
    ]);
    // onset: the first sample above P99's Normal bound that stays above
    const onset = onsetAbove(
      firstSeries(overTime).map((p) => ({ time: p.time, value: p.value * 1000 })),
      config.baselines.api_p99_latency_ms.normal,
      onsetWindow,
    );
    const ms = (r: InstantResult | undefined) => (r ? secondsToMs(scalarOf(r)) : undefined);
    const qs: Quantiles = {
      ...(ms(p50) !== undefined ? { p50: ms(p50) } : {}),
      ...(ms(p95) !== undefined ? { p95: ms(p95) } : {}),
      ...(ms(p99) !== undefined ? { p99: ms(p99) } : {}),
    };
    return { quantiles: qs, ...(onset ? { onset } : {}) };
  });

  const endpointsP = parts.run(PARTS.endpoints, async () => {
    const [p99, p95, p50, rate] = await Promise.all([
      instant(promql.topEndpointsByP99(t, windowMs, 10)),
      instant(promql.latencyQuantileByPath(t, 0.95, windowMs)),
      instant(promql.latencyQuantileByPath(t, 0.5, windowMs)),
      instant(promql.requestRateByPath(t, windowMs)),
    ]);
    return buildEndpoints(
      {
        p99: pathValues(p99, t.pathLabel),
        p95: pathValues(p95, t.pathLabel),
        p50: pathValues(p50, t.pathLabel),
        rate: pathValues(rate, t.pathLabel),
      },
      config.baselines.api_p99_latency_ms,
      10,
    );
  });

  const errorsP = parts.run(PARTS.errors, async (): Promise<LatencyErrors> => {
    const [r, byStatus, rate, overTime] = await Promise.all([
      instant(promql.errorRatio(t, windowMs)),
      instant(promql.errorRateByPathStatus(t, windowMs)),
      instant(promql.requestRateByPath(t, windowMs)),
      rangeOf(promql.errorRatio(t, chartRateMs), windowMs, chartStepMs),
    ]);
    const percent = ratioToPercent(scalarOf(r));
    if (percent === undefined) return {};
    const byEndpoint = buildErrorEndpoints(
      byStatus.samples
        .filter((x) => x.labels[t.pathLabel] !== undefined)
        .map((x) => ({
          path: x.labels[t.pathLabel] as string,
          status: x.labels[t.statusLabel] ?? '5xx',
          value: x.value,
        })),
      pathValues(rate, t.pathLabel),
    );
    // onset: the first sample above the Normal bound that stays above (percent, like the baseline)
    const onset = onsetAbove(
      firstSeries(overTime).map((p) => ({ time: p.time, value: p.value * 100 })),
      config.baselines.error_rate_percent.normal,
      onsetWindow,
    );
    return { percent, byEndpoint, ...(onset ? { onset } : {}) };
  });

  const containersP = parts.run(PARTS.containers, async (): Promise<PodSeriesValues> => {
    const [cpu, cpuLimit, mem, memLimit, throttled] = await Promise.all([
      instant(promql.cpuCoresByPod(t, windowMs)),
      instant(promql.cpuLimitCoresByPod(t)),
      instant(promql.memoryBytesByPod(t)),
      instant(promql.memoryLimitBytesByPod(t)),
      instant(promql.throttledRatioByPod(t, windowMs)),
    ]);
    if (cpu.samples.length === 0 && mem.samples.length === 0) {
      throw new AppError(
        'not_found',
        `no container series matched ${promql.selector(t.containerSelector)} (cAdvisor's ${t.cadvisor.cpuUsage} and ${t.cadvisor.memoryUsage})`,
      );
    }
    return {
      cpuCores: byLabel(cpu, t.podLabel),
      cpuLimitCores: byLabel(cpuLimit, t.podLabel),
      memoryBytes: byLabel(mem, t.podLabel),
      memoryLimitBytes: byLabel(memLimit, t.podLabel),
      throttledRatio: byLabel(throttled, t.podLabel),
    };
  });

  const trendStepMs = stepFor(windowMs, 60);
  const trendP = parts.run(PARTS.trend, async () => {
    const [usage, limits] = await Promise.all([
      rangeOf(promql.memoryBytesByPod(t), windowMs, trendStepMs),
      instant(promql.memoryLimitBytesByPod(t)),
    ]);
    const limitOf = byLabel(limits, t.podLabel);
    return usage.series
      .map((s) => {
        const pod = s.labels[t.podLabel];
        return pod ? memoryTrend(pod, s.points, limitOf.get(pod)) : undefined;
      })
      .filter((x): x is MemoryTrend => x !== undefined);
  });

  const sustainedP = sustainedPlan.length
    ? parts.run(PARTS.sustained, async () => {
        const values = new Map<string, number | undefined>();
        await Promise.all(
          sustainedPlan.map(async ({ metric, forMs }) => {
            const stepMs = stepFor(forMs, 30);
            const { expr, scale } = sustainedExpr(metric, shortRateMs);
            const r = await rangeOf(expr, forMs, stepMs);
            const min = sustainedMin(firstSeries(r), {
              startS: endS - forMs / 1000,
              endS,
              stepS: stepMs / 1000,
            });
            values.set(sustainedKey(metric, forMs), min === undefined ? undefined : min * scale);
          }),
        );
        return values;
      })
    : undefined;

  changesP = (async (): Promise<WhatChanged> => {
    const [lat, err, podList, rs, hpas, cms, db] = await Promise.all([
      latencyP,
      errorsP,
      podsP,
      rolloutsP,
      hpaP,
      configMapsP,
      databaseP,
    ]);
    const onsets = [lat.ok ? lat.value.onset : undefined, err.ok ? err.value.onset : undefined].filter(
      (o): o is Onset => o !== undefined,
    );
    // an onset inside the window; none when the trouble began before it (or there is none)
    const onset = onsets.some((o) => o.beforeWindow)
      ? undefined
      : onsets.map((o) => o.at).sort((a, b) => a.getTime() - b.getTime())[0];
    const since = args.changesSince ?? new Date((endS - windowMs / 1000) * 1000);
    const until = onset ?? end;
    const dbHistory = db?.ok ? db.value : undefined;
    const items = collectChanges(
      {
        deployment: service.deployment,
        ...(podList?.ok ? { pods: podList.value } : {}),
        ...(rs?.ok ? { replicaSets: rs.value } : {}),
        ...(hpas?.ok ? { hpas: hpas.value } : {}),
        ...(cms?.ok ? { configMaps: cms.value } : {}),
        ...(dbHistory ? { database: dbHistory } : {}),
      },
      { since, until },
    );
    const markers: Marker[] = [
      ...items.map((c) => ({ time: c.at.getTime() / 1000, label: c.label })),
      ...(onset ? [{ time: onset.getTime() / 1000, label: 'onset', color: '#c92a2a' }] : []),
    ];
    const checked = [
      rs?.ok ? 'rollouts' : '',
      hpas?.ok ? 'HPA scaling' : '',
      cms?.ok ? 'ConfigMap edits' : '',
      podList?.ok ? 'pod restarts' : '',
      dbHistory ? 'PostgreSQL' : '',
    ].filter(Boolean);
    return { items, markers, since, until, onset, checked, ...(dbHistory ? { database: dbHistory } : {}) };
  })();

  const [latency, endpoints, errors, containers, trend, pods, top, replicas, sustained, charts] =
    await Promise.all([
      latencyP,
      endpointsP,
      errorsP,
      containersP,
      trendP,
      podsP,
      topP,
      replicasP,
      sustainedP,
      chartsP,
    ]);

  const [whatChanged, rollouts, hpa, configMaps, database] = await Promise.all([
    changesP,
    rolloutsP,
    hpaP,
    configMapsP,
    databaseP,
  ]);

  // Without Prometheus every Prometheus part fails the same way: say it once.
  const promParts: string[] = [
    PARTS.latency,
    PARTS.endpoints,
    PARTS.errors,
    PARTS.containers,
    PARTS.trend,
    PARTS.charts,
  ];
  if (sustainedP) promParts.push(PARTS.sustained);
  for (const [name, o] of [
    [PARTS.latency, latency],
    [PARTS.endpoints, endpoints],
    [PARTS.errors, errors],
    [PARTS.containers, containers],
    [PARTS.trend, trend],
    [PARTS.pods, pods],
    [PARTS.top, top],
    [PARTS.replicas, replicas],
    [PARTS.sustained, sustained],
    [PARTS.charts, charts],
    [PARTS.rollouts, rollouts],
    [PARTS.hpa, hpa],
    [PARTS.configmaps, configMaps],
    [PARTS.database, database],
  ] as const) {
    if (o && !o.ok && !(prom === undefined && promParts.includes(name)))
      unavailable.push({ part: name, reason: o.reason });
  }
  if (!prom) unavailable.unshift({ part: PARTS.prometheus, reason: noProm });

  const status: PodStatusValues[] | undefined = pods?.ok
    ? pods.value.map((p) => {
        const c = containerOf(p, containerName);
        return {
          name: p.name,
          ...(c?.limits.cpu !== undefined ? { cpuLimitCores: c.limits.cpu } : {}),
          ...(c?.limits.memory !== undefined ? { memoryLimitBytes: c.limits.memory } : {}),
          restarts: c?.restartCount ?? 0,
          oomKilled: c?.oomKilled ?? false,
          ...(c?.lastTermination ? { lastTerminationReason: c.lastTermination.reason } : {}),
          ...(c?.lastTermination?.finishedAt ? { lastTerminatedAt: c.lastTermination.finishedAt } : {}),
          state: c?.state ?? p.phase,
          ready: c?.ready ?? false,
        };
      })
    : undefined;
  const topValues: PodTopValues[] | undefined = top?.ok
    ? top.value.flatMap((p) => {
        const c =
          p.containers.find((x) => x.name === containerName) ??
          (p.containers.length === 1 ? p.containers[0] : undefined);
        return c ? [{ name: p.name, cpuCores: c.cpu, memoryBytes: c.memory }] : [];
      })
    : undefined;
  const podRows = mergePods(
    {
      ...(containers.ok ? { series: containers.value } : {}),
      ...(status ? { status } : {}),
      ...(topValues ? { top: topValues } : {}),
    },
    { cpu: config.baselines.cpu_percent, memory: config.baselines.memory_percent },
  );
  const knownPods = new Set(podRows.map((p) => p.name));
  const replicaInfo = replicas?.ok
    ? { current: replicas.value.replicas, source: 'deployment scale' }
    : podRows.length
      ? { current: podRows.length, source: 'pods seen' }
      : undefined;

  const report = buildLatencyReport({
    service: {
      name: service.name,
      namespace: service.namespace,
      deployment: service.deployment,
      ...(service.container ? { container: service.container } : {}),
    },
    windowMs,
    now: end,
    baselines: config.baselines,
    rules: config.escalationRules,
    actions: config.actions,
    ...(config.grafana ? { grafana: config.grafana } : {}),
    grafanaQueries: [promql.latencyQuantile(t, 0.99, windowMs), promql.topEndpointsByP99(t, windowMs, 10)],
    ...(latency.ok ? { quantiles: latency.value.quantiles } : {}),
    ...(endpoints.ok ? { endpoints: endpoints.value } : {}),
    ...(errors.ok ? { errors: errors.value } : {}),
    pods: podRows,
    ...(trend.ok ? { trends: trend.value.filter((x) => knownPods.size === 0 || knownPods.has(x.pod)) } : {}),
    ...(replicaInfo ? { replicas: replicaInfo } : {}),
    sustained: sustained?.ok ? sustained.value : new Map(),
    unavailable,
  });

  return finishResult(
    {
      step: 'latency',
      service: service.name,
      headline: report.headline,
      findings: whatChanged.checked.length
        ? [
            ...report.findings,
            changesFinding(
              whatChanged.items,
              {
                since: whatChanged.since,
                until: whatChanged.until,
                onset: whatChanged.onset !== undefined,
                now: end,
                checked: whatChanged.checked,
              },
              whatChanged.database,
            ),
          ]
        : report.findings,
      proposals: report.proposals,
      nextSteps: report.nextSteps,
      escalations: report.escalations,
      attachments: charts.ok ? charts.value : [],
      parts: parts.statuses,
      links: report.links,
      startedAt,
    },
    ctx.now(),
  );
}

export const latencyStep: StepDefinition<LatencyArgs, LatencySources> = {
  name: 'latency',
  summary:
    'Identify the bottleneck: latency percentiles, slowest endpoints, errors, CPU and memory of the pods',
  usage: 'latency [service] [window]  (window 1m to 24h, default 5m)',
  runbook: 'Step 1: Identify the Bottleneck',
  parse: (words, { config }) => parseLatencyArgs(words, config),
  run: runLatency,
};
