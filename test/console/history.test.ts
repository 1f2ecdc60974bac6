import { afterEach, describe, expect, it } from 'vitest';
import { CONSOLE_HISTORY, createFeed } from '../../src/console/feed.ts';
import {
  EMULATOR_BOT_TOKEN,
  type SlackApiEmulator,
  start as startEmulator,
} from '../../src/console/slack-api-emulator.ts';

describe('the console keeps a bounded history', () => {
  it('holds the newest items only, in order', () => {
    const feed = createFeed(3);
    for (let i = 1; i <= 5; i += 1)
      feed.showCommand({ channel: 'C1', user: 'U1', author: 'you', typed: `/aegis help ${i}` });
    expect(feed.items().map((i) => i.text)).toEqual(['/aegis help 3', '/aegis help 4', '/aegis help 5']);
    expect(feed.get('c:1')).toBeUndefined();
    expect(CONSOLE_HISTORY).toBeGreaterThanOrEqual(100);
  });

  let emulator: SlackApiEmulator | undefined;
  afterEach(async () => {
    await emulator?.stop();
    emulator = undefined;
  });

  it("Slack's emulated side keeps only the newest messages, calls and files when told to", async () => {
    emulator = await startEmulator({ retain: 4 });
    const api = async (method: string, args: Record<string, unknown>) => {
      const r = await fetch(`${emulator?.url}/api/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${EMULATOR_BOT_TOKEN}` },
        body: JSON.stringify(args),
      });
      return (await r.json()) as Record<string, unknown>;
    };
    for (let i = 0; i < 10; i += 1) {
      expect(await api('chat.postMessage', { channel: 'C0INCIDENT', text: `report ${i}` })).toMatchObject({
        ok: true,
      });
      await api('files.getUploadURLExternal', { filename: `f${i}.png`, length: 3 });
    }
    expect(emulator.messages.all().map((m) => m.text)).toEqual([
      'report 6',
      'report 7',
      'report 8',
      'report 9',
    ]);
    expect(emulator.calls.length).toBe(4);
    expect(emulator.files.size).toBe(4);
  });
});
