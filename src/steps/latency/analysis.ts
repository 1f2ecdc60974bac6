import type { Severity } from '../../domain/severity.ts';
import { type Baseline, classify } from '../../domain/thresholds.ts';

/**
 * Pure computations of the latency step (runbook Step 1) over what the sources returned: unit
 * conversion, classification, merging Prometheus and Kubernetes views of the pods, the memory
 * trend, sustained minimums for escalation rules, and the scale target.
 */

// ---------------------------------------------------------------------------------------------
// values and classification

/** Latency quantiles in milliseconds; undefined when there was no traffic to compute them from. */
export interface Quantiles {
  readonly p50?: number;
  readonly p95?: number;
  readonly p99?: number;
}

/**
 * Prometheus seconds to milliseconds. NaN (no requests) becomes undefined; +Inf (the quantile lies
 * in the histogram's +Inf bucket, beyond its largest bound) stays Infinity and classifies critical.
 */
export function secondsToMs(seconds: number | undefined): number | undefined {
  if (seconds === undefined || Number.isNaN(seconds)) return undefined;
  if (seconds === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  if (!Number.isFinite(seconds) || seconds < 0) return undefined;
  return seconds * 1000;
}

/** A ratio (0..1) as percent; NaN and infinities (a zero limit, no traffic) become undefined. */
export function ratioToPercent(ratio: number | undefined): number | undefined {
  if (ratio === undefined || !Number.isFinite(ratio) || ratio < 0) return undefined;
  return ratio * 100;
}

/**
 * Classifies against a baseline row (see domain/thresholds.ts for where each boundary falls:
 * below Normal is normal, above Critical is critical, everything between, both bounds included,
 * is warning). A latency beyond the histogram's largest bucket (Infinity) is critical.
 */
export function classifyValue(value: number | undefined, baseline: Baseline): Severity {
  if (value === undefined) return 'info';
  if (value === Number.POSITIVE_INFINITY) return 'critical';
  return classify(value, baseline);
}

// ---------------------------------------------------------------------------------------------
// formatting

export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return 'n/a';
  if (ms === Number.POSITIVE_INFINITY) return 'beyond the largest bucket';
  if (ms === 0) return '0 ms';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

export function formatPercent(p: number | undefined): string {
  if (p === undefined) return 'n/a';
  if (p === 0) return '0%';
  if (p < 0.01) return '<0.01%';
  if (p < 1) return `${p.toFixed(2)}%`;
  if (p < 10) return `${p.toFixed(1)}%`;
  return `${Math.round(p)}%`;
}

export function formatCores(cores: number | undefined): string {
  if (cores === undefined) return 'n/a';
  if (cores < 1) return `${Math.round(cores * 1000)}m`;
  return `${Number(cores.toFixed(2))} ${cores === 1 ? 'core' : 'cores'}`;
}

export function formatRate(rps: number | undefined): string {
  if (rps === undefined) return 'n/a';
  if (rps === 0) return '0/s';
  if (rps < 10) return `${rps.toFixed(2)}/s`;
  return `${Math.round(rps)}/s`;
}

// ---------------------------------------------------------------------------------------------
// endpoints

export interface PathValue {
  readonly path: string;
  /** In Prometheus' unit: seconds for quantiles, requests per second for rates. */
  readonly value: number;
}

export interface EndpointRow {
  readonly path: string;
  readonly p50?: number;
  readonly p95?: number;
  readonly p99?: number;
  /** Requests per second. */
  readonly rate?: number;
  /** The P99 classified against the P99 baseline. */
  readonly severity: Severity;
}

/**
 * The top endpoints by P99 (the order of the topk answer is not guaranteed, so sorted here: highest
 * P99 first, endpoints without traffic last), with their P50, P95 and request rate.
 */
export function buildEndpoints(
  input: {
    readonly p99: readonly PathValue[];
    readonly p95?: readonly PathValue[];
    readonly p50?: readonly PathValue[];
    readonly rate?: readonly PathValue[];
  },
  p99Baseline: Baseline,
  limit = 10,
): EndpointRow[] {
  const lookup = (list: readonly PathValue[] | undefined, path: string) =>
    list?.find((v) => v.path === path)?.value;
  const rows = input.p99.map((v): EndpointRow => {
    const p99 = secondsToMs(v.value);
    const p95 = secondsToMs(lookup(input.p95, v.path));
    const p50 = secondsToMs(lookup(input.p50, v.path));
    const rate = lookup(input.rate, v.path);
    return {
      path: v.path,
      ...(p50 !== undefined ? { p50 } : {}),
      ...(p95 !== undefined ? { p95 } : {}),
      ...(p99 !== undefined ? { p99 } : {}),
      ...(rate !== undefined && Number.isFinite(rate) ? { rate } : {}),
      severity: classifyValue(p99, p99Baseline),
    };
  });
  rows.sort((a, b) => (b.p99 ?? -1) - (a.p99 ?? -1) || a.path.localeCompare(b.path));
  return rows.slice(0, limit);
}

/**
 * The endpoint that drives the overall P99: of the endpoints whose own P99 reaches the overall P99
 * (within 10%, for the histogram's interpolation), the one with the highest P99. None when the
 * overall P99 is unknown or no endpoint reaches it.
 */
export function drivingEndpoint(
  endpoints: readonly EndpointRow[],
  overallP99: number | undefined,
): EndpointRow | undefined {
  if (overallP99 === undefined) return undefined;
  const candidates = endpoints.filter(
    (e) => e.p99 !== undefined && e.p99 >= overallP99 * 0.9 && (e.rate ?? 1) > 0,
  );
  return candidates.sort((a, b) => (b.p99 ?? 0) - (a.p99 ?? 0))[0];
}

// ---------------------------------------------------------------------------------------------
// pods

/** What Prometheus' container series say, per pod. */
export interface PodSeriesValues {
  readonly cpuCores: ReadonlyMap<string, number>;
  readonly cpuLimitCores: ReadonlyMap<string, number>;
  readonly memoryBytes: ReadonlyMap<string, number>;
  readonly memoryLimitBytes: ReadonlyMap<string, number>;
  /** 0..1 */
  readonly throttledRatio: ReadonlyMap<string, number>;
}

/** What the Kubernetes API says of a pod's container (from PodInfo and PodUsage). */
export interface PodStatusValues {
  readonly name: string;
  readonly cpuLimitCores?: number;
  readonly memoryLimitBytes?: number;
  readonly restarts: number;
  readonly oomKilled: boolean;
  readonly lastTerminationReason?: string;
  readonly lastTerminatedAt?: Date;
  readonly state: string;
  readonly ready: boolean;
}

export interface PodTopValues {
  readonly name: string;
  readonly cpuCores: number;
  readonly memoryBytes: number;
}

export interface PodRow {
  readonly name: string;
  readonly cpuCores?: number;
  readonly cpuLimitCores?: number;
  readonly cpuPercent?: number;
  /** Where the CPU figure comes from: the window's average (Prometheus) or kubectl top (metrics.k8s.io). */
  readonly cpuSource?: 'prometheus' | 'metrics.k8s.io';
  readonly memoryBytes?: number;
  readonly memoryLimitBytes?: number;
  readonly memoryPercent?: number;
  readonly memorySource?: 'prometheus' | 'metrics.k8s.io';
  readonly throttledPercent?: number;
  /** kubectl top's figures (metrics.k8s.io, about the last 15 s), when the cluster answered. */
  readonly top?: { readonly cpuCores: number; readonly memoryBytes: number };
  readonly restarts?: number;
  readonly oomKilled?: boolean;
  readonly lastTerminationReason?: string;
  readonly lastTerminatedAt?: Date;
  readonly state?: string;
  readonly ready?: boolean;
  readonly cpuSeverity: Severity;
  readonly memorySeverity: Severity;
}

function percentOf(used: number | undefined, limit: number | undefined): number | undefined {
  if (used === undefined || limit === undefined || !(limit > 0) || !Number.isFinite(used)) return undefined;
  return (used / limit) * 100;
}

/**
 * One row per pod, from whichever sources answered. Prometheus (the window's average) is preferred
 * for CPU and memory; kubectl top (metrics.k8s.io, the last ~15 s) fills in when Prometheus has no
 * container series. Limits come from Prometheus' cAdvisor series or else the pod spec. When the
 * Kubernetes API listed the deployment's pods, pods it does not know (gone since) are left out.
 */
export function mergePods(
  input: {
    readonly series?: PodSeriesValues;
    readonly status?: readonly PodStatusValues[];
    readonly top?: readonly PodTopValues[];
  },
  baselines: { readonly cpu: Baseline; readonly memory: Baseline },
): PodRow[] {
  const names = new Set<string>();
  const s = input.series;
  if (s) for (const m of [s.cpuCores, s.memoryBytes]) for (const k of m.keys()) names.add(k);
  for (const p of input.top ?? []) names.add(p.name);
  for (const p of input.status ?? []) names.add(p.name);
  const listed = input.status?.length ? new Set(input.status.map((p) => p.name)) : undefined;

  const rows: PodRow[] = [];
  for (const name of names) {
    if (listed && !listed.has(name)) continue;
    const st = input.status?.find((p) => p.name === name);
    const top = input.top?.find((p) => p.name === name);
    const cpuLimitCores = s?.cpuLimitCores.get(name) ?? st?.cpuLimitCores;
    const memoryLimitBytes = s?.memoryLimitBytes.get(name) ?? st?.memoryLimitBytes;
    const promCpu = s?.cpuCores.get(name);
    const promMem = s?.memoryBytes.get(name);
    const cpuCores = promCpu ?? top?.cpuCores;
    const memoryBytes = promMem ?? top?.memoryBytes;
    const cpuPercent = percentOf(cpuCores, cpuLimitCores);
    const memoryPercent = percentOf(memoryBytes, memoryLimitBytes);
    const throttled = ratioToPercent(s?.throttledRatio.get(name));
    rows.push({
      name,
      ...(cpuCores !== undefined
        ? { cpuCores, cpuSource: promCpu !== undefined ? 'prometheus' : 'metrics.k8s.io' }
        : {}),
      ...(cpuLimitCores !== undefined ? { cpuLimitCores } : {}),
      ...(cpuPercent !== undefined ? { cpuPercent } : {}),
      ...(memoryBytes !== undefined
        ? { memoryBytes, memorySource: promMem !== undefined ? 'prometheus' : 'metrics.k8s.io' }
        : {}),
      ...(memoryLimitBytes !== undefined ? { memoryLimitBytes } : {}),
      ...(memoryPercent !== undefined ? { memoryPercent } : {}),
      ...(throttled !== undefined ? { throttledPercent: throttled } : {}),
      ...(top ? { top: { cpuCores: top.cpuCores, memoryBytes: top.memoryBytes } } : {}),
      ...(st
        ? {
            restarts: st.restarts,
            oomKilled: st.oomKilled,
            state: st.state,
            ready: st.ready,
            ...(st.lastTerminationReason ? { lastTerminationReason: st.lastTerminationReason } : {}),
            ...(st.lastTerminatedAt ? { lastTerminatedAt: st.lastTerminatedAt } : {}),
          }
        : {}),
      cpuSeverity: classifyValue(cpuPercent, baselines.cpu),
      memorySeverity: classifyValue(memoryPercent, baselines.memory),
    });
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

/** The pod using the most of its CPU limit (or the most cores when limits are unknown). */
export function hottestPod(pods: readonly PodRow[], by: 'cpu' | 'memory'): PodRow | undefined {
  const key = (p: PodRow) =>
    by === 'cpu'
      ? (p.cpuPercent ?? (p.cpuCores ?? -1) * 1e-6)
      : (p.memoryPercent ?? (p.memoryBytes ?? -1) * 1e-15);
  const withData = pods.filter((p) =>
    by === 'cpu' ? p.cpuCores !== undefined : p.memoryBytes !== undefined,
  );
  return [...withData].sort((a, b) => key(b) - key(a))[0];
}

// ---------------------------------------------------------------------------------------------
// memory trend ("gradual memory increase")

export interface MemoryTrend {
  readonly pod: string;
  readonly startBytes: number;
  readonly endBytes: number;
  /** Least-squares slope, bytes per hour. */
  readonly slopeBytesPerHour: number;
  /** How well a straight line fits (0..1). */
  readonly r2: number;
  /** The window's increase as a share of the limit, percent (when the limit is known). */
  readonly increasePercentOfLimit?: number;
  /** When the line reaches the limit, if it keeps rising. */
  readonly reachesLimitAt?: Date;
  /** A steady rise: slope > 0, a good fit (r² >= 0.6) and an increase of >= 5% of the limit (>= 10% of the start without a limit). */
  readonly rising: boolean;
}

/** Fits a line to a pod's memory over the window (points: seconds since epoch, bytes). */
export function memoryTrend(
  pod: string,
  points: readonly { readonly time: number; readonly value: number }[],
  limitBytes?: number,
): MemoryTrend | undefined {
  const pts = points.filter((p) => Number.isFinite(p.value));
  if (pts.length < 5) return undefined;
  const n = pts.length;
  const t0 = pts[0]?.time ?? 0;
  let sx = 0;
  let sy = 0;
  for (const p of pts) {
    sx += p.time - t0;
    sy += p.value;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const p of pts) {
    const dx = p.time - t0 - mx;
    const dy = p.value - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0) return undefined;
  const slope = sxy / sxx; // bytes per second
  const r2 = syy === 0 ? 0 : (sxy * sxy) / (sxx * syy);
  const first = pts[0] as { time: number; value: number };
  const last = pts[n - 1] as { time: number; value: number };
  const fittedStart = my - slope * mx;
  const fittedEnd = my + slope * (last.time - t0 - mx);
  const increase = fittedEnd - fittedStart;
  const increasePercentOfLimit = limitBytes && limitBytes > 0 ? (increase / limitBytes) * 100 : undefined;
  const bigEnough =
    increasePercentOfLimit !== undefined
      ? increasePercentOfLimit >= 5
      : first.value > 0 && increase / first.value >= 0.1;
  const rising = slope > 0 && r2 >= 0.6 && bigEnough;
  let reachesLimitAt: Date | undefined;
  if (rising && limitBytes && limitBytes > last.value) {
    reachesLimitAt = new Date((last.time + (limitBytes - last.value) / slope) * 1000);
  }
  return {
    pod,
    startBytes: first.value,
    endBytes: last.value,
    slopeBytesPerHour: slope * 3600,
    r2,
    ...(increasePercentOfLimit !== undefined ? { increasePercentOfLimit } : {}),
    ...(reachesLimitAt ? { reachesLimitAt } : {}),
    rising,
  };
}

// ---------------------------------------------------------------------------------------------
// sustained conditions (escalation rules with a duration)

/**
 * The lowest value over [start, end] from a range query's points (seconds since epoch), or
 * undefined when the points do not cover the period: a gap, a missing start or end, or NaN
 * (no traffic) counts as not covered, so "above X for 5 min" never fires on a partial window.
 */
export function sustainedMin(
  points: readonly { readonly time: number; readonly value: number }[] | undefined,
  period: { readonly startS: number; readonly endS: number; readonly stepS: number },
): number | undefined {
  if (!points || points.length === 0) return undefined;
  const { startS, endS, stepS } = period;
  const inside = points.filter((p) => p.time >= startS - stepS / 2 && p.time <= endS + stepS / 2);
  if (inside.length === 0 || inside.some((p) => Number.isNaN(p.value))) return undefined;
  const first = inside[0] as { time: number };
  const last = inside[inside.length - 1] as { time: number };
  if (first.time > startS + stepS * 1.5 || last.time < endS - stepS * 1.5) return undefined;
  for (let i = 1; i < inside.length; i++) {
    if ((inside[i] as { time: number }).time - (inside[i - 1] as { time: number }).time > stepS * 2.5)
      return undefined;
  }
  return Math.min(...inside.map((p) => p.value));
}

/** The step of a range query over `periodMs`: about 60 points, at least 1 s, whole seconds. */
export function stepFor(periodMs: number, points = 60): number {
  return Math.max(1000, Math.ceil(periodMs / points / 1000) * 1000);
}

// ---------------------------------------------------------------------------------------------
// scaling

// ---------------------------------------------------------------------------------------------
// errors by endpoint and their onset

/** One endpoint's 5xx answers over the window. */
export interface ErrorEndpoint {
  readonly path: string;
  /** 5xx answers per second, all codes together. */
  readonly errorsPerSecond: number;
  /** Its 5xx ratio, 5xx over its requests (percent); undefined when its request rate is unknown. */
  readonly ratioPercent?: number;
  /** Its share of all 5xx answers of the service (percent). */
  readonly sharePercent: number;
  /** 5xx answers per second by status code, most first. */
  readonly statuses: readonly { readonly status: string; readonly perSecond: number }[];
}

/**
 * 5xx by endpoint from `sum by (path, status)` of the 5xx rate and `sum by (path)` of all requests:
 * the endpoints that answered 5xx at all, highest 5xx ratio first (then largest share of all 5xx).
 */
export function buildErrorEndpoints(
  errors: readonly { readonly path: string; readonly status: string; readonly value: number }[],
  requests: readonly PathValue[],
): ErrorEndpoint[] {
  const byPath = new Map<string, { status: string; perSecond: number }[]>();
  for (const e of errors) {
    if (!Number.isFinite(e.value) || e.value <= 0) continue;
    const list = byPath.get(e.path) ?? [];
    list.push({ status: e.status, perSecond: e.value });
    byPath.set(e.path, list);
  }
  const total = [...byPath.values()].flat().reduce((n, s) => n + s.perSecond, 0);
  const rateOf = new Map(requests.filter((r) => Number.isFinite(r.value)).map((r) => [r.path, r.value]));
  return [...byPath.entries()]
    .map(([path, statuses]): ErrorEndpoint => {
      const errorsPerSecond = statuses.reduce((n, s) => n + s.perSecond, 0);
      const rate = rateOf.get(path);
      return {
        path,
        errorsPerSecond,
        ...(rate !== undefined && rate > 0
          ? { ratioPercent: Math.min(100, (errorsPerSecond / rate) * 100) }
          : {}),
        sharePercent: (errorsPerSecond / total) * 100,
        statuses: [...statuses].sort((a, b) => b.perSecond - a.perSecond || a.status.localeCompare(b.status)),
      };
    })
    .sort(
      (a, b) =>
        (b.ratioPercent ?? -1) - (a.ratioPercent ?? -1) ||
        b.sharePercent - a.sharePercent ||
        a.path.localeCompare(b.path),
    );
}

export interface Onset {
  readonly at: Date;
  readonly ongoing: boolean;
  readonly beforeWindow: boolean;
  readonly until?: Date;
}

/**
 * When a value rose above `bound` within a range query's points: the first point of the last run of
 * points above the bound (the first sample above it that stays above). `ongoing` when that run
 * reaches the last point; otherwise `until` is the run's last point. `beforeWindow` when the run
 * starts at the window's first sample (within 1.5 steps of `window.startS`): it rose before the
 * window, so there is no onset within it. A series that begins later (a new service, a new
 * endpoint) has its onset at its first point. Undefined when no point is above the bound. NaN (no
 * traffic) breaks a run.
 */
export function onsetAbove(
  points: readonly { readonly time: number; readonly value: number }[],
  bound: number,
  window: { readonly startS: number; readonly stepS: number },
): Onset | undefined {
  let end = points.length - 1;
  while (end >= 0 && !((points[end] as { value: number }).value > bound)) end--;
  if (end < 0) return undefined;
  let start = end;
  while (start > 0 && (points[start - 1] as { value: number }).value > bound) start--;
  const ongoing = end === points.length - 1;
  return {
    at: new Date((points[start] as { time: number }).time * 1000),
    ongoing,
    beforeWindow: (points[start] as { time: number }).time <= window.startS + window.stepS * 1.5,
    ...(ongoing ? {} : { until: new Date((points[end] as { time: number }).time * 1000) }),
  };
}
