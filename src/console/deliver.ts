import { signSlackRequest } from '../slack/signature.ts';
import type { Feed } from './feed.ts';
import type { ResponseUrls } from './response-urls.ts';

export interface Delivered {
  readonly status: number;
  readonly text: string;
}

/** Delivers a form-encoded body to the Bolt app as Slack does: signed with the console's secret. */
export type Deliver = (body: string) => Promise<Delivered>;

/** What forwarding a command or a click from the page needs. */
export interface Forwarding {
  readonly feed: Feed;
  readonly deliver: Deliver;
  readonly responseUrls: ResponseUrls;
}

export function signedDelivery(eventsUrl: string, secret: string): Deliver {
  return async (body) => {
    const ts = Math.floor(Date.now() / 1000);
    const res = await fetch(eventsUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': String(ts),
        'x-slack-signature': signSlackRequest(secret, ts, body),
      },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, text: await res.text() };
  };
}
