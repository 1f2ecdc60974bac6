import { describe, expect, it } from 'vitest';
import { consolePage } from '../../src/console/page.ts';
import {
  blocksToHtml,
  escapeHtml,
  fileToHtml,
  messageBodyToHtml,
  mrkdwnToHtml,
} from '../../src/console/render-html.ts';
import * as render from '../../src/slack/render/index.ts';
import { fakeResult } from '../support/slack.ts';

/** Every tag name in an HTML string. */
function tags(html: string): string[] {
  return [...html.matchAll(/<([a-z0-9]+)[\s>]/gi)].map((m) => (m[1] as string).toLowerCase());
}

describe('mrkdwn in the console', () => {
  it('draws bold, italic, strike, inline code and code blocks', () => {
    const html = mrkdwnToHtml(
      '*P99 2.4 s* is _high_, ~not fine~: see `histogram_quantile`\n```\nflat  flat%\n10ms  50%\n```',
    );
    expect(html).toContain('<strong>P99 2.4 s</strong>');
    expect(html).toContain('<em>high</em>');
    expect(html).toContain('<s>not fine</s>');
    expect(html).toContain('<code>histogram_quantile</code>');
    expect(html).toContain('<pre>flat  flat%\n10ms  50%</pre>');
  });

  it('leaves snake_case identifiers and arithmetic alone', () => {
    const html = mrkdwnToHtml('idle_in_transaction_session 2*3*4');
    expect(html).toBe('idle_in_transaction_session 2*3*4');
  });

  it('turns http links into anchors and refuses other schemes', () => {
    const html = mrkdwnToHtml(
      '<https://grafana.example/d/abc?x=1&amp;y=2|Grafana> and <javascript:alert(1)|click>',
    );
    expect(html).toContain(
      '<a href="https://grafana.example/d/abc?x=1&amp;y=2" target="_blank" rel="noopener noreferrer">Grafana</a>',
    );
    expect(html).not.toContain('javascript:alert(1)"');
    expect(html).toContain('click');
    expect(tags(html)).toEqual(['a']);
  });

  it('names users and channels in mentions and shows dates', () => {
    const html = mrkdwnToHtml(
      '<@U0LOCAL> scaled it in <#C0INCIDENT> <!date^1767225600^{date_short_pretty}|2026-01-01T00:00:00Z>',
      {
        users: { U0LOCAL: 'you' },
        channels: { C0INCIDENT: 'incident' },
      },
    );
    expect(html).toContain('<span class="mention">@you</span>');
    expect(html).toContain('<span class="mention">#incident</span>');
    expect(html).toContain('<time>2026-01-01 00:00 UTC</time>');
  });

  it('replaces the renderer’s emoji shortcodes, draws severity circles, keeps unknown ones as typed', () => {
    expect(mrkdwnToHtml(':warning: slow :white_check_mark: :not_an_emoji:')).toBe('⚠️ slow ✅ :not_an_emoji:');
    expect(mrkdwnToHtml(':red_circle: CRITICAL')).toBe(
      '<span class="dot red" role="img" aria-label="red circle"></span> CRITICAL',
    );
  });

  it('shows Slack-escaped text as the characters it stands for, escaped once for HTML', () => {
    expect(mrkdwnToHtml('a &lt; b &amp;&amp; c &gt; d')).toBe('a &lt; b &amp;&amp; c &gt; d');
    expect(mrkdwnToHtml('```\nif a &lt; b {\n```')).toBe('<pre>if a &lt; b {</pre>');
  });
});

describe('escaping', () => {
  const hostile = '<img src=x onerror=alert(1)><script>alert(2)</script>"\'&';

  it('escapes text from every kind of block, so nothing in a message becomes markup', () => {
    const html = blocksToHtml([
      { type: 'header', text: { type: 'plain_text', text: hostile } },
      {
        type: 'section',
        text: { type: 'plain_text', text: hostile },
        fields: [{ type: 'plain_text', text: hostile }],
      },
      { type: 'context', elements: [{ type: 'plain_text', text: hostile }] },
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            action_id: `a"${hostile}`,
            text: { type: 'plain_text', text: hostile },
            value: hostile,
            confirm: {
              title: { type: 'plain_text', text: hostile },
              text: { type: 'plain_text', text: hostile },
              confirm: { type: 'plain_text', text: 'Yes' },
              deny: { type: 'plain_text', text: 'No' },
            },
          },
        ],
      },
      { type: 'image', image_url: `https://x.example/a.png"${hostile}`, alt_text: hostile },
      { type: `unknown${hostile}` },
    ]);
    expect(tags(html).filter((t) => t === 'img' || t === 'script')).toEqual([]);
    expect(html).not.toMatch(/<script|<img src=x|onerror=alert\(1\)>/);
    // attributes cannot be closed early: every quote inside them is an entity
    for (const attr of html.matchAll(/ data-[a-z-]+="([^"]*)"/g)) expect(attr[1]).not.toMatch(/[<>]/);
    expect(html).toContain('&lt;script&gt;alert(2)&lt;/script&gt;');
  });

  it('escapes mrkdwn text, link labels and file names', () => {
    expect(mrkdwnToHtml(`${hostile} <https://ok.example|${hostile}>`)).not.toMatch(/<script|<img/);
    const file = fileToHtml({
      id: 'F1',
      name: `x${hostile}.txt`,
      title: hostile,
      size: 10,
      url: '/console/files/F1/x',
    });
    expect(file).not.toMatch(/<script|<img src=x/);
  });

  it('escapes the five HTML characters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
  });

  it('keeps the page’s boot data inside its script element whatever the names say', () => {
    const page = consolePage({
      nonce: 'n0nce',
      secret: 's3cret',
      demo: false,
      channel: { id: 'C0INCIDENT', name: 'incident' },
      users: [{ id: 'U0LOCAL', name: '</script><script>alert(1)</script>', realName: 'x' }],
      services: ['aegis-api'],
    });
    expect(page).not.toContain('</script><script>alert(1)');
    expect(page.match(/<script/g)).toHaveLength(2);
  });
});

describe('Block Kit layout', () => {
  it('draws a button with its style, its confirm dialog and where it sits', () => {
    const html = blocksToHtml([
      { type: 'divider' },
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            action_id: 'aegis_action:scale',
            style: 'danger',
            text: { type: 'plain_text', text: 'Scale to 5 replicas' },
            value: '{"action":"scale"}',
            confirm: {
              title: { type: 'plain_text', text: 'Scale to 5 replicas' },
              text: { type: 'plain_text', text: 'replicas: 3 → 5' },
              confirm: { type: 'plain_text', text: 'Yes, Scale to 5 replicas' },
              deny: { type: 'plain_text', text: 'Cancel' },
              style: 'danger',
            },
          },
        ],
      },
    ]);
    expect(html).toContain('class="bk-button danger"');
    expect(html).toContain('data-action-id="aegis_action:scale"');
    expect(html).toContain('data-block-index="1"');
    expect(html).toContain('data-block-id="b1"');
    const confirm = /data-confirm="([^"]*)"/.exec(html)?.[1] ?? '';
    expect(JSON.parse(confirm.replace(/&quot;/g, '"').replace(/&amp;/g, '&'))).toEqual({
      title: 'Scale to 5 replicas',
      text: 'replicas: 3 → 5',
      confirm: 'Yes, Scale to 5 replicas',
      deny: 'Cancel',
      style: 'danger',
    });
    // the value stays with the server's copy of the message: the page does not carry it
    expect(html).not.toContain('data-value');
  });

  it('draws fields in a grid, context small, images with their alt text, files as images or links', () => {
    const html = messageBodyToHtml({
      text: 'fallback',
      blocks: [
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*P50*\n120 ms' },
            { type: 'mrkdwn', text: '*P99*\n2.4 s' },
          ],
        },
        { type: 'context', elements: [{ type: 'mrkdwn', text: 'runbook Step 1' }] },
        {
          type: 'image',
          image_url: 'https://charts.example/p99.png',
          alt_text: 'P99 chart',
          title: { type: 'plain_text', text: 'P99' },
        },
      ],
      files: [
        { id: 'F1', name: 'latency.png', title: 'Latency', size: 2048, url: '/console/files/F1/latency.png' },
        { id: 'F2', name: 'report.txt', title: 'Full report', size: 12, url: '/console/files/F2/report.txt' },
      ],
    });
    expect(html).toContain(
      '<div class="bk-fields"><div class="bk-field"><strong>P50</strong><br>120 ms</div>',
    );
    expect(html).toContain('<div class="bk-context"><span>runbook Step 1</span></div>');
    expect(html).toContain('<img class="bk-img" src="https://charts.example/p99.png" alt="P99 chart"');
    expect(html).toContain('<img src="/console/files/F1/latency.png" alt="Latency"');
    expect(html).toContain('<a href="/console/files/F2/report.txt" download="report.txt">Full report</a>');
    expect(html).not.toContain('fallback');
  });

  it('falls back to the text when a message has no blocks', () => {
    expect(
      messageBodyToHtml({ text: 'Started in <#C0INCIDENT>' }, { channels: { C0INCIDENT: 'incident' } }),
    ).toBe('<div class="bk-text">Started in <span class="mention">#incident</span></div>');
  });

  it('draws a real report from the bot’s renderer without unsupported parts', () => {
    const report = render.renderStepResult(
      fakeResult('latency', 'aegis-api', {
        headline: 'P99 2.4 s CRITICAL, driven by /api/search',
        nextSteps: [{ label: 'CPU profile (30 s)', step: 'cpu', args: ['30'] }],
      }),
    );
    const html = blocksToHtml(report.blocks);
    expect(html).toContain('P99 2.4 s CRITICAL, driven by /api/search');
    expect(html).toContain('data-action-id="aegis_step:cpu"');
    expect(html).not.toContain('unsupported');
  });
});
