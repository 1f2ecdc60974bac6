import type { webApi } from '@slack/bolt';
import type { ServiceConfig } from '../../config/schema.ts';
import type { StepResult } from '../../domain/finding.ts';
import type { AnyStep, CommandDeps } from './deps.ts';
import type { Origin } from './origin.ts';
import { runInThread } from './thread.ts';

/** Who runs the steps of an incident started by an alert (no person typed them). */
export const ALERT_ACTOR = 'alertmanager';

/**
 * Runs a step in an existing thread as if typed there (the incident threads of alerts): the same
 * progress message, report, files, buttons and escalation prompts as `/aegis <step>`. Answers the
 * result, or undefined when the step failed (the failure is in the thread already).
 */
export function runStepInThread(
  deps: CommandDeps,
  client: webApi.WebClient,
  thread: { readonly channel: string; readonly ts: string },
  run: {
    readonly step: AnyStep;
    readonly args: unknown;
    readonly service: ServiceConfig;
    readonly text: string;
  },
  signal: AbortSignal,
): Promise<StepResult | undefined> {
  const origin: Origin = {
    text: `${run.text} (alert)`,
    userId: ALERT_ACTOR,
    channelId: thread.channel,
    // nobody typed it: there is no response_url (what would go there is logged by tellUser)
    respond: () => Promise.reject(new Error('no response_url: the step was started by an alert')),
    thread: { channel: thread.channel, ts: thread.ts },
  };
  return runInThread(deps, {
    step: run.step,
    args: run.args,
    service: run.service,
    origin,
    client,
    signal,
  }).then((ran) => ran.result);
}
