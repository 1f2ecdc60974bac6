/**
 * Property-based fuzzing of the real app over loopback: thousands of generated slash commands and
 * button clicks, signed as Slack signs them, reach the real Bolt app (signature gate, parsing, the
 * action subcommands and remediation clicks through actions/, rendering) with its Web API pointed at
 * the emulator. Whatever the input, nothing answers 5xx, no answer or posted message shows a stack
 * trace or "internal error" (the input is at worst wrong, never a bug's business), nothing is logged
 * as an error, and the process still answers /healthz at the end.
 *
 * Fixed seed, so a failure reproduces. The counts keep the file near 50 s on a loaded 2-core machine:
 * each case costs 50-80 ms of mostly idle wall time (Web API round trips to the emulator).
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
import { ACTION_COMMANDS, registerInteractions, slackGroupsOf } from '../../src/slack/interactions.ts';
import { KubernetesActions } from '../../src/sources/kubernetes-actions.ts';
import { STEPS } from '../../src/steps/registry.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { FakeCluster, kubeConfigFor } from '../support/fake-cluster.ts';
import {
  fakeResult,
  postSigned,
  SIGNING_SECRET,
  slashCommandBody,
  startTestBot,
  type TestBot,
  visibleText,
} from '../support/slack.ts';

const SEED = 150_015;
const COMMANDS = 400;
const CLICKS = 250;

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
`;

let emulator: SlackApiEmulator;
let cluster: FakeCluster;
let bot: TestBot;
/** Every answer the bot gave over HTTP (acks), for the checks at the end of each case. */
const answers: { status: number; text: string; input: string }[] = [];

beforeAll(async () => {
  emulator = await start();
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
  cluster = new FakeCluster().install();
  const config = parseConfig(YAML, 'fuzz.yml', {
    SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
  });
  const readiness = createReadiness();
  readiness.markStarted();
  let deps: ActionDeps | undefined;
  bot = await startTestBot(emulator, {
    config,
    // the runbook's real steps parse what is typed; running them against live systems is not the point
    steps: STEPS,
    runStep: async (step, _args, run) => fakeResult(step.name, run.service.name),
    actionCommands: { definitions: ACTION_COMMANDS, deps: () => deps as ActionDeps },
    routes: createOpsRoutes({ readiness }),
  });
  deps = {
    config,
    store: new MemoryStore(),
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
  };
}

async function expectWellBehaved(input: string, since: ReturnType<typeof mark>): Promise<void> {
  const interrupted = await bot.slack.inFlight.drain(15_000);
  expect(
    interrupted.map((w) => w.describe),
    input,
  ).toEqual([]);
  for (const a of answers.slice(since.answers)) expect(a.status, input).toBeLessThan(500);
  for (const text of saidSince(since)) {
    expect(text, input).not.toMatch(/internal error/i);
    expect(text, input).not.toMatch(STACK_TRACE);
  }
  const errors = bot.log.entries.filter((e) => e.level === 'error');
  expect(
    errors.map((e) => e.msg),
    input,
  ).toEqual([]);
}

/**
 * Cases run back to back, their background work overlapping as it does under real traffic; every
 * BATCH cases everything is drained and checked, naming the batch's inputs on a failure.
 */
const BATCH = 25;
function batched() {
  let since = mark();
  let inputs: string[] = [];
  return {
    async after(input: string, last: boolean): Promise<void> {
      inputs.push(input);
      if (inputs.length < BATCH && !last) return;
      const checked = inputs;
      const from = since;
      inputs = [];
      since = mark();
      await expectWellBehaved(checked.join('\n'), from);
    },
  };
}

describe('fuzzing the real app over loopback', () => {
  it(`answers ${COMMANDS} generated /aegis commands without a 5xx, a stack trace or an internal error`, async () => {
    const batch = batched();
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(commandText, userId, channelId, async (text, user, channel) => {
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
        runs += 1;
        await batch.after(JSON.stringify({ text, user, channel }), runs === COMMANDS);
      }),
      { seed: SEED, numRuns: COMMANDS, endOnFailure: true },
    );
  }, 120_000);

  it(`answers ${CLICKS} generated button clicks without a 5xx, a stack trace or an internal error`, async () => {
    const batch = batched();
    let runs = 0;
    const ts = (
      await bot.slack.app.client.chat.postMessage({
        token: EMULATOR_BOT_TOKEN,
        channel: 'C0INCIDENT',
        text: 'offer',
      })
    ).ts as string;
    await fc.assert(
      fc.asyncProperty(
        userId,
        // the bot's own messages carry the buttons: a click comes from a channel the bot is in
        fc.constantFrom('C0INCIDENT', 'C0GENERAL'),
        actionId,
        buttonValue,
        async (user, channel, id, value) => {
          const body = clickBody({ user, channel, actionId: id, value, ts });
          const res = await postSigned(bot.eventsUrl, body);
          answers.push({ status: res.status, text: res.text, input: `${id} ${value}` });
          runs += 1;
          await batch.after(JSON.stringify({ user, channel, id, value }), runs === CLICKS);
        },
      ),
      { seed: SEED + 1, numRuns: CLICKS, endOnFailure: true },
    );
  }, 120_000);

  // EXTENSION POINT (issue 15): when the /alertmanager receiver lands on main, fuzz its webhook here
  // the same way: generated Alertmanager v4 payloads (valid, truncated, wrong types, huge label sets,
  // unknown alertnames) POSTed with its credentials, each checked by expectWellBehaved. It was not on
  // main when this file was written.

  it('is alive at the end: /healthz answers', async () => {
    expect(answers.length).toBe(COMMANDS + CLICKS);
    const res = await fetch(`${bot.baseUrl}/healthz`);
    expect(res.status).toBe(200);
  });
});
