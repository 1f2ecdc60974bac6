import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type SlackApiEmulator, start } from '../../src/console/slack-api-emulator.ts';
import { signSlackRequest, verifySlackSignature } from '../../src/slack/signature.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import {
  postSigned,
  SIGNING_SECRET,
  settle,
  slashCommandBody,
  startTestBot,
  type TestBot,
} from '../support/slack.ts';

let emulator: SlackApiEmulator;
let bot: TestBot;

beforeAll(async () => {
  emulator = await start();
});
afterAll(async () => {
  await emulator.stop();
});
afterEach(async () => {
  await bot?.stop();
  emulator.reset();
});

const stepCommand = slashCommandBody({ text: 'latency' });

/** After a refused request: nothing reached Bolt, no step ran, nothing was posted. */
async function expectNothingRan(b: TestBot) {
  await settle(b);
  expect(b.reachedBolt()).toBe(0);
  expect(b.runStep.calls).toBe(0);
  expect(emulator.calls.filter((c) => c.method !== 'auth.test')).toEqual([]);
}

describe('requests to /slack/events', () => {
  it('accepts a correctly signed, current request (200) and runs the command', async () => {
    bot = await startTestBot(emulator);
    const res = await postSigned(bot.eventsUrl, stepCommand);
    expect(res.status).toBe(200);
    await settle(bot);
    expect(bot.reachedBolt()).toBe(1);
    expect(bot.runStep.calls).toBe(1);
  });

  it('refuses a bad signature with 401, and no listener runs', async () => {
    bot = await startTestBot(emulator);
    const res = await postSigned(bot.eventsUrl, stepCommand, { secret: 'not-the-signing-secret' });
    expect(res.status).toBe(401);
    await expectNothingRan(bot);
  });

  it('refuses a body changed after signing with 401', async () => {
    bot = await startTestBot(emulator);
    const ts = Math.floor(Date.now() / 1000);
    const signature = signSlackRequest(SIGNING_SECRET, ts, slashCommandBody({ text: 'help' }));
    const res = await fetch(bot.eventsUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': String(ts),
        'x-slack-signature': signature,
      },
      body: stepCommand,
    });
    expect(res.status).toBe(401);
    await expectNothingRan(bot);
  });

  it('refuses a request without a signature with 401', async () => {
    bot = await startTestBot(emulator);
    const res = await postSigned(bot.eventsUrl, stepCommand, { signature: null });
    expect(res.status).toBe(401);
    await expectNothingRan(bot);
  });

  it('refuses a correctly signed request dated 6 minutes ago with 401 (replay)', async () => {
    bot = await startTestBot(emulator);
    const res = await postSigned(bot.eventsUrl, stepCommand, { skewSeconds: -360 });
    expect(res.status).toBe(401);
    await expectNothingRan(bot);
  });

  it('refuses a correctly signed request dated 6 minutes ahead with 401, which Bolt alone would accept', async () => {
    bot = await startTestBot(emulator);
    const res = await postSigned(bot.eventsUrl, stepCommand, { skewSeconds: 360 });
    expect(res.status).toBe(401);
    await expectNothingRan(bot);
  });

  it('accepts a request dated 4 minutes off either way (inside the window)', async () => {
    bot = await startTestBot(emulator);
    const help = slashCommandBody({ text: 'help' });
    expect((await postSigned(bot.eventsUrl, help, { skewSeconds: -240 })).status).toBe(200);
    expect((await postSigned(bot.eventsUrl, help, { skewSeconds: 240 })).status).toBe(200);
  });

  it('refuses a body over the size limit with 413, and no listener runs', async () => {
    bot = await startTestBot(emulator, { bodyLimit: 4096 });
    const big = slashCommandBody({ text: `latency ${'x'.repeat(8192)}` });
    const res = await postSigned(bot.eventsUrl, big);
    expect(res.status).toBe(413);
    await expectNothingRan(bot);
  });

  it('answers a 10 MB body with a 413 the client can read (not a connection reset), and no listener runs', async () => {
    bot = await startTestBot(emulator);
    const huge = slashCommandBody({ text: `latency ${'x'.repeat(10 * 1024 * 1024)}` });
    const res = await postSigned(bot.eventsUrl, huge);
    expect(res.status).toBe(413);
    expect(res.text).toBe('request body too large\n');
    await expectNothingRan(bot);
    // the server is still there for the next request
    expect((await postSigned(bot.eventsUrl, slashCommandBody({ text: 'help' }))).status).toBe(200);
  });

  it('refuses a signed JSON body (slash commands are form-encoded) with 400 before any listener, logging no error', async () => {
    bot = await startTestBot(emulator);
    const json = JSON.stringify(Object.fromEntries(new URLSearchParams(stepCommand)));
    const res = await postSigned(bot.eventsUrl, json, { contentType: 'application/json' });
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/form-encoded/);
    await expectNothingRan(bot);
    expect(bot.log.entries.filter((e) => e.level === 'error')).toEqual([]);
  });

  it('runs a signed request sent three times within the window once; the replays get an empty 200', async () => {
    bot = await startTestBot(emulator);
    const ts = String(Math.floor(Date.now() / 1000));
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': ts,
      'x-slack-signature': signSlackRequest(SIGNING_SECRET, ts, stepCommand),
    };
    const answers = [];
    for (const retry of [undefined, undefined, '1']) {
      const res = await fetch(bot.eventsUrl, {
        method: 'POST',
        headers: { ...headers, ...(retry ? { 'x-slack-retry-num': retry } : {}) },
        body: stepCommand,
      });
      answers.push({ status: res.status, text: await res.text() });
    }
    await settle(bot);
    expect(answers).toEqual([
      { status: 200, text: '' },
      { status: 200, text: '' },
      { status: 200, text: '' },
    ]);
    expect(bot.reachedBolt()).toBe(1);
    expect(bot.runStep.calls).toBe(1);
    expect(
      bot.log.entries.filter((e) => e.msg === 'a replayed Slack request was answered without running'),
    ).toHaveLength(2);
  });

  it('shares the replay cache between replicas: a request replayed to another replica does not run there', async () => {
    const shared = new MemoryStore();
    bot = await startTestBot(emulator, { replays: shared });
    const other = await startTestBot(emulator, { replays: shared });
    try {
      const ts = String(Math.floor(Date.now() / 1000));
      const init = {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-slack-request-timestamp': ts,
          'x-slack-signature': signSlackRequest(SIGNING_SECRET, ts, stepCommand),
        },
        body: stepCommand,
      };
      expect((await fetch(bot.eventsUrl, init)).status).toBe(200);
      expect((await fetch(other.eventsUrl, init)).status).toBe(200);
      await settle(bot);
      await settle(other);
      expect(bot.runStep.calls + other.runStep.calls).toBe(1);
      expect(other.reachedBolt()).toBe(0);
    } finally {
      await other.stop();
    }
  });

  it('answers an SSL check without a listener', async () => {
    bot = await startTestBot(emulator);
    const res = await postSigned(bot.eventsUrl, 'ssl_check=1&token=x&command=%2Faegis&text=latency', {
      signature: null,
    });
    expect(res.status).toBe(200);
    await expectNothingRan(bot);
  });
});

describe('extra HTTP routes', () => {
  it('serves the given routes beside the Slack endpoint, 405 for another method, 404 elsewhere', async () => {
    bot = await startTestBot(emulator, {
      routes: [
        {
          path: '/healthz',
          method: 'GET',
          handler: (_req, res) => {
            res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
          },
        },
        {
          path: '/readyz',
          method: 'GET',
          handler: async () => {
            throw new Error('readiness probe crashed');
          },
        },
      ],
    });
    const health = await fetch(`${bot.baseUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok\n');
    expect((await fetch(`${bot.baseUrl}/healthz`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${bot.baseUrl}/nope`)).status).toBe(404);
    expect((await fetch(`${bot.baseUrl}/readyz`)).status).toBe(500);
    expect(
      bot.log.entries.some(
        (e) => e.level === 'error' && (e.fields.err as Error).message === 'readiness probe crashed',
      ),
    ).toBe(true);
    expect((await fetch(`${bot.baseUrl}/slack/events`)).status).toBe(404);
  });
});

describe('signSlackRequest', () => {
  it("computes the signature of Slack's documented example (api.slack.com, Verifying requests from Slack)", () => {
    const body =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    const expected = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';
    expect(signSlackRequest('8f742231b10e8888abcd99yyyzzz85a5', 1531420618, body)).toBe(expected);
    expect(signSlackRequest('8f742231b10e8888abcd99yyyzzz85a5', '1531420618', Buffer.from(body))).toBe(
      expected,
    );
  });
});

describe('verifySlackSignature', () => {
  const now = 1_767_600_000_000;
  const ts = String(now / 1000);
  const body = 'command=%2Faegis&text=help';
  const good = signSlackRequest(SIGNING_SECRET, ts, body);

  it('accepts the signature Slack computes', () => {
    expect(verifySlackSignature(SIGNING_SECRET, { body, timestamp: ts, signature: good }, now)).toEqual({
      ok: true,
    });
  });

  it.each([
    [
      'a truncated signature',
      { body, timestamp: ts, signature: good.slice(0, -2) },
      /malformed X-Slack-Signature/,
    ],
    ['another version', { body, timestamp: ts, signature: good.replace('v0=', 'v1=') }, /malformed/],
    [
      'a flipped digit',
      { body, timestamp: ts, signature: good.replace(/.$/, (c) => (c === '0' ? '1' : '0')) },
      /mismatch/,
    ],
    ['no timestamp', { body, timestamp: undefined, signature: good }, /Timestamp/],
    [
      'a timestamp that is not a number',
      { body, timestamp: '17e8', signature: good },
      /malformed X-Slack-Request-Timestamp/,
    ],
    [
      'a timestamp 301 s old',
      { body, timestamp: String(now / 1000 - 301), signature: good },
      /301 s in the past/,
    ],
    [
      'a timestamp 301 s ahead',
      { body, timestamp: String(now / 1000 + 301), signature: good },
      /301 s in the future/,
    ],
  ])('refuses %s', (_name, req, reason) => {
    const outcome = verifySlackSignature(SIGNING_SECRET, req, now);
    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? '' : outcome.reason).toMatch(reason);
  });

  it('accepts exactly 300 s of skew either way', () => {
    for (const skew of [-300, 300]) {
      const t = String(now / 1000 + skew);
      const signature = signSlackRequest(SIGNING_SECRET, t, body);
      expect(verifySlackSignature(SIGNING_SECRET, { body, timestamp: t, signature }, now).ok).toBe(true);
    }
  });
});
