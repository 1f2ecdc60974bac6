import type { webApi } from '@slack/bolt';
import type { IncidentChat } from '../incidents/ports.ts';
import type { SlackApp } from './app.ts';
import {
  renderAlertIncidentRoot,
  renderAlertResolved,
  renderIncidentNote,
  renderOnsetKept,
} from './render/incident-messages.ts';
import { plainMessage } from './thread-post.ts';

/**
 * The incident threads of alerts in Slack: the root is posted and updated with the Web API, and the steps
 * run through the same path as typed commands (SlackApp.runStepInThread).
 */
export function slackIncidentChat(
  slack: Pick<SlackApp, 'runStepInThread'>,
  client: webApi.WebClient,
): IncidentChat {
  const reply = async (thread: { channel: string; ts: string }, m: { text: string; blocks: unknown[] }) => {
    await client.chat.postMessage({
      channel: thread.channel,
      thread_ts: thread.ts,
      ...(m as ReturnType<typeof plainMessage>),
      unfurl_links: false,
      unfurl_media: false,
    });
  };
  return {
    async postRoot(channel, view) {
      const posted = await client.chat.postMessage({
        channel,
        ...plainMessage(renderAlertIncidentRoot(view)),
        unfurl_links: false,
        unfurl_media: false,
      });
      return { channel: posted.channel ?? channel, ts: posted.ts as string };
    },
    async updateRoot(root, view) {
      await client.chat.update({
        channel: root.channel,
        ts: root.ts,
        ...plainMessage(renderAlertIncidentRoot(view)),
      });
    },
    runStep(thread, routed, service) {
      return slack.runStepInThread(thread, {
        step: routed.step,
        args: routed.args,
        service,
        text: routed.text,
      });
    },
    async postResolved(thread, view, metric) {
      await reply(thread, plainMessage(renderAlertResolved(view, metric)));
    },
    async postOnsetKept(thread, onset, service) {
      await reply(thread, plainMessage(renderOnsetKept(onset, service)));
    },
    async postNote(thread, text) {
      await reply(thread, plainMessage(renderIncidentNote(text)));
    },
  };
}
