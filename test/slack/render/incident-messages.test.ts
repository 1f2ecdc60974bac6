import { describe, expect, it } from 'vitest';
import { silenceProposal } from '../../../src/domain/proposals.ts';
import type { IncidentView } from '../../../src/incidents/model.ts';
import {
  renderAlertIncidentRoot,
  renderAlertResolved,
  renderOnsetComparison,
} from '../../../src/slack/render/incident-messages.ts';
import { messageProblems } from '../../../src/slack/render/limits.ts';
import { visibleText } from '../../support/slack.ts';

const service = { name: 'aegis-api' };
const view = (over: Partial<IncidentView> = {}): IncidentView => ({
  groupKey: 'g',
  status: 'firing',
  service: 'aegis-api',
  alertNames: ['AegisApiP99LatencySustained'],
  commonLabels: { service: 'aegis-api', severity: 'critical' },
  summary: 'P99 above 2s',
  generatorUrl: 'http://prometheus:9090/graph?g0.expr=up',
  runbookUrl: 'https://runbooks.example.com/aegis#step-1',
  startedAt: new Date('2026-01-05T10:00:00Z'),
  lastSeen: new Date('2026-01-05T10:03:00Z'),
  firing: [
    {
      name: 'AegisApiP99LatencySustained',
      labels: { pod: 'aegis-api-1' },
      startsAt: new Date('2026-01-05T10:00:00Z'),
    },
  ],
  resolvedCount: 0,
  truncated: 0,
  steps: ['latency'],
  silenceOffers: [3_600_000, 14_400_000].map((durationMs) =>
    silenceProposal(service, { op: 'create', durationMs, alerts: 'AegisApiP99LatencySustained (aegis-api)' }),
  ),
  ...over,
});

describe('the root message of an alert incident', () => {
  it('names the alerts, labels, annotations, start, links and the steps, with one Silence button per duration', () => {
    const m = renderAlertIncidentRoot(view());
    expect(m.text).toBe('Firing: AegisApiP99LatencySustained on aegis-api');
    const text = visibleText(m);
    for (const part of [
      'P99 above 2s',
      '`service=aegis-api`',
      '`pod=aegis-api-1`',
      '<http://prometheus:9090/graph?g0.expr=up|Alert in Prometheus>',
      '<https://runbooks.example.com/aegis#step-1|Runbook>',
      '`/aegis latency`',
      '<!date^1767607200^',
    ]) {
      expect(text).toContain(part);
    }
    const buttons = m.blocks.flatMap((b) => (b.type === 'actions' ? b.elements : []));
    expect(buttons.map((b) => (b.type === 'button' ? [b.text.text, Boolean(b.confirm)] : []))).toEqual([
      ['Silence 1h', true],
      ['Silence 4h', true],
    ]);
    expect(messageProblems(m)).toEqual([]);
  });

  it('never lets alert text mention anyone or format itself, and stays within Slack limits with 500 alerts', () => {
    const hostile = '<!channel> *bold* <@U0ALICE>';
    const m = renderAlertIncidentRoot(
      view({
        summary: hostile,
        description: hostile.repeat(300),
        commonLabels: { team: hostile },
        firing: Array.from({ length: 500 }, (_, i) => ({
          name: `Alert${i}`,
          labels: { pod: hostile },
          startsAt: new Date('2026-01-05T10:00:00Z'),
          summary: hostile,
        })),
      }),
    );
    const text = visibleText(m);
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<@U0ALICE>');
    expect(text).toContain('…and 490 more');
    expect(messageProblems(m)).toEqual([]);
  });

  it('says resolved with how long it lasted, and offers no silence then', () => {
    const m = renderAlertIncidentRoot(
      view({ status: 'resolved', resolvedAt: new Date('2026-01-05T10:42:00Z'), silenceOffers: [] }),
    );
    expect(m.text).toBe('Resolved: AegisApiP99LatencySustained on aegis-api');
    expect(visibleText(m)).toContain('lasted *42m*');
    expect(m.blocks.some((b) => b.type === 'actions')).toBe(false);
  });
});

describe('the resolved update and the onset comparison', () => {
  it('gives the metric before, at worst and now', () => {
    const m = renderAlertResolved(view({ resolvedAt: new Date('2026-01-05T10:20:00Z') }), {
      expr: 'histogram_quantile(0.99, x)',
      before: 0.1234567,
      worst: 4.5,
      now: 0.2,
    });
    expect(visibleText(m)).toContain('Before: *0.1235* · at worst: *4.5* · now: *0.2*');
    expect(m.text).toBe('Resolved: AegisApiP99LatencySustained after 20m');
  });

  it('shows both top-N tables, and says so when the capture now gave none', () => {
    const onset = {
      step: 'cpu',
      capturedAt: new Date('2026-01-05T10:00:00Z'),
      table: { columns: ['flat%', 'function'], rows: [['41%', 'regexp.Compile']] },
    };
    const both = renderOnsetComparison({
      onset,
      now: { ...onset, capturedAt: new Date('2026-01-05T11:00:00Z') },
      actor: 'U0ALICE',
    });
    expect(visibleText(both)).toMatch(
      /At onset \(2026-01-05T10:00:00\.000Z\)[\s\S]*Now \(2026-01-05T11:00:00\.000Z\)/,
    );
    const none = renderOnsetComparison({ onset, now: undefined, actor: 'U0ALICE' });
    expect(visibleText(none)).toContain('the capture gave no table');
    expect(messageProblems(both)).toEqual([]);
  });

  it('leads with the diff since onset when there is one, and shows its note', () => {
    const onset = {
      step: 'cpu',
      capturedAt: new Date('2026-01-05T10:00:00Z'),
      table: { columns: ['flat%', 'function'], rows: [['41%', 'regexp.Compile']] },
    };
    const m = renderOnsetComparison({
      onset,
      now: { ...onset, capturedAt: new Date('2026-01-05T11:00:00Z') },
      actor: 'U0ALICE',
      finding: {
        id: 'cpu.diff',
        severity: 'info',
        title: 'Since onset: encoding/json.Marshal grew most, 10% → 60% of CPU',
        summary: 'Compared with onset, the share of CPU grew most in encoding/json.Marshal (+50.0 pts).',
        evidence: [
          {
            type: 'table',
            title: 'Functions whose share of CPU grew most (cum)',
            columns: ['function', 'before', 'now', 'change'],
            rows: [['encoding/json.Marshal', '10%', '60%', '+50.0 pts']],
          },
        ],
        links: [],
      },
      note: 'the onset pod pod-a was not profiled now; the fresh profile is of pod-b',
    });
    expect(m.text).toBe(
      'cpu profile since onset: Since onset: encoding/json.Marshal grew most, 10% → 60% of CPU',
    );
    expect(visibleText(m)).toMatch(
      /grew most[\s\S]*encoding\/json\.Marshal\s+10%\s+60%\s+\+50\.0 pts[\s\S]*fresh profile is of pod-b[\s\S]*At onset/,
    );
    expect(messageProblems(m)).toEqual([]);
  });
});
