/**
 * The whole chain with real parts: the test bed's aegis-api with a pathology switched on, a Prometheus
 * evaluating the repo's alerting rules (test/fixtures/alerts/rules.yml: short windows and `for:`),
 * Debian's Alertmanager routing with small group timings to the bot's POST /alertmanager, the bot
 * (the real Bolt app, its Web API the emulator) running the real latency step against Prometheus, and
 * the Silence buttons creating and expiring silences in that Alertmanager.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stepContext } from '../../src/compose.ts';
import type { Config } from '../../src/config/load.ts';
import { parseConfig } from '../../src/config/load.ts';
import { EMULATOR_BOT_TOKEN, type SlackApiEmulator, start } from '../../src/console/slack-api-emulator.ts';
import { prometheusMetricHistory } from '../../src/incidents/metric-history.ts';
import { alertsWiring } from '../../src/slack/alerts.ts';
import type { RunStep } from '../../src/slack/app.ts';
import { AlertmanagerSource } from '../../src/sources/alertmanager.ts';
import { PrometheusSource } from '../../src/sources/prometheus.ts';
import { STEPS } from '../../src/steps/registry.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { TEST_RULES_FILE } from '../support/alert-rules.ts';
import {
  type AlertmanagerServer,
  startAlertingPrometheus,
  startAlertmanager,
} from '../support/alertmanager.ts';
import { blockActionsBody, buttonsOf, postInteraction } from '../support/block-actions.ts';
import { recordingLog, SIGNING_SECRET, startTestBot, type TestBot, visibleText } from '../support/slack.ts';
import {
  type AegisApi,
  freePort,
  type PrometheusServer,
  startAegisApi,
  waitFor,
} from '../support/testbed.ts';

const testbed = inject('testbed');
const TOKEN = 'e2e-webhook-token-5d1e';
const ALERT = 'AegisApiP99LatencySustained';

let emulator: SlackApiEmulator;
let api: AegisApi;
let am: AlertmanagerServer;
let prometheus: PrometheusServer;
let bot: TestBot;

function config(instance: string, alertmanagerUrl: string): Config {
  return parseConfig(
    `
slack:
  mode: http
  incident_channel: C0INCIDENT
services:
  - name: aegis-api
    deployment: aegis-api
    prometheus:
      url: "${testbed.prometheusUrl}"
      metrics:
        selector: { instance: "${instance}" }
alerts:
  auth: { bearer_token_env: ALERTMANAGER_WEBHOOK_TOKEN }
  routes:
    - match: { alertname: ${ALERT} }
      steps: [latency 1m]
alertmanager:
  url: "${alertmanagerUrl}"
  silence_durations: [1h, 4h]
authorization:
  silence: { users: [U0ALICE] }
`,
    'e2e.yml',
    {
      SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      ALERTMANAGER_WEBHOOK_TOKEN: TOKEN,
    },
  );
}

beforeAll(async () => {
  emulator = await start();
  api = await startAegisApi(testbed, { loadRps: 20 });
  const port = await freePort();
  am = await startAlertmanager({
    webhookUrl: `http://127.0.0.1:${port}/alertmanager`,
    webhookAuth: { bearer: TOKEN },
    groupBy: ['alertname', 'service'],
  });
  const c = config(api.instance, am.url);
  const sources = {
    prometheus: (s: Config['services'][number]) =>
      s.prometheus ? new PrometheusSource({ url: s.prometheus.url, timeoutMs: 5000 }) : undefined,
  };
  const runStep: RunStep = (step, args, run) => step.run(stepContext(c, sources, run), args);
  const store = new MemoryStore();
  const wiring = alertsWiring({
    config: c,
    store,
    steps: STEPS,
    log: recordingLog(),
    owner: 'e2e',
    silences: new AlertmanagerSource({ url: am.url, timeoutMs: 5000 }),
    metrics: prometheusMetricHistory((s) => sources.prometheus(s)),
  });
  bot = await startTestBot(emulator, {
    config: c,
    steps: STEPS,
    runStep,
    routes: wiring?.routes ?? [],
    listen: { host: '127.0.0.1', port },
  });
  wiring?.attach(bot.slack, { botToken: EMULATOR_BOT_TOKEN });
  prometheus = await startAlertingPrometheus(testbed, {
    ruleFiles: [TEST_RULES_FILE],
    alertmanagerUrls: [am.url],
    targets: [api.instance],
  });
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await bot?.stop();
  await am?.stop();
  await api?.stop();
  await emulator?.stop();
});

const rootOf = () => emulator.messages.inChannel('C0INCIDENT').find((m) => !m.threadTs && ofAlert(m.text));
/** Other rules (P50, the P99 warning) fire too, each its own group and thread: only ours counts here. */
const rootsOfAlert = () =>
  emulator.messages.inChannel('C0INCIDENT').filter((m) => !m.threadTs && ofAlert(m.text));
/** The root's text is "Firing: <alertnames> on <service>" (or "Resolved: …"). */
const ofAlert = (text: string) => new RegExp(`^(Firing|Resolved): ${ALERT} on `).test(text);
const threadOf = (ts: string) => emulator.messages.thread('C0INCIDENT', ts).filter((m) => m.ts !== ts);

interface ApiSilence {
  id: string;
  createdBy: string;
  comment: string;
  status: { state: string };
  matchers: { name: string; value: string; isRegex: boolean; isEqual?: boolean }[];
}
async function silences(): Promise<ApiSilence[]> {
  const res = await fetch(`${am.url}/api/v2/silences`);
  return (await res.json()) as ApiSilence[];
}

describe('incidents from alerts, end to end', () => {
  it('a slow endpoint fires the P99 alert: a thread whose first report names the endpoint, a silence, then resolved', async () => {
    await api.setPathology('slow-endpoint', true);
    const root = await waitFor('the incident root of the P99 alert', async () => rootOf(), {
      timeoutMs: 90_000,
      intervalMs: 250,
    });
    expect(visibleText(root)).toContain(`Firing: ${ALERT} on aegis-api`);
    const report = await waitFor(
      'the latency report in the thread',
      async () => threadOf(root.ts).find((m) => m.history.length > 0 && !m.text.startsWith('Running')),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(visibleText(report)).toContain('/api/search');
    expect(rootsOfAlert()).toHaveLength(1);

    // Silence 1h from the root: listed by Alertmanager with the group's labels as matchers
    const silence1h = buttonsOf(rootOf() ?? root).find((b) => b.text.text === 'Silence 1h');
    if (!silence1h) throw new Error('the root offers no Silence 1h');
    await postInteraction(
      bot.eventsUrl,
      blockActionsBody({ user: 'U0ALICE', message: rootOf() ?? root, button: silence1h }),
    );
    const made = await waitFor(
      'the silence in Alertmanager',
      async () => (await silences()).find((s) => s.createdBy === 'u0alice' && s.status.state === 'active'),
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    const matchers = Object.fromEntries(made.matchers.map((m) => [m.name, m.value]));
    expect(matchers).toMatchObject({ alertname: ALERT, service: 'aegis-api', severity: 'critical' });
    expect(made.matchers.every((m) => !m.isRegex && m.isEqual !== false)).toBe(true);
    expect(made.comment).toContain(
      `https://aegis-emulated.slack.com/archives/C0INCIDENT/p${root.ts.replace('.', '')}`,
    );

    // Expire silence from the thread: Alertmanager no longer has it active
    const notice = await waitFor(
      'the silence notice in the thread',
      async () => threadOf(root.ts).find((m) => visibleText(m).includes('silenced this alert group')),
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    const expire = buttonsOf(notice).find((b) => b.text.text === 'Expire silence');
    if (!expire) throw new Error('no Expire silence button');
    await postInteraction(
      bot.eventsUrl,
      blockActionsBody({ user: 'U0ALICE', message: notice, button: expire }),
    );
    await waitFor(
      'the silence expired in Alertmanager',
      async () => (await silences()).find((s) => s.id === made.id)?.status.state === 'expired',
      { timeoutMs: 20_000, intervalMs: 200 },
    );

    // the endpoint recovers: the root says resolved, the thread has the metric before, at worst and now
    await api.setPathology('slow-endpoint', false);
    const resolved = await waitFor(
      'the resolved update',
      async () => threadOf(root.ts).find((m) => m.text.startsWith('Resolved:')),
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    expect(visibleText(resolved)).toMatch(/Before: \*[^*]+\* · at worst: \*[^*]+\*/);
    expect(visibleText(rootOf() ?? root)).toContain(`Resolved: ${ALERT} on aegis-api`);
    expect(rootsOfAlert()).toHaveLength(1);
  }, 240_000);
});
