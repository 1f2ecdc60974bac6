import type { Escalation, EscalationAction } from './finding.ts';
import type { BaselineMetric } from './thresholds.ts';

/**
 * One row of the runbook's escalation table. `forMs` > 0 means the condition must hold for that long
 * (every sample over the last forMs above the threshold), not in one sample.
 */
export interface EscalationRule {
  readonly id: string;
  readonly metric: BaselineMetric;
  readonly above: number;
  readonly forMs: number;
  readonly action: EscalationAction;
  /** The runbook's words, shown on the report. */
  readonly prompt: string;
  /** Page without a click (only for page_immediately rules, and only when config allows). */
  readonly autoPage: boolean;
}

/** The runbook's escalation table as default rules. */
export const RUNBOOK_ESCALATION_RULES: readonly EscalationRule[] = [
  {
    id: 'p99-sustained',
    metric: 'api_p99_latency_ms',
    above: 2000,
    forMs: 5 * 60_000,
    action: 'page',
    prompt: 'P99 > 2s for > 5 min: page on-call',
    autoPage: false,
  },
  {
    id: 'cpu-high',
    metric: 'cpu_percent',
    above: 90,
    forMs: 0,
    action: 'scale_and_page',
    prompt: 'CPU > 90%: scale and page on-call',
    autoPage: false,
  },
  {
    id: 'memory-high',
    metric: 'memory_percent',
    above: 90,
    forMs: 0,
    action: 'scale_and_page',
    prompt: 'Memory > 90%: scale and page on-call',
    autoPage: false,
  },
  {
    id: 'error-rate',
    metric: 'error_rate_percent',
    above: 5,
    forMs: 0,
    action: 'page_immediately',
    prompt: 'Error rate > 5%: page on-call immediately',
    autoPage: false,
  },
  {
    id: 'db-query-long',
    metric: 'db_query_ms',
    above: 30_000,
    forMs: 0,
    action: 'cancel_query',
    prompt: 'DB query > 30s: kill the query, investigate',
    autoPage: false,
  },
];

/**
 * What a step observed for one metric. `sustained(forMs)` answers the lowest value over the last
 * forMs (so "above X for forMs" is `sustained(forMs) > X`), or undefined when the window is not covered.
 */
export interface Observation {
  readonly value: number;
  readonly display: string;
  readonly sustained?: (forMs: number) => number | undefined;
}

export function evaluateEscalations(
  rules: readonly EscalationRule[],
  observations: Partial<Record<BaselineMetric, Observation>>,
): Escalation[] {
  const fired: Escalation[] = [];
  for (const rule of rules) {
    const obs = observations[rule.metric];
    if (!obs) continue;
    const value = rule.forMs > 0 ? obs.sustained?.(rule.forMs) : obs.value;
    if (value === undefined || !(value > rule.above)) continue;
    fired.push({
      ruleId: rule.id,
      condition: rule.prompt.split(':')[0] ?? rule.prompt,
      action: rule.action,
      prompt: rule.prompt,
      observed: obs.display,
    });
  }
  return fired;
}
