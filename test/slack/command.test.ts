import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { EMULATOR_BOT_TOKEN, type SlackApiEmulator, start } from '../../src/console/slack-api-emulator.ts';
import { AppError } from '../../src/domain/errors.ts';
import type { StepRun } from '../../src/slack/app.ts';
import type { Renderer } from '../../src/slack/renderer.ts';
import {
  fakeResult,
  fakeStep,
  postSigned,
  renderer,
  SIGNING_SECRET,
  type SlashCommandFields,
  settle,
  slashCommandBody,
  startTestBot,
  type TestBot,
  testConfig,
  visibleText,
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

const command = (b: TestBot, fields: SlashCommandFields) => postSigned(b.eventsUrl, slashCommandBody(fields));
const callsOf = (method: string) => emulator.calls.filter((c) => c.method === method);

describe('/aegis help and usage', () => {
  it('lists every subcommand, runbook steps and built-ins, one line each, ephemerally', async () => {
    const steps = [fakeStep({ name: 'latency' }), fakeStep({ name: 'cpu' }), fakeStep({ name: 'db' })];
    bot = await startTestBot(emulator, { steps });
    const res = await command(bot, { text: 'help' });
    expect(res.status).toBe(200);
    const body = res.json();
    expect(body.response_type).toBe('ephemeral');
    const shown = visibleText(body);
    for (const name of ['latency', 'cpu', 'db', 'help']) expect(shown).toContain(`/aegis ${name}`);
    for (const s of steps) expect(shown).toContain(s.summary);
  });

  it('shows the help when /aegis is typed alone', async () => {
    bot = await startTestBot(emulator);
    const res = await command(bot, { text: '   ' });
    expect(visibleText(res.json())).toContain('/aegis latency [service]');
  });

  it('answers an unknown subcommand with an ephemeral usage message that names it, and no stack trace', async () => {
    bot = await startTestBot(emulator);
    const res = await command(bot, { text: 'frobnicate now' });
    expect(res.status).toBe(200);
    const body = res.json();
    expect(body.response_type).toBe('ephemeral');
    const shown = visibleText(body);
    expect(shown).toContain('unknown subcommand "frobnicate"');
    expect(shown).toContain('latency');
    expect(shown).toMatch(/Usage/);
    expect(shown).not.toMatch(/\n\s+at |Error:/);
    expect(bot.runStep.calls).toBe(0);
  });

  it("answers a step's malformed arguments with the step's own usage", async () => {
    bot = await startTestBot(emulator);
    const shown = visibleText((await command(bot, { text: 'latency one two' })).json());
    expect(shown).toContain('latency takes at most one word');
    expect(shown).toContain('/aegis latency [service]');
    expect(bot.runStep.calls).toBe(0);
  });

  it('answers an unknown service with the known ones', async () => {
    bot = await startTestBot(emulator);
    const shown = visibleText((await command(bot, { text: 'latency payments' })).json());
    expect(shown).toContain('unknown service "payments"');
    expect(shown).toContain('aegis-api, billing');
  });
});

describe('/aegis <step> in the incident thread', () => {
  it('posts a root message at once, updates it with progress and then the report, and uploads files into its thread', async () => {
    const step = fakeStep({
      run: async (ctx) => {
        ctx.progress({ name: 'prometheus', status: 'running' });
        ctx.progress({ name: 'prometheus', status: 'ok' });
        return fakeResult('latency', ctx.service.name, {
          headline: 'P99 1.8 s CRITICAL, driven by /api/search',
          attachments: [
            {
              filename: 'p99.csv',
              title: 'P99 by path',
              mimeType: 'text/csv',
              content: 'path,p99\n/api/search,1.8\n',
            },
          ],
        });
      },
    });
    bot = await startTestBot(emulator, { steps: [step] });
    const res = await command(bot, {
      text: 'latency billing',
      channel_id: 'C0GENERAL',
      channel_name: 'general',
    });
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    await settle(bot);

    const [root, ...others] = emulator.messages.inChannel('C0GENERAL');
    expect(others).toHaveLength(0);
    expect(root).toBeDefined();
    if (!root) return;
    const [first] = root.history;
    expect(first && visibleText(first)).toContain('Running latency on billing');
    expect(root.history.slice(1).some((v) => visibleText(v).includes('prometheus'))).toBe(true);
    expect(visibleText(root)).toContain('P99 1.8 s CRITICAL, driven by /api/search');
    expect(callsOf('chat.postMessage').map((c) => c.args.channel)).toEqual(['C0GENERAL']);
    expect(callsOf('chat.update').every((c) => c.args.ts === root.ts)).toBe(true);

    const thread = emulator.messages.thread('C0GENERAL', root.ts);
    expect(thread).toHaveLength(1);
    const file = thread[0]?.files?.[0];
    expect(file?.name).toBe('p99.csv');
    expect(file?.title).toBe('P99 by path');
    expect(file?.content.toString('utf8')).toBe('path,p99\n/api/search,1.8\n');
    const order = emulator.calls.map((c) => c.method).filter((m) => m !== 'auth.test');
    expect(order.indexOf('chat.postMessage')).toBeLessThan(order.lastIndexOf('chat.update'));
    expect(order.lastIndexOf('chat.update')).toBeLessThan(order.indexOf('files.completeUploadExternal'));
  });

  it('gives runStep the service, the actor and a progress callback', async () => {
    let seen: unknown;
    const runStep = async (_step: unknown, args: unknown, run: StepRun) => {
      seen = { args, service: run.service.name, actor: run.actor, progress: typeof run.progress };
      return fakeResult('latency', run.service.name);
    };
    bot = await startTestBot(emulator, { runStep });
    await command(bot, { text: 'latency', user_id: 'U0BOB' });
    await settle(bot);
    expect(seen).toEqual({
      args: { words: [] },
      service: 'aegis-api',
      actor: { userId: 'U0BOB', teamId: 'T0AEGIS', channelId: 'C0INCIDENT' },
      progress: 'function',
    });
  });

  it('posts into the configured incident channel when the command comes from a direct message', async () => {
    bot = await startTestBot(emulator);
    const responseUrl = emulator.responseUrl('dm');
    await command(bot, {
      text: 'latency',
      channel_id: 'D0DIRECT',
      channel_name: 'directmessage',
      response_url: responseUrl,
    });
    await settle(bot);
    expect(emulator.messages.inChannel('C0INCIDENT')).toHaveLength(1);
    expect(emulator.responses.map((r) => r.body.text)).toEqual([expect.stringContaining('<#C0INCIDENT>')]);
  });

  it('asks for a channel when the command comes from a direct message and no incident channel is configured', async () => {
    const config = parseConfig(
      'services:\n  - name: aegis-api\n    deployment: aegis-api\n',
      'no-channel.yml',
      {
        SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
      },
    );
    bot = await startTestBot(emulator, { config });
    await command(bot, {
      text: 'latency',
      channel_id: 'D0DIRECT',
      channel_name: 'directmessage',
      response_url: emulator.responseUrl('dm'),
    });
    await settle(bot);
    expect(emulator.messages.all()).toEqual([]);
    expect(emulator.responses[0]?.body.response_type).toBe('ephemeral');
    expect(visibleText(emulator.responses[0]?.body ?? {})).toContain('slack.incident_channel');
    expect(bot.runStep.calls).toBe(0);
  });

  it("shows an AppError's message to the user in the root message", async () => {
    const step = fakeStep({
      run: async () => {
        throw new AppError('not_found', 'no pod named aegis-api-7d9f in namespace aegis');
      },
    });
    bot = await startTestBot(emulator, { steps: [step] });
    await command(bot, { text: 'latency' });
    await settle(bot);
    const [root] = emulator.messages.inChannel('C0INCIDENT');
    expect(root && visibleText(root)).toContain('no pod named aegis-api-7d9f in namespace aegis');
    expect(root && visibleText(root)).not.toContain('internal error');
    expect(bot.log.entries.filter((e) => e.level === 'error')).toHaveLength(0);
  });

  it('shows "internal error (ref …)" for any other error, and logs the cause with the same ref', async () => {
    const step = fakeStep({
      run: async () => {
        throw new TypeError('cannot read properties of undefined (reading "p99")');
      },
    });
    bot = await startTestBot(emulator, { steps: [step] });
    await command(bot, { text: 'latency' });
    await settle(bot);
    const [root] = emulator.messages.inChannel('C0INCIDENT');
    const shown = root ? visibleText(root) : '';
    const ref = /internal error \(ref ([a-z0-9]+)\)/.exec(shown)?.[1];
    expect(ref).toBeDefined();
    expect(shown).not.toContain('p99');
    const errors = bot.log.entries.filter((e) => e.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.fields.ref).toBe(ref);
    expect(errors[0]?.fields.err).toBeInstanceOf(TypeError);
    expect(String(errors[0]?.fields.err)).toContain('reading "p99"');
    expect(errors[0]?.fields.command).toBe('/aegis latency');
  });

  it('still delivers the root message when the Web API answers ratelimited with Retry-After', async () => {
    emulator.failNext('chat.postMessage', { error: 'ratelimited', retryAfter: 1 });
    bot = await startTestBot(emulator);
    await command(bot, { text: 'latency' });
    await settle(bot);
    expect(callsOf('chat.postMessage').map((c) => c.error ?? 'ok')).toEqual(['ratelimited', 'ok']);
    const [root] = emulator.messages.inChannel('C0INCIDENT');
    expect(root && visibleText(root)).toContain('latency on aegis-api: all normal');
  });

  it('tells the user through response_url to invite the bot when the channel is not found', async () => {
    bot = await startTestBot(emulator);
    const responseUrl = emulator.responseUrl('missing');
    await command(bot, {
      text: 'latency',
      channel_id: 'C0MISSING',
      channel_name: 'secret',
      response_url: responseUrl,
    });
    await settle(bot);
    expect(emulator.responses).toHaveLength(1);
    const [answer] = emulator.responses;
    expect(answer?.id).toBe('missing');
    expect(answer?.body.response_type).toBe('ephemeral');
    expect(visibleText(answer?.body ?? {})).toMatch(/\/invite @aegis/);
    expect(visibleText(answer?.body ?? {})).toContain('<#C0MISSING>');
    expect(bot.runStep.calls).toBe(0);
  });

  it('tells the user to invite the bot when it is not in the channel', async () => {
    bot = await startTestBot(emulator);
    await command(bot, {
      text: 'latency',
      channel_id: 'C0OUTSIDE',
      response_url: emulator.responseUrl('outside'),
    });
    await settle(bot);
    expect(visibleText(emulator.responses[0]?.body ?? {})).toMatch(
      /I am not in <#C0OUTSIDE>.*\/invite @aegis/s,
    );
  });

  it('answers a step\'s parse crashing with "internal error (ref …)" in the ack, and logs the cause', async () => {
    const step = {
      ...fakeStep(),
      parse: () => {
        throw new RangeError('parser bug');
      },
    };
    bot = await startTestBot(emulator, { steps: [step] });
    const res = await command(bot, { text: 'latency' });
    expect(res.status).toBe(200);
    const shown = visibleText(res.json());
    const ref = /internal error \(ref ([a-z0-9]+)\)/.exec(shown)?.[1];
    expect(ref).toBeDefined();
    expect(shown).not.toContain('parser bug');
    expect(bot.log.entries.find((e) => e.level === 'error')?.fields).toMatchObject({ ref });
  });

  it('reports a renderer crash on the final report as an internal error in the root message', async () => {
    const broken: Renderer = {
      ...renderer,
      renderStepResult: () => {
        throw new Error('renderer bug');
      },
    };
    bot = await startTestBot(emulator, { renderer: broken });
    await command(bot, { text: 'latency' });
    await settle(bot);
    const [root] = emulator.messages.inChannel('C0INCIDENT');
    expect(root && visibleText(root)).toMatch(/internal error \(ref [a-z0-9]+\)/);
    expect(String(bot.log.entries.find((e) => e.level === 'error')?.fields.err)).toBe('Error: renderer bug');
  });

  it('keeps the report in the root and puts the error into the thread when the file upload fails', async () => {
    emulator.failNext('files.completeUploadExternal', { error: 'internal_error' });
    const step = fakeStep({
      run: async (ctx) =>
        fakeResult('latency', ctx.service.name, {
          attachments: [{ filename: 'top.txt', title: 'top', mimeType: 'text/plain', content: 'x' }],
        }),
    });
    bot = await startTestBot(emulator, { steps: [step] });
    await command(bot, { text: 'latency' });
    await settle(bot);
    const [root] = emulator.messages.inChannel('C0INCIDENT');
    expect(root && visibleText(root)).toContain('latency on aegis-api: all normal');
    const thread = root ? emulator.messages.thread('C0INCIDENT', root.ts) : [];
    expect(thread.map((m) => visibleText(m))).toEqual([
      expect.stringMatching(/internal error \(ref [a-z0-9]+\)/),
    ]);
  });

  it('when Slack refuses the report blocks, keeps the headline in the root and posts the full report as a file', async () => {
    bot = await startTestBot(emulator);
    emulator.failNext('chat.update', { error: 'invalid_blocks' });
    await command(bot, { text: 'latency' });
    await settle(bot);
    const [root] = emulator.messages.inChannel('C0INCIDENT');
    expect(root?.text).toContain('latency on aegis-api: all normal');
    expect(root?.text).toContain('latency-report.txt');
    expect(root?.blocks ?? []).toEqual([]);
    const uploads = emulator.calls.filter((c) => c.method === 'files.getUploadURLExternal');
    expect(uploads.map((c) => c.args.filename)).toContain('latency-report.txt');
    const done = emulator.calls.find((c) => c.method === 'files.completeUploadExternal');
    expect(done?.args.thread_ts).toBe(root?.ts);
    expect(
      bot.log.entries.some((e) => e.level === 'warn' && /refused the report blocks/.test(e.msg ?? '')),
    ).toBe(true);
  });

  it('keeps serving after a failure: the next command works', async () => {
    emulator.failNext('chat.postMessage', { error: 'internal_error' });
    bot = await startTestBot(emulator, { config: testConfig() });
    await command(bot, { text: 'latency', response_url: emulator.responseUrl('first') });
    await settle(bot);
    expect(visibleText(emulator.responses[0]?.body ?? {})).toMatch(/internal error \(ref /);
    await command(bot, { text: 'latency' });
    await settle(bot);
    expect(emulator.messages.inChannel('C0INCIDENT')).toHaveLength(1);
  });

  it('reports work that a shutdown had to interrupt, and tells the user to run it again', async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const step = fakeStep({
      run: (ctx) =>
        new Promise((_, reject) => {
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
          started();
        }),
    });
    bot = await startTestBot(emulator, { steps: [step] });
    await command(bot, { text: 'latency', user_id: 'U0BOB' });
    await running;
    const interrupted = await bot.slack.shutdown(50);
    expect(interrupted.map((w) => w.describe)).toEqual([
      expect.stringContaining('/aegis latency (user U0BOB'),
    ]);
    await bot.slack.inFlight.drain(5000);
    const [root] = emulator.messages.inChannel('C0INCIDENT');
    expect(root && visibleText(root)).toContain('interrupted because the bot is restarting');
    bot = undefined;
  });
});
