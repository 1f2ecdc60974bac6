import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SlackApiEmulator, start } from '../../src/console/slack-api-emulator.ts';
import type { NewSilence, SilenceClient } from '../../src/incidents/ports.ts';
import { type AttachedAlerts, alertsWiring } from '../../src/slack/alerts.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { cpuBytes, notification } from '../incidents/fixtures.ts';
import { ALERTS_YAML, alertsConfig, WEBHOOK_TOKEN } from '../incidents/support.ts';
import { blockActionsBody, buttonsOf, postInteraction } from '../support/block-actions.ts';
import {
  fakeResult,
  fakeStep,
  recordingLog,
  settle,
  startTestBot,
  type TestBot,
  visibleText,
} from '../support/slack.ts';

const http = ['runtime.goexit', 'main.handle'];
const REGEXP_HEAVY = cpuBytes([
  [[...http, 'regexp.Compile'], 80],
  [[...http, 'main.encodeReportJSON', 'encoding/json.Marshal'], 20],
]);
const JSON_HEAVY = cpuBytes([
  [[...http, 'regexp.Compile'], 10],
  [[...http, 'main.encodeReportJSON', 'encoding/json.Marshal'], 90],
]);

const config = alertsConfig(`${ALERTS_YAML}
authorization:
  silence: { users: [U0ALICE] }
`);

function fakeSilences(): SilenceClient & { created: NewSilence[]; expired: string[] } {
  const created: NewSilence[] = [];
  const expired: string[] = [];
  return {
    created,
    expired,
    async createSilence(s) {
      created.push(s);
      return `silence-${created.length}`;
    },
    async expireSilence(id) {
      expired.push(id);
    },
  };
}

let emulator: SlackApiEmulator;
let bot: TestBot;
let store: MemoryStore;
let silences: ReturnType<typeof fakeSilences>;
let attached: AttachedAlerts | undefined;

beforeAll(async () => {
  emulator = await start();
});
afterAll(async () => {
  await emulator.stop();
});
beforeEach(async () => {
  await bot?.stop();
  emulator.reset();
  store = new MemoryStore();
  silences = fakeSilences();
  let cpuRuns = 0;
  const cpu = fakeStep({
    name: 'cpu',
    run: async (ctx) => {
      cpuRuns += 1;
      // what the real step does through ProfilingSources.captures: keeps the capture it took
      const startedAt = new Date(Date.parse('2026-01-05T10:00:00Z') + (cpuRuns - 1) * 1_800_000);
      await store.saveProfileCapture({
        service: ctx.service.name,
        pod: 'aegis-api-7d9f',
        kind: 'cpu',
        capturedAt: new Date(startedAt.getTime() + 500),
        bytes: cpuRuns === 1 ? REGEXP_HEAVY : JSON_HEAVY,
      });
      return fakeResult('cpu', ctx.service.name, {
        startedAt,
        finishedAt: new Date(startedAt.getTime() + 31_000),
        findings: [
          {
            id: 'cpu.top',
            severity: 'warning',
            title: 'Top functions',
            summary: 'regexp.Compile leads',
            evidence: [
              {
                type: 'table',
                title: 'Top functions by CPU',
                columns: ['flat%', 'function'],
                rows: [[cpuRuns === 1 ? '41%' : '3%', 'regexp.Compile']],
              },
            ],
            links: [],
          },
        ],
      });
    },
  });
  const steps = [fakeStep({ name: 'latency' }), cpu, fakeStep({ name: 'db' })];
  const wiring = alertsWiring({ config, store, steps, log: recordingLog(), owner: 'test', silences });
  bot = await startTestBot(emulator, { config, steps, routes: wiring?.routes ?? [] });
  attached = wiring?.attach(bot.slack, { botToken: 'xoxb-0000000000-emulated-bot-token' });
});
afterAll(async () => {
  await bot?.stop();
});

const send = async (body: unknown) => {
  const res = await fetch(`${bot.baseUrl}/alertmanager`, {
    method: 'POST',
    headers: { authorization: `Bearer ${WEBHOOK_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await settle(bot);
  return res.status;
};
const roots = () => emulator.messages.inChannel('C0INCIDENT').filter((m) => !m.threadTs);
const replies = (ts: string) => emulator.messages.thread('C0INCIDENT', ts).filter((m) => m.ts !== ts);

describe('onset evidence of a profile step, in Slack', () => {
  it('keeps the CPU profile taken as the alert arrived, and compares it with one taken on the click', async () => {
    const alert = notification([{ fingerprint: 'c1', labels: { alertname: 'AegisHighCPU' } }], {
      groupKey: 'cpu-group',
      groupLabels: { alertname: 'AegisHighCPU' },
      commonLabels: { alertname: 'AegisHighCPU', service: 'aegis-api', severity: 'critical' },
    });
    await send(alert);
    const root = roots()[0];
    if (!root) throw new Error('no root');
    const kept = replies(root.ts).find((m) => m.text.startsWith('Onset evidence kept: cpu'));
    const compare = kept && buttonsOf(kept).find((b) => b.text.text === 'Compare with onset');
    if (!kept || !compare) throw new Error('no Compare with onset button');
    expect((await store.alertIncident('cpu-group'))?.onset.map((o) => o.table.rows)).toEqual([
      [['41%', 'regexp.Compile']],
    ]);
    await postInteraction(bot.eventsUrl, blockActionsBody({ user: 'U0BOB', message: kept, button: compare }));
    await settle(bot);
    const comparison = replies(root.ts).find((m) => m.text.startsWith('cpu profile since onset: '));
    const shown = visibleText(comparison ?? {});
    // the diff of the kept onset profile against the one captured on the click, then both tables
    expect(comparison?.text).toMatch(
      /Since onset \(aegis-api-7d9f at 2026-01-05T10:00:00\.500Z\): \S+ grew most, 20% → 90% of CPU/,
    );
    expect(shown).toMatch(
      /Functions whose share of CPU grew most[\s\S]*encoding\/json\.Marshal[\s\S]*main\.encodeReportJSON/,
    );
    expect(shown).toMatch(/-diff_base/);
    expect(shown).toMatch(/At onset[\s\S]*41%\s+regexp\.Compile[\s\S]*Now[\s\S]*3%\s+regexp\.Compile/);
  });
});

describe('incident threads from Alertmanager, in Slack', () => {
  it('posts one root in the incident channel and runs the routed step in its thread, as typed there', async () => {
    expect(await send(notification())).toBe(200);
    const [root] = roots();
    expect(roots()).toHaveLength(1);
    expect(visibleText(root ?? {})).toContain('Firing: AegisHighP99Latency on aegis-api');
    expect(visibleText(root ?? {})).toContain('P99 latency above 500 ms');
    expect(buttonsOf(root ?? {}).map((b) => b.text.text)).toEqual(['Silence 1h', 'Silence 4h']);
    const thread = replies(root?.ts ?? '');
    expect(thread.map((m) => m.text)).toEqual(['latency on aegis-api: all normal']);
    expect(bot.runStep.calls).toBe(1);
  });

  it('answers a repeat and the HA twin without a second root or a second run, and resolves in place', async () => {
    await send(notification());
    await Promise.all([send(notification()), send(notification())]);
    expect(roots()).toHaveLength(1);
    expect(bot.runStep.calls).toBe(1);
    await send(
      notification([{ fingerprint: 'a1b2c3d4e5f60708', status: 'resolved', endsAt: '2026-01-05T10:20:00Z' }]),
    );
    const [root] = roots();
    expect(visibleText(root ?? {})).toContain('Resolved: AegisHighP99Latency on aegis-api');
    expect(visibleText(root ?? {})).toContain('lasted *20m*');
    expect(replies(root?.ts ?? '').at(-1)?.text).toBe('Resolved: AegisHighP99Latency after 20m');
    expect(emulator.calls.filter((c) => c.method === 'chat.postMessage' && !c.args.thread_ts)).toHaveLength(
      1,
    );
  });

  it('silences the group from the root (authorized, once, audited) and expires it from the thread', async () => {
    await send(notification());
    const root = roots()[0];
    if (!root) throw new Error('no root');
    const silence1h = buttonsOf(root).find((b) => b.text.text === 'Silence 1h');
    if (!silence1h) throw new Error('no Silence 1h button');
    expect(silence1h).toMatchObject({ confirm: expect.anything() });

    await postInteraction(
      bot.eventsUrl,
      blockActionsBody({ user: 'U0BOB', message: root, button: silence1h }),
    );
    await settle(bot);
    expect(silences.created).toEqual([]);
    expect(emulator.messages.ephemeral.at(-1)?.text).toMatch(/may not silence alerts/);

    const click = blockActionsBody({ user: 'U0ALICE', message: root, button: silence1h });
    await Promise.all([postInteraction(bot.eventsUrl, click), postInteraction(bot.eventsUrl, click)]);
    await settle(bot);
    expect(silences.created).toHaveLength(1);
    const made = silences.created[0];
    expect(made?.matchers).toEqual([
      { name: 'alertname', value: 'AegisHighP99Latency', isRegex: false, isEqual: true },
      { name: 'service', value: 'aegis-api', isRegex: false, isEqual: true },
      { name: 'severity', value: 'critical', isRegex: false, isEqual: true },
    ]);
    expect(made?.createdBy).toBe('u0alice');
    expect(made?.comment).toContain(
      `https://aegis-emulated.slack.com/archives/C0INCIDENT/p${root.ts.replace('.', '')}`,
    );
    expect((made?.endsAt.getTime() ?? 0) - (made?.startsAt.getTime() ?? 0)).toBe(3_600_000);
    const audit = await store.auditLog({ action: 'silence' });
    expect(audit.map((a) => [a.actor, a.result])).toEqual([
      ['U0ALICE', 'done'],
      ['U0BOB', 'forbidden'],
    ]);
    const after = roots()[0];
    expect(visibleText(after ?? {})).toContain('Silenced until');
    expect(buttonsOf(after ?? {}).map((b) => b.text.text)).toEqual(['Expire silence']);

    const notice = replies(root.ts).find((m) => visibleText(m).includes('silenced this alert group'));
    const expire = notice && buttonsOf(notice).find((b) => b.text.text === 'Expire silence');
    if (!notice || !expire) throw new Error('no Expire silence button in the thread');
    await postInteraction(
      bot.eventsUrl,
      blockActionsBody({ user: 'U0ALICE', message: notice, button: expire }),
    );
    await settle(bot);
    expect(silences.expired).toEqual(['silence-1']);
    expect(buttonsOf(roots()[0] ?? {}).map((b) => b.text.text)).toEqual(['Silence 1h', 'Silence 4h']);
    expect(attached).toBeDefined();
  });
});
