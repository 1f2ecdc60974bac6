import type { ServiceConfig } from '../config/schema.ts';
import type { RangeResult, TimeRange } from '../sources/prometheus.ts';
import type { ResolvedMetric } from './model.ts';
import type { MetricHistory } from './ports.ts';

/** What the metric history needs of Prometheus: a range query (sources/prometheus.ts has it). */
export interface RangeQuerier {
  rangeQuery(expr: string, range: TimeRange): Promise<RangeResult>;
}

/** At most this many points per read: the step grows with the window. */
const MAX_POINTS = 240;

/**
 * The alert's metric over the incident from the service's Prometheus: the value just before the
 * incident started (the first point of the window), the highest point (the worst: the runbook's alerts
 * fire on values going up), and the last one. With several series, the highest of them at each time.
 */
export function prometheusMetricHistory(
  prometheusFor: (service: ServiceConfig) => RangeQuerier | undefined,
): MetricHistory {
  return {
    async read(expr, service, window): Promise<ResolvedMetric | undefined> {
      const prometheus = prometheusFor(service);
      if (!prometheus) return undefined;
      const span = Math.max(1000, window.to.getTime() - window.from.getTime());
      const stepMs = Math.max(1000, Math.ceil(span / MAX_POINTS / 1000) * 1000);
      const result = await prometheus.rangeQuery(expr, { start: window.from, end: window.to, stepMs });
      const byTime = new Map<number, number>();
      for (const s of result.series) {
        for (const p of s.points) {
          if (!Number.isFinite(p.value)) continue;
          byTime.set(p.time, Math.max(byTime.get(p.time) ?? Number.NEGATIVE_INFINITY, p.value));
        }
      }
      const points = [...byTime.entries()].sort((a, b) => a[0] - b[0]);
      if (points.length === 0) return { expr };
      const worst = points.reduce((w, p) => (p[1] > w[1] ? p : w));
      return {
        expr,
        before: (points[0] as [number, number])[1],
        worst: worst[1],
        worstAt: new Date(worst[0] * 1000),
        now: (points.at(-1) as [number, number])[1],
      };
    },
  };
}
