import { describe, expect, it } from 'vitest';
import type { Finding, Proposal, StepResult } from '../../../src/domain/finding.ts';
import { finishResult } from '../../../src/domain/report.ts';
import type { Severity } from '../../../src/domain/severity.ts';
import { findingTitleLine } from '../../../src/slack/render/finding-blocks.ts';
import { blockProblems, messageProblems, SLACK_LIMITS } from '../../../src/slack/render/limits.ts';
import {
  ensureSendable,
  layoutStepResult,
  MIN_BLOCKS,
  renderStepResult,
} from '../../../src/slack/render/step-result.ts';
import {
  bigGoroutineDump,
  bigTableRows,
  hugeReport,
  latencyReport,
  PAGE_PROPOSAL,
  SCALE_PROPOSAL,
} from './fixtures.ts';
import { buttons, fileText, mrkdwnTexts, prng } from './inspect.ts';

const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });
const button = (extra: Record<string, unknown> = {}) => ({
  type: 'button',
  action_id: 'aegis_step:cpu',
  text: { type: 'plain_text', text: 'CPU' },
  value: '{}',
  ...extra,
});

describe('blockProblems', () => {
  it('accepts a message inside every limit', () => {
    expect(blockProblems([section('x'.repeat(3000)), { type: 'divider' }])).toEqual([]);
  });

  it.each([
    ['a section text over 3000 characters', [section('x'.repeat(3001))], 'limit 3000'],
    ['an empty section text', [section('  ')], 'text is empty'],
    [
      'a header over 150 characters',
      [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }],
      'limit 150',
    ],
    ['a mrkdwn header', [{ type: 'header', text: { type: 'mrkdwn', text: 'h' } }], 'not allowed'],
    ['more than 50 blocks', Array.from({ length: 51 }, () => ({ type: 'divider' })), '51 blocks, limit 50'],
    [
      'more than 10 fields',
      [{ type: 'section', fields: Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'f' })) }],
      '11 fields, limit 10',
    ],
    [
      'a field over 2000 characters',
      [{ type: 'section', fields: [{ type: 'mrkdwn', text: 'f'.repeat(2001) }] }],
      'limit 2000',
    ],
    [
      'more than 10 context elements',
      [{ type: 'context', elements: Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'c' })) }],
      '11 elements, limit 10',
    ],
    [
      'more than 25 buttons',
      [{ type: 'actions', elements: Array.from({ length: 26 }, (_, i) => button({ action_id: `a${i}` })) }],
      '26 elements, limit 25',
    ],
    [
      'a button text over 75 characters',
      [{ type: 'actions', elements: [button({ text: { type: 'plain_text', text: 'b'.repeat(76) } })] }],
      'limit 75',
    ],
    [
      'a button value over 2000 characters',
      [{ type: 'actions', elements: [button({ value: 'v'.repeat(2001) })] }],
      'limit 2000',
    ],
    [
      'two equal action_ids in one block',
      [{ type: 'actions', elements: [button(), button()] }],
      'repeats within the block',
    ],
    [
      'a confirm text over 300 characters',
      [
        {
          type: 'actions',
          elements: [button({ confirm: { text: { type: 'plain_text', text: 't'.repeat(301) } } })],
        },
      ],
      'limit 300',
    ],
    [
      'a confirm button over 30 characters',
      [
        {
          type: 'actions',
          elements: [
            button({
              confirm: {
                text: { type: 'plain_text', text: 't' },
                confirm: { type: 'plain_text', text: 'y'.repeat(31) },
              },
            }),
          ],
        },
      ],
      'limit 30',
    ],
    [
      'a block type render/ never produces',
      [{ type: 'image', image_url: 'https://x', alt_text: 'x' }],
      'unexpected block type',
    ],
  ])('reports %s', (_name, blocks, message) => {
    const problems = blockProblems(blocks);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toContain(message);
  });

  it('holds a message to a lower block budget when asked', () => {
    expect(
      blockProblems(
        Array.from({ length: 12 }, () => ({ type: 'divider' })),
        10,
      ),
    ).toEqual(['message: 12 blocks, limit 10']);
  });

  it('reports an empty or overlong notification text', () => {
    expect(messageProblems({ text: '', blocks: [] })).toEqual(['message: notification text is empty']);
    expect(messageProblems({ text: 't'.repeat(3001), blocks: [] })[0]).toContain('limit 3000');
  });
});

describe('a huge report', () => {
  const huge = hugeReport();

  it.each([50, 40, 30, 20, 15, MIN_BLOCKS])(
    'keeps every Slack limit with a budget of %i blocks',
    (maxBlocks) => {
      const r = layoutStepResult(huge, { maxBlocks });
      expect(messageProblems(r, maxBlocks)).toEqual([]);
      expect(r.blocks.length).toBeLessThanOrEqual(maxBlocks);
    },
  );

  it('uses the full 50 blocks and no more by default', () => {
    expect(renderStepResult(huge).blocks).toHaveLength(SLACK_LIMITS.blocksPerMessage);
  });

  it('accounts for every finding: shown, or counted in the summary, and all of them in the attached report', () => {
    for (const maxBlocks of [50, 25, MIN_BLOCKS]) {
      const r = renderStepResult(huge, { maxBlocks });
      const texts = mrkdwnTexts(r.blocks);
      const shown = huge.findings.filter((f) => texts.some((t) => t.startsWith(findingTitleLine(f))));
      const summary = texts.find((t) => t.startsWith('*+ '));
      const more = Number(/^\*\+ (\d+) more findings\*/.exec(summary ?? '')?.[1] ?? 0);
      expect(shown.length + more).toBe(huge.findings.length);
      expect(summary).toContain('see the attached report (checklist-report.txt)');
      const report = fileText(r.files, 'checklist-report.txt');
      for (const f of huge.findings) expect(report).toContain(f.title);
    }
  });

  it('shows the most urgent findings and collapses the lowest-ranked ones', () => {
    const r = renderStepResult(huge);
    const texts = mrkdwnTexts(r.blocks);
    const shownIndexes = huge.findings
      .map((f, i) => (texts.some((t) => t.startsWith(findingTitleLine(f))) ? i : -1))
      .filter((i) => i >= 0);
    expect(shownIndexes).toEqual(shownIndexes.map((_, i) => i));
  });

  it('carries the 30 KB goroutine dump whole in a file and shows a preview with a marker', () => {
    const r = renderStepResult(huge);
    expect(fileText(r.files, 'checklist-goroutine-dump-debug-2.txt')).toBe(
      `goroutine dump (debug=2)\n\n${bigGoroutineDump().replace(/\n$/, '')}\n`,
    );
    const preview = mrkdwnTexts(r.blocks).find((t) => t.startsWith('*goroutine dump (debug=2)*'));
    expect(preview).toContain(
      '… (truncated, full output in the thread as checklist-goroutine-dump-debug-2.txt)',
    );
  });

  it('carries every row of the 500-row table in a file', () => {
    const r = renderStepResult(huge);
    const lines = fileText(r.files, 'checklist-cpu-by-pod.txt').trimEnd().split('\n');
    expect(lines).toHaveLength(2 + 2 + 500);
    for (const [i, row] of bigTableRows().entries()) {
      expect(lines[4 + i]?.split(/\s+/)).toEqual(row);
    }
  });

  it('offers all 43 proposals and next steps as buttons, with action_ids unique within each block', () => {
    const r = renderStepResult(huge);
    const all = buttons(r.blocks);
    expect(all).toHaveLength(huge.proposals.length + huge.nextSteps.length);
    const values = all.map((b) => JSON.parse(b.value as string));
    const offeredAt = huge.finishedAt.toISOString();
    for (const p of huge.proposals) expect(values).toContainEqual({ ...p, offeredAt });
    expect(new Set(all.map((b) => b.value)).size).toBe(all.length);
  });
});

describe('overlong input', () => {
  const long = (n: number, unit = 'x') => unit.repeat(n);
  const bigProposal: Proposal = {
    ...SCALE_PROPOSAL,
    label: `Scale ${long(200, 'a')}`,
    change: { what: long(400, 'w'), from: '3', to: '5' },
    reason: long(3000, 'r'),
  };
  const hugeParams: Proposal = {
    ...PAGE_PROPOSAL,
    label: 'Page with a novel',
    params: { summary: long(2500, 's') },
  };

  const result: StepResult = finishResult(
    {
      ...latencyReport(),
      step: long(80, 's'),
      service: long(300, 'v'),
      headline: long(10_000, 'h'),
      findings: [
        {
          id: 'f',
          severity: 'critical',
          title: long(4000, 't'),
          summary: long(5000, 'u'),
          evidence: [
            { type: 'text', text: long(6000, 'e') },
            {
              type: 'fields',
              fields: Array.from({ length: 25 }, (_, i) => ({ label: `l${i}`, value: long(5000, 'v') })),
            },
            { type: 'table', title: long(500, 'T'), columns: ['a'], rows: [['1']] },
            { type: 'code', text: long(10_000, 'c') },
          ],
          links: Array.from({ length: 200 }, (_, i) => ({
            label: `link ${i}`,
            url: `https://example.com/${long(50)}`,
          })),
          advice: { quickFix: [long(4000, 'q')], longTerm: Array.from({ length: 300 }, () => 'do better') },
        },
      ],
      proposals: [bigProposal, hugeParams],
      nextSteps: [{ label: long(300, 'n'), step: 'cpu', args: [long(3000, 'a')] }],
      escalations: [{ ...latencyReport().escalations[0]!, observed: long(5000, 'o') }],
      parts: [{ name: 'prom', status: 'unavailable', reason: long(5000, 'r') }],
      links: Array.from({ length: 100 }, (_, i) => ({
        label: `l${i}`,
        url: `https://example.com/${long(40)}`,
      })),
    },
    new Date('2025-03-14T09:27:00.000Z'),
  );

  it('shortens everything to fit, with markers, and never needs the fallback', () => {
    const r = layoutStepResult(result);
    expect(messageProblems(r)).toEqual([]);
    expect(mrkdwnTexts(r.blocks).join('\n')).toContain('… (truncated, full output in the thread as');
  });

  it('attaches the full report, which has the text the message shortened', () => {
    const r = renderStepResult(result);
    const report = r.files.find((f) => f.filename.endsWith('-report.txt'));
    expect(report?.content).toContain(long(10_000, 'h'));
    expect(report?.content).toContain(long(6000, 'e'));
  });

  it('keeps the whole proposal reachable: the value drops only the reason, and an oversized one is named in the footer', () => {
    const r = renderStepResult(result);
    const scale = buttons(r.blocks).find((b) => b.action_id === 'aegis_action:scale');
    const { reason: _r, ...withoutReason } = bigProposal;
    expect(JSON.parse(scale?.value as string)).toEqual({
      ...withoutReason,
      offeredAt: result.finishedAt.toISOString(),
    });
    expect(buttons(r.blocks).some((b) => String(b.action_id).startsWith('aegis_action:page'))).toBe(false);
    expect(mrkdwnTexts(r.blocks).join('\n')).toContain('Page with a novel is too large for a button');
  });
});

describe('ensureSendable', () => {
  it('replaces a message that breaks a limit with a short one pointing to the full report', () => {
    const result = latencyReport();
    const broken = { text: 'x', blocks: [section('x'.repeat(5000))] as never[], files: [] };
    const safe = ensureSendable(broken, result);
    expect(messageProblems(safe)).toEqual([]);
    expect(mrkdwnTexts(safe.blocks).join('\n')).toContain(
      'the full report is in the thread as latency-report.txt',
    );
    expect(fileText(safe.files, 'latency-report.txt')).toContain('CPU 94% on 3 of 4 pods');
  });

  it('passes a sendable message through unchanged', () => {
    const r = layoutStepResult(latencyReport());
    expect(ensureSendable(r, latencyReport())).toBe(r);
  });
});

describe('generated reports', () => {
  const nasty = ['&', '<', '>', '<!channel>', '```', '|', '*', '_', '😀', '\n', ' ', 'é', '@here', 'ab'];
  const severities: Severity[] = ['critical', 'warning', 'normal', 'info', 'unavailable'];

  function text(rand: () => number, max: number): string {
    const n = Math.floor(rand() ** 3 * max);
    let s = '';
    while (s.length < n) s += nasty[Math.floor(rand() * nasty.length)] as string;
    return s || 'x';
  }

  function generate(seed: number): StepResult {
    const rand = prng(seed);
    const count = (max: number) => Math.floor(rand() * max);
    const findings: Finding[] = Array.from({ length: count(80) }, (_, i) => ({
      id: `g.${i}`,
      severity: severities[count(severities.length)] as Severity,
      title: text(rand, 300),
      summary: text(rand, 4000),
      evidence: Array.from({ length: count(4) }, () => {
        switch (count(4)) {
          case 0:
            return { type: 'text' as const, text: text(rand, 4000) };
          case 1:
            return {
              type: 'fields' as const,
              fields: Array.from({ length: count(25) }, () => ({
                label: text(rand, 50),
                value: text(rand, 3000),
              })),
            };
          case 2:
            return {
              type: 'table' as const,
              columns: Array.from({ length: 1 + count(6) }, () => text(rand, 30)),
              rows: Array.from({ length: count(60) }, () =>
                Array.from({ length: count(7) }, () => text(rand, 120)),
              ),
            };
          default:
            return { type: 'code' as const, title: text(rand, 80), text: text(rand, 8000) };
        }
      }),
      links: Array.from({ length: count(4) }, () => ({
        label: text(rand, 40),
        url: `https://x.test/${text(rand, 80)}`,
      })),
      ...(rand() < 0.3
        ? { advice: { quickFix: [text(rand, 500)], longTerm: [text(rand, 500), text(rand, 500)] } }
        : {}),
    }));
    return finishResult(
      {
        step: text(rand, 30),
        service: text(rand, 60),
        headline: text(rand, 400),
        findings,
        proposals: Array.from({ length: count(40) }, () => ({
          ...SCALE_PROPOSAL,
          action: rand() < 0.5 ? ('scale' as const) : ('page' as const),
          label: text(rand, 120),
          reason: text(rand, 600),
          danger: rand() < 0.5,
        })),
        nextSteps: Array.from({ length: count(40) }, () => ({
          label: text(rand, 100),
          step: 'cpu',
          args: [text(rand, 20)],
        })),
        escalations: rand() < 0.5 ? latencyReport().escalations : [],
        attachments: [],
        parts: Array.from({ length: count(15) }, (_, i) => ({
          name: `${text(rand, 20)}${i}`,
          status: rand() < 0.5 ? ('ok' as const) : ('unavailable' as const),
          reason: text(rand, 300),
        })),
        links: [],
        startedAt: new Date('2025-03-14T09:00:00.000Z'),
      },
      new Date('2025-03-14T09:00:07.000Z'),
    );
  }

  it('keep every Slack limit for 60 seeded random reports and budgets', () => {
    for (let seed = 1; seed <= 60; seed += 1) {
      const maxBlocks = MIN_BLOCKS + (seed % (SLACK_LIMITS.blocksPerMessage - MIN_BLOCKS + 1));
      const r = layoutStepResult(generate(seed), { maxBlocks });
      expect(messageProblems(r, maxBlocks), `seed ${seed}, ${maxBlocks} blocks`).toEqual([]);
    }
  });
});
