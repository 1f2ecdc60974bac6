import { describe, expect, it } from 'vitest';
import { blockProblems, messageProblems } from '../../../src/slack/render/limits.ts';
import { renderStepResult } from '../../../src/slack/render/step-result.ts';
import { dbReport, hugeReport, latencyReport, unavailableReport } from './fixtures.ts';
import { expectGolden, goldenForm } from './golden.ts';
import { buttons, fileText, mrkdwnTexts } from './inspect.ts';

describe('renderStepResult golden files', () => {
  it('renders the latency report (CPU critical, escalation, scale and page) as its golden file', () => {
    expectGolden('latency-report', goldenForm(renderStepResult(latencyReport())));
  });

  it('renders the database report with a slow-query table as its golden file', () => {
    expectGolden('db-report', goldenForm(renderStepResult(dbReport())));
  });

  it('renders a report with an unavailable source as its golden file', () => {
    expectGolden('unavailable-report', goldenForm(renderStepResult(unavailableReport())));
  });

  it('renders the huge report as its golden file', () => {
    expectGolden('huge-report', goldenForm(renderStepResult(hugeReport())));
  });
});

describe('the layout of a step result', () => {
  const rendered = renderStepResult(latencyReport());
  const types = rendered.blocks.map((b) => b.type);

  it('starts with a header naming step and service, then the headline in bold with the severity emoji', () => {
    expect(rendered.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'latency · aegis-api', emoji: true },
    });
    expect(rendered.blocks[1]).toMatchObject({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: ':red_circle: *CPU 94% on 3 of 4 pods CRITICAL; P99 1.8 s, driven by /api/search (2.9 s)*',
      },
    });
    expect(rendered.text).toBe('CPU 94% on 3 of 4 pods CRITICAL; P99 1.8 s, driven by /api/search (2.9 s)');
  });

  it('shows the fired escalation next, with the scale and page proposals as its buttons', () => {
    expect(rendered.blocks[2]).toMatchObject({
      type: 'section',
      text: {
        text: ':rotating_light: *CPU &gt; 90%: scale and page on-call* (observed 95% on aegis-api-7d9f8b6c4-h8c2n)',
      },
    });
    const escalationActions = rendered.blocks[3] as { type: string; elements: { action_id: string }[] };
    expect(escalationActions.type).toBe('actions');
    expect(escalationActions.elements.map((e) => e.action_id)).toEqual([
      'aegis_action:scale',
      'aegis_action:page',
    ]);
  });

  it('lists findings most urgent first, with tables in aligned monospace', () => {
    const texts = mrkdwnTexts(rendered.blocks);
    const order = [
      'CPU 94% on 3 of 4 pods',
      'P99 2.9 s on /api/search',
      'P99 latency 1.8 s',
      'Memory 57% of limit',
    ].map((t) => texts.findIndex((x) => x.includes(`*${t}*`)));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(texts).toContain(
      [
        '*P99 by endpoint (top 5)*',
        '```',
        'path                p99  req/s',
        '---------------  ------  -----',
        '/api/search       2.9 s    412',
        '/api/findings    640 ms    301',
        '/api/assets      210 ms    188',
        '/api/auth/token   95 ms     97',
        '/healthz           2 ms     40',
        '```',
      ].join('\n'),
    );
  });

  it('gives a finding with advice its quick fix and long-term fixes in one context line each', () => {
    const texts = mrkdwnTexts(rendered.blocks);
    expect(texts).toContain(
      '*Quick fix:* Scale horizontally: kubectl scale deployment aegis-api -n aegis --replicas=5',
    );
    expect(texts).toContain(
      '*Long-term:* Cache computed results · Optimize hot code paths · Use worker pools for CPU-intensive work · Add batch processing for bulk operations',
    );
  });

  it('puts the chart in files, never inline as an image block', () => {
    expect(types).not.toContain('image');
    expect(rendered.files.map((f) => f.filename)).toEqual(['latency-p99-by-endpoint.png']);
  });

  it('ends with next-step and proposal buttons, then a context line with the timing', () => {
    const last = rendered.blocks.at(-1) as { type: string; elements: { text: string }[] };
    expect(last.type).toBe('context');
    expect(last.elements[0]?.text).toBe(
      ':stopwatch: took 4.2 s · finished <!date^1741944413^{date_short_pretty} {time_secs}|2025-03-14 09:26:53 UTC>',
    );
    expect(types.at(-2)).toBe('actions');
    expect(buttons([rendered.blocks.at(-2)]).map((b) => b.action_id)).toEqual([
      'aegis_step:cpu',
      'aegis_step:heap',
      'aegis_step:db',
      'aegis_step:goroutines',
    ]);
  });

  it('attaches no report when nothing was left out', () => {
    expect(rendered.files.some((f) => f.filename.endsWith('-report.txt'))).toBe(false);
    expect(messageProblems(rendered)).toEqual([]);
  });

  it('shows an unavailable source with its reason in a context block', () => {
    const r = renderStepResult(unavailableReport());
    expect(r.blocks[1]).toMatchObject({
      text: { text: ':white_circle: *P99 140 ms normal; pod CPU and memory unavailable*' },
    });
    expect(r.blocks).toContainEqual({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: ':warning: *metrics.k8s.io* unavailable: kubernetes: GET /apis/metrics.k8s.io/v1beta1/namespaces/aegis/pods failed: timed out after 5s',
        },
      ],
    });
  });

  it('moves a table with long SQL cells to a file and leaves a preview with a marker', () => {
    const r = renderStepResult(dbReport());
    const table = mrkdwnTexts(r.blocks).find((t) => t.startsWith('*pg_stat_statements by mean_exec_time*'));
    expect(table).toContain(
      '… (truncated, full output in the thread as db-pg-stat-statements-by-mean-exec-time.txt)',
    );
    const file = fileText(r.files, 'db-pg-stat-statements-by-mean-exec-time.txt');
    expect(file).toContain(
      'SELECT f.id, f.title, f.severity, a.hostname FROM findings f JOIN assets a ON a.id = f.asset_id WHERE f.status = $1 ORDER BY f.created_at DESC LIMIT $2',
    );
    expect(blockProblems(r.blocks)).toEqual([]);
  });
});
