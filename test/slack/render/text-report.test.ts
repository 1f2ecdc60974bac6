import { describe, expect, it } from 'vitest';
import { alignTable } from '../../../src/lib/text-table.ts';
import { renderTextReport } from '../../../src/slack/render/text-report.ts';
import { bigGoroutineDump, dbReport, hugeReport, latencyReport } from './fixtures.ts';
import { expectGolden } from './golden.ts';

describe('renderTextReport', () => {
  it('writes the latency report as plain text (golden)', () => {
    expectGolden('latency-text-report', { lines: renderTextReport(latencyReport()).split('\n') });
  });

  it('writes the database report as plain text, long SQL whole (golden)', () => {
    const text = renderTextReport(dbReport());
    expectGolden('db-text-report', { lines: text.split('\n') });
    expect(text).toContain(
      'SELECT f.id, f.title, f.severity, a.hostname FROM findings f JOIN assets a ON a.id = f.asset_id WHERE f.status = $1 ORDER BY f.created_at DESC LIMIT $2',
    );
  });

  it('leaves nothing out of a huge report: every finding, the whole dump, every row', () => {
    const result = hugeReport();
    const text = renderTextReport(result);
    for (const f of result.findings) expect(text).toContain(f.title);
    for (const line of bigGoroutineDump()
      .split('\n')
      .filter((l) => l !== ''))
      expect(text).toContain(line);
    expect(text).toContain('aegis-api-7d9f8b6c4-p499');
    for (const s of result.nextSteps) expect(text).toContain(s.label);
    for (const p of result.proposals) expect(text).toContain(p.label);
  });

  it('contains no Slack markup', () => {
    const text = renderTextReport(latencyReport());
    expect(text).not.toMatch(/:[a-z_]+:|&amp;|&lt;|<https?:/);
  });
});

describe('alignTable', () => {
  it('aligns text columns left and numeric columns right under a rule', () => {
    expect(
      alignTable(
        ['state', 'count'],
        [
          ['active', '42'],
          ['idle in transaction', '3'],
        ],
      ),
    ).toEqual([
      'state                count',
      '-------------------  -----',
      'active                  42',
      'idle in transaction      3',
    ]);
  });

  it('fills short rows, keeps extra cells, flattens newlines and shortens cells when asked', () => {
    expect(alignTable(['a', 'b'], [['x'], ['1', '2', 'extra\nline']], { maxCellWidth: 4 })).toEqual([
      'a  b',
      '-  -  ----',
      'x',
      '1  2  ext…',
    ]);
  });
});
