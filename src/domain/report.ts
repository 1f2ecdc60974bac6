import type { Finding, HeadlinePhrase, StepResult } from './finding.ts';
import { compareSeverity, SEVERITY_LABEL, type Severity, worstSeverity } from './severity.ts';

/**
 * Findings most urgent first. Within one severity the finding with the larger impact (share of
 * traffic, CPU, heap or time; an unknown impact counts as none) leads; ties keep the step's order.
 */
export function rankFindings(findings: readonly Finding[]): Finding[] {
  return findings
    .map((f, i) => ({ f, i }))
    .sort(
      (a, b) =>
        compareSeverity(a.f.severity, b.f.severity) || (b.f.impact ?? 0) - (a.f.impact ?? 0) || a.i - b.i,
    )
    .map(({ f }) => f);
}

const JUDGED: readonly Severity[] = ['critical', 'warning'];

/** The finding a headline leads with: the worst one when it is critical or a warning. */
export function leadFinding(findings: readonly Finding[]): Finding | undefined {
  const first = rankFindings(findings)[0];
  return first && JUDGED.includes(first.severity) ? first : undefined;
}

/** "P99 215 ms WARNING, driven by /api/search": a finding's phrase with its severity word. */
export function headlinePhrase(phrase: HeadlinePhrase, severity: Severity): string {
  return `${phrase.text} ${SEVERITY_LABEL[severity]}${phrase.suffix ?? ''}`;
}

/**
 * The one way every step builds its headline, worst first: the critical and warning findings in
 * rankFindings' order (so the first is the report's worst finding and carries the report's severity
 * word), each as its headline phrase (its title when it has none; left out when the phrase of the
 * finding it names as `coveredBy` came first), at most `max` of them; then the
 * step's own summary pieces (`rest`), which carry no judgement of their own (counts, or what was
 * unavailable). When no finding is critical or warning, the headline is `rest` alone.
 */
export function worstFirstHeadline(
  findings: readonly Finding[],
  rest: readonly string[],
  options: { readonly max?: number } = {},
): string {
  const seen = new Set<string>();
  const shown = new Set<string>();
  const judged: string[] = [];
  for (const f of rankFindings(findings)) {
    if (!JUDGED.includes(f.severity)) break;
    const covered = f.headline?.coveredBy;
    if (covered !== undefined && shown.has(covered)) continue;
    const text = headlinePhrase(f.headline ?? { text: f.title }, f.severity);
    if (seen.has(text)) continue;
    seen.add(text);
    shown.add(f.id);
    judged.push(text);
  }
  return [...judged.slice(0, options.max ?? judged.length), ...rest.filter((r) => r !== '')].join('; ');
}

type Draft = Omit<StepResult, 'severity' | 'findings' | 'finishedAt'> & { findings: readonly Finding[] };

/** Completes a step result: ranks findings and derives the overall severity from them. */
export function finishResult(draft: Draft, finishedAt: Date = new Date()): StepResult {
  const findings = rankFindings(draft.findings);
  return { ...draft, findings, severity: worstSeverity(findings.map((f) => f.severity)), finishedAt };
}
