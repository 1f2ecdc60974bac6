import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SourceError } from '../../src/domain/errors.ts';
import { observeSourceCalls } from '../../src/sources/http.ts';
import { PagerDutyEvents, type PagerDutyOptions, retryAfterMs } from '../../src/sources/pagerduty.ts';

const PD = 'https://events.pagerduty.test';
const ROUTING_KEY = 'R0UTINGKEYSECRET0123456789abcdef';

/** Random numbers handed out in turn (the jitter), the last repeated. */
function randoms(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)] as number;
}

function events(sleeps: number[] = [], attempts = 4, extra: Partial<PagerDutyOptions> = {}) {
  return new PagerDutyEvents({
    eventsUrl: `${PD}/v2/enqueue`,
    routingKey: ROUTING_KEY,
    attempts,
    baseDelayMs: 100,
    maxDelayMs: 250,
    timeoutMs: 2000,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: randoms(0.5),
    ...extra,
  });
}

const trigger = {
  event_action: 'trigger' as const,
  dedup_key: 'aegis-T0AEGIS-C0INCIDENT-1700000000.000100',
  payload: {
    summary: 'aegis-api: error rate 7.2%',
    source: 'aegis/aegis-api',
    severity: 'critical' as const,
  },
  links: [
    { href: 'https://aegis.slack.com/archives/C0INCIDENT/p1700000000000100', text: 'Slack incident thread' },
  ],
};

async function failure(p: Promise<unknown>): Promise<SourceError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SourceError) return e;
    throw e;
  }
  throw new Error('expected the event to be refused');
}

beforeEach(() => {
  nock.disableNetConnect();
});
afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('PagerDutyEvents (Events API v2)', () => {
  it('posts the documented trigger body with the routing key and reads the 202 answer', async () => {
    let sent: Record<string, unknown> | undefined;
    const scope = nock(PD)
      .post('/v2/enqueue', (b) => {
        sent = b;
        return true;
      })
      .matchHeader('content-type', /application\/json/)
      .reply(202, { status: 'success', message: 'Event processed', dedup_key: trigger.dedup_key });
    const accepted = await events().send(trigger);
    expect(accepted).toEqual({ dedupKey: trigger.dedup_key, message: 'Event processed', attempts: 1 });
    expect(sent).toEqual({ routing_key: ROUTING_KEY, ...trigger });
    scope.done();
  });

  it('cuts a summary longer than 1024 characters, as the API requires', async () => {
    let summary = '';
    nock(PD)
      .post('/v2/enqueue', (b) => {
        summary = b.payload.summary;
        return true;
      })
      .reply(202, { status: 'success', message: 'Event processed', dedup_key: 'k' });
    await events().send({ ...trigger, payload: { ...trigger.payload, summary: 'x'.repeat(2000) } });
    expect(summary).toHaveLength(1024);
    expect(summary.endsWith('…')).toBe(true);
  });

  it('sends acknowledge and resolve with the dedup_key and no payload', async () => {
    const bodies: Record<string, unknown>[] = [];
    nock(PD)
      .post('/v2/enqueue', (b) => {
        bodies.push(b);
        return true;
      })
      .times(2)
      .reply(202, { status: 'success', message: 'Event processed', dedup_key: 'inc-1' });
    await events().send({ event_action: 'acknowledge', dedup_key: 'inc-1' });
    await events().send({ event_action: 'resolve', dedup_key: 'inc-1' });
    expect(bodies).toEqual([
      { routing_key: ROUTING_KEY, event_action: 'acknowledge', dedup_key: 'inc-1' },
      { routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: 'inc-1' },
    ]);
  });

  it('fails at once on 400 (invalid event) with PagerDuty’s words, without retrying', async () => {
    const sleeps: number[] = [];
    const scope = nock(PD)
      .post('/v2/enqueue')
      .reply(400, {
        status: 'invalid event',
        message: 'Event object is invalid',
        errors: [
          "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')",
        ],
      });
    const e = await failure(events(sleeps).send(trigger));
    expect(e.source).toBe('pagerduty');
    expect(e.reason).toBe('refused');
    expect(e.message).toContain('HTTP 400 invalid event: Event object is invalid');
    expect(e.message).toContain("'payload.severity' is invalid");
    expect(sleeps).toEqual([]);
    scope.done();
  });

  it('summarises a 400 that echoes the request: the routing key is in neither the message nor the error', async () => {
    const scope = nock(PD)
      .post('/v2/enqueue')
      .reply(400, {
        status: 'invalid event',
        message: 'Event object is invalid',
        errors: [`routing_key ${ROUTING_KEY} does not match an integration`],
        request: { routing_key: ROUTING_KEY, ...trigger },
      });
    const e = await failure(events().send(trigger));
    expect(e.message).toBe(
      'pagerduty: send trigger failed: HTTP 400 invalid event: Event object is invalid: routing_key *** does not match an integration',
    );
    expect(JSON.stringify({ message: e.message, stack: e.stack, cause: e.cause })).not.toContain(ROUTING_KEY);
    scope.done();
  });

  it('retries a 429 with exponential backoff and full jitter, then succeeds', async () => {
    const sleeps: number[] = [];
    const scope = nock(PD)
      .post('/v2/enqueue')
      .times(2)
      .reply(429, {
        status: 'throttle event',
        message: 'Requests for this service are arriving too quickly.',
      })
      .post('/v2/enqueue')
      .reply(202, { status: 'success', message: 'Event processed', dedup_key: trigger.dedup_key });
    const accepted = await events(sleeps, 4, { random: randoms(0.5, 0.25) }).send(trigger);
    expect(accepted.attempts).toBe(3);
    // a random share of the exponential ceiling: 0.5 of 100 ms, then 0.25 of 200 ms
    expect(sleeps).toEqual([50, 50]);
    scope.done();
  });

  it('gives up after a bounded number of attempts, the backoff capped', async () => {
    const sleeps: number[] = [];
    const scope = nock(PD).post('/v2/enqueue').times(4).reply(503, 'upstream unavailable');
    const e = await failure(events(sleeps, 4, { random: randoms(0.999) }).send(trigger));
    expect(e.message).toBe('pagerduty: send trigger failed: HTTP 503; gave up after 4 attempts');
    // ceilings 100, 200, then 400 capped at 250
    expect(sleeps).toEqual([99, 199, 249]);
    scope.done();
  });

  it('waits what a 429 Retry-After in seconds asks instead of the backoff', async () => {
    const sleeps: number[] = [];
    const scope = nock(PD)
      .post('/v2/enqueue')
      .reply(429, { status: 'throttle event' }, { 'Retry-After': '3' })
      .post('/v2/enqueue')
      .reply(202, { status: 'success', message: 'Event processed', dedup_key: trigger.dedup_key });
    const accepted = await events(sleeps).send(trigger);
    expect(accepted.attempts).toBe(2);
    expect(sleeps).toEqual([3000]);
    scope.done();
  });

  it('waits until a 503 Retry-After HTTP date', async () => {
    const sleeps: number[] = [];
    const now = Date.parse('Wed, 02 Dec 2026 15:00:00 GMT');
    const scope = nock(PD)
      .post('/v2/enqueue')
      .reply(503, 'maintenance', { 'Retry-After': 'Wed, 02 Dec 2026 15:00:07 GMT' })
      .post('/v2/enqueue')
      .reply(202, { status: 'success', message: 'Event processed', dedup_key: trigger.dedup_key });
    const accepted = await events(sleeps, 4, { now: () => now }).send(trigger);
    expect(accepted.attempts).toBe(2);
    expect(sleeps).toEqual([7000]);
    scope.done();
  });

  it('gives up at once when Retry-After is beyond the retry budget, saying so', async () => {
    const sleeps: number[] = [];
    const scope = nock(PD)
      .post('/v2/enqueue')
      .reply(429, { status: 'throttle event' }, { 'Retry-After': '120' });
    const e = await failure(events(sleeps, 4, { retryBudgetMs: 30_000 }).send(trigger));
    expect(e.message).toBe(
      'pagerduty: send trigger failed: HTTP 429: rate limited; asked to retry after 120 s, beyond the 30 s retry budget: gave up after 1 attempt',
    );
    expect(sleeps).toEqual([]);
    scope.done();
  });

  it('keeps all the waits together within the retry budget', async () => {
    const sleeps: number[] = [];
    const scope = nock(PD).post('/v2/enqueue').times(2).reply(503, 'busy', { 'Retry-After': '2' });
    const e = await failure(events(sleeps, 4, { retryBudgetMs: 3000 }).send(trigger));
    expect(sleeps).toEqual([2000]);
    expect(e.message).toMatch(/beyond the 3 s retry budget: gave up after 2 attempts$/);
    scope.done();
  });

  it('reads Retry-After as seconds or an HTTP date, and ignores anything else', () => {
    const now = Date.parse('2026-12-02T15:00:00Z');
    expect(retryAfterMs('5', now)).toBe(5000);
    expect(retryAfterMs(['2'], now)).toBe(2000);
    expect(retryAfterMs('Wed, 02 Dec 2026 15:01:00 GMT', now)).toBe(60_000);
    expect(retryAfterMs('Wed, 02 Dec 2026 14:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });

  it('reports a network failure plainly after retrying, and never leaks the routing key', async () => {
    const scope = nock(PD)
      .post('/v2/enqueue')
      .times(2)
      .replyWithError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    const e = await failure(events([], 2).send(trigger));
    expect(e.message).toBe(
      'pagerduty: send trigger failed: cannot connect (ECONNRESET); gave up after 2 attempts',
    );
    expect(e.cause).toBeUndefined();
    expect(JSON.stringify({ message: e.message, stack: e.stack })).not.toContain(ROUTING_KEY);
    scope.done();
  });

  it('tells the source-call observers how it went', async () => {
    const seen: string[] = [];
    const stop = observeSourceCalls((c) => seen.push(`${c.source} ${c.operation} ${c.outcome}`));
    nock(PD).post('/v2/enqueue').reply(400, { status: 'invalid event', message: 'bad', errors: [] });
    await failure(events().send(trigger));
    stop();
    expect(seen).toEqual(['pagerduty send trigger refused']);
  });
});
