import type { webApi } from '@slack/bolt';
import type { ServiceConfig } from '../../config/schema.ts';
import type { StepResult } from '../../domain/finding.ts';
import type { PartUpdate } from '../../steps/step.ts';
import { slackPlatformError } from '../errors.ts';
import type { RenderedMessage, RenderedReport } from '../renderer.ts';
import { message } from './answers.ts';
import type { AnyStep, CommandDeps } from './deps.ts';
import { incidentChannel } from './incident-thread.ts';
import { logContext, type Origin, tellUser } from './origin.ts';
import type { CommandOutcome } from './outcome.ts';
import { latestWins } from './queue.ts';
import { reportFailure } from './thread-failure.ts';

/** One step run: the step and its arguments, where it came from, and the signal that interrupts it. */
export interface Job {
  readonly step: AnyStep;
  readonly args: unknown;
  readonly service: ServiceConfig;
  readonly origin: Origin;
  readonly client: webApi.WebClient;
  readonly signal: AbortSignal;
}

/** The run's own message: the root of its incident thread (or a reply in a button's thread). */
export interface Root {
  readonly channel: string;
  readonly ts: string;
  /** Set when the run's message is itself a reply in an incident thread. */
  readonly threadTs?: string | undefined;
  /** The root shows the final report: a later failure goes into the thread instead of replacing it. */
  reported?: boolean;
}

/**
 * Posts the root message of the incident thread at once, updates it as parts complete, then replaces it
 * with the report and uploads the report's files into the thread. Never rejects: every failure goes
 * through the one error path to the user (in the root, or ephemeral when there is no root yet).
 * Answers how the command ended, and the step's result unless it failed.
 */
export async function runInThread(
  deps: CommandDeps,
  job: Job,
): Promise<{ readonly outcome: CommandOutcome; readonly result?: StepResult }> {
  const { renderer, log } = deps;
  const { step, service, origin, client } = job;
  const context = logContext(origin);
  let root: Root | undefined;
  let channel: string | undefined;
  try {
    channel = origin.thread?.channel ?? incidentChannel(origin, deps.config);
    const parts: PartUpdate[] = [];
    const posted = await client.chat.postMessage({
      channel,
      ...(origin.thread ? { thread_ts: origin.thread.ts } : {}),
      ...message(renderer.renderProgress(step.name, service.name, parts)),
      unfurl_links: false,
      unfurl_media: false,
    });
    root = { channel: posted.channel ?? channel, ts: posted.ts as string, threadTs: origin.thread?.ts };
    const rootNow = root;
    if (!origin.thread && deps.actionCommands) {
      // a new incident thread: `/aegis page` and the paging buttons find it in the store
      await deps.actionCommands
        .deps()
        .store.recordIncidentThread({
          channel: root.channel,
          threadTs: root.ts,
          service: service.name,
          step: step.name,
          createdAt: new Date(),
        })
        .catch((error: unknown) =>
          log.warn({ ...context, err: error }, 'could not record the incident thread in the store'),
        );
    }
    if (channel !== origin.channelId) {
      await tellUser(job.origin, log, {
        response_type: 'ephemeral',
        text: `Started in <#${channel}>: the report is in the thread there.`,
      });
    }
    const updates = latestWins(
      (m: RenderedMessage) => client.chat.update({ channel: rootNow.channel, ts: rootNow.ts, ...message(m) }),
      (error) => log.warn({ ...context, err: error }, 'progress update of the root message failed'),
    );
    const progress = (update: PartUpdate) => {
      const i = parts.findIndex((p) => p.name === update.name);
      if (i >= 0) parts[i] = update;
      else parts.push(update);
      updates.push(renderer.renderProgress(step.name, service.name, [...parts]));
    };
    const result = await deps.runStep(step, job.args, {
      service,
      signal: job.signal,
      progress,
      actor: { userId: origin.userId, teamId: origin.teamId, channelId: origin.channelId },
    });
    await updates.close();
    let report = renderer.renderStepResult(result);
    try {
      await client.chat.update({ channel: root.channel, ts: root.ts, ...message(report) });
    } catch (error) {
      // Slack refused the layout (a limit the renderer does not know of): the report must not be lost
      if (slackPlatformError(error) !== 'invalid_blocks') throw error;
      log.warn({ ...context, err: error }, 'Slack refused the report blocks: posting it as text and a file');
      report = textFallback(report, renderer.renderTextReport(result), step.name);
      await client.chat.update({ channel: root.channel, ts: root.ts, ...message(report) });
    }
    root.reported = true;
    if (report.files.length > 0) {
      await client.filesUploadV2({
        channel_id: root.channel,
        thread_ts: root.threadTs ?? root.ts,
        file_uploads: report.files.map((f) => ({
          file: Buffer.from(f.content),
          filename: f.filename,
          title: f.title,
        })),
      } as webApi.FilesUploadV2Arguments);
    }
    log.info({ ...context, channel: root.channel, ts: root.ts, severity: result.severity }, 'step reported');
    if (deps.actionCommands?.afterReport) {
      await deps.actionCommands.afterReport({
        result,
        channel: root.channel,
        threadTs: root.threadTs ?? root.ts,
        ...(origin.teamId ? { teamId: origin.teamId } : {}),
        userId: origin.userId,
        client,
      });
    }
    return { outcome: 'ok', result };
  } catch (error) {
    try {
      return { outcome: await reportFailure(deps, job, error, root, channel) };
    } catch (reportError) {
      log.error({ ...context, err: reportError, cause: error }, 'could not report a failure to the user');
      return { outcome: 'internal_error' };
    }
  }
}

/** The report without blocks: its headline, and the full text as a file in the thread. */
function textFallback(report: RenderedReport, text: string, step: string): RenderedReport {
  const filename = `${step}-report.txt`;
  return {
    text: `${report.text}\n(Slack could not show this report's layout: the full report is in the thread as ${filename}.)`,
    blocks: [],
    files: [
      ...report.files.filter((f) => f.filename !== filename),
      { filename, title: `${step} report`, content: text, mimeType: 'text/plain' },
    ],
  };
}
