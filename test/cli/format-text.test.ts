import { describe, expect, it } from 'vitest';
import { formatTextReport } from '../../src/cli/format-text.ts';
import type { Evidence } from '../../src/domain/finding.ts';
import { formatBytes as formatAnyBytes } from '../../src/lib/format.ts';
import { evidenceText, renderTextReport } from '../../src/lib/text-report.ts';
import { alignTable as formatTable } from '../../src/lib/text-table.ts';
import { dbReport, latencyReport } from '../slack/render/fixtures.ts';
import { expectGolden } from '../slack/render/golden.ts';
import { sampleResult } from './fixtures.ts';

/** The CLI lists attachment sizes in the listing style. */
const formatBytes = (n: number) => formatAnyBytes(n, 'listing');
/** Evidence as the terminal layout writes it. */
const formatEvidence = (ev: Evidence) => evidenceText(ev, 'terminal');

describe('formatTable', () => {
  it('pads ragged rows, flattens line breaks in cells, right-aligns numeric columns', () => {
    expect(
      formatTable(['query', 'calls', 'mean'], [['SELECT *\nFROM findings', '1200', '840 ms'], ['VACUUM']]),
    ).toEqual([
      'query                   calls    mean',
      '----------------------  -----  ------',
      'SELECT * FROM findings   1200  840 ms',
      'VACUUM',
    ]);
  });

  it('keeps a text column left-aligned when one cell is not a number', () => {
    expect(
      formatTable(
        ['pod', 'cpu'],
        [
          ['aegis-api-1', '95%'],
          ['aegis-api-2', 'n/a'],
        ],
      ),
    ).toEqual(['pod          cpu', '-----------  ---', 'aegis-api-1  95%', 'aegis-api-2  n/a']);
  });
});

describe('formatEvidence', () => {
  it('indents code under its title and keeps its lines', () => {
    expect(
      formatEvidence({ type: 'code', title: 'goroutine 42', text: 'main.leak()\n\tmain.go:12\n' }),
    ).toEqual(['goroutine 42:', '  main.leak()', '  \tmain.go:12']);
  });
});

describe('formatTextReport', () => {
  it('writes the latency report for a terminal: ranked, one item a line (golden)', () => {
    expectGolden('latency-terminal-report', { lines: formatTextReport(latencyReport()).split('\n') });
  });

  it('writes the database report for a terminal, tables aligned (golden)', () => {
    expectGolden('db-terminal-report', { lines: formatTextReport(dbReport()).split('\n') });
  });

  it('says "No findings." when there are none', () => {
    const text = formatTextReport({
      ...sampleResult([]),
      proposals: [],
      escalations: [],
      nextSteps: [],
      attachments: [],
      parts: [],
      links: [],
    });
    expect(text).toBe(
      'latency · aegis-api · info\nP99 2.4 s CRITICAL, driven by /api/search\n\nNo findings.\n\nFinished in 1.3 s at 2026-03-01T12:00:01.250Z\n',
    );
  });

  it('ranks findings worst first, where the Slack file keeps the step order', () => {
    const ranked = sampleResult();
    const result = { ...ranked, findings: [...ranked.findings].reverse() };
    const numbered = (text: string) => text.split('\n').filter((l) => /^\d+\. /.test(l));
    expect(result.findings.map((f) => f.severity)).toEqual(['warning', 'critical']);
    expect(numbered(formatTextReport(result))[0]).toMatch(/^1\. CRITICAL/);
    expect(numbered(renderTextReport(result))[0]).toMatch(/^1\. \[WARNING\]/);
  });

  it('shows where --out saved each attachment', () => {
    const text = formatTextReport(sampleResult(), { savedAttachments: { 'p99.svg': '/tmp/out/p99.svg' } });
    expect(text).toMatch(/p99\.svg +image\/svg\+xml +14 B {2}saved to \/tmp\/out\/p99\.svg/);
  });
});

describe('formatBytes', () => {
  it('uses B, KiB and MiB', () => {
    expect([formatBytes(512), formatBytes(2048), formatBytes(3 * 2 ** 20)]).toEqual([
      '512 B',
      '2.0 KiB',
      '3.0 MiB',
    ]);
  });
});
