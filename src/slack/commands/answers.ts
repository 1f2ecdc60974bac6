import type { RespondArguments } from '@slack/bolt';
import { toUserFacing } from '../errors.ts';
import type { RenderedMessage, SlackBlock } from '../renderer.ts';
import type { CommandDeps } from './deps.ts';

/** An answer only the user who typed or clicked sees (in the ack, or through response_url). */
export type Ephemeral = RespondArguments & { response_type: 'ephemeral' };
export function ephemeral(m: RenderedMessage): Ephemeral {
  return { response_type: 'ephemeral', text: m.text, blocks: [...m.blocks] };
}

/** The one error path for the acknowledgement itself; plain text if even the renderer fails. */
export function errorAnswer(deps: CommandDeps, error: unknown, context: Record<string, unknown>): Ephemeral {
  const { message: text, ref } = toUserFacing(error, deps.log, context, deps.newRef);
  try {
    return ephemeral(deps.renderer.renderError(text, ref));
  } catch (renderError) {
    deps.log.error({ ...context, err: renderError }, 'the renderer failed to render an error');
    return { response_type: 'ephemeral', text };
  }
}

/** A rendered message as chat.postMessage and chat.update take it. */
export function message(m: RenderedMessage): { text: string; blocks: SlackBlock[] } {
  return { text: m.text, blocks: [...m.blocks] };
}
