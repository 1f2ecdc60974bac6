import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type SlackApiEmulator, start } from '../../src/console/slack-api-emulator.ts';
import { AppError, SourceError } from '../../src/domain/errors.ts';
import { createOpsRoutes, createReadiness } from '../../src/ops/health.ts';
import { createMetrics } from '../../src/ops/metrics.ts';
import {
  fakeStep,
  postSigned,
  settle,
  slashCommandBody,
  startTestBot,
  type TestBot,
} from '../support/slack.ts';

let emulator: SlackApiEmulator;
let bot: TestBot | undefined;

beforeAll(async () => {
  emulator = await start();
});
afterAll(async () => {
  await emulator.stop();
});
afterEach(async () => {
  await bot?.stop();
  bot = undefined;
  emulator.reset();
});

const steps = [
  fakeStep({ name: 'latency' }),
  fakeStep({
    name: 'db',
    run: async () => {
      throw new SourceError('postgres', 'read pg_stat_activity', 'unreachable', 'connection refused');
    },
  }),
  fakeStep({
    name: 'cpu',
    run: async () => {
      throw new TypeError('a bug in the step');
    },
  }),
  fakeStep({
    name: 'heap',
    run: async () => {
      throw new AppError('busy', 'a heap profile of aegis-api is already being taken');
    },
  }),
];

/** The real app with /metrics served beside its Slack endpoint, as main.ts wires it. */
async function startMeteredBot(): Promise<TestBot> {
  const metrics = createMetrics({ defaultMetrics: false, observeSources: false });
  const readiness = createReadiness();
  readiness.markStarted();
  return startTestBot(emulator, { steps, metrics, routes: createOpsRoutes({ readiness, metrics }) });
}

async function scrape(b: TestBot): Promise<string> {
  const res = await fetch(`${b.baseUrl}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

const sample = (text: string, name: string, labels: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
};

describe('aegis_commands_total and aegis_ack_latency_seconds', () => {
  it('count every command through the real app by subcommand and outcome', async () => {
    bot = await startMeteredBot();
    for (const text of [
      'help',
      'help',
      'nonsense here',
      'latency',
      'latency too many words',
      'db',
      'cpu',
      'heap',
    ]) {
      expect((await postSigned(bot.eventsUrl, slashCommandBody({ text }))).status).toBe(200);
    }
    await settle(bot);
    const text = await scrape(bot);
    expect(sample(text, 'aegis_commands_total', 'command="help",outcome="ok"')).toBe(2);
    expect(sample(text, 'aegis_commands_total', 'command="unknown",outcome="user_error"')).toBe(1);
    expect(sample(text, 'aegis_commands_total', 'command="latency",outcome="ok"')).toBe(1);
    expect(sample(text, 'aegis_commands_total', 'command="latency",outcome="user_error"')).toBe(1);
    expect(sample(text, 'aegis_commands_total', 'command="db",outcome="source_error"')).toBe(1);
    expect(sample(text, 'aegis_commands_total', 'command="cpu",outcome="internal_error"')).toBe(1);
    expect(sample(text, 'aegis_commands_total', 'command="heap",outcome="rejected"')).toBe(1);
    // free text never becomes a label
    expect(text).not.toContain('nonsense');
  });

  it('observe the time from receipt to acknowledgement of every verified Slack request', async () => {
    bot = await startMeteredBot();
    for (const t of ['help', 'latency', 'whatever'])
      await postSigned(bot.eventsUrl, slashCommandBody({ text: t }));
    // a refused (unsigned) request is no acknowledgement
    await postSigned(bot.eventsUrl, slashCommandBody({ text: 'help' }), { signature: null });
    await settle(bot);
    const text = await scrape(bot);
    expect(sample(text, 'aegis_ack_latency_seconds_count', 'command="help"')).toBe(1);
    expect(sample(text, 'aegis_ack_latency_seconds_count', 'command="latency"')).toBe(1);
    expect(sample(text, 'aegis_ack_latency_seconds_count', 'command="unknown"')).toBe(1);
    expect(sample(text, 'aegis_ack_latency_seconds_bucket', 'le="3",command="help"')).toBe(1);
    expect(sample(text, 'aegis_ack_latency_seconds_sum', 'command="help"')).toBeGreaterThan(0);
  });
});
