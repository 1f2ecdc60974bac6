import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { ACTION_COMMAND_DEFINITIONS } from '../../src/actions/commands.ts';
import { executeProposal } from '../../src/actions/execute.ts';
import {
  autoPageDecision,
  incidentDedupKey,
  type PageEvent,
  type Pager,
  pageEvent,
  pageHandler,
  pageProposal,
} from '../../src/actions/page.ts';
import type { ActionDeps } from '../../src/actions/types.ts';
import { type Config, parseConfig } from '../../src/config/load.ts';
import { AppError } from '../../src/domain/errors.ts';
import type { Escalation, Proposal } from '../../src/domain/finding.ts';
import { createLogger } from '../../src/ops/logger.ts';
import { PagerDutyEvents } from '../../src/sources/pagerduty.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { fakeResult } from '../support/slack.ts';

function config(paging = 'auto_page: false', ruleAutoPage = false): Config {
  return parseConfig(
    `
services:
  - name: aegis-api
    deployment: aegis-api
authorization:
  page: { users: [U0ALICE] }
paging:
  ${paging}
escalation:
  - id: error-rate
    metric: error_rate_percent
    above: 5
    action: page_immediately
    prompt: "Error rate > 5%: page on-call immediately"
    auto_page: ${ruleAutoPage}
  - id: p99-sustained
    metric: api_p99_latency_ms
    above: 2000
    for: 5m
    action: page
    prompt: "P99 > 2s for > 5 min: page on-call"
`,
    'page.yml',
    {},
  );
}

function recordingPager(): Pager & { events: PageEvent[] } {
  const events: PageEvent[] = [];
  return {
    events,
    async send(e) {
      events.push(e);
      return { dedupKey: e.dedup_key, message: 'Event processed' };
    },
  };
}

const thread = { channel: 'C0INCIDENT', threadTs: '1700000000.000100', teamId: 'T0AEGIS', actor: 'U0ALICE' };

function deps(c: Config, pager: Pager, store = new MemoryStore()): ActionDeps {
  return {
    config: c,
    store,
    groupsOf: async () => [],
    handlers: { page: pageHandler(pager, thread) },
    now: () => new Date('2026-01-05T10:00:00Z'),
  };
}

function usage(fn: () => void): AppError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected an AppError');
}

describe('the page action', () => {
  const c = config();
  const service = c.services[0] as Config['services'][number];
  const base = pageProposal(service, { summary: 'aegis-api: down', reason: 'because' });

  it('derives one dedup_key per incident thread', () => {
    expect(incidentDedupKey(thread)).toBe('aegis-T0AEGIS-C0INCIDENT-1700000000.000100');
    expect(incidentDedupKey({ channel: 'C1', threadTs: '1.2' })).toBe('aegis-C1-1.2');
  });

  it('refuses a click whose page is malformed: unknown event or severity, a link that is not https', () => {
    const h = pageHandler(recordingPager());
    const bad = (params: Proposal['params']) => ({ ...base, params: { ...base.params, ...params } });
    expect(
      usage(() => h.check(bad({ event: 'snooze' }), service, deps(c, recordingPager()))).message,
    ).toMatch(/trigger, acknowledge or resolve/);
    expect(
      usage(() => h.check(bad({ severity: 'sev1' }), service, deps(c, recordingPager()))).message,
    ).toMatch(/critical, error, warning or info/);
    expect(
      usage(() => h.check(bad({ messageLink: 'javascript:alert(1)' }), service, deps(c, recordingPager())))
        .message,
    ).toMatch(/https/);
  });

  it('puts summary, severity, source, the reason and the thread link into the trigger', () => {
    const e = pageEvent(
      { ...base, params: { ...base.params, severity: 'critical', rules: 'error-rate' } },
      service,
      { ...thread, permalink: 'https://x.slack.com/archives/C0INCIDENT/p1700000000000100' },
      'k1',
      new Date('2026-01-05T10:00:00Z'),
    );
    expect(e).toMatchObject({
      event_action: 'trigger',
      dedup_key: 'k1',
      payload: {
        summary: 'aegis-api: down',
        severity: 'critical',
        source: 'aegis/aegis-api',
        timestamp: '2026-01-05T10:00:00.000Z',
        class: 'error-rate',
        custom_details: { reason: 'because', escalation_rules: 'error-rate', paged_by: 'Slack user U0ALICE' },
      },
      links: [
        { href: 'https://x.slack.com/archives/C0INCIDENT/p1700000000000100', text: 'Slack incident thread' },
      ],
    });
  });

  it('acknowledging a thread that never paged is refused and sends nothing', async () => {
    const pager = recordingPager();
    const d = deps(c, pager);
    const ack = pageProposal(service, { summary: '', reason: 'ack', event: 'acknowledge' });
    const outcome = await executeProposal(ack, { userId: 'U0ALICE' }, d, { key: 'k', ...thread });
    expect(outcome.status).toBe('refused');
    expect(outcome.status === 'refused' && outcome.error.message).toMatch(
      /nothing was paged from this thread/,
    );
    expect(pager.events).toEqual([]);
  });

  it('a refused authorization sends nothing and is audited', async () => {
    const pager = recordingPager();
    const d = deps(c, pager);
    const outcome = await executeProposal(base, { userId: 'U0BOB' }, d, { key: 'k', ...thread });
    expect(outcome.status).toBe('refused');
    expect(pager.events).toEqual([]);
    expect((await d.store.auditLog())[0]).toMatchObject({
      actor: 'U0BOB',
      result: 'forbidden',
      action: 'page',
    });
  });

  describe('when PagerDuty refuses the event with an answer that echoes the request', () => {
    const PD = 'https://events.pagerduty.test';
    const ROUTING_KEY = 'R0UTINGKEYSECRET0123456789abcdef';
    afterEach(() => {
      nock.cleanAll();
      nock.enableNetConnect();
    });

    it('neither the thread text, the audit record nor the log holds the routing key', async () => {
      nock.disableNetConnect();
      const scope = nock(PD)
        .post('/v2/enqueue')
        .reply(400, {
          status: 'invalid event',
          message: `Event object is invalid for routing_key ${ROUTING_KEY}`,
          errors: [`{"routing_key":"${ROUTING_KEY}","event_action":"trigger"}`],
          request: { routing_key: ROUTING_KEY, event_action: 'trigger' },
        });
      const lines: string[] = [];
      const log = createLogger({ destination: { write: (s: string) => lines.push(s) } });
      const pager = new PagerDutyEvents({ eventsUrl: `${PD}/v2/enqueue`, routingKey: ROUTING_KEY });
      const store = new MemoryStore();
      const d = { ...deps(c, pager, store), log };
      const outcome = await executeProposal(base, { userId: 'U0ALICE' }, d, { key: 'k-echo', ...thread });
      scope.done();
      expect(outcome.status).toBe('failed');
      const threadText = outcome.status === 'failed' ? outcome.error.message : '';
      expect(threadText).toMatch(
        /^pagerduty: send trigger failed: HTTP 400 invalid event: Event object is invalid/,
      );
      expect(threadText).not.toContain(ROUTING_KEY);
      expect(JSON.stringify(await store.auditLog())).not.toContain(ROUTING_KEY);
      expect(lines.join('')).toContain('action page by U0ALICE: failed');
      expect(lines.join('')).not.toContain(ROUTING_KEY);
      // The logger also catches the key in JSON form when a body is logged as it came.
      log.warn({ upstream: `answer: ${JSON.stringify({ routing_key: ROUTING_KEY })}` }, 'raw answer');
      expect(lines.join('')).not.toContain(ROUTING_KEY);
    });
  });

  it('a second page from the thread reuses the incident’s stored dedup_key', async () => {
    const pager = recordingPager();
    const store = new MemoryStore();
    await store.recordIncidentThread({
      channel: thread.channel,
      threadTs: thread.threadTs,
      service: 'aegis-api',
      dedupKey: 'incident-from-before',
      createdAt: new Date('2026-01-05T09:00:00Z'),
    });
    const outcome = await executeProposal(base, { userId: 'U0ALICE' }, deps(c, pager, store), {
      key: 'k2',
      ...thread,
    });
    expect(outcome.status).toBe('done');
    expect(pager.events[0]?.dedup_key).toBe('incident-from-before');
  });
});

describe('/aegis page [message]', () => {
  const c = config();
  const service = c.services[0] as Config['services'][number];
  const page = ACTION_COMMAND_DEFINITIONS.find((d) => d.name === 'page');

  it('takes every word as the message and goes into an incident thread', () => {
    expect(page?.inThread).toBe(true);
    expect(page?.parse(['db', 'is', 'down'], { config: c })).toEqual({ message: 'db is down' });
    expect(page?.parse([], { config: c })).toEqual({});
  });

  it('says plainly when paging is not configured', async () => {
    const d: ActionDeps = { config: c, store: new MemoryStore(), groupsOf: async () => [] };
    await expect(page?.propose({ message: 'x' }, service, d)).rejects.toThrow(
      /paging is not configured: set the PagerDuty routing key in PAGERDUTY_ROUTING_KEY/,
    );
  });
});

describe('auto_page decision', () => {
  const fired: Escalation = {
    ruleId: 'error-rate',
    condition: 'Error rate > 5%',
    action: 'page_immediately',
    prompt: 'Error rate > 5%: page on-call immediately',
    observed: '7.2%',
  };
  const c0 = config();
  const proposal = pageProposal(c0.services[0] as Config['services'][number], { summary: 's', reason: 'r' });
  const result = (escalations: Escalation[]) =>
    fakeResult('latency', 'aegis-api', { escalations, proposals: [proposal] });

  it('pages only when config.paging.auto_page and the rule’s auto_page are both on, for page_immediately', () => {
    expect(
      autoPageDecision(result([fired]), { config: config('auto_page: true', true) })?.escalation,
    ).toEqual(fired);
    expect(autoPageDecision(result([fired]), { config: config('auto_page: false', true) })).toBeUndefined();
    expect(autoPageDecision(result([fired]), { config: config('auto_page: true', false) })).toBeUndefined();
    const p99: Escalation = { ...fired, ruleId: 'p99-sustained', action: 'page' };
    expect(autoPageDecision(result([p99]), { config: config('auto_page: true', true) })).toBeUndefined();
  });
});
