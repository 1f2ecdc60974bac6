import type { Severity } from './severity.ts';

/**
 * The runbook's Performance Baselines table. Every metric there is "higher is worse".
 *
 * Boundaries (the table leaves gaps between its columns; this is where each one falls):
 *   value <  normal            -> normal    (the table's "Normal <x")
 *   normal <= value <= critical -> warning   (everything between; the Warning column is informative:
 *                                             the value the runbook expects a warning to stay under)
 *   value >  critical           -> critical  (the table's "Critical >x")
 * So P99 = 200 ms is a warning, P99 = 2 s is a warning, P99 = 2.001 s is critical.
 */
export interface Baseline {
  /** Human name, as in the runbook's table. */
  readonly label: string;
  readonly unit: MetricUnit;
  readonly normal: number;
  readonly warning: number;
  readonly critical: number;
}

export type MetricUnit = 'ms' | 'percent';

export const BASELINE_METRICS = [
  'api_p50_latency_ms',
  'api_p99_latency_ms',
  'error_rate_percent',
  'cpu_percent',
  'memory_percent',
  'db_query_ms',
] as const;
export type BaselineMetric = (typeof BASELINE_METRICS)[number];

export type BaselineTable = Record<BaselineMetric, Baseline>;

/** The runbook's Performance Baselines table, exactly as it gives it. Config may override any bound. */
export const RUNBOOK_BASELINES: BaselineTable = {
  api_p50_latency_ms: { label: 'API P50 latency', unit: 'ms', normal: 50, warning: 200, critical: 500 },
  api_p99_latency_ms: { label: 'API P99 latency', unit: 'ms', normal: 200, warning: 500, critical: 2000 },
  error_rate_percent: { label: 'Error rate', unit: 'percent', normal: 0.1, warning: 1, critical: 5 },
  cpu_percent: { label: 'CPU usage', unit: 'percent', normal: 60, warning: 80, critical: 90 },
  memory_percent: { label: 'Memory usage', unit: 'percent', normal: 70, warning: 85, critical: 95 },
  db_query_ms: { label: 'DB query time', unit: 'ms', normal: 50, warning: 200, critical: 1000 },
};

export function classify(value: number, baseline: Baseline): Exclude<Severity, 'info'> {
  if (!Number.isFinite(value)) return 'unavailable';
  if (value < baseline.normal) return 'normal';
  if (value > baseline.critical) return 'critical';
  return 'warning';
}

/** Checks the ordering a baseline must have; returns a message per problem (empty when valid). */
export function baselineProblems(metric: string, b: Baseline): string[] {
  const problems: string[] = [];
  if (!(b.normal <= b.warning && b.warning <= b.critical)) {
    problems.push(
      `${metric}: expected normal <= warning <= critical, got ${b.normal} / ${b.warning} / ${b.critical}`,
    );
  }
  return problems;
}
