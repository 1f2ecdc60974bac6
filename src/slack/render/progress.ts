import type { PartUpdate } from '../../steps/step.ts';
import type { RenderedMessage } from './blocks.ts';
import { context, section } from './blocks.ts';
import { SLACK_LIMITS } from './limits.ts';
import { escapeMrkdwn, oneLine, truncateMrkdwn } from './mrkdwn.ts';

const PART_EMOJI: Record<PartUpdate['status'], string> = {
  running: ':hourglass_flowing_sand:',
  ok: ':white_check_mark:',
  unavailable: ':warning:',
};

/**
 * The first message of a step, updated (chat.update) as its parts complete. `parts` may be the
 * latest state of each part or the whole stream of updates: the last update per name wins, in the
 * order the names first appeared.
 */
export function renderProgress(step: string, service: string, parts: readonly PartUpdate[]): RenderedMessage {
  const latest = new Map<string, PartUpdate>();
  for (const p of parts) latest.set(p.name, p);
  const states = [...latest.values()];
  const running = states.some((p) => p.status === 'running') || states.length === 0;
  const s = escapeMrkdwn(oneLine(step));
  const svc = escapeMrkdwn(oneLine(service));
  const title = running ? `:mag: Running *${s}* on *${svc}*…` : `:mag: Finished *${s}* on *${svc}*`;
  const text = running ? `Running ${s} on ${svc}…` : `Finished ${s} on ${svc}`;

  const lines = states.map((p) => {
    const name = `*${escapeMrkdwn(oneLine(p.name))}*`;
    if (p.status === 'running') return `${PART_EMOJI.running} ${name}: running`;
    if (p.status === 'ok') return `${PART_EMOJI.ok} ${name}: ok`;
    return `${PART_EMOJI.unavailable} ${name} unavailable: ${escapeMrkdwn(oneLine(p.reason ?? 'no reason given'))}`;
  });
  const blocks = [section(truncateMrkdwn(title, SLACK_LIMITS.sectionText, '…'))];
  if (lines.length > 0) {
    const done = states.filter((p) => p.status !== 'running').length;
    blocks.push(section(truncateMrkdwn(lines.join('\n'), SLACK_LIMITS.sectionText, '… (more parts)')));
    return {
      text: truncateMrkdwn(text, SLACK_LIMITS.messageText, '…'),
      blocks: [...blocks, context([`${done} of ${states.length} parts done`])],
    };
  }
  return { text: truncateMrkdwn(text, SLACK_LIMITS.messageText, '…'), blocks };
}
