import { metricName, type PromqlTarget, range, selector } from '../../sources/promql.ts';

/** PromQL of the checklist, built with promql.ts' checked names and escaped values. */

/** Answers with status 429 over the window. */
export function tooManyRequests(t: PromqlTarget, windowMs: number): string {
  return `sum(increase(${metricName(t.requestsTotal)}${selector({ ...t.selector, [t.statusLabel]: '429' })}${range(windowMs)}))`;
}

export function goroutinesNow(t: PromqlTarget): string {
  return `max(go_goroutines${selector(t.selector)})`;
}

export function goroutinesMax(t: PromqlTarget, windowMs: number): string {
  return `max(max_over_time(go_goroutines${selector(t.selector)}${range(windowMs)}))`;
}

/** Growth over the window of the fastest-growing instance (per-second slope × window). */
export function goroutinesGrowth(t: PromqlTarget, windowMs: number): string {
  return `max(deriv(go_goroutines${selector(t.selector)}${range(windowMs)})) * ${Math.round(windowMs / 1000)}`;
}

export function memoryLimitByPod(t: PromqlTarget): string {
  return `max by (${t.podLabel}) (${metricName(t.cadvisor.memoryLimit)}${selector(t.containerSelector)})`;
}

export function logLinesRate(metric: string, t: PromqlTarget, windowMs: number): string {
  return `sum(rate(${metricName(metric)}${selector(t.selector)}${range(windowMs)}))`;
}

export function requestRate(t: PromqlTarget, windowMs: number): string {
  return `sum(rate(${metricName(t.requestsTotal)}${selector(t.selector)}${range(windowMs)}))`;
}
