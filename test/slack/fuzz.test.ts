/**
 * Property-based fuzzing of the real app over loopback: thousands of generated slash commands, button
 * clicks and Alertmanager notifications, signed (or authenticated) as their senders do, reach the real
 * Bolt app (signature gate, parsing, the action subcommands and remediation clicks through actions/,
 * the /alertmanager receiver and its incident threads, rendering) with its Web API pointed at the
 * emulator. Whatever the input, nothing answers 5xx (but the documented 503 when the store fails), no
 * answer or posted message shows a stack trace or "internal error" (the input is at worst wrong, never
 * a bug's business), nothing is logged as an error, and the process still answers /healthz at the end.
 *
 * Fixed seed, so a failure reproduces. Each property run is a batch of cases sent concurrently (as real
 * traffic arrives), then drained and checked together, naming the batch's inputs on a failure; the
 * loopback round trips of one case overlap the work of the others. (Each case used to wait 40 ms on
 * Nagle + delayed ACK behind nock's interceptor: test/support/no-delay.ts.)
 */
import fc from 'fast-check';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaleProposal } from '../../src/actions/propose.ts';
import type { ActionDeps } from '../../src/actions/types.ts';
import { parseConfig } from '../../src/config/load.ts';
import { EMULATOR_BOT_TOKEN, type SlackApiEmulator, start } from '../../src/console/slack-api-emulator.ts';
import type { Proposal } from '../../src/domain/finding.ts';
import { createOpsRoutes, createReadiness } from '../../src/ops/health.ts';
import { alertsWiring } from '../../src/slack/alerts.ts';
import { ACTION_COMMANDS, registerInteractions, slackGroupsOf } from '../../src/slack/interactions.ts';
import { KubernetesActions } from '../../src/sources/kubernetes-actions.ts';
import { STEPS } from '../../src/steps/registry.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import type { Store } from '../../src/store/types.ts';
import { FakeCluster, kubeConfigFor } from '../support/fake-cluster.ts';
import {
  fakeResult,
  postSigned,
  recordingLog,
  SIGNING_SECRET,
  slashCommandBody,
  startTestBot,
  type TestBot,
  visibleText,
} from '../support/slack.ts';

const SEED = 150_015;
const COMMANDS = 2000;
const CLICKS = 1000;
const NOTIFICATIONS = 1000;
/** Cases sent concurrently, then drained and checked together. */
const BATCH = 25;

const YAML = `
slack:
  mode: http
  incident_channel: C0INCIDENT
services:
  - name: aegis-api
    default: true
    namespace: aegis
    deployment: aegis-api
    container: aegis-api
    configmap: aegis-config
  - name: billing
    namespace: billing
    deployment: billing
actions:
  min_replicas: 2
  max_replicas: 10
authorization:
  scale: { users: [U0ALICE] }
  set_memory_limit: { users: [U0ALICE] }
  set_pool_size: { users: [U0ALICE, U0BOB], second_approver: true }
alerts:
  auth:
    bearer_token_env: ALERTMANAGER_WEBHOOK_TOKEN
  body_limit: 65536
  routes:
    - match: { alertname: AegisHighP99Latency }
      steps: [latency]
    - match_re: { alertname: "AegisHigh(CPU|Memory)" }
      match: { severity: critical }
      steps: [latency, cpu]
    - match: { alertname: AegisSlowQuery }
      service: billing
      steps: [db]
`;
const WEBHOOK_TOKEN = 'fuzz-alertmanager-token-5d1e';
/** A notification whose groupKey holds this finds the store down (the documented 503). */
const STORE_DOWN = 'store-down';
const STORE_DOWN_LOG = 'could not record an Alertmanager notification: answered 503';

let emulator: SlackApiEmulator;
let cluster: FakeCluster;
let bot: TestBot;
/** Every answer the bot gave over HTTP (acks), for the checks at the end of each case. */
const answers: { status: number; text: string; input: string; storeDown?: boolean }[] = [];
const alertLog = recordingLog();

beforeAll(async () => {
  emulator = await start();
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
  cluster = new FakeCluster().install();
  const config = parseConfig(YAML, 'fuzz.yml', {
    SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    ALERTMANAGER_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
  });
  const store = new MemoryStore();
  const flakyStore: Store = Object.create(store, {
    recordAlertNotification: {
      value: (n: Parameters<Store['recordAlertNotification']>[0]) =>
        n.groupKey.includes(STORE_DOWN)
          ? Promise.reject(new Error('connection terminated unexpectedly'))
          : store.recordAlertNotification(n),
    },
  });
  const alerts = alertsWiring({ config, store: flakyStore, steps: STEPS, log: alertLog, owner: 'fuzz' });
  const readiness = createReadiness();
  readiness.markStarted();
  let deps: ActionDeps | undefined;
  bot = await startTestBot(emulator, {
    config,
    // the runbook's real steps parse what is typed; running them against live systems is not the point
    steps: STEPS,
    runStep: async (step, _args, run) => fakeResult(step.name, run.service.name),
    actionCommands: { definitions: ACTION_COMMANDS, deps: () => deps as ActionDeps },
    routes: [...createOpsRoutes({ readiness }), ...(alerts?.routes ?? [])],
  });
  alerts?.attach(bot.slack, { botToken: EMULATOR_BOT_TOKEN });
  deps = {
    config,
    store,
    groupsOf: slackGroupsOf(bot.slack.app.client, { token: EMULATOR_BOT_TOKEN }),
    cluster: new KubernetesActions({ kubeConfig: kubeConfigFor(), timeoutMs: 5000 }),
  };
  registerInteractions(bot.slack.app, {
    actions: deps,
    log: bot.log,
    inFlight: bot.slack.inFlight,
    botToken: EMULATOR_BOT_TOKEN,
    follow: { timeoutMs: 1, intervalMs: 1 },
  });
});

afterAll(async () => {
  await bot?.stop();
  cluster?.uninstall();
  nock.enableNetConnect();
  await emulator?.stop();
});

// --- what is thrown at it

const nasty = fc.constantFrom(
  '',
  ' ',
  '0',
  '-1',
  '1e309',
  'NaN',
  '99999999999999999999',
  '5m',
  '1h',
  '30s',
  '0s',
  '-5m',
  'aegis-api',
  'billing',
  'AEGIS-API',
  'kube-system',
  '../etc/passwd',
  '--restart',
  '--force',
  "' OR 1=1 --",
  '"; DROP TABLE users; --',
  '{job="x"}',
  'up) or vector(1',
  '^([a-zA-Z0-9./()*_-]+)+Q$',
  '<script>alert(1)</script>',
  '<!channel>',
  '<@U0ALICE>',
  '*bold* _it_ `code`',
  '\u0000',
  '\u202e',
  '🔥',
  'x'.repeat(3000),
);
const word = fc.oneof(
  { weight: 3, arbitrary: nasty },
  { weight: 2, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.integer({ min: -5, max: 1_000_000 }).map(String) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9-]{1,12}$/) },
);
const subcommand = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(...STEPS.map((s) => s.name), ...ACTION_COMMANDS.map((a) => a.name)),
  },
  { weight: 1, arbitrary: fc.constantFrom('help', 'HELP', 'Scale', '') },
  { weight: 1, arbitrary: word },
);
const commandText = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.tuple(subcommand, fc.array(word, { maxLength: 5 })).map(([s, w]) => [s, ...w].join(' ')),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('help'), subcommand).map((p) => p.join(' ')) },
);
const userId = fc.constantFrom('U0ALICE', 'U0BOB', 'U0ONCALL', 'U0NOBODY', '', 'W0OTHER');
const channelId = fc.constantFrom(
  'C0INCIDENT',
  'C0GENERAL',
  'C0OUTSIDE',
  'C0MISSING',
  'G0PRIVATE',
  'D0DIRECT',
  '',
);

const paramValue = fc.oneof(fc.string({ maxLength: 30 }), fc.integer(), fc.double(), fc.boolean(), nasty);
function proposalVariants(): fc.Arbitrary<unknown> {
  const base = scaleProposal(
    { name: 'aegis-api', namespace: 'aegis', deployment: 'aegis-api' } as never,
    3,
    5,
    'CPU CRITICAL',
  );
  const stamped = (p: Proposal, offeredAt: string | undefined) => (offeredAt ? { ...p, offeredAt } : p);
  return fc.oneof(
    // the real shape, with parameters added, changed or of the wrong type
    fc
      .record({
        action: fc.constantFrom(
          'scale',
          'set_memory_limit',
          'set_pool_size',
          'cancel_query',
          'vacuum_analyze',
          'page',
          'rm_rf',
        ),
        service: fc.constantFrom('aegis-api', 'billing', 'nope', ''),
        params: fc.dictionary(
          fc.constantFrom(
            'to',
            'from',
            'namespace',
            'deployment',
            'container',
            'pid',
            'table',
            'extra',
            'force',
          ),
          paramValue,
          { maxKeys: 6 },
        ),
        offeredAt: fc.option(
          fc.constantFrom(new Date().toISOString(), '2020-01-01T00:00:00.000Z', 'yesterday'),
          { nil: undefined },
        ),
      })
      .map(({ action, service, params, offeredAt }) =>
        stamped(
          { ...base, action: action as Proposal['action'], service, params: { ...base.params, ...params } },
          offeredAt,
        ),
      ),
    fc.constant(stamped(base, new Date().toISOString())),
    fc.json({ maxDepth: 3 }).map((j) => JSON.parse(j) as unknown),
    fc.record({ step: word, args: fc.array(word, { maxLength: 4 }), service: word }),
  );
}
const buttonValue = fc.oneof(
  { weight: 6, arbitrary: proposalVariants().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 100 }) },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.stringMatching(/^[0-9a-f]{64}$/) },
);
const actionId = fc.constantFrom(
  'aegis_action:scale',
  'aegis_action:set_memory_limit',
  'aegis_action:set_pool_size',
  'aegis_action:cancel_query',
  'aegis_action:terminate_session',
  'aegis_action:vacuum_analyze',
  'aegis_action:page',
  'aegis_action:scale#2',
  'aegis_step:cpu',
  'aegis_step:latency',
  'aegis_step:nope',
  'aegis_approve',
  'aegis_unknown',
);

function clickBody(c: {
  user: string;
  channel: string;
  actionId: string;
  value: string | undefined;
  ts: string;
}): string {
  const payload = {
    type: 'block_actions',
    user: { id: c.user, username: 'x', name: 'x', team_id: 'T0AEGIS' },
    api_app_id: 'A0AEGIS',
    token: 'legacy-verification-token-unused',
    container: { type: 'message', message_ts: c.ts, channel_id: c.channel, is_ephemeral: false },
    trigger_id: `1.2.${Math.random().toString(16).slice(2)}`,
    team: { id: 'T0AEGIS', domain: 'aegis-emulated' },
    channel: { id: c.channel, name: 'incident' },
    message: {
      type: 'message',
      user: 'U0AEGISBOT',
      bot_id: 'B0AEGISBOT',
      text: 'offer',
      ts: c.ts,
      blocks: [],
    },
    state: { values: {} },
    response_url: emulator.responseUrl(),
    actions: [
      {
        action_id: c.actionId,
        block_id: 'b',
        text: { type: 'plain_text', text: 'x' },
        ...(c.value !== undefined ? { value: c.value } : {}),
        type: 'button',
        action_ts: '1767607200.512345',
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

// --- Alertmanager notifications

/** Text an alert may carry: mentions that must reach Slack escaped, odd unicode, markup. */
const alertText = fc.oneof(
  { weight: 3, arbitrary: nasty.filter((t) => t.length <= 1024) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40, unit: 'binary' }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '<!channel> P99 is on fire',
      '<!here|here> ping',
      '<!everyone>',
      '<@U0EVIL> look',
      '<!subteam^S0EVIL>',
      '<https://evil.example|click me>',
      'a\u0000b',
      '\ud800',
      'e\u0301\u200d\u2066rtl\u2069',
      '&lt;!channel&gt;',
    ),
  },
);
const fingerprint = fc.constantFrom('a1b2c3d4e5f60708', 'ffff000011112222', 'dup', '0');
const alertname = fc.constantFrom(
  'AegisHighP99Latency',
  'AegisHighCPU',
  'AegisHighMemory',
  'AegisSlowQuery',
  'SomethingElse',
);
const time = fc.constantFrom(
  '2026-01-05T10:00:00Z',
  '2026-01-05T09:00:00Z',
  '2026-01-05T11:00:00+01:00',
  '0001-01-01T00:00:00Z',
  '2099-12-31T23:59:59Z',
  '1970-01-01T00:00:00Z',
);
const labels = fc.dictionary(
  fc.oneof(fc.constantFrom('service', 'severity', 'instance', 'job', 'pod'), fc.string({ maxLength: 12 })),
  alertText,
  { maxKeys: 4 },
);
const alertArb = fc.record({
  status: fc.constantFrom('firing', 'resolved'),
  labels: fc
    .tuple(
      alertname,
      fc.constantFrom('aegis-api', 'billing', 'nope', ''),
      fc.constantFrom('critical', 'warning'),
      labels,
    )
    .map(([name, service, severity, extra]) => ({ ...extra, alertname: name, service, severity })),
  annotations: fc.record({ summary: alertText, description: alertText }),
  // resolved-before-firing and ends-before-starts come out of these freely
  startsAt: time,
  endsAt: time,
  generatorURL: fc.constantFrom('', 'http://prometheus:9090/graph?g0.expr=up', 'javascript:alert(1)'),
  fingerprint,
});
const validNotification = fc
  .record({
    groupKey: fc.constantFrom(
      '{}:{alertname="AegisHighP99Latency"}',
      '{}:{alertname="AegisHighCPU"}',
      '{}:{}',
    ),
    // one in ten finds the store down
    storeDown: fc.integer({ min: 0, max: 9 }).map((i) => i === 0),
    alerts: fc.array(alertArb, { minLength: 1, maxLength: 4 }),
    groupLabels: labels,
    commonAnnotations: fc.record({ summary: alertText }),
  })
  .map(({ groupKey, storeDown, alerts, groupLabels, commonAnnotations }) => ({
    storeDown,
    n: {
      version: '4',
      groupKey: storeDown ? `${groupKey}/${STORE_DOWN}` : groupKey,
      truncatedAlerts: 0,
      status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
      receiver: 'aegis-bot',
      groupLabels,
      commonLabels: alerts[0]?.labels ?? {},
      commonAnnotations,
      externalURL: 'http://alertmanager:9093',
      alerts,
    } as Record<string, unknown>,
  }));
/** A change that makes any notification invalid, by construction. */
const breakage = fc.constantFrom<(n: Record<string, unknown>) => unknown>(
  (n) => ({ ...n, version: '3' }),
  (n) => ({ ...n, version: 4 }),
  (n) => ({ ...n, alerts: [] }),
  (n) => ({ ...n, alerts: 'all of them' }),
  (n) => {
    const { alerts: _gone, ...rest } = n;
    return rest;
  },
  (n) => {
    const { groupKey: _gone, ...rest } = n;
    return rest;
  },
  (n) => ({ ...n, status: 'burning' }),
  (n) => ({ ...n, groupKey: '' }),
  (n) => ({ ...n, truncatedAlerts: -1 }),
  (n) => ({ ...n, commonLabels: { service: 42 } }),
  (n) => ({ ...n, alerts: [{ ...(n.alerts as object[])[0], startsAt: 'yesterday' }] }),
  (n) => ({ ...n, alerts: [{ ...(n.alerts as object[])[0], fingerprint: '' }] }),
  (n) => ({ ...n, alerts: [{ ...(n.alerts as object[])[0], fingerprint: 12345 }] }),
  (n) => ({ ...n, alerts: [{ ...(n.alerts as object[])[0], labels: null }] }),
  (n) => ({ ...n, alerts: [{ ...(n.alerts as object[])[0], labels: { alertname: 'x'.repeat(20_000) } }] }),
  () => null,
  () => [],
  () => 'a string',
);
const goodAuth = fc.constantFrom(
  `Bearer ${WEBHOOK_TOKEN}`,
  `bearer ${WEBHOOK_TOKEN}`,
  `BEARER  ${WEBHOOK_TOKEN}`,
);
const badAuth = fc.oneof(
  fc.constantFrom(
    undefined,
    '',
    'Bearer',
    `Bearer ${WEBHOOK_TOKEN}x`,
    `Bearer ${WEBHOOK_TOKEN.slice(0, -1)}`,
    `Basic ${Buffer.from(`alertmanager:${WEBHOOK_TOKEN}`).toString('base64')}`,
    WEBHOOK_TOKEN,
    `Token ${WEBHOOK_TOKEN}`,
    'Bearer \u00e9\u00e9',
  ),
  fc.string({ maxLength: 40 }).filter((s) => /^[\t\x20-\x7e\x80-\xff]*$/.test(s)),
);
const alertCase = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.tuple(validNotification, goodAuth).map(([v, authorization]) => ({
      kind: 'valid' as const,
      authorization,
      authorized: true,
      storeDown: v.storeDown,
      body: JSON.stringify(v.n),
    })),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(validNotification, breakage, goodAuth).map(([v, brk, authorization]) => ({
      kind: 'malformed' as const,
      authorization,
      authorized: true,
      storeDown: false,
      body: JSON.stringify(brk(v.n)),
    })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.oneof(
          validNotification.map((v) => JSON.stringify(v.n).slice(0, -7)),
          fc.string({ maxLength: 200 }),
          fc.json({ maxDepth: 4 }),
          // huge label sets: over the body limit, or labels over the schema's bounds
          validNotification.map((v) =>
            JSON.stringify({
              ...v.n,
              commonLabels: Object.fromEntries(
                Array.from({ length: 800 }, (_, i) => [`l${i}`, 'v'.repeat(90)]),
              ),
            }),
          ),
        ),
        goodAuth,
      )
      .map(([body, authorization]) => ({
        kind: 'hostile' as const,
        authorization,
        authorized: true,
        storeDown: body.includes(STORE_DOWN),
        body,
      })),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(validNotification, badAuth).map(([v, authorization]) => ({
      kind: 'valid' as const,
      authorization,
      authorized: false,
      storeDown: false,
      body: JSON.stringify(v.n),
    })),
  },
);

// --- what must hold

const STACK_TRACE =
  /^\s*at\s.+:\d+:\d+\)?\s*$|node:internal|\b(TypeError|ReferenceError|RangeError|SyntaxError)\b/m;

/** Everything the bot said since `mark`: acks, posted and updated messages, ephemerals, response_url answers. */
function saidSince(mark: {
  answers: number;
  messages: number;
  ephemeral: number;
  responses: number;
}): string[] {
  return [
    ...answers.slice(mark.answers).map((a) => a.text),
    ...emulator.messages
      .all()
      .slice(mark.messages)
      .flatMap((m) => [visibleText(m), ...m.history.map((h) => visibleText(h))]),
    ...emulator.messages.ephemeral.slice(mark.ephemeral).map((e) => visibleText(e)),
    ...emulator.responses.slice(mark.responses).map((r) => visibleText(r.body as object)),
  ];
}

function mark() {
  return {
    answers: answers.length,
    messages: emulator.messages.all().length,
    ephemeral: emulator.messages.ephemeral.length,
    responses: emulator.responses.length,
    log: bot.log.entries.length,
    alertLog: alertLog.entries.length,
  };
}

async function expectWellBehaved(input: string, since: ReturnType<typeof mark>): Promise<void> {
  const interrupted = await bot.slack.inFlight.drain(15_000);
  expect(
    interrupted.map((w) => w.describe),
    input,
  ).toEqual([]);
  for (const a of answers.slice(since.answers)) {
    if (!(a.storeDown && a.status === 503)) expect(a.status, input).toBeLessThan(500);
    expect(a.text, input).not.toMatch(STACK_TRACE);
  }
  for (const text of saidSince(since)) {
    expect(text, input).not.toMatch(/internal error/i);
    expect(text, input).not.toMatch(STACK_TRACE);
  }
  const errors = [...bot.log.entries, ...alertLog.entries.slice(since.alertLog)].filter(
    (e) => e.level === 'error' && e.msg !== STORE_DOWN_LOG,
  );
  expect(
    errors.map((e) => e.msg),
    input,
  ).toEqual([]);
}

/**
 * Runs `cases` as one batch: all sent concurrently, then everything drained and checked, the batch's
 * inputs named on a failure.
 */
async function runBatch<C>(cases: readonly C[], send: (c: C) => Promise<void>): Promise<void> {
  const since = mark();
  await Promise.all(cases.map(send));
  await expectWellBehaved(cases.map((c) => JSON.stringify(c)).join('\n'), since);
}

const batches = <C>(one: fc.Arbitrary<C>) => fc.array(one, { minLength: BATCH, maxLength: BATCH });

describe('fuzzing the real app over loopback', () => {
  it(`answers ${COMMANDS} generated /aegis commands without a 5xx, a stack trace or an internal error`, async () => {
    const command = fc.record({ text: commandText, user: userId, channel: channelId });
    await fc.assert(
      fc.asyncProperty(batches(command), (cases) =>
        runBatch(cases, async ({ text, user, channel }) => {
          const res = await postSigned(
            bot.eventsUrl,
            slashCommandBody({
              text,
              user_id: user,
              channel_id: channel,
              response_url: emulator.responseUrl(),
            }),
          );
          answers.push({ status: res.status, text: res.text, input: text });
        }),
      ),
      { seed: SEED, numRuns: COMMANDS / BATCH, endOnFailure: true },
    );
  }, 240_000);

  it(`answers ${CLICKS} generated button clicks without a 5xx, a stack trace or an internal error`, async () => {
    const ts = (
      await bot.slack.app.client.chat.postMessage({
        token: EMULATOR_BOT_TOKEN,
        channel: 'C0INCIDENT',
        text: 'offer',
      })
    ).ts as string;
    const click = fc.record({
      user: userId,
      // the bot's own messages carry the buttons: a click comes from a channel the bot is in
      channel: fc.constantFrom('C0INCIDENT', 'C0GENERAL'),
      id: actionId,
      value: buttonValue,
    });
    await fc.assert(
      fc.asyncProperty(batches(click), (cases) =>
        runBatch(cases, async ({ user, channel, id, value }) => {
          const res = await postSigned(bot.eventsUrl, clickBody({ user, channel, actionId: id, value, ts }));
          answers.push({ status: res.status, text: res.text, input: `${id} ${value}` });
        }),
      ),
      { seed: SEED + 1, numRuns: CLICKS / BATCH, endOnFailure: true },
    );
  }, 240_000);

  it(`answers ${NOTIFICATIONS} generated Alertmanager notifications as documented: 401, 400 with problems, 413, 503 only when the store fails, else 200`, async () => {
    const before = emulator.messages.all().length;
    await fc.assert(
      fc.asyncProperty(batches(alertCase), async (cases) => {
        const since = mark();
        await runBatch(cases, async (c) => {
          const res = await fetch(`${bot.baseUrl}/alertmanager`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...(c.authorization === undefined ? {} : { authorization: c.authorization }),
            },
            body: c.body,
          });
          const text = await res.text();
          answers.push({ status: res.status, text, input: c.body.slice(0, 200), storeDown: c.storeDown });
          const input = `${c.kind} ${c.authorization} ${c.body.slice(0, 300)}`;
          if (!c.authorized) {
            expect(res.status, input).toBe(401);
            return;
          }
          if (c.kind === 'malformed') {
            expect(res.status, input).toBe(400);
            const problems = (JSON.parse(text) as { problems?: unknown }).problems;
            expect(Array.isArray(problems) && problems.length > 0, `${input}\n${text}`).toBe(true);
            return;
          }
          if (c.kind === 'valid') {
            expect(res.status, `${input}\n${text}`).toBe(c.storeDown ? 503 : 200);
            return;
          }
          expect([200, 400, 413, 503], `${input}\n${text}`).toContain(res.status);
          if (res.status === 503) expect(c.storeDown, input).toBe(true);
        });
        // alert text reaches Slack escaped: no mention it carried pings anyone
        for (const said of saidSince(since)) {
          expect(said).not.toMatch(/<!(channel|here|everyone)\b|<@U0EVIL|<!subteam\^S0EVIL/);
        }
      }),
      { seed: SEED + 2, numRuns: NOTIFICATIONS / BATCH, endOnFailure: true },
    );
    // the valid notifications did open incident threads: the property was not vacuous
    expect(emulator.messages.all().length).toBeGreaterThan(before);
  }, 240_000);

  it('is alive at the end: /healthz answers', async () => {
    expect(answers.length).toBe(COMMANDS + CLICKS + NOTIFICATIONS);
    const res = await fetch(`${bot.baseUrl}/healthz`);
    expect(res.status).toBe(200);
  });
});
