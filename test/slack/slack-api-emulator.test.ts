import { webApi } from '@slack/bolt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EMULATOR_BOT_TOKEN, type SlackApiEmulator, start } from '../../src/console/slack-api-emulator.ts';

let emulator: SlackApiEmulator;
let client: webApi.WebClient;

beforeAll(async () => {
  emulator = await start();
  client = new webApi.WebClient(EMULATOR_BOT_TOKEN, {
    slackApiUrl: `${emulator.url}/api/`,
    retryConfig: { retries: 0 },
  });
});
afterAll(async () => {
  await emulator.stop();
});
afterEach(() => {
  emulator.reset();
});

/** Raw POST, as a client that does not use the WebClient would. */
async function raw(method: string, body: Record<string, string>, token?: string) {
  const res = await fetch(`${emulator.url}/api/${method}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: new URLSearchParams(body).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });

describe('the emulated Slack Web API', () => {
  it('answers not_authed without a token and invalid_auth with an unknown one', async () => {
    expect((await raw('auth.test', {})).body).toEqual({ ok: false, error: 'not_authed' });
    expect((await raw('auth.test', {}, 'xoxb-wrong')).body).toEqual({ ok: false, error: 'invalid_auth' });
    expect(emulator.calls.map((c) => [c.method, c.token, c.error])).toEqual([
      ['auth.test', undefined, 'not_authed'],
      ['auth.test', 'xoxb-wrong', 'invalid_auth'],
    ]);
  });

  it('names the team and the bot user in auth.test', async () => {
    const r = await client.auth.test();
    expect(r).toMatchObject({
      ok: true,
      team: 'Aegis Emulated',
      team_id: 'T0AEGIS',
      user: 'aegis',
      user_id: 'U0AEGISBOT',
    });
  });

  it('keeps messages by channel and thread, with Slack-like timestamps, and records every call in order', async () => {
    const root = await client.chat.postMessage({
      channel: 'C0INCIDENT',
      text: 'root',
      blocks: [section('root')],
    });
    expect(root.ts).toMatch(/^\d{10}\.\d{6}$/);
    const reply = await client.chat.postMessage({
      channel: 'C0INCIDENT',
      thread_ts: root.ts as string,
      text: 'reply',
    });
    await client.chat.update({ channel: 'C0INCIDENT', ts: root.ts as string, text: 'root v2' });
    expect(Number(reply.ts)).toBeGreaterThan(Number(root.ts));
    expect(emulator.messages.inChannel('C0INCIDENT').map((m) => m.text)).toEqual(['root v2']);
    expect(emulator.messages.thread('C0INCIDENT', root.ts as string).map((m) => m.text)).toEqual(['reply']);
    const updated = emulator.messages.get('C0INCIDENT', root.ts as string);
    expect(updated?.blocks).toEqual([section('root')]);
    expect(updated?.history).toEqual([{ text: 'root', blocks: [section('root')] }]);
    expect(emulator.calls.map((c) => c.method)).toEqual([
      'chat.postMessage',
      'chat.postMessage',
      'chat.update',
    ]);
    expect(emulator.calls[0]?.args).toEqual({
      channel: 'C0INCIDENT',
      text: 'root',
      blocks: [section('root')],
    });
    expect(emulator.calls[0]?.token).toBe(EMULATOR_BOT_TOKEN);
  });

  it('answers channel_not_found for an unknown channel and not_in_channel where the bot is not a member', async () => {
    await expect(client.chat.postMessage({ channel: 'C0NOPE', text: 'x' })).rejects.toMatchObject({
      data: { error: 'channel_not_found' },
    });
    await expect(client.chat.postMessage({ channel: 'C0OUTSIDE', text: 'x' })).rejects.toMatchObject({
      data: { error: 'not_in_channel' },
    });
    await expect(client.conversations.info({ channel: 'C0NOPE' })).rejects.toMatchObject({
      data: { error: 'channel_not_found' },
    });
  });

  it.each([
    ['51 blocks', Array.from({ length: 51 }, () => ({ type: 'divider' }))],
    ['a section text of 3001 characters', [section('x'.repeat(3001))]],
    ['a header of 151 characters', [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }]],
    [
      '26 elements in actions',
      [
        {
          type: 'actions',
          elements: Array.from({ length: 26 }, (_, i) => ({
            type: 'button',
            action_id: `b${i}`,
            text: { type: 'plain_text', text: `${i}` },
          })),
        },
      ],
    ],
    ['an unknown block type', [{ type: 'sectoin' }]],
  ])('answers invalid_blocks for %s', async (_name, blocks) => {
    await expect(client.chat.postMessage({ channel: 'C0INCIDENT', text: 'x', blocks })).rejects.toMatchObject(
      {
        data: { error: 'invalid_blocks' },
      },
    );
    expect(emulator.messages.all()).toEqual([]);
  });

  it('answers invalid_blocks for blocks that are not JSON', async () => {
    const r = await raw(
      'chat.postMessage',
      { channel: 'C0INCIDENT', text: 'x', blocks: '[{"type":' },
      EMULATOR_BOT_TOKEN,
    );
    expect(r.body.error).toBe('invalid_blocks');
  });

  it('accepts blocks exactly at the limits', async () => {
    const blocks = [
      { type: 'header', text: { type: 'plain_text', text: 'h'.repeat(150) } },
      section('x'.repeat(3000)),
      ...Array.from({ length: 48 }, () => ({ type: 'divider' })),
    ];
    await expect(
      client.chat.postMessage({ channel: 'C0INCIDENT', text: 'x', blocks }),
    ).resolves.toMatchObject({ ok: true });
  });

  it('answers a ratelimited fault with HTTP 429 and Retry-After, once', async () => {
    emulator.failNext('chat.postMessage', { error: 'ratelimited', retryAfter: 7 });
    const first = await raw('chat.postMessage', { channel: 'C0INCIDENT', text: 'x' }, EMULATOR_BOT_TOKEN);
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('7');
    expect(first.body).toEqual({ ok: false, error: 'ratelimited' });
    const second = await raw('chat.postMessage', { channel: 'C0INCIDENT', text: 'x' }, EMULATOR_BOT_TOKEN);
    expect(second.body.ok).toBe(true);
  });

  it('injects any Slack error once per failNext', async () => {
    emulator.failNext('users.info', { error: 'user_not_found' });
    await expect(client.users.info({ user: 'U0ALICE' })).rejects.toMatchObject({
      data: { error: 'user_not_found' },
    });
    await expect(client.users.info({ user: 'U0ALICE' })).resolves.toMatchObject({ user: { name: 'alice' } });
  });

  it('uploads files into a thread with the current flow (getUploadURLExternal, upload, completeUploadExternal)', async () => {
    const root = await client.chat.postMessage({ channel: 'C0INCIDENT', text: 'root' });
    await client.filesUploadV2({
      channel_id: 'C0INCIDENT',
      thread_ts: root.ts as string,
      file_uploads: [
        { file: Buffer.from('flat flat% sum% cum cum%\n'), filename: 'cpu-top.txt', title: 'CPU top' },
        { file: Buffer.from([0x1f, 0x8b, 0x08, 0x00]), filename: 'cpu.pb.gz', title: 'CPU profile' },
      ],
    } as webApi.FilesUploadV2Arguments);
    expect(emulator.calls.map((c) => c.method)).toEqual([
      'chat.postMessage',
      'files.getUploadURLExternal',
      'files.getUploadURLExternal',
      'upload',
      'upload',
      'files.completeUploadExternal',
    ]);
    const [message] = emulator.messages.thread('C0INCIDENT', root.ts as string);
    expect(message?.files?.map((f) => [f.name, f.title, f.size])).toEqual([
      ['cpu-top.txt', 'CPU top', 25],
      ['cpu.pb.gz', 'CPU profile', 4],
    ]);
    expect(message?.files?.[1]?.content).toEqual(Buffer.from([0x1f, 0x8b, 0x08, 0x00]));
  });

  it('refuses to complete an upload whose bytes never arrived', async () => {
    const { file_id } = await client.files.getUploadURLExternal({ filename: 'a.txt', length: 3 });
    await expect(
      client.files.completeUploadExternal({ files: [{ id: file_id as string }], channel_id: 'C0INCIDENT' }),
    ).rejects.toMatchObject({ data: { error: 'file_not_found' } });
  });

  it('answers permalinks, ephemeral messages, user groups, users, channels and records views', async () => {
    const root = await client.chat.postMessage({ channel: 'C0INCIDENT', text: 'root' });
    const link = await client.chat.getPermalink({ channel: 'C0INCIDENT', message_ts: root.ts as string });
    expect(link.permalink).toBe(
      `https://aegis-emulated.slack.com/archives/C0INCIDENT/p${(root.ts as string).replace('.', '')}`,
    );
    await client.chat.postEphemeral({ channel: 'C0INCIDENT', user: 'U0BOB', text: 'only for bob' });
    expect(emulator.messages.ephemeral).toEqual([
      { channel: 'C0INCIDENT', user: 'U0BOB', text: 'only for bob' },
    ]);
    expect((await client.usergroups.users.list({ usergroup: 'S0ONCALL' })).users).toEqual(['U0ONCALL']);
    await expect(client.usergroups.users.list({ usergroup: 'S0NOPE' })).rejects.toMatchObject({
      data: { error: 'no_such_subteam' },
    });
    expect((await client.conversations.info({ channel: 'C0OUTSIDE' })).channel).toMatchObject({
      is_member: false,
    });
    await client.views.open({
      trigger_id: '1.2.3',
      view: {
        type: 'modal',
        title: { type: 'plain_text', text: 'Confirm' },
        blocks: [section('Scale to 5?')],
      },
    });
    expect(emulator.views).toEqual([
      {
        triggerId: '1.2.3',
        view: {
          type: 'modal',
          title: { type: 'plain_text', text: 'Confirm' },
          blocks: [section('Scale to 5?')],
        },
      },
    ]);
  });

  it('records what is posted to its response_url endpoints', async () => {
    const url = emulator.responseUrl('cmd-1');
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ response_type: 'ephemeral', text: 'hello' }),
    });
    expect(res.status).toBe(200);
    expect(emulator.responses).toEqual([
      { id: 'cmd-1', body: { response_type: 'ephemeral', text: 'hello' } },
    ]);
  });
});
