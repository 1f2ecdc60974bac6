/** The full report Slack attaches when a message had to leave something out: lib/text-report.ts, file layout. */
export { renderTextReport } from '../../lib/text-report.ts';
