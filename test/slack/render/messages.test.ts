import { describe, expect, it } from 'vitest';
import { renderHelp } from '../../../src/slack/render/help.ts';
import { messageProblems } from '../../../src/slack/render/limits.ts';
import { renderError, renderUsage } from '../../../src/slack/render/notices.ts';
import { renderProgress } from '../../../src/slack/render/progress.ts';
import { expectGolden } from './golden.ts';
import { mrkdwnTexts } from './inspect.ts';

const STEPS = [
  {
    name: 'latency',
    summary: 'Step 1: identify the bottleneck (P50/P99, endpoints, pod CPU and memory)',
    usage: 'latency [service] [window]',
  },
  { name: 'cpu', summary: 'Step 2: CPU profile of a pod, top functions', usage: 'cpu [seconds] [pod]' },
  { name: 'heap', summary: 'Step 3: heap profile of a pod, top allocations', usage: 'heap [pod]' },
  { name: 'db', summary: 'Step 4: slow queries, connections, table sizes', usage: 'db' },
  { name: 'goroutines', summary: 'Step 5: goroutine count and grouped dump', usage: 'goroutines [pod]' },
  { name: 'checklist', summary: 'Optimization checklist', usage: 'checklist' },
];
const BUILTINS = [
  {
    name: 'scale',
    summary: 'Scale the deployment to N replicas (asks to confirm)',
    usage: 'scale <replicas>',
  },
  { name: 'page', summary: 'Page on-call for this incident', usage: 'page [message]' },
  { name: 'help', summary: 'This list', usage: 'help' },
];

describe('renderProgress', () => {
  it('shows each part running, done or unavailable with its reason (golden)', () => {
    const m = renderProgress('latency', 'aegis-api', [
      { name: 'prometheus', status: 'ok' },
      { name: 'metrics.k8s.io', status: 'unavailable', reason: 'timed out after 5s' },
      { name: 'topk endpoints', status: 'running' },
    ]);
    expectGolden('progress-running', m);
    expect(messageProblems(m)).toEqual([]);
  });

  it('takes the last update of each part, in the order the parts first appeared', () => {
    const m = renderProgress('db', 'aegis-api', [
      { name: 'pg_stat_statements', status: 'running' },
      { name: 'pg_stat_activity', status: 'running' },
      { name: 'pg_stat_statements', status: 'ok' },
      { name: 'pg_stat_activity', status: 'ok' },
    ]);
    expect(m.text).toBe('Finished db on aegis-api');
    expect(mrkdwnTexts(m.blocks)).toEqual([
      ':mag: Finished *db* on *aegis-api*',
      ':white_check_mark: *pg_stat_statements*: ok\n:white_check_mark: *pg_stat_activity*: ok',
      '2 of 2 parts done',
    ]);
  });

  it('says it is running before any part has reported', () => {
    const m = renderProgress('cpu', 'aegis-api', []);
    expect(m).toEqual({
      text: 'Running cpu on aegis-api…',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: ':mag: Running *cpu* on *aegis-api*…' } }],
    });
  });

  it('stays inside Slack limits with hundreds of parts', () => {
    const parts = Array.from({ length: 400 }, (_, i) => ({
      name: `part-${i}`,
      status: 'unavailable' as const,
      reason: 'connection refused '.repeat(5),
    }));
    const m = renderProgress('latency', 'aegis-api', parts);
    expect(messageProblems(m)).toEqual([]);
    expect(mrkdwnTexts(m.blocks)[1]?.endsWith('… (more parts)')).toBe(true);
  });
});

describe('renderError and renderUsage', () => {
  it('shows an error with its log reference (golden)', () => {
    expectGolden('error-internal', renderError('internal error', 'a1b2c3d4'));
  });

  it('shows an error without a reference as one section', () => {
    expect(renderError('unknown service "aegis-apo": known services are aegis-api').blocks).toEqual([
      {
        type: 'section',
        text: { type: 'mrkdwn', text: ':x: unknown service "aegis-apo": known services are aegis-api' },
      },
    ]);
  });

  it('shows what is wrong and how to type the command (golden)', () => {
    const m = renderUsage('"ten" is not a number of seconds', 'cpu [seconds] [pod]');
    expectGolden('usage-cpu', m);
    expect(mrkdwnTexts(m.blocks)[1]).toBe('Usage: `/aegis cpu [seconds] [pod]`');
  });

  it('keeps a very long error inside Slack limits', () => {
    expect(messageProblems(renderError('e'.repeat(10_000), 'r'.repeat(5000)))).toEqual([]);
  });
});

describe('renderHelp', () => {
  it('lists one line per subcommand, steps first (golden)', () => {
    const m = renderHelp(STEPS, BUILTINS);
    expectGolden('help', m);
    const lines = mrkdwnTexts(m.blocks).join('\n').split('\n');
    expect(lines.filter((l) => l.startsWith('`/aegis '))).toHaveLength(STEPS.length + BUILTINS.length);
  });

  it('splits a long list over several sections within Slack limits', () => {
    const many = Array.from({ length: 300 }, (_, i) => ({
      name: `step${i}`,
      summary: 'does a thing '.repeat(10),
      usage: `step${i} [pod] [window]`,
    }));
    const m = renderHelp(many, BUILTINS);
    expect(messageProblems(m)).toEqual([]);
    const lines = mrkdwnTexts(m.blocks).join('\n').split('\n');
    expect(lines.filter((l) => l.startsWith('`/aegis '))).toHaveLength(300 + BUILTINS.length);
  });
});
