import { randomBytes } from 'node:crypto';
import type { Forwarding } from './deliver.ts';
import { HttpError } from './http.ts';
import { CONSOLE_CHANNEL, consoleUserOf } from './workspace.ts';

export interface CommandAnswer {
  readonly status: number;
  /** The acknowledgement's own message (help, usage, errors), when the bot answered in it. */
  readonly answer?: { text: string; blocks: unknown[] };
}

/**
 * POST /console/command: what was typed at the page becomes the slash-command request Slack would send,
 * and the acknowledgement is shown to the one who typed it. Only /aegis reaches the bot.
 */
export async function forwardCommand(
  { feed, deliver, responseUrls }: Forwarding,
  input: Record<string, unknown>,
): Promise<CommandAnswer> {
  const channel = CONSOLE_CHANNEL;
  const user = consoleUserOf(input.user);
  const raw = typeof input.text === 'string' ? input.text.trim() : '';
  if (raw.length > 4000) throw new HttpError(400, 'the command is too long');
  const m = /^(\/\S+)\s*([\s\S]*)$/.exec(raw);
  if (m && m[1] !== '/aegis')
    throw new HttpError(400, `only /aegis commands reach the bot here, not ${m[1]}`);
  const text = m ? (m[2] ?? '') : raw;
  const typed = `/aegis ${text}`.trim();
  feed.showCommand({ channel: channel.id, user: user.id, author: user.name, typed });
  const responseUrl = responseUrls.issue('c', { channel: channel.id, user: user.id });
  const body = new URLSearchParams({
    token: 'console-verification-token-unused',
    team_id: 'T0AEGIS',
    team_domain: 'aegis-emulated',
    channel_id: channel.id,
    channel_name: channel.name,
    user_id: user.id,
    user_name: user.name,
    command: '/aegis',
    text,
    api_app_id: 'A0AEGISCONSOLE',
    is_enterprise_install: 'false',
    response_url: responseUrl,
    trigger_id: `${Date.now()}.console.${randomBytes(4).toString('hex')}`,
  }).toString();
  const answer = await deliver(body);
  let ack: { text: string; blocks: unknown[] } | undefined;
  if (answer.status === 200 && answer.text.trim()) {
    try {
      const parsed = JSON.parse(answer.text) as { text?: unknown; blocks?: unknown };
      ack = {
        text: typeof parsed.text === 'string' ? parsed.text : '',
        blocks: Array.isArray(parsed.blocks) ? parsed.blocks : [],
      };
    } catch {
      ack = { text: answer.text, blocks: [] };
    }
  }
  if (ack) feed.showEphemeral({ channel: channel.id, user: user.id, ...ack });
  if (answer.status !== 200) {
    feed.showEphemeral({
      channel: channel.id,
      user: user.id,
      text: `:warning: the bot answered HTTP ${answer.status} to this command instead of acknowledging it`,
    });
  }
  return { status: answer.status, ...(ack ? { answer: ack } : {}) };
}
