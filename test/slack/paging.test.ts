import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import {
  EMULATOR_BOT_TOKEN,
  type EmulatedMessage,
  type SlackApiEmulator,
  start,
} from '../../src/console/slack-api-emulator.ts';
import type { Escalation, Proposal } from '../../src/domain/finding.ts';
import { remediation } from '../../src/slack/remediation.ts';
import { signSlackRequest } from '../../src/slack/signature.ts';
import { PagerDutyEvents } from '../../src/sources/pagerduty.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { blockActionsBody, buttonsOf, postInteraction } from '../support/block-actions.ts';
import {
  fakeResult,
  fakeStep,
  postSigned,
  SIGNING_SECRET,
  settle,
  slashCommandBody,
  startTestBot,
  type TestBot,
  visibleText,
} from '../support/slack.ts';

const PD = 'https://events.pagerduty.test';
const ROUTING_KEY = 'R0UTINGKEY0123456789abcdefSECRET';

function yaml(o: { autoPage?: boolean; ruleAutoPage?: boolean } = {}) {
  return `
slack:
  mode: http
  incident_channel: C0INCIDENT
  oncall_usergroup: S0ONCALL
services:
  - name: aegis-api
    default: true
    namespace: aegis
    deployment: aegis-api
authorization:
  page: { users: [U0ALICE] }
paging:
  events_url: ${PD}/v2/enqueue
  auto_page: ${o.autoPage ?? false}
escalation:
  - id: error-rate
    metric: error_rate_percent
    above: 5
    action: page_immediately
    prompt: "Error rate > 5%: page on-call immediately"
    auto_page: ${o.ruleAutoPage ?? false}
`;
}

const ESCALATION: Escalation = {
  ruleId: 'error-rate',
  condition: 'Error rate > 5%',
  action: 'page_immediately',
  prompt: 'Error rate > 5%: page on-call immediately',
  observed: '7.2%',
};
const PAGE: Proposal = {
  action: 'page',
  label: 'Page on-call now',
  change: { what: 'on-call', from: 'not paged', to: 'paged' },
  service: 'aegis-api',
  params: {
    severity: 'critical',
    summary: 'aegis-api: error rate 7.2% CRITICAL',
    rules: 'error-rate',
  },
  reason: 'Error rate > 5%: page on-call immediately (7.2%)',
  danger: false,
};

let emulator: SlackApiEmulator;
let bot: TestBot | undefined;
let store: MemoryStore;
let sleeps: number[];
let bodies: Record<string, unknown>[];

beforeAll(async () => {
  emulator = await start();
});
afterAll(async () => {
  await emulator.stop();
});
beforeEach(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
  sleeps = [];
  bodies = [];
});
afterEach(async () => {
  await bot?.stop();
  bot = undefined;
  nock.cleanAll();
  nock.enableNetConnect();
  emulator.reset();
});

/** The real Bolt app, wired with the remediation layer and a real PagerDuty client as main.ts wires them. */
async function startBot(o: { autoPage?: boolean; ruleAutoPage?: boolean } = {}): Promise<TestBot> {
  const config = parseConfig(yaml(o), 'paging.yml', {
    SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
  });
  store = new MemoryStore();
  const remedy = remediation({
    config,
    store,
    pager: new PagerDutyEvents({
      eventsUrl: config.paging.events_url,
      routingKey: config.secrets.pagerdutyRoutingKey as string,
      baseDelayMs: 100,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      // the jitter: half of each backoff ceiling
      random: () => 0.5,
    }),
  });
  const started = await startTestBot(emulator, {
    config,
    steps: [
      fakeStep({
        name: 'latency',
        run: async (ctx) =>
          fakeResult('latency', ctx.service.name, {
            severity: 'critical',
            headline: 'error rate 7.2% CRITICAL',
            escalations: [ESCALATION],
            proposals: [PAGE],
          }),
      }),
    ],
    actionCommands: remedy.actionCommands,
  });
  remedy.wire(started.slack, { botToken: EMULATOR_BOT_TOKEN, log: started.log });
  return started;
}

/** PagerDuty answering `status` (202 by default) to the next `times` events, the bodies kept. */
function pagerduty(status = 202, times = 1, reply?: Record<string, unknown>) {
  return nock(PD)
    .post('/v2/enqueue', (b) => {
      bodies.push(b);
      return true;
    })
    .times(times)
    .reply(
      status,
      reply ??
        (status === 202 ? { status: 'success', message: 'Event processed', dedup_key: 'from-pd' } : {}),
    );
}

const slash = (b: TestBot, text: string, user = 'U0ALICE') =>
  postSigned(b.eventsUrl, slashCommandBody({ text, user_id: user, response_url: emulator.responseUrl() }));

async function click(b: TestBot, message: EmulatedMessage, label: RegExp, user = 'U0ALICE') {
  const button = buttonsOf(message).find((x) => label.test(x.text.text));
  if (!button) throw new Error(`no button ${label} on: ${visibleText(message)}`);
  expect(await postInteraction(b.eventsUrl, blockActionsBody({ user, message, button }))).toBe(200);
  await settle(b);
}

function shortcutBody(o: { user: string; message: EmulatedMessage; channel?: string }): string {
  const payload = {
    type: 'message_action',
    token: 'legacy-verification-token-unused',
    action_ts: '1767607200.512345',
    team: { id: 'T0AEGIS', domain: 'aegis-emulated' },
    user: { id: o.user, name: o.user.toLowerCase(), username: o.user.toLowerCase(), team_id: 'T0AEGIS' },
    channel: { id: o.channel ?? o.message.channel, name: 'incident' },
    is_enterprise_install: false,
    enterprise: null,
    callback_id: 'page_oncall',
    trigger_id: '13345224609.738474920.8088930838d88f008e0',
    response_url: 'https://hooks.slack.com/app/T0AEGIS/6280931735045/0bGp1dXYm8yhUuGPBfT7EsPx',
    message_ts: o.message.ts,
    message: {
      type: 'message',
      user: 'U0BOB',
      text: o.message.text,
      ts: o.message.ts,
      ...(o.message.threadTs ? { thread_ts: o.message.threadTs } : {}),
    },
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

async function postShortcut(b: TestBot, body: string): Promise<number> {
  const ts = Math.floor(Date.now() / 1000);
  const res = await fetch(b.eventsUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(ts),
      'x-slack-signature': signSlackRequest(SIGNING_SECRET, ts, body),
    },
    body,
  });
  await res.text();
  return res.status;
}

/** `/aegis latency`: the report is the channel's root message, with the escalation's page button. */
async function report(b: TestBot): Promise<EmulatedMessage> {
  expect((await slash(b, 'latency')).status).toBe(200);
  await settle(b);
  const root = emulator.messages.inChannel('C0INCIDENT')[0];
  if (!root) throw new Error('no report');
  return root;
}

const thread = (root: EmulatedMessage) => emulator.messages.thread('C0INCIDENT', root.ts);
const last = (root: EmulatedMessage) => thread(root).at(-1) as EmulatedMessage;

describe('paging on-call from the incident thread', () => {
  it('a click on "Page on-call" triggers a PagerDuty incident keyed by the thread and says so in the thread', async () => {
    bot = await startBot();
    const root = await report(bot);
    expect(visibleText(root)).toContain('Error rate > 5%');
    const scope = pagerduty();
    await click(bot, root, /Page on-call now/);
    scope.done();

    const dedupKey = `aegis-T0AEGIS-C0INCIDENT-${root.ts}`;
    const sent = bodies[0] as {
      routing_key: string;
      event_action: string;
      dedup_key: string;
      payload: { summary: string; severity: string; source: string; custom_details: Record<string, unknown> };
      links: { href: string; text: string }[];
    };
    expect(sent.routing_key).toBe(ROUTING_KEY);
    expect(sent.event_action).toBe('trigger');
    expect(sent.dedup_key).toBe(dedupKey);
    expect(sent.payload.severity).toBe('critical');
    expect(sent.payload.source).toBe('aegis/aegis-api');
    expect(sent.payload.summary).toBe('aegis-api: error rate 7.2% CRITICAL');
    expect(sent.payload.custom_details).toMatchObject({
      reason: 'Error rate > 5%: page on-call immediately (7.2%)',
      escalation_rules: 'error-rate',
      paged_by: 'Slack user U0ALICE',
    });
    expect(sent.links[0]?.href).toMatch(/^https:\/\/aegis-emulated\.slack\.com\/archives\/C0INCIDENT\/p/);

    const paged = last(root);
    const text = visibleText(paged);
    expect(text).toContain('Paged on-call');
    expect(text).toContain('(PagerDuty accepted) by <@U0ALICE> at <!date^');
    expect(text).toContain('from-pd');
    expect(text).toContain('<!subteam^S0ONCALL>');
    expect(buttonsOf(paged).map((b) => b.text.text)).toEqual(['Acknowledge', 'Resolve']);
    expect(buttonsOf(paged).map((b) => b.action_id)).toEqual(['aegis_action:page', 'aegis_action:page#2']);

    const audit = await store.auditLog({ action: 'page' });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actor: 'U0ALICE',
      result: 'done',
      channel: 'C0INCIDENT',
      threadTs: root.ts,
    });
    expect(audit[0]?.detail).toContain('incident from-pd (PagerDuty accepted)');
    expect(audit[0]?.to).toContain(dedupKey);
    expect((await store.incidentThread('C0INCIDENT', root.ts))?.dedupKey).toBe(dedupKey);
  });

  it('pages twice from one thread with one dedup_key, so PagerDuty updates one incident', async () => {
    bot = await startBot();
    const root = await report(bot);
    pagerduty(202, 2);
    await click(bot, root, /Page on-call now/);
    // `/aegis page` carries no thread: it goes to the channel's latest incident thread, this one
    expect((await slash(bot, 'page database is on fire')).status).toBe(200);
    await settle(bot);
    expect(emulator.messages.inChannel('C0INCIDENT')).toHaveLength(1);
    const offer = last(root);
    expect(visibleText(offer)).toContain('database is on fire');
    await click(bot, offer, /Page on-call/);
    expect(bodies.map((b) => b.dedup_key)).toEqual([
      `aegis-T0AEGIS-C0INCIDENT-${root.ts}`,
      `aegis-T0AEGIS-C0INCIDENT-${root.ts}`,
    ]);
    expect((bodies[1] as { payload: { summary: string } }).payload.summary).toContain('database is on fire');
  });

  it('Acknowledge and Resolve send their event_action with the incident’s dedup_key', async () => {
    bot = await startBot();
    const root = await report(bot);
    pagerduty(202, 3);
    await click(bot, root, /Page on-call now/);
    const paged = last(root);
    await click(bot, paged, /^Acknowledge$/);
    expect(visibleText(last(root))).toContain('<@U0ALICE> acknowledged incident');
    await click(bot, paged, /^Resolve$/);
    expect(visibleText(last(root))).toContain('<@U0ALICE> resolved incident');
    const key = `aegis-T0AEGIS-C0INCIDENT-${root.ts}`;
    expect(bodies.slice(1)).toEqual([
      { routing_key: ROUTING_KEY, event_action: 'acknowledge', dedup_key: key },
      { routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: key },
    ]);
    expect((await store.auditLog({ action: 'page' })).map((a) => a.result)).toEqual(['done', 'done', 'done']);
  });

  it('a 400 (invalid event) is said plainly as "Page NOT sent" with a Retry of the same page, which then pages', async () => {
    bot = await startBot();
    const root = await report(bot);
    pagerduty(400, 1, {
      status: 'invalid event',
      message: 'Event object is invalid',
      errors: ['Length of summary is invalid'],
    });
    await click(bot, root, /Page on-call now/);
    const failed = last(root);
    const text = visibleText(failed);
    expect(text).toContain('Page NOT sent');
    expect(text).toContain('HTTP 400 invalid event: Event object is invalid: Length of summary is invalid');
    expect(text).not.toContain('Paged on-call');
    expect(text).not.toContain(ROUTING_KEY);
    expect((await store.auditLog({ action: 'page' }))[0]).toMatchObject({ result: 'failed' });

    const retry = buttonsOf(failed)[0];
    expect(retry?.text.text).toBe('Retry: Page on-call now');
    expect(JSON.parse(retry?.value ?? '{}')).toEqual({ ...PAGE, offeredAt: expect.any(String) });
    pagerduty();
    await click(bot, failed, /Retry/);
    expect(visibleText(last(root))).toContain('Paged on-call');
    expect(bodies[1]?.dedup_key).toBe(bodies[0]?.dedup_key);
  });

  it('a 429 is retried with jittered backoff and the page goes out', async () => {
    bot = await startBot();
    const root = await report(bot);
    const scope = pagerduty(429, 2, {
      status: 'throttle event',
      message: 'Requests for this service are arriving too quickly.',
    });
    pagerduty();
    await click(bot, root, /Page on-call now/);
    scope.done();
    expect(bodies).toHaveLength(3);
    expect(sleeps).toEqual([50, 100]);
    expect(visibleText(last(root))).toContain('Paged on-call');
  });

  it('a network failure is "Page NOT sent", never reported as sent', async () => {
    bot = await startBot();
    const root = await report(bot);
    nock(PD)
      .post('/v2/enqueue')
      .times(4)
      .replyWithError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    await click(bot, root, /Page on-call now/);
    const text = visibleText(last(root));
    expect(text).toContain('Page NOT sent');
    expect(text).toContain('cannot connect (ECONNREFUSED); gave up after 4 attempts');
    expect(thread(root).some((m) => visibleText(m).includes('Paged on-call'))).toBe(false);
    expect((await store.auditLog({ action: 'page' }))[0]).toMatchObject({ result: 'failed' });
  });

  it('someone not authorized to page is told who may, nothing is sent, and the refusal is audited', async () => {
    bot = await startBot();
    const root = await report(bot);
    const scope = pagerduty();
    await click(bot, root, /Page on-call now/, 'U0BOB');
    expect(scope.isDone()).toBe(false);
    expect(bodies).toEqual([]);
    expect(thread(root)).toEqual([]);
    const told = emulator.messages.ephemeral.find((e) => e.user === 'U0BOB');
    expect(told?.text ?? visibleText(told ?? {})).toBeTruthy();
    expect(visibleText(told ?? {})).toContain('Only <@U0ALICE> may page on-call');
    expect((await store.auditLog({ action: 'page' }))[0]).toMatchObject({
      actor: 'U0BOB',
      result: 'forbidden',
    });
  });
});

describe('/aegis page', () => {
  it('starts an incident thread when the channel has none, and offers the page there', async () => {
    bot = await startBot();
    expect((await slash(bot, 'page checkout is down')).status).toBe(200);
    await settle(bot);
    const roots = emulator.messages.inChannel('C0INCIDENT');
    expect(roots).toHaveLength(1);
    const root = roots[0] as EmulatedMessage;
    expect(visibleText(root)).toContain('Incident thread');
    expect((await store.latestIncidentThread('C0INCIDENT'))?.threadTs).toBe(root.ts);
    const offer = last(root);
    expect(visibleText(offer)).toContain('checkout is down');
    expect(bodies).toEqual([]);
    pagerduty();
    await click(bot, offer, /Page on-call/);
    expect(bodies[0]?.dedup_key).toBe(`aegis-T0AEGIS-C0INCIDENT-${root.ts}`);
    expect(visibleText(last(root))).toContain('Paged on-call');
  });
});

describe('the message shortcut "Page on-call about this"', () => {
  it('offers a page in the message’s thread with its text and permalink; the click pages with both', async () => {
    bot = await startBot();
    const posted = await bot.slack.app.client.chat.postMessage({
      token: EMULATOR_BOT_TOKEN,
      channel: 'C0INCIDENT',
      text: 'checkout returns 502 for every EU customer since 10:02',
    });
    const message = emulator.messages.get('C0INCIDENT', posted.ts as string) as EmulatedMessage;
    expect(await postShortcut(bot, shortcutBody({ user: 'U0ALICE', message }))).toBe(200);
    await settle(bot);
    const offer = last(message);
    const text = visibleText(offer);
    expect(text).toContain('checkout returns 502 for every EU customer since 10:02');
    expect(text).toContain(
      `https://aegis-emulated.slack.com/archives/C0INCIDENT/p${message.ts.replace('.', '')}`,
    );
    expect(buttonsOf(offer)[0]?.text.text).toBe('Page on-call about this');
    expect(bodies).toEqual([]);

    pagerduty();
    await click(bot, offer, /Page on-call about this/);
    const sent = bodies[0] as {
      dedup_key: string;
      payload: { summary: string; custom_details: Record<string, unknown> };
      links: { text: string }[];
    };
    expect(sent.dedup_key).toBe(`aegis-T0AEGIS-C0INCIDENT-${message.ts}`);
    expect(sent.payload.custom_details.message).toBe(
      'checkout returns 502 for every EU customer since 10:02',
    );
    expect(sent.payload.custom_details.slack_message).toContain('/archives/C0INCIDENT/p');
    expect(sent.links.map((l) => l.text)).toEqual(['Slack incident thread', 'Slack message']);
    expect(visibleText(last(message))).toContain('Paged on-call');
  });

  it('cuts a long message to a quote; the permalink carries the rest', async () => {
    bot = await startBot();
    const long = `stack trace: ${'at frame '.repeat(200)}`;
    const posted = await bot.slack.app.client.chat.postMessage({
      token: EMULATOR_BOT_TOKEN,
      channel: 'C0INCIDENT',
      text: long,
    });
    const message = emulator.messages.get('C0INCIDENT', posted.ts as string) as EmulatedMessage;
    expect(await postShortcut(bot, shortcutBody({ user: 'U0ALICE', message }))).toBe(200);
    await settle(bot);
    const value = JSON.parse(buttonsOf(last(message))[0]?.value ?? '{}') as Proposal;
    expect(String(value.params.message).length).toBeLessThanOrEqual(300);
    expect(String(value.params.message).endsWith('…')).toBe(true);
  });
});

describe('auto_page', () => {
  it('with auto_page on (config and rule), a "page immediately" rule pages without a click and says why', async () => {
    bot = await startBot({ autoPage: true, ruleAutoPage: true });
    pagerduty();
    const root = await report(bot);
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toMatchObject({
      event_action: 'trigger',
      dedup_key: `aegis-T0AEGIS-C0INCIDENT-${root.ts}`,
    });
    const text = visibleText(last(root));
    expect(text).toContain('Paged automatically: rule error-rate (Error rate > 5%), observed 7.2%');
    expect(text).toContain('<!subteam^S0ONCALL>');
    expect(text).toContain('severity critical');
    expect((await store.auditLog({ action: 'page' }))[0]).toMatchObject({
      actor: 'auto_page',
      result: 'done',
    });
  });

  it('with config.paging.auto_page off, nothing is sent until someone clicks', async () => {
    bot = await startBot({ autoPage: false, ruleAutoPage: true });
    const scope = pagerduty();
    const root = await report(bot);
    expect(scope.isDone()).toBe(false);
    expect(thread(root)).toEqual([]);
  });

  it('with the rule’s auto_page off, nothing is sent either', async () => {
    bot = await startBot({ autoPage: true, ruleAutoPage: false });
    const scope = pagerduty();
    const root = await report(bot);
    expect(scope.isDone()).toBe(false);
    expect(thread(root)).toEqual([]);
  });

  it('an automatic page PagerDuty refuses says "Page NOT sent" and why it was tried, with a Retry', async () => {
    bot = await startBot({ autoPage: true, ruleAutoPage: true });
    pagerduty(400, 1, { status: 'invalid event', message: 'Event object is invalid', errors: [] });
    const root = await report(bot);
    const text = visibleText(last(root));
    expect(text).toContain('Page NOT sent');
    expect(text).toContain('automatic page (rule error-rate');
    expect(buttonsOf(last(root))[0]?.text.text).toBe('Retry: Page on-call now');
  });
});
