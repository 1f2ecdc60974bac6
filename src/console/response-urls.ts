import { randomBytes } from 'node:crypto';
import type { Log } from '../slack/logger.ts';
import type { Feed } from './feed.ts';
import type { ResponseUrlPost, SlackApiEmulator } from './slack-api-emulator.ts';

/** Where a command or click happened: what its response_url answers are shown in. */
export interface ResponseOrigin {
  readonly channel: string;
  readonly user: string;
  readonly threadTs?: string;
}

export interface ResponseUrls {
  /** A new response_url on the emulator ("c…" for a command, "a…" for a click), answering into `origin`. */
  issue(prefix: 'c' | 'a', origin: ResponseOrigin): string;
  /** What the bot posted to a response_url: in the channel as the bot (in_channel), else to the one user. */
  answer(post: ResponseUrlPost): void;
}

export function createResponseUrls(
  emulator: SlackApiEmulator,
  botToken: string,
  feed: Feed,
  log: Log,
): ResponseUrls {
  const origins = new Map<string, ResponseOrigin>();
  const postAsBot = async (args: Record<string, unknown>) => {
    await fetch(`${emulator.url}/api/chat.postMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${botToken}` },
      body: JSON.stringify(args),
    }).catch((e: unknown) => log.warn({ err: e }, 'console: could not post an in_channel response'));
  };
  return {
    issue(prefix, origin) {
      const id = `${prefix}${randomBytes(6).toString('hex')}`;
      origins.set(id, origin);
      // response_urls are good for 30 minutes in Slack; here the newest thousand are plenty
      if (origins.size > 1000) origins.delete(origins.keys().next().value as string);
      return emulator.responseUrl(id);
    },
    answer(post) {
      const origin = origins.get(post.id);
      if (!origin) return;
      const body = post.body;
      const text = typeof body.text === 'string' ? body.text : '';
      const blocks = Array.isArray(body.blocks) ? body.blocks : [];
      if (body.response_type === 'in_channel') {
        void postAsBot({
          channel: origin.channel,
          text,
          blocks,
          ...(origin.threadTs ? { thread_ts: origin.threadTs } : {}),
        });
        return;
      }
      feed.showEphemeral({
        channel: origin.channel,
        user: origin.user,
        text,
        blocks,
        ...(origin.threadTs ? { threadTs: origin.threadTs } : {}),
      });
    },
  };
}
