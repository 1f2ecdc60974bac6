import type { StepResult } from '../domain/finding.ts';
import { renderTextReport } from '../lib/text-report.ts';

export interface TerminalReportOptions {
  /** Where each attachment was written (--out), by filename. */
  readonly savedAttachments?: Readonly<Record<string, string>>;
}

/** `aegis run --format text`: the one plain-text renderer (lib/text-report.ts) in its terminal layout. */
export function formatTextReport(result: StepResult, options: TerminalReportOptions = {}): string {
  return renderTextReport(result, { ...options, layout: 'terminal' });
}
