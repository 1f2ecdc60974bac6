import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { memoryProposal, poolProposal, scaleProposal } from '../../src/actions/propose.ts';
import type { ActionDeps } from '../../src/actions/types.ts';
import { type Config, parseConfig } from '../../src/config/load.ts';
import type { ServiceConfig } from '../../src/config/schema.ts';
import {
  DEFAULT_USERS,
  EMULATOR_BOT_TOKEN,
  type EmulatedMessage,
  type SlackApiEmulator,
  start,
} from '../../src/console/slack-api-emulator.ts';
import type { Proposal } from '../../src/domain/finding.ts';
import { type Interactions, registerInteractions, slackGroupsOf } from '../../src/slack/interactions.ts';
import { renderProposalOffer } from '../../src/slack/render/action-messages.ts';
import { KubernetesActions } from '../../src/sources/kubernetes-actions.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { PostgresStore } from '../../src/store/postgres-store.ts';
import type { Store } from '../../src/store/types.ts';
import { blockActionsBody, buttonsOf, postInteraction } from '../support/block-actions.ts';
import { FakeCluster, kubeConfigFor } from '../support/fake-cluster.ts';
import { expectGrantedByRbac } from '../support/harness.ts';
import { SIGNING_SECRET, settle, startTestBot, type TestBot, visibleText } from '../support/slack.ts';
import { createDatabase, dropDatabase } from '../support/testbed.ts';

const CHANNEL = 'C0INCIDENT';
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
actions:
  min_replicas: 2
  max_replicas: 10
  max_memory: 8Gi
  temporary_change_reminder: 2h
authorization:
  scale: { users: [U0ALICE], groups: [S0ONCALL] }
  set_memory_limit: { users: [U0ALICE] }
  set_pool_size: { users: [U0ALICE, U0BOB], second_approver: true }
`;

let emulator: SlackApiEmulator;
let cluster: FakeCluster;
const bots: TestBot[] = [];
const stores: Store[] = [];

beforeAll(async () => {
  emulator = await start({
    users: [...DEFAULT_USERS, { id: 'U0MALLORY', name: 'mallory' }, { id: 'U0CAROL', name: 'carol' }],
    usergroups: { S0ONCALL: ['U0ONCALL'] },
  });
});
afterAll(async () => {
  await emulator.stop();
});
beforeEach(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
  cluster = new FakeCluster().install();
});
afterEach(async () => {
  await Promise.all(bots.splice(0).map((b) => b.stop()));
  await Promise.all(stores.splice(0).map((s) => s.close()));
  cluster.uninstall();
  nock.enableNetConnect();
  emulator.reset();
  expectGrantedByRbac(cluster);
});

function config(): Config {
  return parseConfig(YAML, 'interactions.yml', {
    SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
  });
}

interface Running {
  readonly bot: TestBot;
  readonly deps: ActionDeps;
  readonly interactions: Interactions;
  readonly clock: { now: Date };
}

/** The real Bolt app on loopback, its Web API the emulator, with the remediation handlers registered. */
async function startBot(store: Store = new MemoryStore()): Promise<Running> {
  const cfg = config();
  const bot = await startTestBot(emulator, { config: cfg });
  bots.push(bot);
  stores.push(store);
  // the actions' clock starts at the wall clock's time, which stamps the offers the renderer makes: an
  // offer from the future (beyond a minute's skew) would be asked again
  const clock = { now: new Date() };
  let t = 0;
  const deps: ActionDeps = {
    config: cfg,
    store,
    groupsOf: slackGroupsOf(bot.slack.app.client, { token: EMULATOR_BOT_TOKEN }),
    cluster: new KubernetesActions({ kubeConfig: kubeConfigFor(), timeoutMs: 5000 }),
    now: () => new Date(clock.now),
  };
  const interactions = registerInteractions(bot.slack.app, {
    actions: deps,
    log: bot.log,
    inFlight: bot.slack.inFlight,
    botToken: EMULATOR_BOT_TOKEN,
    follow: {
      timeoutMs: 60_000,
      intervalMs: 1000,
      now: () => t,
      sleep: async (ms) => {
        t += ms;
      },
    },
  });
  return { bot, deps, interactions, clock };
}

function svc(r: Running): ServiceConfig {
  return r.deps.config.services[0] as ServiceConfig;
}

/** The bot posts a message offering `p`, as a report or `/aegis scale` would. */
async function offer(r: Running, p: Proposal): Promise<EmulatedMessage> {
  const m = renderProposalOffer(p);
  const res = await r.bot.slack.app.client.chat.postMessage({
    token: EMULATOR_BOT_TOKEN,
    channel: CHANNEL,
    text: m.text,
    blocks: [...m.blocks],
  });
  return emulator.messages.get(CHANNEL, res.ts as string) as EmulatedMessage;
}

async function clickOn(r: Running, message: EmulatedMessage, user: string, button = 0): Promise<number> {
  const b = buttonsOf(message)[button];
  if (!b) throw new Error(`no button ${button} on the message: ${visibleText(message)}`);
  return postInteraction(r.bot.eventsUrl, blockActionsBody({ user, message, button: b }));
}

const thread = (root: EmulatedMessage) => emulator.messages.thread(CHANNEL, root.ts);
const ephemeralFor = (user: string) => emulator.messages.ephemeral.filter((e) => e.user === user);

describe('clicking a remediation button in Slack', () => {
  it('scales once for an authorized user and follows the rollout in the thread', async () => {
    const r = await startBot();
    const root = await offer(r, scaleProposal(svc(r), 3, 5, 'CPU CRITICAL'));
    const button = buttonsOf(root)[0];
    expect(button?.action_id).toBe('aegis_action:scale');
    expect(JSON.stringify(buttonsOf(root)[0])).toContain('replicas of deployment/aegis-api: 3 → 5');

    expect(await clickOn(r, root, 'U0ALICE')).toBe(200);
    await settle(r.bot);

    expect(cluster.replicas).toBe(5);
    expect(cluster.patches).toHaveLength(1);
    const replies = thread(root).map((m) => m.text);
    expect(replies[0]).toBe('Done: scaled deployment/aegis-api in aegis from 3 to 5 replicas');
    expect(visibleText(thread(root)[0] as EmulatedMessage)).toContain(
      '<@U0ALICE> scaled deployment/aegis-api',
    );
    // one progress message, updated in place until the rollout completes
    const progress = thread(root)[1] as EmulatedMessage;
    expect(progress.history.map((h) => h.text)).toEqual([
      'deployment/aegis-api: ready 3 of 5, 3 updated',
      'deployment/aegis-api: ready 4 of 5, 4 updated',
      'deployment/aegis-api: ready 5 of 5',
    ]);
    expect(progress.text).toBe('deployment/aegis-api: rollout complete (ready 5 of 5)');
    expect((await r.deps.store.auditLog())[0]).toMatchObject({
      actor: 'U0ALICE',
      result: 'done',
      from: '3',
      to: '5',
    });
  });

  it('lets a member of an allowed user group in, resolving the group through usergroups.users.list', async () => {
    const r = await startBot();
    const root = await offer(r, scaleProposal(svc(r), 3, 4, 'CPU'));
    await clickOn(r, root, 'U0ONCALL');
    await settle(r.bot);
    expect(cluster.replicas).toBe(4);
    expect(
      emulator.calls.filter((c) => c.method === 'usergroups.users.list').map((c) => c.args.usergroup),
    ).toEqual(['S0ONCALL']);
  });

  it('for a user outside the allowed groups changes nothing, says who may, and writes one audit row', async () => {
    const r = await startBot();
    const root = await offer(r, scaleProposal(svc(r), 3, 5, 'CPU CRITICAL'));
    await clickOn(r, root, 'U0BOB');
    await settle(r.bot);
    expect(cluster.patches).toHaveLength(0);
    expect(cluster.replicas).toBe(3);
    const told = ephemeralFor('U0BOB');
    expect(told).toHaveLength(1);
    expect(visibleText(told[0] as object)).toContain(
      'Only <@U0ALICE> or <!subteam^S0ONCALL> may scale deployments. Nothing was changed.',
    );
    expect(thread(root)).toHaveLength(0);
    const audit = await r.deps.store.auditLog();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'U0BOB', action: 'scale', result: 'forbidden' });
  });

  it('makes one PATCH for 20 concurrent identical clicks, and tells the others who did it', async () => {
    const r = await startBot();
    const root = await offer(r, scaleProposal(svc(r), 3, 5, 'CPU CRITICAL'));
    const users = ['U0ALICE', 'U0ONCALL'];
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => clickOn(r, root, users[i % 2] as string)),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
    await settle(r.bot);
    expect(cluster.patches).toHaveLength(1);
    expect(thread(root).filter((m) => m.text.startsWith('Done:'))).toHaveLength(1);
    const already = emulator.messages.ephemeral.filter((e) => e.text.startsWith('Already handled'));
    expect(already).toHaveLength(19);
    expect((await r.deps.store.auditLog()).filter((a) => a.result === 'done')).toHaveLength(1);
  });

  it('makes no second change when Slack retries the delivery of a click', async () => {
    const r = await startBot();
    const root = await offer(r, scaleProposal(svc(r), 3, 5, 'CPU CRITICAL'));
    const body = blockActionsBody({ user: 'U0ALICE', message: root, button: buttonsOf(root)[0] as never });
    await postInteraction(r.bot.eventsUrl, body);
    await postInteraction(r.bot.eventsUrl, body, 1);
    await settle(r.bot);
    expect(cluster.patches).toHaveLength(1);
    // the retry may arrive while the first delivery's change is still running, or after it: either way
    // it names who made the change and changes nothing
    expect(visibleText(ephemeralFor('U0ALICE')[0] as object)).toMatch(
      /Already done by <@U0ALICE>|Already in progress: <@U0ALICE> started/,
    );
  });

  it('runs nothing from an offer older than actions.proposal_max_age (30 minutes): says so and offers it again at the current values', async () => {
    const r = await startBot();
    const offeredAt = r.clock.now.toISOString();
    const root = await offer(r, { ...scaleProposal(svc(r), 3, 5, 'CPU CRITICAL'), offeredAt });
    // the deployment went 3 -> 4 -> 3 meanwhile: the live state matches the old offer again
    cluster.setReplicasBehindTheBotsBack(4);
    cluster.setReplicasBehindTheBotsBack(3);
    r.clock.now = new Date(r.clock.now.getTime() + 31 * 60_000);
    await clickOn(r, root, 'U0ALICE');
    await settle(r.bot);
    expect(cluster.patches).toHaveLength(0);
    const ask = thread(root)[0] as EmulatedMessage;
    expect(ask.text).toBe(
      `this offer is older than 30 minutes (offered ${offeredAt.slice(0, 16).replace('T', ' ')} UTC): nothing was changed. Here it is again with the current values.`,
    );
    const fresh = buttonsOf(ask)[0];
    const value = JSON.parse(fresh?.value ?? '{}') as Proposal;
    expect(value.change).toEqual({ what: 'replicas of deployment/aegis-api', from: '3', to: '5' });
    expect(value.offeredAt).toBeDefined();
    expect(value.offeredAt).not.toBe(offeredAt);
    // the fresh offer, clicked as soon as it is posted, runs
    r.clock.now = new Date();
    await postInteraction(
      r.bot.eventsUrl,
      blockActionsBody({ user: 'U0ALICE', message: ask, button: fresh as never }),
    );
    await settle(r.bot);
    expect(cluster.replicas).toBe(5);
    expect(cluster.patches).toHaveLength(1);
  });

  it('asks again in the thread, with a fresh button, when the replicas changed meanwhile', async () => {
    const r = await startBot();
    const root = await offer(r, scaleProposal(svc(r), 3, 5, 'CPU CRITICAL'));
    cluster.setReplicasBehindTheBotsBack(4);
    await clickOn(r, root, 'U0ALICE');
    await settle(r.bot);
    expect(cluster.patches).toHaveLength(0);
    const ask = thread(root)[0] as EmulatedMessage;
    expect(ask.text).toBe(
      'the replicas of deployment/aegis-api changed meanwhile: the button saw 3, now there are 4',
    );
    const fresh = buttonsOf(ask)[0];
    expect(fresh?.action_id).toBe('aegis_action:scale');
    expect(JSON.parse(fresh?.value ?? '{}').change).toEqual({
      what: 'replicas of deployment/aegis-api',
      from: '4',
      to: '5',
    });
    // the fresh button works
    await postInteraction(
      r.bot.eventsUrl,
      blockActionsBody({ user: 'U0ALICE', message: ask, button: fresh as never }),
    );
    await settle(r.bot);
    expect(cluster.replicas).toBe(5);
  });

  it('answers a button whose value is not a proposal with an ephemeral error, changing nothing', async () => {
    const r = await startBot();
    const root = await offer(r, scaleProposal(svc(r), 3, 5, 'CPU'));
    const button = {
      ...(buttonsOf(root)[0] as object),
      value: '{"action":"scale","params":{"to":99}',
    } as never;
    await postInteraction(r.bot.eventsUrl, blockActionsBody({ user: 'U0ALICE', message: root, button }));
    await settle(r.bot);
    expect(cluster.requests).toHaveLength(0);
    expect(visibleText(ephemeralFor('U0ALICE')[0] as object)).toContain(
      'this button carries no valid proposal (not JSON)',
    );
  });
  it("refuses a valid proposal carried under another action's button, changing nothing", async () => {
    const r = await startBot();
    const root = await offer(r, scaleProposal(svc(r), 3, 5, 'CPU CRITICAL'));
    const scale = buttonsOf(root)[0] as { action_id: string; value: string };
    expect(scale.action_id).toBe('aegis_action:scale');
    // signed like any click; only the action_id is another action's (cancel_query)
    const button = { ...scale, action_id: 'aegis_action:cancel_query' } as never;
    expect(
      await postInteraction(r.bot.eventsUrl, blockActionsBody({ user: 'U0ALICE', message: root, button })),
    ).toBe(200);
    await settle(r.bot);
    expect(cluster.requests).toHaveLength(0);
    expect(cluster.replicas).toBe(3);
    expect(thread(root)).toEqual([]);
    expect(visibleText(ephemeralFor('U0ALICE')[0] as object)).toContain(
      "this button's action and the proposal it carries disagree",
    );
  });
});

describe('a second person approves', () => {
  it('shows Approve; the requester cannot approve; another authorized user can, once', async () => {
    const r = await startBot();
    const root = await offer(r, poolProposal(svc(r), '50', 100, false, 'db.pool'));
    await clickOn(r, root, 'U0ALICE');
    await settle(r.bot);
    expect(cluster.patches).toHaveLength(0);
    const request = thread(root)[0] as EmulatedMessage;
    expect(visibleText(request)).toContain(
      '<@U0ALICE> asks to change database.max_connections in ConfigMap aegis-config (aegis)',
    );
    expect(buttonsOf(request)[0]?.action_id).toBe('aegis_approve');

    await clickOn(r, request, 'U0ALICE');
    await settle(r.bot);
    expect(visibleText(ephemeralFor('U0ALICE').at(-1) as object)).toContain(
      'You asked for this change: another authorized person must approve it',
    );
    expect(cluster.patches).toHaveLength(0);

    await Promise.all([clickOn(r, request, 'U0BOB'), clickOn(r, request, 'U0BOB')]);
    await settle(r.bot);
    expect(cluster.patches).toHaveLength(1);
    expect((cluster.configmap.data as Record<string, string>)['database.max_connections']).toBe('100');
    const closed = emulator.messages.get(CHANNEL, request.ts) as EmulatedMessage;
    expect(closed.text).toBe('Approved: database.max_connections in ConfigMap aegis-config (aegis)');
    expect(buttonsOf(closed)).toHaveLength(0);
    expect(
      thread(root).some((m) =>
        m.text.startsWith(
          'Done: set database.max_connections in ConfigMap aegis-config (aegis) from 50 to 100',
        ),
      ),
    ).toBe(true);
    const done = (await r.deps.store.auditLog()).find((a) => a.result === 'done');
    expect(done).toMatchObject({ actor: 'U0ALICE', approvedBy: 'U0BOB' });
  });
});

describe('a temporary change', () => {
  it('gets a reminder in the thread after the configured time, with a Revert button that works', async () => {
    const r = await startBot();
    const root = await offer(r, memoryProposal(svc(r), 'aegis-api', '2Gi', '4Gi', 'memory CRITICAL'));
    await clickOn(r, root, 'U0ALICE');
    await settle(r.bot);
    expect(cluster.containerLimit('aegis-api')).toBe('4Gi');
    expect(visibleText(thread(root)[0] as EmulatedMessage)).toContain('temporary: I will remind this thread');

    const changedAt = r.clock.now.getTime();
    r.clock.now = new Date(changedAt + 119 * 60_000);
    expect(await r.interactions.reminders.tick()).toBe(0);
    r.clock.now = new Date(changedAt + 120 * 60_000);
    expect(await r.interactions.reminders.tick()).toBe(1);
    const reminder = thread(root).at(-1) as EmulatedMessage;
    expect(reminder.text).toBe(
      'The memory limit of aegis-api in deployment/aegis-api raised to 4Gi is temporary (runbook: Memory Exhaustion): revert to 2Gi?',
    );
    const revert = buttonsOf(reminder)[0];
    expect(revert?.text.text).toBe('Revert memory limit to 2Gi');
    expect(await r.interactions.reminders.tick()).toBe(0);

    // clicked as soon as it is posted (the reminder's button is stamped by the wall clock)
    r.clock.now = new Date();
    await postInteraction(
      r.bot.eventsUrl,
      blockActionsBody({ user: 'U0ALICE', message: reminder, button: revert as never }),
    );
    await settle(r.bot);
    expect(cluster.containerLimit('aegis-api')).toBe('2Gi');
  });
});

describe('two bot processes sharing one PostgreSQL store', () => {
  const testbed = inject('testbed');
  let dbName: string | undefined;
  afterEach(async () => {
    if (dbName) await dropDatabase(testbed, dbName);
    dbName = undefined;
  });

  it('make one change when the same click reaches both', async () => {
    const db = await createDatabase(testbed, 'two_bots');
    dbName = db.name;
    const a = await startBot(await PostgresStore.open({ url: db.url }));
    const b = await startBot(await PostgresStore.open({ url: db.url }));
    const root = await offer(a, scaleProposal(svc(a), 3, 5, 'CPU CRITICAL'));
    const body = blockActionsBody({ user: 'U0ALICE', message: root, button: buttonsOf(root)[0] as never });
    await Promise.all([postInteraction(a.bot.eventsUrl, body), postInteraction(b.bot.eventsUrl, body)]);
    await Promise.all([settle(a.bot), settle(b.bot)]);
    expect(cluster.patches).toHaveLength(1);
    expect(cluster.replicas).toBe(5);
    expect(thread(root).filter((m) => m.text.startsWith('Done:'))).toHaveLength(1);
    const audit = await a.deps.store.auditLog();
    expect(audit.filter((x) => x.result === 'done')).toHaveLength(1);
    expect(await b.deps.store.auditLog()).toEqual(audit);
  });
});

describe('user-group membership for authorization', () => {
  it('is looked up with usergroups.users.list and cached briefly', async () => {
    const r = await startBot();
    let now = 0;
    const groupsOf = slackGroupsOf(r.bot.slack.app.client, {
      token: EMULATOR_BOT_TOKEN,
      ttlMs: 60_000,
      now: () => now,
    });
    expect(await groupsOf('U0ONCALL', ['S0ONCALL'])).toEqual(['S0ONCALL']);
    expect(await groupsOf('U0BOB', ['S0ONCALL'])).toEqual([]);
    const calls = () => emulator.calls.filter((c) => c.method === 'usergroups.users.list').length;
    expect(calls()).toBe(1);
    now = 60_000;
    await groupsOf('U0ONCALL', ['S0ONCALL']);
    expect(calls()).toBe(2);
  });

  it('refuses the click, changing nothing, when the lookup fails', async () => {
    const r = await startBot();
    emulator.failNext('usergroups.users.list', { error: 'missing_scope' });
    const root = await offer(r, scaleProposal(svc(r), 3, 5, 'CPU'));
    await clickOn(r, root, 'U0ONCALL');
    await settle(r.bot);
    expect(cluster.requests).toHaveLength(0);
    expect(visibleText(ephemeralFor('U0ONCALL')[0] as object)).toContain(
      'could not check membership of user group S0ONCALL (usergroups.users.list: missing_scope): nothing was changed',
    );
    expect((await r.deps.store.auditLog())[0]).toMatchObject({ actor: 'U0ONCALL', result: 'refused' });
  });
});
