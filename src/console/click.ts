import { randomBytes } from 'node:crypto';
import type { Forwarding } from './deliver.ts';
import type { Held } from './feed.ts';
import { HttpError } from './http.ts';
import { blockIdOf } from './render-html.ts';
import { CONSOLE_CHANNEL, consoleUserOf } from './workspace.ts';

/**
 * POST /console/click: a click becomes the signed block_actions payload Slack would send, built from the
 * message as the console holds it (the button and its value come from the posted message, not from the
 * page). An ephemeral message's buttons work only for the user who sees it.
 */
export async function forwardClick(
  { feed, deliver, responseUrls }: Forwarding,
  input: Record<string, unknown>,
): Promise<{ status: number }> {
  const user = consoleUserOf(input.user);
  const actionId = typeof input.action_id === 'string' ? input.action_id : '';
  let h: Held | undefined;
  if (typeof input.key === 'string') h = feed.get(input.key);
  else if (typeof input.channel === 'string' && typeof input.ts === 'string')
    h = feed.get(`m:${input.channel}:${input.ts}`);
  if (!h || h.item.kind === 'command') throw new HttpError(404, 'no such message');
  if (h.item.kind === 'ephemeral' && h.item.user !== user.id) throw new HttpError(404, 'no such message');
  const found = findButton(
    h.blocks,
    actionId,
    typeof input.block_index === 'number' ? input.block_index : undefined,
  );
  if (!found) throw new HttpError(404, `the message has no button ${actionId}`);
  const { button, blockId } = found;
  const item = h.item;
  const responseUrl = responseUrls.issue('a', {
    channel: item.channel,
    user: user.id,
    ...(item.threadTs ? { threadTs: item.threadTs } : {}),
  });
  const ephemeral = item.kind === 'ephemeral';
  const payload = {
    type: 'block_actions',
    user: { id: user.id, username: user.name, name: user.name, team_id: 'T0AEGIS' },
    api_app_id: 'A0AEGISCONSOLE',
    token: 'console-verification-token-unused',
    container: {
      type: 'message',
      message_ts: item.ts,
      channel_id: item.channel,
      is_ephemeral: ephemeral,
      ...(item.threadTs ? { thread_ts: item.threadTs } : {}),
    },
    trigger_id: `${Date.now()}.console.${randomBytes(4).toString('hex')}`,
    team: { id: 'T0AEGIS', domain: 'aegis-emulated' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: item.channel, name: CONSOLE_CHANNEL.name },
    ...(ephemeral
      ? {}
      : {
          message: {
            type: 'message',
            user: 'U0AEGISBOT',
            bot_id: 'B0AEGISBOT',
            text: h.text,
            ts: item.ts,
            ...(item.threadTs ? { thread_ts: item.threadTs } : {}),
            blocks: h.blocks,
          },
        }),
    state: { values: {} },
    response_url: responseUrl,
    actions: [
      {
        ...button,
        block_id: blockId,
        action_ts: `${(Date.now() / 1000).toFixed(6)}`,
      },
    ],
  };
  const answer = await deliver(new URLSearchParams({ payload: JSON.stringify(payload) }).toString());
  if (answer.status !== 200) {
    feed.showEphemeral({
      channel: item.channel,
      user: user.id,
      ...(item.threadTs ? { threadTs: item.threadTs } : {}),
      text: `:warning: nothing in the bot handled this click (HTTP ${answer.status})`,
    });
  }
  return { status: answer.status };
}

/** The clicked button as the message holds it, and the block_id Slack would send with it. */
function findButton(
  blocks: readonly unknown[],
  actionId: string,
  blockIndex: number | undefined,
): { button: Record<string, unknown>; blockId: string } | undefined {
  const candidates =
    blockIndex === undefined
      ? blocks.map((b, i) => [b, i] as const)
      : [[blocks[blockIndex], blockIndex] as const];
  for (const [block, i] of candidates) {
    if (typeof block !== 'object' || block === null) continue;
    const b = block as { elements?: unknown; accessory?: unknown };
    const elements = [
      ...(Array.isArray(b.elements) ? b.elements : []),
      ...(b.accessory ? [b.accessory] : []),
    ];
    for (const e of elements) {
      if (
        typeof e === 'object' &&
        e !== null &&
        (e as { type?: unknown }).type === 'button' &&
        (e as { action_id?: unknown }).action_id === actionId
      ) {
        return { button: e as Record<string, unknown>, blockId: blockIdOf(block, i) };
      }
    }
  }
  return undefined;
}
