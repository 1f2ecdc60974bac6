/**
 * "Compare with onset" against the real Go test bed: an alert routed to `cpu` captures a real CPU
 * profile as it arrives (regexp-per-request on) and keeps it in the capture store as the incident's
 * onset; `/aegis cpu` runs of the same pod afterwards do not trim it away; with json-heavy switched on,
 * the button's fresh capture diffed against the onset names the JSON work among what grew.
 * The notification is posted to the bot's real POST /alertmanager as Alertmanager sends it (the
 * Alertmanager chain itself is tested in alertmanager-e2e.int.test.ts).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { profileCaptures, stepContext } from '../../src/compose.ts';
import type { Config } from '../../src/config/load.ts';
import { parseConfig } from '../../src/config/load.ts';
import { EMULATOR_BOT_TOKEN, type SlackApiEmulator, start } from '../../src/console/slack-api-emulator.ts';
import { alertsWiring } from '../../src/slack/alerts.ts';
import type { RunStep } from '../../src/slack/app.ts';
import { CaptureRegistry, PprofSource } from '../../src/sources/pprof.ts';
import { STEPS } from '../../src/steps/registry.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { MAX_CAPTURES_PER_POD } from '../../src/store/types.ts';
import { blockActionsBody, buttonsOf, postInteraction } from '../support/block-actions.ts';
import { recordingLog, SIGNING_SECRET, startTestBot, type TestBot, visibleText } from '../support/slack.ts';
import { type AegisApi, startAegisApi } from '../support/testbed.ts';
import { waitFor } from '../support/wait.ts';
import { notification } from './fixtures.ts';

const testbed = inject('testbed');
const TOKEN = 'onset-webhook-token-8c2b';
const GROUP = '{}/{alertname="AegisHighCPU"}:{service="aegis-api"}';

let emulator: SlackApiEmulator;
let api: AegisApi;
let bot: TestBot;
let store: MemoryStore;

function config(pprofUrl: string): Config {
  return parseConfig(
    `
slack:
  mode: http
  incident_channel: C0INCIDENT
services:
  - name: aegis-api
    deployment: aegis-api
    pprof:
      mode: url
      base_url: ${pprofUrl}
alerts:
  auth: { bearer_token_env: ALERTMANAGER_WEBHOOK_TOKEN }
  routes:
    - match: { alertname: AegisHighCPU }
      steps: [cpu 5]
`,
    'onset.yml',
    {
      SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      ALERTMANAGER_WEBHOOK_TOKEN: TOKEN,
    },
  );
}

beforeAll(async () => {
  emulator = await start();
  api = await startAegisApi(testbed, { pathologies: ['regexp-per-request'], loadRps: 150 });
  const c = config(api.pprofUrl);
  store = new MemoryStore();
  const registry = new CaptureRegistry();
  const sources = {
    pprof: (s: Config['services'][number]) => new PprofSource(s, { captures: registry }),
    captures: profileCaptures(store),
  };
  const runStep: RunStep = (step, args, run) => step.run(stepContext(c, sources, run), args);
  const wiring = alertsWiring({ config: c, store, steps: STEPS, log: recordingLog(), owner: 'onset-int' });
  bot = await startTestBot(emulator, { config: c, steps: STEPS, runStep, routes: wiring?.routes ?? [] });
  wiring?.attach(bot.slack, { botToken: EMULATOR_BOT_TOKEN });
}, 120_000);

afterAll(async () => {
  await bot?.stop();
  await api?.stop();
  await emulator?.stop();
});

const rootOf = () => emulator.messages.inChannel('C0INCIDENT').find((m) => !m.threadTs);
const threadOf = (ts: string) => emulator.messages.thread('C0INCIDENT', ts).filter((m) => m.ts !== ts);

describe('compare with onset on the test bed', () => {
  it('keeps the CPU profile taken as the alert arrived, and diffs a fresh one against it: the JSON work grew', async () => {
    const alert = notification([{ fingerprint: 'cpu1', labels: { alertname: 'AegisHighCPU' } }], {
      groupKey: GROUP,
      groupLabels: { alertname: 'AegisHighCPU' },
      commonLabels: { alertname: 'AegisHighCPU', service: 'aegis-api', severity: 'critical' },
    });
    const res = await fetch(`${bot.baseUrl}/alertmanager`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(alert),
    });
    expect(res.status).toBe(200);
    const root = await waitFor('the incident root', async () => rootOf());
    const kept = await waitFor(
      'the onset evidence',
      async () => threadOf(root.ts).find((m) => m.text.startsWith('Onset evidence kept: cpu')),
      { timeoutMs: 60_000 },
    );

    // the onset names a capture the store keeps: the raw profile the CPU step took
    const onset = (await store.alertIncident(GROUP))?.onset[0];
    const ref = onset?.capture;
    if (!ref) throw new Error('the onset names no capture');
    const onsetBytes = (await store.profileCaptureAt('aegis-api', ref.pod, 'cpu', ref.capturedAt))?.bytes;
    expect(onsetBytes?.length).toBeGreaterThan(0);

    // more captures of the same pod than the store keeps per pod (later /aegis cpu runs) ...
    for (let i = 1; i <= MAX_CAPTURES_PER_POD + 1; i++) {
      await store.saveProfileCapture({
        service: 'aegis-api',
        pod: ref.pod,
        kind: 'cpu',
        // milliseconds after the onset: all before the fresh capture the click takes
        capturedAt: new Date(ref.capturedAt.getTime() + i),
        bytes: onsetBytes as Uint8Array,
      });
    }

    // ... then the JSON pathology, and the click
    await api.setPathology('regexp-per-request', false);
    await api.setPathology('json-heavy', true);
    const compare = buttonsOf(kept).find((b) => b.text.text === 'Compare with onset');
    if (!compare) throw new Error('no Compare with onset button');
    await postInteraction(bot.eventsUrl, blockActionsBody({ user: 'U0BOB', message: kept, button: compare }));
    const comparison = await waitFor(
      'the comparison',
      async () => threadOf(root.ts).find((m) => /^cpu profile( since onset|: onset and now)/.test(m.text)),
      { timeoutMs: 60_000 },
    );
    const shown = visibleText(comparison);
    expect(comparison.text).toMatch(/^cpu profile since onset: Since onset \(/);
    const grew =
      /Functions whose share of CPU grew most \(cum\)\*\n```\n([\s\S]*?)```/.exec(shown)?.[1] ?? '';
    expect(grew).toMatch(/main\.encodeReportJSON|encoding\/json\./);
    expect(shown).toMatch(/go tool pprof -top -cum -diff_base/);
    expect(shown).toMatch(/At onset[\s\S]*Now/);
  }, 120_000);
});
