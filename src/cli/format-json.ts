import type { Evidence, Finding, StepResult } from '../domain/finding.ts';
import { rankFindings } from '../domain/report.ts';
import { attachmentBytes } from '../lib/text-report.ts';

/** Version of the JSON report's shape (README: "CLI JSON report"). Raised on any incompatible change. */
export const JSON_REPORT_VERSION = 1;

/**
 * A StepResult as stable JSON: fixed key order, findings ranked, dates in ISO 8601 (UTC), optional
 * fields present only when set, attachments described (filename, title, mimeType, bytes, image, and
 * path when --out saved them), never inlined.
 */
export function toJsonReport(
  result: StepResult,
  savedAttachments: Readonly<Record<string, string>> = {},
): Record<string, unknown> {
  return {
    version: JSON_REPORT_VERSION,
    step: result.step,
    service: result.service,
    severity: result.severity,
    headline: result.headline,
    startedAt: result.startedAt.toISOString(),
    finishedAt: result.finishedAt.toISOString(),
    durationMs: result.finishedAt.getTime() - result.startedAt.getTime(),
    findings: rankFindings(result.findings).map(findingJson),
    escalations: result.escalations.map((e) => ({
      ruleId: e.ruleId,
      condition: e.condition,
      action: e.action,
      prompt: e.prompt,
      observed: e.observed,
    })),
    proposals: result.proposals.map((p) => ({
      action: p.action,
      label: p.label,
      change: { what: p.change.what, from: p.change.from, to: p.change.to },
      service: p.service,
      params: sortKeys(p.params),
      reason: p.reason,
      danger: p.danger,
    })),
    nextSteps: result.nextSteps.map((n) => ({ label: n.label, step: n.step, args: [...n.args] })),
    parts: result.parts.map((p) => ({
      name: p.name,
      status: p.status,
      ...(p.reason !== undefined ? { reason: p.reason } : {}),
    })),
    attachments: result.attachments.map((a) => ({
      filename: a.filename,
      title: a.title,
      mimeType: a.mimeType,
      bytes: attachmentBytes(a),
      image: a.image ?? false,
      ...(savedAttachments[a.filename] ? { path: savedAttachments[a.filename] } : {}),
    })),
    links: result.links.map((l) => ({ label: l.label, url: l.url })),
  };
}

function findingJson(f: Finding): Record<string, unknown> {
  return {
    id: f.id,
    severity: f.severity,
    title: f.title,
    summary: f.summary,
    evidence: f.evidence.map(evidenceJson),
    links: f.links.map((l) => ({ label: l.label, url: l.url })),
    ...(f.advice ? { advice: { quickFix: [...f.advice.quickFix], longTerm: [...f.advice.longTerm] } } : {}),
  };
}

function evidenceJson(e: Evidence): Record<string, unknown> {
  switch (e.type) {
    case 'fields':
      return { type: 'fields', fields: e.fields.map((f) => ({ label: f.label, value: f.value })) };
    case 'table':
      return {
        type: 'table',
        ...(e.title !== undefined ? { title: e.title } : {}),
        columns: [...e.columns],
        rows: e.rows.map((r) => [...r]),
      };
    case 'code':
      return { type: 'code', ...(e.title !== undefined ? { title: e.title } : {}), text: e.text };
    case 'text':
      return { type: 'text', text: e.text };
  }
}

function sortKeys<T>(o: Readonly<Record<string, T>>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function formatJsonReport(
  result: StepResult,
  savedAttachments?: Readonly<Record<string, string>>,
): string {
  return `${JSON.stringify(toJsonReport(result, savedAttachments), null, 2)}\n`;
}
