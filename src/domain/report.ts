import type { Finding, StepResult } from './finding.ts';
import { compareSeverity, worstSeverity } from './severity.ts';

/** Findings most urgent first; ties keep the order the step produced them in. */
export function rankFindings(findings: readonly Finding[]): Finding[] {
  return findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => compareSeverity(a.f.severity, b.f.severity) || a.i - b.i)
    .map(({ f }) => f);
}

type Draft = Omit<StepResult, 'severity' | 'findings' | 'finishedAt'> & { findings: readonly Finding[] };

/** Completes a step result: ranks findings and derives the overall severity from them. */
export function finishResult(draft: Draft, finishedAt: Date = new Date()): StepResult {
  const findings = rankFindings(draft.findings);
  return { ...draft, findings, severity: worstSeverity(findings.map((f) => f.severity)), finishedAt };
}
