import { describe, expect, it } from 'vitest';
import type { StepResult } from '../../../src/domain/finding.ts';
import { finishResult } from '../../../src/domain/report.ts';
import { escapeCode, escapeMrkdwn, link, truncateMrkdwn } from '../../../src/slack/render/mrkdwn.ts';
import { renderError, renderUsage } from '../../../src/slack/render/notices.ts';
import { renderProgress } from '../../../src/slack/render/progress.ts';
import { renderStepResult } from '../../../src/slack/render/step-result.ts';
import { latencyReport, SCALE_PROPOSAL } from './fixtures.ts';
import { mrkdwnTexts, textObjects } from './inspect.ts';

const HOSTILE = '<!channel> ping <@U024BE7LH> & <#C0123|incident> <https://evil.example|login> @here';

/**
 * Mrkdwn that Slack would turn into a mention, a channel link or a broadcast, or a link the renderer
 * did not make itself (its own links are an http(s) URL and an escaped label; its dates are <!date^…>).
 */
function controlSequences(text: string): string[] {
  const found = [...text.matchAll(/<([^>]*)>/g)].map((m) => m[1] as string);
  return found.filter((inner) => !/^(https?:\/\/[^\s|<>]+\|[^<>]+|!date\^\d+\^[^|]*\|[^<>]+)$/.test(inner));
}

function hostileReport(): StepResult {
  const base = latencyReport();
  return finishResult(
    {
      ...base,
      service: HOSTILE,
      headline: HOSTILE,
      findings: [
        {
          id: 'x',
          severity: 'critical',
          title: HOSTILE,
          summary: HOSTILE,
          evidence: [
            { type: 'text', text: HOSTILE },
            { type: 'fields', fields: [{ label: HOSTILE, value: HOSTILE }] },
            { type: 'table', title: HOSTILE, columns: [HOSTILE], rows: [[HOSTILE]] },
            { type: 'code', title: HOSTILE, text: `${HOSTILE}\n\`\`\`\n<!everyone>` },
          ],
          links: [
            { label: HOSTILE, url: 'https://x.test/a?b=1&c=<2>|d' },
            { label: 'not a web link', url: '!channel' },
          ],
          advice: { quickFix: [HOSTILE], longTerm: [HOSTILE] },
        },
      ],
      escalations: [{ ...base.escalations[0]!, prompt: HOSTILE, observed: HOSTILE }],
      parts: [{ name: HOSTILE, status: 'unavailable', reason: HOSTILE }],
      links: [{ label: HOSTILE, url: 'https://grafana.example.com/d/x' }],
    },
    base.finishedAt,
  );
}

describe('escaping source text', () => {
  it('escapes &, < and > and defuses plain broadcasts', () => {
    expect(escapeMrkdwn('a & b <!here> > c @channel @Here')).toBe(
      'a &amp; b &lt;!here&gt; &gt; c @\u200bchannel @\u200bHere',
    );
  });

  it('keeps a ``` in code from closing the code block', () => {
    expect(escapeCode('a\n```\nb')).not.toContain('```');
  });

  it('lets no source text form a mention, channel link, broadcast or link anywhere in a step report', () => {
    const r = renderStepResult(hostileReport());
    const texts = mrkdwnTexts(r.blocks);
    expect(texts.length).toBeGreaterThan(10);
    for (const t of texts) expect(controlSequences(t), t).toEqual([]);
    expect(controlSequences(r.text)).toEqual([]);
    expect(texts.join('\n')).not.toMatch(/@(channel|here|everyone)\b/i);
  });

  it('shows the hostile text to the reader, escaped rather than removed', () => {
    const texts = mrkdwnTexts(renderStepResult(hostileReport()).blocks).join('\n');
    expect(texts).toContain('&lt;!channel&gt; ping &lt;@U024BE7LH&gt; &amp; &lt;#C0123|incident&gt;');
  });

  it('makes a link only from an http(s) URL, with its |, < and > encoded', () => {
    expect(link('https://x.test/a?b=1&c=<2>|d', 'see <this>')).toBe(
      '<https://x.test/a?b=1&amp;c=%3C2%3E%7Cd|see &lt;this&gt;>',
    );
    expect(link('!channel', 'x')).toBe('x (!channel)');
    expect(link('javascript:alert(1)', 'x')).toBe('x (javascript:alert(1))');
  });

  it('leaves plain_text (header, buttons, confirm dialogs) unescaped, as Slack shows it literally', () => {
    const r = renderStepResult({
      ...latencyReport(),
      service: 'a & b',
      proposals: [{ ...SCALE_PROPOSAL, label: 'Scale <a> & <b>' }],
    });
    const plain = textObjects(r.blocks)
      .filter((t) => t.type === 'plain_text')
      .map((t) => t.text);
    expect(plain).toContain('latency · a & b');
    expect(plain).toContain('Scale <a> & <b>');
  });

  it('escapes text in progress, error and usage messages', () => {
    const messages = [
      renderProgress(HOSTILE, HOSTILE, [{ name: HOSTILE, status: 'unavailable', reason: HOSTILE }]),
      renderError(HOSTILE, HOSTILE),
      renderUsage(HOSTILE, HOSTILE),
    ];
    for (const m of messages) {
      for (const t of [m.text, ...mrkdwnTexts(m.blocks)]) expect(controlSequences(t), t).toEqual([]);
    }
  });

  it('never cuts inside an entity or a link, and closes a code block it cut open', () => {
    const cutEntity = truncateMrkdwn(`${'a'.repeat(95)}&amp;${'b'.repeat(50)}`, 120, '[cut]');
    expect(cutEntity).not.toMatch(/&[a-z]{0,4}\n/);
    const cutLink = truncateMrkdwn(`${'a'.repeat(90)} <https://x.test/${'p'.repeat(50)}|x>`, 120, '[cut]');
    expect(cutLink).not.toContain('<https');
    const cutCode = truncateMrkdwn(`\`\`\`\n${'line\n'.repeat(100)}\`\`\``, 120, '[cut]');
    expect((cutCode.match(/```/g) ?? []).length % 2).toBe(0);
    for (const t of [cutEntity, cutLink, cutCode]) {
      expect(t.length).toBeLessThanOrEqual(120);
      expect(t.endsWith('[cut]')).toBe(true);
    }
  });
});
