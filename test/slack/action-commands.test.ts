import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ActionDeps } from '../../src/actions/types.ts';
import { parseConfig } from '../../src/config/load.ts';
import { EMULATOR_BOT_TOKEN, type SlackApiEmulator, start } from '../../src/console/slack-api-emulator.ts';
import { ACTION_COMMANDS, registerInteractions, slackGroupsOf } from '../../src/slack/interactions.ts';
import { KubernetesActions } from '../../src/sources/kubernetes-actions.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { blockActionsBody, buttonsOf, postInteraction } from '../support/block-actions.ts';
import { FakeCluster, kubeConfigFor } from '../support/fake-cluster.ts';
import { expectGrantedByRbac } from '../support/harness.ts';
import {
  fakeStep,
  postSigned,
  SIGNING_SECRET,
  settle,
  slashCommandBody,
  startTestBot,
  type TestBot,
  visibleText,
} from '../support/slack.ts';

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
actions:
  min_replicas: 2
  max_replicas: 10
authorization:
  scale: { users: [U0ALICE] }
`;

let emulator: SlackApiEmulator;
let cluster: FakeCluster;
let bot: TestBot | undefined;

beforeAll(async () => {
  emulator = await start();
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
  await bot?.stop();
  bot = undefined;
  cluster.uninstall();
  nock.enableNetConnect();
  emulator.reset();
  expectGrantedByRbac(cluster);
});

/** The real Bolt app with the action subcommands and click handlers wired as main.ts wires them. */
async function startBot(): Promise<TestBot> {
  const config = parseConfig(YAML, 'commands.yml', {
    SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
  });
  let deps: ActionDeps | undefined;
  const started = await startTestBot(emulator, {
    config,
    steps: [fakeStep({ name: 'latency' })],
    actionCommands: { definitions: ACTION_COMMANDS, deps: () => deps as ActionDeps },
  });
  deps = {
    config,
    store: new MemoryStore(),
    groupsOf: slackGroupsOf(started.slack.app.client, { token: EMULATOR_BOT_TOKEN }),
    cluster: new KubernetesActions({ kubeConfig: kubeConfigFor(), timeoutMs: 5000 }),
  };
  registerInteractions(started.slack.app, {
    actions: deps,
    log: started.log,
    inFlight: started.slack.inFlight,
    botToken: EMULATOR_BOT_TOKEN,
    follow: { timeoutMs: 1, intervalMs: 1 },
  });
  return started;
}

const slash = (b: TestBot, text: string, responseUrl = emulator.responseUrl()) =>
  postSigned(b.eventsUrl, slashCommandBody({ text, response_url: responseUrl }));

describe('/aegis scale and the other action subcommands', () => {
  it('are listed by /aegis help next to the runbook steps', async () => {
    bot = await startBot();
    const shown = visibleText((await slash(bot, 'help')).json());
    for (const c of ACTION_COMMANDS) {
      expect(shown).toContain(`/aegis ${c.usage.replaceAll('<', '&lt;').replaceAll('>', '&gt;')}`);
    }
  });

  it('post an offer with a confirm-dialog button that states from and to, and change nothing by themselves', async () => {
    bot = await startBot();
    expect((await slash(bot, 'scale 5')).status).toBe(200);
    await settle(bot);
    const offers = emulator.messages.inChannel('C0INCIDENT');
    expect(offers).toHaveLength(1);
    const offer = offers[0] as NonNullable<(typeof offers)[number]>;
    const button = buttonsOf(offer)[0];
    expect(button?.action_id).toBe('aegis_action:scale');
    expect(JSON.stringify(button)).toContain('3 → 5');
    expect(cluster.patches).toHaveLength(0);

    expect(
      await postInteraction(
        bot.eventsUrl,
        blockActionsBody({ user: 'U0ALICE', message: offer, button: button as NonNullable<typeof button> }),
      ),
    ).toBe(200);
    await settle(bot);
    expect(cluster.patches).toHaveLength(1);
    expect(cluster.replicas).toBe(5);
  });

  it('answer a value out of the configured bounds ephemerally, naming the bound, and post nothing', async () => {
    bot = await startBot();
    await slash(bot, 'scale 50');
    await vi.waitFor(() => expect(emulator.responses).toHaveLength(1));
    await settle(bot);
    expect(visibleText(emulator.responses[0]?.body as object)).toMatch(/10/);
    expect(emulator.messages.inChannel('C0INCIDENT')).toHaveLength(0);
    expect(cluster.patches).toHaveLength(0);
  });

  it('typed in a channel the bot is not in, tell the user to invite it, as the steps do, not "internal error"', async () => {
    bot = await startBot();
    await postSigned(
      bot.eventsUrl,
      slashCommandBody({ text: 'scale 5', channel_id: 'C0OUTSIDE', response_url: emulator.responseUrl() }),
    );
    await vi.waitFor(() => expect(emulator.responses).toHaveLength(1));
    await settle(bot);
    const shown = visibleText(emulator.responses[0]?.body as object);
    expect(shown).not.toMatch(/internal error/);
    expect(shown).toMatch(/I am not in <#C0OUTSIDE>.*\/invite @aegis.*\/aegis scale 5/s);
    expect(bot.log.entries.filter((e) => e.level === 'error')).toHaveLength(0);
    expect(cluster.patches).toHaveLength(0);
  });

  it('answer malformed arguments with the subcommand usage in the acknowledgement', async () => {
    bot = await startBot();
    const shown = visibleText((await slash(bot, 'scale five')).json());
    expect(shown).toContain('/aegis scale [replicas] [service]');
    expect(emulator.calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(0);
  });
});
