import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { z } from 'zod';
import { findService } from '../../config/load.ts';
import { AppError } from '../../domain/errors.ts';
import { STEP_ACTION_ID } from '../render/buttons.ts';
import { errorAnswer } from './answers.ts';
import type { CommandDeps } from './deps.ts';
import type { Origin } from './origin.ts';
import { outcomeOf } from './outcome.ts';
import type { StepCommand } from './parse.ts';
import { runInThread } from './thread.ts';

/** The value a next-step button carries (slack/render/buttons.ts): untrusted until parsed again. */
const stepButtonValue = z.object({
  step: z.string().max(40),
  args: z.array(z.string().max(200)).max(20),
  service: z.string().max(253),
});

/**
 * Next-step buttons ("CPU profile of aegis-api-…"): the click runs that read-only step in the thread of
 * the message that showed the button. The value is parsed and the arguments validated again by the
 * step's own parser: the click, not the message, is what is trusted.
 */
export function registerStepButtons(app: App, deps: CommandDeps): void {
  app.action<BlockAction<ButtonAction>>(STEP_ACTION_ID, async ({ ack, body, action, respond, client }) => {
    await ack();
    const channelId = body.channel?.id ?? body.container?.channel_id;
    const messageTs = body.message?.thread_ts ?? body.message?.ts ?? body.container?.message_ts;
    const context = { action: action.action_id, user: body.user.id, channel: channelId };
    let parsed: StepCommand;
    try {
      if (!channelId || !messageTs)
        throw new AppError('usage', 'this button only works on a message in a channel');
      const value = stepButtonValue.safeParse(safeJson(action.value));
      if (!value.success)
        throw new AppError('usage', 'this button carries no valid step: run the command instead');
      const { step: name, args, service } = value.data;
      const step = deps.steps.find((s) => s.name === name);
      if (!step) throw new AppError('usage', `"${name}" is not a runbook step this bot knows`);
      const stepArgs = step.parse(args, { config: deps.config });
      parsed = {
        kind: 'step',
        step,
        args: stepArgs,
        service: findService(deps.config, stepArgs?.service ?? service),
      };
    } catch (error) {
      deps.meter?.recordCommand('unknown', outcomeOf(error));
      const answer = errorAnswer(deps, error, context);
      await respond({ ...answer, replace_original: false }).catch((e: unknown) =>
        deps.log.warn({ ...context, err: e }, 'could not answer a step button'),
      );
      return;
    }
    const origin: Origin = {
      text: `${parsed.step.name} (button)`,
      userId: body.user.id,
      teamId: body.team?.id,
      channelId: channelId as string,
      respond: (m) => respond({ ...(typeof m === 'string' ? { text: m } : m), replace_original: false }),
      thread: { channel: channelId as string, ts: messageTs as string },
    };
    const abort = new AbortController();
    const job = deps.ackGate
      .idle(100)
      .then(() => runInThread(deps, { ...parsed, origin, client, signal: abort.signal }))
      .then((ran) => deps.meter?.recordCommand(parsed.step.name, ran.outcome));
    deps.inFlight.track(
      job,
      `button ${origin.text} (user ${origin.userId}, channel ${origin.channelId})`,
      abort,
    );
  });
}

function safeJson(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? '');
  } catch {
    return undefined;
  }
}
