import type { ServiceConfig } from '../config/schema.ts';
import { AppError } from '../domain/errors.ts';
import { formatDuration } from '../lib/format.ts';
import { isLabelName, isLegacyLabelName, isLegacyMetricName, isMetricName } from '../lib/prometheus-names.ts';

/**
 * Pure builders of the runbook's PromQL (Step 1 and the Monitoring Queries). Nothing from config or
 * from a user reaches a query unchecked: metric and label names must match Prometheus' name
 * grammar (lib/prometheus-names.ts; a Prometheus 3 UTF-8 name is written quoted), label values are
 * written as double-quoted PromQL strings with backslash, double quote and line breaks escaped, and
 * durations are formatted from milliseconds.
 */

/** Checks a metric name and returns it as it is (series() writes it into a query). */
export function metricName(name: string): string {
  if (!isMetricName(name)) throw new AppError('config', `"${name}" is not a Prometheus metric name`);
  return name;
}

/** Checks a label name and returns it as it is (as results name it); labelName() writes it into a query. */
function checkedLabel(name: string): string {
  labelName(name);
  return name;
}

/** A label name as PromQL writes it: bare (`path`), or quoted when only UTF-8 syntax allows it (`"http.route"`). */
export function labelName(name: string): string {
  if (!isLabelName(name)) throw new AppError('config', `"${name}" is not a Prometheus label name`);
  return isLegacyLabelName(name) ? name : quoteLabelValue(name);
}

/** A PromQL double-quoted string literal holding exactly `value`. */
export function quoteLabelValue(value: string): string {
  let out = '"';
  for (const ch of value) {
    if (ch === '\\') out += '\\\\';
    else if (ch === '"') out += '\\"';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else out += ch;
  }
  return `${out}"`;
}

export type Matcher = { readonly op: '=' | '!=' | '=~' | '!~'; readonly value: string };

function matchers(labels: Readonly<Record<string, string | Matcher>>): string[] {
  return Object.entries(labels).map(([name, v]) => {
    const m: Matcher = typeof v === 'string' ? { op: '=', value: v } : v;
    return `${labelName(name)}${m.op}${quoteLabelValue(m.value)}`;
  });
}

/**
 * `{a="x",b=~"5.."}` from plain equalities and explicit matchers; names checked, values escaped.
 * Empty (no braces) when there is nothing to match.
 */
export function selector(labels: Readonly<Record<string, string | Matcher>>): string {
  const parts = matchers(labels);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/**
 * A vector selector: `name{a="x"}`, or for a name only Prometheus 3's UTF-8 syntax can write,
 * the name quoted inside the braces: `{"http.server.request.duration_bucket",a="x"}`.
 */
export function series(name: string, labels: Readonly<Record<string, string | Matcher>> = {}): string {
  metricName(name);
  if (isLegacyMetricName(name)) return `${name}${selector(labels)}`;
  return `{${[quoteLabelValue(name), ...matchers(labels)].join(',')}}`;
}

/** A range duration `[5m]`, from milliseconds. */
export function range(ms: number): string {
  if (!Number.isFinite(ms) || ms < 1) throw new AppError('usage', `${ms} ms is not a range`);
  return `[${formatDuration(Math.round(ms))}]`;
}

function quantileNumber(q: number): string {
  if (!(q >= 0 && q <= 1)) throw new AppError('usage', `quantile ${q} is not between 0 and 1`);
  return String(q);
}

/** The names every query of the latency step needs; see targetFor() for where they come from. */
export interface PromqlTarget {
  /** Histogram base name; `_bucket` is appended. */
  readonly requestDuration: string;
  readonly requestsTotal: string;
  readonly pathLabel: string;
  readonly statusLabel: string;
  /** Selects the service's own series (config: prometheus.metrics.selector). */
  readonly selector: Readonly<Record<string, string>>;
  /** Selects the service's container series (cAdvisor): namespace, container and the selector. */
  readonly containerSelector: Readonly<Record<string, string>>;
  readonly podLabel: string;
  readonly cadvisor: CadvisorNames;
}

export interface CadvisorNames {
  readonly cpuUsage: string;
  readonly cpuQuota: string;
  readonly cfsPeriods: string;
  readonly cfsThrottled: string;
  readonly memoryUsage: string;
  readonly memoryLimit: string;
}

/** cAdvisor's names, as the runbook's monitoring queries use them. */
export const CADVISOR: CadvisorNames = {
  cpuUsage: 'container_cpu_usage_seconds_total',
  cpuQuota: 'container_spec_cpu_quota',
  cfsPeriods: 'container_cpu_cfs_periods_total',
  cfsThrottled: 'container_cpu_cfs_throttled_periods_total',
  memoryUsage: 'container_memory_usage_bytes',
  memoryLimit: 'container_spec_memory_limit_bytes',
};

/**
 * The runbook's CPU query divides by the quota and multiplies by 100000: the CFS period (100 ms in
 * microseconds) Kubernetes sets. quota / period is the limit in cores.
 */
export const CFS_PERIOD_MICROS = 100000;

/**
 * Names and selectors for a service, from config, defaulting to the runbook's. The container
 * label value is prometheus.metrics.container_label_value, else the service's container, else its
 * deployment. The container series are selected by prometheus.metrics.container_selector, else by
 * the service's selector (which then must be a label both carry: a `job` selector would not match
 * cAdvisor's job).
 */
export function targetFor(service: ServiceConfig): PromqlTarget {
  const m = service.prometheus?.metrics;
  const sel = { ...(m?.selector ?? {}) };
  const container = m?.container_label_value ?? service.container ?? service.deployment;
  const target: PromqlTarget = {
    requestDuration: metricName(m?.request_duration ?? 'aegis_http_request_duration_seconds'),
    requestsTotal: metricName(m?.requests_total ?? 'aegis_http_requests_total'),
    pathLabel: checkedLabel(m?.path_label ?? 'path'),
    statusLabel: checkedLabel(m?.status_label ?? 'status'),
    selector: sel,
    containerSelector: { ...(m?.container_selector ?? sel), namespace: service.namespace, container },
    podLabel: 'pod',
    cadvisor: CADVISOR,
  };
  for (const name of [...Object.keys(target.selector), ...Object.keys(target.containerSelector)])
    labelName(name);
  for (const name of Object.values(target.cadvisor)) metricName(name);
  return target;
}

function bucketRate(t: PromqlTarget, windowMs: number): string {
  return `rate(${series(`${t.requestDuration}_bucket`, t.selector)}${range(windowMs)})`;
}

/** Overall latency quantile (seconds): histogram_quantile over the rate of the buckets summed by le. */
export function latencyQuantile(t: PromqlTarget, q: number, windowMs: number): string {
  return `histogram_quantile(${quantileNumber(q)}, sum by (le) (${bucketRate(t, windowMs)}))`;
}

/** Latency quantile per path (seconds): the runbook's heatmap queries. */
export function latencyQuantileByPath(t: PromqlTarget, q: number, windowMs: number): string {
  return `histogram_quantile(${quantileNumber(q)}, sum by (le, ${labelName(t.pathLabel)}) (${bucketRate(t, windowMs)}))`;
}

/** Step 1 "check by endpoint": the top k paths by P99. */
export function topEndpointsByP99(t: PromqlTarget, windowMs: number, k = 10): string {
  if (!Number.isInteger(k) || k < 1) throw new AppError('usage', `topk needs a positive integer, got ${k}`);
  return `topk(${k}, ${latencyQuantileByPath(t, 0.99, windowMs)})`;
}

/** Request rate by endpoint (requests per second). */
export function requestRateByPath(t: PromqlTarget, windowMs: number): string {
  return `sum by (${labelName(t.pathLabel)}) (rate(${series(t.requestsTotal, t.selector)}${range(windowMs)}))`;
}

/** Total request rate (requests per second). */
export function requestRate(t: PromqlTarget, windowMs: number): string {
  return `sum(rate(${series(t.requestsTotal, t.selector)}${range(windowMs)}))`;
}

/**
 * Error ratio (0..1): 5xx over all requests. With no 5xx series at all the numerator is 0 (not
 * empty); with no requests at all the answer is empty or NaN, which the caller reports as "no traffic".
 */
export function errorRatio(t: PromqlTarget, windowMs: number): string {
  const errors = series(t.requestsTotal, { ...t.selector, [t.statusLabel]: { op: '=~', value: '5..' } });
  const total = series(t.requestsTotal, t.selector);
  return `(sum(rate(${errors}${range(windowMs)})) or vector(0)) / sum(rate(${total}${range(windowMs)}))`;
}

/** 5xx answers per second by endpoint and status code: `sum by (path, status)` of the 5xx series. */
export function errorRateByPathStatus(t: PromqlTarget, windowMs: number): string {
  const errors = selector({ ...t.selector, [t.statusLabel]: { op: '=~', value: '5..' } });
  return `sum by (${labelName(t.pathLabel)}, ${labelName(t.statusLabel)}) (rate(${metricName(t.requestsTotal)}${errors}${range(windowMs)}))`;
}

/**
 * Error ratio (0..1) per endpoint: its 5xx over its requests. An endpoint without 5xx series gets 0
 * (`or` with its total times 0); one without requests is absent.
 */
export function errorRatioByPath(t: PromqlTarget, windowMs: number): string {
  const path = labelName(t.pathLabel);
  const errors = selector({ ...t.selector, [t.statusLabel]: { op: '=~', value: '5..' } });
  const total = `sum by (${path}) (rate(${metricName(t.requestsTotal)}${selector(t.selector)}${range(windowMs)}))`;
  return `(sum by (${path}) (rate(${metricName(t.requestsTotal)}${errors}${range(windowMs)})) or ${total} * 0) / (${total} > 0)`;
}

function byPod(t: PromqlTarget, inner: string): string {
  return `sum by (${labelName(t.podLabel)}) (${inner})`;
}

/** CPU used per pod, in cores. */
export function cpuCoresByPod(t: PromqlTarget, windowMs: number): string {
  return byPod(t, `rate(${series(t.cadvisor.cpuUsage, t.containerSelector)}${range(windowMs)})`);
}

/** CPU limit per pod, in cores (quota / period); pods without a limit are absent. */
export function cpuLimitCoresByPod(t: PromqlTarget): string {
  return `${byPod(t, series(t.cadvisor.cpuQuota, t.containerSelector))} / ${CFS_PERIOD_MICROS} > 0`;
}

/** The runbook's CPU usage query per pod, as a ratio of the limit (0..1). */
export function cpuRatioByPod(t: PromqlTarget, windowMs: number): string {
  return `${cpuCoresByPod(t, windowMs)} / (${cpuLimitCoresByPod(t)})`;
}

/** Memory in use per pod, bytes. */
export function memoryBytesByPod(t: PromqlTarget): string {
  return byPod(t, series(t.cadvisor.memoryUsage, t.containerSelector));
}

/** Memory limit per pod, bytes; pods without a limit are absent. */
export function memoryLimitBytesByPod(t: PromqlTarget): string {
  return `${byPod(t, series(t.cadvisor.memoryLimit, t.containerSelector))} > 0`;
}

/** The runbook's memory usage query per pod, as a ratio of the limit (0..1). */
export function memoryRatioByPod(t: PromqlTarget): string {
  return `${memoryBytesByPod(t)} / (${memoryLimitBytesByPod(t)})`;
}

/** CPU throttling per pod: the share of CFS periods that were throttled (0..1). */
export function throttledRatioByPod(t: PromqlTarget, windowMs: number): string {
  const throttled = series(t.cadvisor.cfsThrottled, t.containerSelector);
  const periods = series(t.cadvisor.cfsPeriods, t.containerSelector);
  return `${byPod(t, `rate(${throttled}${range(windowMs)})`)} / (${byPod(t, `rate(${periods}${range(windowMs)})`)} > 0)`;
}

/** The hottest pod's value of a per-pod expression (for escalation rules). */
export function maxOverPods(expr: string): string {
  return `max(${expr})`;
}
