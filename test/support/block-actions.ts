import { randomBytes } from 'node:crypto';
/**
 * Slack's block_actions interaction payloads, as Slack sends them when a button is clicked: the button
 * taken from a message the bot really posted (so action_id, value and confirm are the renderer's).
 */
import type { EmulatedMessage } from '../../src/console/slack-api-emulator.ts';
import { signSlackRequest } from '../../src/slack/signature.ts';
import { SIGNING_SECRET } from './slack.ts';

interface ButtonJson {
  type: 'button';
  action_id: string;
  value?: string;
  text: { type: string; text: string };
  style?: string;
}

/** The buttons of a message, in order. */
export function buttonsOf(m: { blocks?: unknown[] }): ButtonJson[] {
  const out: ButtonJson[] = [];
  for (const b of (m.blocks ?? []) as { type?: string; elements?: ButtonJson[] }[]) {
    if (b.type === 'actions') for (const e of b.elements ?? []) if (e.type === 'button') out.push(e);
  }
  return out;
}

export function blockActionsBody(o: {
  user: string;
  message: EmulatedMessage;
  button: ButtonJson;
  actionTs?: string;
}): string {
  const m = o.message;
  const payload = {
    type: 'block_actions',
    user: { id: o.user, username: o.user.toLowerCase(), name: o.user.toLowerCase(), team_id: 'T0AEGIS' },
    api_app_id: 'A0AEGIS',
    token: 'legacy-verification-token-unused',
    container: {
      type: 'message',
      message_ts: m.ts,
      channel_id: m.channel,
      is_ephemeral: false,
      ...(m.threadTs ? { thread_ts: m.threadTs } : {}),
    },
    // unique per request, as Slack's are: two identical signed requests are one replayed request
    trigger_id: `13345224609.738474920.${randomBytes(10).toString('hex')}`,
    team: { id: 'T0AEGIS', domain: 'aegis-emulated' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: m.channel, name: 'incident' },
    message: {
      type: 'message',
      subtype: 'bot_message',
      user: m.user,
      bot_id: m.botId,
      text: m.text,
      ts: m.ts,
      ...(m.threadTs ? { thread_ts: m.threadTs } : {}),
      blocks: m.blocks ?? [],
    },
    state: { values: {} },
    response_url: 'https://hooks.slack.com/actions/T0AEGIS/6280931735045/0bGp1dXYm8yhUuGPBfT7EsPx',
    actions: [
      {
        action_id: o.button.action_id,
        block_id: 'KtwIO',
        text: o.button.text,
        ...(o.button.value !== undefined ? { value: o.button.value } : {}),
        ...(o.button.style ? { style: o.button.style } : {}),
        type: 'button',
        action_ts: o.actionTs ?? '1767607200.512345',
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** POSTs a signed interaction; `retry` adds the headers Slack sends when it retries a delivery. */
export async function postInteraction(url: string, body: string, retry?: number): Promise<number> {
  // a retry is a later delivery, signed when it is sent (an identical copy is a replay: refused)
  const ts = Math.floor(Date.now() / 1000) + (retry ?? 0);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(ts),
    'x-slack-signature': signSlackRequest(SIGNING_SECRET, ts, body),
    ...(retry ? { 'x-slack-retry-num': String(retry), 'x-slack-retry-reason': 'http_timeout' } : {}),
  };
  const res = await fetch(url, { method: 'POST', headers, body });
  await res.text();
  return res.status;
}
