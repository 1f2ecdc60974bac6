import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type SlackApiEmulator, start } from '../../src/console/slack-api-emulator.ts';
import { fakeStep, postSigned, settle, startTestBot, type TestBot, visibleText } from '../support/slack.ts';

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

/** A block_actions payload as Slack sends it when a button in a channel message is clicked. */
function buttonClick(value: string, opts: { messageTs: string; threadTs?: string; responseUrl: string }) {
  const payload = {
    type: 'block_actions',
    team: { id: 'T0AEGIS', domain: 'aegis-emulated' },
    user: { id: 'U0BOB', username: 'bob', team_id: 'T0AEGIS' },
    api_app_id: 'A0AEGIS',
    token: 'legacy-verification-token-unused',
    container: { type: 'message', message_ts: opts.messageTs, channel_id: 'C0INCIDENT', is_ephemeral: false },
    trigger_id: '13345224609.738474920.8088930838d88f008e0',
    channel: { id: 'C0INCIDENT', name: 'incident' },
    message: {
      type: 'message',
      ts: opts.messageTs,
      ...(opts.threadTs ? { thread_ts: opts.threadTs } : {}),
      text: 'report',
    },
    response_url: opts.responseUrl,
    actions: [
      {
        type: 'button',
        action_id: 'aegis_step:cpu',
        block_id: 'next',
        text: { type: 'plain_text', text: 'CPU profile' },
        value,
        action_ts: '1700000000.000200',
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

describe('next-step buttons', () => {
  it('runs the chosen step in the thread of the message that showed the button', async () => {
    bot = await startTestBot(emulator, { steps: [fakeStep({ name: 'latency' }), fakeStep({ name: 'cpu' })] });
    const body = buttonClick(JSON.stringify({ step: 'cpu', args: [], service: 'billing' }), {
      messageTs: '1700000000.000100',
      responseUrl: emulator.responseUrl(),
    });
    const res = await postSigned(bot.eventsUrl, body);
    expect(res.status).toBe(200);
    await settle(bot);
    const posts = emulator.calls.filter((c) => c.method === 'chat.postMessage');
    expect(posts).toHaveLength(1);
    expect(posts[0]?.args.thread_ts).toBe('1700000000.000100');
    expect(posts[0]?.args.channel).toBe('C0INCIDENT');
    const updates = emulator.calls.filter((c) => c.method === 'chat.update');
    const final = updates.at(-1);
    expect(visibleText(final?.args ?? {})).toContain('billing');
    expect(bot.runStep.calls).toBe(1);
  });

  it('keeps a click on a reply inside the same incident thread', async () => {
    bot = await startTestBot(emulator, { steps: [fakeStep({ name: 'cpu' })] });
    const body = buttonClick(JSON.stringify({ step: 'cpu', args: [], service: 'aegis-api' }), {
      messageTs: '1700000000.000300',
      threadTs: '1700000000.000100',
      responseUrl: emulator.responseUrl(),
    });
    await postSigned(bot.eventsUrl, body);
    await settle(bot);
    const post = emulator.calls.find((c) => c.method === 'chat.postMessage');
    expect(post?.args.thread_ts).toBe('1700000000.000100');
  });

  it('refuses a tampered button value with a clear message and runs nothing', async () => {
    bot = await startTestBot(emulator, { steps: [fakeStep({ name: 'cpu' })] });
    const cases = [
      'not json',
      JSON.stringify({ step: 'rm -rf', args: [], service: 'aegis-api' }),
      JSON.stringify({ step: 'cpu', args: ['a', 'b'], service: 'aegis-api' }),
      JSON.stringify({ step: 'cpu', args: [], service: 'no-such-service' }),
    ];
    for (const value of cases) {
      const res = await postSigned(
        bot.eventsUrl,
        buttonClick(value, { messageTs: '1700000000.000100', responseUrl: emulator.responseUrl() }),
      );
      expect(res.status).toBe(200);
    }
    await vi.waitFor(() => expect(emulator.responses).toHaveLength(4));
    await settle(bot);
    expect(bot.runStep.calls).toBe(0);
    expect(emulator.calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(0);
    const answers = emulator.responses.map((r) => visibleText(r.body as object));
    expect(answers).toHaveLength(4);
    expect(answers[0]).toContain('carries no valid step');
    expect(answers[1]).toContain('not a runbook step');
    expect(answers[2]).toContain('at most one word');
    expect(answers[3]).toContain('unknown service "no-such-service"');
  });

  it('rejects an unsigned click before any listener runs', async () => {
    bot = await startTestBot(emulator, { steps: [fakeStep({ name: 'cpu' })] });
    const body = buttonClick(JSON.stringify({ step: 'cpu', args: [], service: 'aegis-api' }), {
      messageTs: '1700000000.000100',
      responseUrl: emulator.responseUrl(),
    });
    const res = await postSigned(bot.eventsUrl, body, { signature: 'v0=deadbeef' });
    expect(res.status).toBe(401);
    expect(bot.reachedBolt()).toBe(0);
  });
});
