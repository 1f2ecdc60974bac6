/**
 * Severity of a finding. The first three come from the runbook's baseline table; `info` is a fact
 * worth showing that carries no judgement, `unavailable` marks a part whose source could not answer.
 */
export type Severity = 'critical' | 'warning' | 'normal' | 'info' | 'unavailable';

/** Ordered most urgent first: used to rank findings. */
const ORDER: readonly Severity[] = ['critical', 'warning', 'unavailable', 'normal', 'info'];

export function severityRank(severity: Severity): number {
  return ORDER.indexOf(severity);
}

export function compareSeverity(a: Severity, b: Severity): number {
  return severityRank(a) - severityRank(b);
}

export function worstSeverity(severities: Iterable<Severity>): Severity {
  let worst: Severity = 'info';
  for (const s of severities) if (severityRank(s) < severityRank(worst)) worst = s;
  return worst;
}

export const SEVERITY_LABEL: Record<Severity, string> = {
  critical: 'CRITICAL',
  warning: 'WARNING',
  normal: 'normal',
  info: 'info',
  unavailable: 'UNAVAILABLE',
};
