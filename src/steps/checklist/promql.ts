import { labelName, type PromqlTarget, range, series } from '../../sources/promql.ts';

/** PromQL of the checklist, built with promql.ts' checked names and escaped values. */

/** Answers with status 429 over the window. */
export function tooManyRequests(t: PromqlTarget, windowMs: number): string {
  return `sum(increase(${series(t.requestsTotal, { ...t.selector, [t.statusLabel]: '429' })}${range(windowMs)}))`;
}

export function goroutinesNow(t: PromqlTarget): string {
  return `max(${series('go_goroutines', t.selector)})`;
}

export function goroutinesMax(t: PromqlTarget, windowMs: number): string {
  return `max(max_over_time(${series('go_goroutines', t.selector)}${range(windowMs)}))`;
}

/** Growth over the window of the fastest-growing instance (per-second slope × window). */
export function goroutinesGrowth(t: PromqlTarget, windowMs: number): string {
  return `max(deriv(${series('go_goroutines', t.selector)}${range(windowMs)})) * ${Math.round(windowMs / 1000)}`;
}

export function memoryLimitByPod(t: PromqlTarget): string {
  return `max by (${labelName(t.podLabel)}) (${series(t.cadvisor.memoryLimit, t.containerSelector)})`;
}

export function logLinesRate(metric: string, t: PromqlTarget, windowMs: number): string {
  return `sum(rate(${series(metric, t.selector)}${range(windowMs)}))`;
}

export function requestRate(t: PromqlTarget, windowMs: number): string {
  return `sum(rate(${series(t.requestsTotal, t.selector)}${range(windowMs)}))`;
}
