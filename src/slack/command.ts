import type {
  App,
  BlockAction,
  ButtonAction,
  RespondArguments,
  RespondFn,
  SlashCommand,
  webApi,
} from '@slack/bolt';
import { z } from 'zod';
import type { ActionDeps } from '../actions/types.ts';
import type { Config } from '../config/load.ts';
import { findService } from '../config/load.ts';
import type { ServiceConfig } from '../config/schema.ts';
import { AppError, isAppError } from '../domain/errors.ts';
import type { StepResult } from '../domain/finding.ts';
import type { PartUpdate, StepDefinition } from '../steps/step.ts';
import type { AckGate } from './ack-gate.ts';
import { NOT_IN_CHANNEL_ERRORS, slackPlatformError, toUserFacing } from './errors.ts';
import type { InFlightTracker } from './in-flight.ts';
import type { ActionCommandDefinition } from './interactions.ts';
import type { Log } from './logger.ts';
import { renderIncidentRoot } from './render/action-messages.ts';
import { STEP_ACTION_ID } from './render/buttons.ts';
import type { HelpEntry, RenderedMessage, RenderedReport, Renderer, SlackBlock } from './renderer.ts';

// biome-ignore lint/suspicious/noExplicitAny: steps differ in argument and source types (see steps/registry.ts)
export type AnyStep = StepDefinition<any, any>;

/** Who typed the command, where. */
export interface Actor {
  readonly userId: string;
  readonly teamId?: string;
  readonly channelId: string;
}

/** What the Slack layer hands the composition root's runStep: it builds the StepContext (sources) from it. */
export interface StepRun {
  readonly service: ServiceConfig;
  readonly signal: AbortSignal;
  readonly progress: (update: PartUpdate) => void;
  readonly actor: Actor;
}

export type RunStep = (step: AnyStep, args: unknown, run: StepRun) => Promise<StepResult>;

export const AEGIS_COMMAND = '/aegis';

/** Subcommands that are not runbook steps. */
export const BUILTIN_COMMANDS: readonly HelpEntry[] = [
  { name: 'help', usage: 'help [subcommand]', summary: 'List every subcommand, or show how to use one' },
];

/** The action subcommands (`/aegis scale 5`): offered only where the remediation layer is wired. */
export interface ActionCommandWiring {
  readonly definitions: readonly ActionCommandDefinition[];
  /** Built after the App (its client resolves user groups), so read when a command arrives. */
  readonly deps: () => ActionDeps;
  /**
   * Called once a step's report is in its incident thread (e.g. auto_page: page without a click when a
   * "page immediately" rule fired). Its failures go through the error path into the thread.
   */
  readonly afterReport?: (posted: ReportPosted) => Promise<void>;
}

/** A report as posted: the result, and the incident thread it is in. */
export interface ReportPosted {
  readonly result: StepResult;
  readonly channel: string;
  readonly threadTs: string;
  readonly teamId?: string;
  readonly userId: string;
  readonly client: webApi.WebClient;
}

export type ParsedCommand =
  | { readonly kind: 'help'; readonly steps: readonly HelpEntry[]; readonly builtins: readonly HelpEntry[] }
  | {
      readonly kind: 'action';
      readonly command: ActionCommandDefinition;
      readonly args: { service?: string };
      readonly service: ServiceConfig;
    }
  | { readonly kind: 'usage'; readonly message: string; readonly usage: string }
  | {
      readonly kind: 'step';
      readonly step: AnyStep;
      readonly args: unknown;
      readonly service: ServiceConfig;
    };

/**
 * Reads the text after "/aegis". A malformed command is a `usage` answer naming the problem; only a bug
 * (a step's parse throwing something other than AppError) escapes as an exception.
 */
export function parseAegisCommand(
  text: string,
  steps: readonly AnyStep[],
  config: Config,
  actions: readonly ActionCommandDefinition[] = [],
): ParsedCommand {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const entries: HelpEntry[] = [...BUILTIN_COMMANDS, ...steps, ...actions];
  const known = entries.map((e) => e.name).join(', ');
  const [first, ...rest] = words;
  const sub = first?.toLowerCase();
  if (sub === undefined || sub === 'help') {
    if (rest.length === 0) return { kind: 'help', steps: [...steps, ...actions], builtins: BUILTIN_COMMANDS };
    const wanted = rest[0]?.toLowerCase();
    const entry = entries.find((e) => e.name === wanted);
    if (!entry || rest.length > 1) {
      return {
        kind: 'usage',
        message: `unknown subcommand "${rest.join(' ')}": known subcommands are ${known}`,
        usage: `${AEGIS_COMMAND} help [subcommand]`,
      };
    }
    const isStep = steps.some((s) => s.name === entry.name) || actions.some((a) => a.name === entry.name);
    return { kind: 'help', steps: isStep ? [entry] : [], builtins: isStep ? [] : [entry] };
  }
  const action = actions.find((a) => a.name === sub);
  if (action) {
    const usage = `${AEGIS_COMMAND} ${action.usage}`;
    try {
      const args = action.parse(rest, { config });
      return { kind: 'action', command: action, args, service: findService(config, args.service) };
    } catch (error) {
      if (isAppError(error)) return { kind: 'usage', message: error.message, usage };
      throw error;
    }
  }
  const step = steps.find((s) => s.name === sub);
  if (!step) {
    return {
      kind: 'usage',
      message: `unknown subcommand "${first}": known subcommands are ${known}`,
      usage: `${AEGIS_COMMAND} <subcommand> [arguments] (${AEGIS_COMMAND} help lists them)`,
    };
  }
  const usage = `${AEGIS_COMMAND} ${step.usage}`;
  try {
    const args = step.parse(rest, { config });
    const service = findService(config, args?.service);
    return { kind: 'step', step, args, service };
  } catch (error) {
    if (isAppError(error)) return { kind: 'usage', message: error.message, usage };
    throw error;
  }
}

export interface CommandDeps {
  readonly config: Config;
  readonly steps: readonly AnyStep[];
  readonly renderer: Renderer;
  readonly runStep: RunStep;
  readonly log: Log;
  readonly inFlight: InFlightTracker;
  readonly newRef?: () => string;
  /** Work after an ack starts when no other request waits for its ack. */
  readonly ackGate: AckGate;
  /** "@aegis" once auth.test answered: named in "invite me" hints. */
  readonly botMention: () => string;
  readonly actionCommands?: ActionCommandWiring;
}

type Ephemeral = RespondArguments & { response_type: 'ephemeral' };
function ephemeral(m: RenderedMessage): Ephemeral {
  return { response_type: 'ephemeral', text: m.text, blocks: [...m.blocks] };
}

/**
 * `/aegis`: answered at once (help and usage in the acknowledgement itself), a step acknowledged empty
 * and then run in the background, tracked by the in-flight tracker, in the incident thread.
 */
export function registerAegisCommand(app: App, deps: CommandDeps): void {
  app.command(AEGIS_COMMAND, async ({ command, ack, respond, client }) => {
    const parsed = answerAtOnce(deps, command);
    if (parsed.kind === 'answer') {
      await ack(parsed.answer);
      return;
    }
    await ack();
    if (parsed.kind === 'action') {
      deps.inFlight.track(
        offerAction(deps, parsed, command, respond, client),
        `${AEGIS_COMMAND} ${command.text.trim()} (user ${command.user_id}, channel ${command.channel_id})`,
      );
      return;
    }
    const abort = new AbortController();
    const origin: Origin = {
      text: command.text ?? '',
      userId: command.user_id,
      teamId: command.team_id,
      channelId: command.channel_id,
      channelName: command.channel_name,
      respond,
    };
    // Acks of commands arriving together go out before this work starts (at most 100 ms later).
    const job = deps.ackGate
      .idle(100)
      .then(() => runInThread(deps, { ...parsed, origin, client, signal: abort.signal }));
    deps.inFlight.track(
      job,
      `${AEGIS_COMMAND} ${origin.text.trim()} (user ${origin.userId}, channel ${origin.channelId})`,
      abort,
    );
  });
}

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
      .then(() => runInThread(deps, { ...parsed, origin, client, signal: abort.signal }));
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

/** Where a step run came from: a typed command, or a next-step button in an incident thread. */
interface Origin {
  /** The subcommand and its arguments as typed (or as the button would have them typed). */
  readonly text: string;
  readonly userId: string;
  readonly teamId?: string;
  readonly channelId: string;
  readonly channelName?: string;
  readonly respond: RespondFn;
  /** Set for a button: the run's messages go into this thread instead of starting a new one. */
  readonly thread?: { readonly channel: string; readonly ts: string };
}

interface Job {
  readonly step: AnyStep;
  readonly args: unknown;
  readonly service: ServiceConfig;
  readonly origin: Origin;
  readonly client: webApi.WebClient;
  readonly signal: AbortSignal;
}

interface Root {
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
 */
async function runInThread(deps: CommandDeps, job: Job): Promise<void> {
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
      await tellUser(job, log, {
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
  } catch (error) {
    try {
      await reportFailure(deps, job, error, root, channel);
    } catch (reportError) {
      log.error({ ...context, err: reportError, cause: error }, 'could not report a failure to the user');
    }
  }
}

async function reportFailure(
  deps: CommandDeps,
  job: Job,
  error: unknown,
  root: Root | undefined,
  channel: string | undefined,
): Promise<void> {
  const { renderer, log } = deps;
  const context = logContext(job.origin);
  const platformError = slackPlatformError(error);
  if (!root && channel && platformError && NOT_IN_CHANNEL_ERRORS.has(platformError)) {
    log.warn({ ...context, channel, error: platformError }, 'cannot post in the channel');
    const text =
      platformError === 'not_in_channel'
        ? `I am not in <#${channel}>, so I cannot post the report there. Invite me with \`/invite ${deps.botMention()}\` and run \`${AEGIS_COMMAND} ${job.origin.text.trim()}\` again.`
        : `I cannot see <#${channel}> (it is private, or it does not exist). Invite me with \`/invite ${deps.botMention()}\` in that channel and run \`${AEGIS_COMMAND} ${job.origin.text.trim()}\` again.`;
    // Plain mrkdwn text, not renderError: the channel link must stay a link.
    await tellUser(job, log, { response_type: 'ephemeral', text: `:x: ${text}` });
    return;
  }
  const { message: text, ref } = job.signal.aborted
    ? {
        message: `${AEGIS_COMMAND} ${job.step.name} was interrupted because the bot is restarting: run it again.`,
        ref: undefined,
      }
    : toUserFacing(error, log, context, deps.newRef);
  const rendered = renderer.renderError(text, ref);
  if (root) {
    try {
      if (root.reported) {
        await job.client.chat.postMessage({
          channel: root.channel,
          thread_ts: root.threadTs ?? root.ts,
          ...message(rendered),
        });
      } else {
        await job.client.chat.update({ channel: root.channel, ts: root.ts, ...message(rendered) });
      }
      return;
    } catch (postError) {
      log.warn({ ...context, err: postError }, 'could not put the error into the incident thread');
    }
  }
  await tellUser(job, log, ephemeral(rendered));
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

type StepCommand = Extract<ParsedCommand, { kind: 'step' }>;
type ActionCommand = Extract<ParsedCommand, { kind: 'action' }>;

/**
 * `/aegis scale 5`: reads the live state and posts the offer (what changes, from and to, with its
 * confirm-dialog button) in the channel, where anyone authorized can click it. Nothing changes here:
 * the click goes through actions/ like any other. Failures go to the user ephemerally.
 */
async function offerAction(
  deps: CommandDeps,
  parsed: ActionCommand,
  command: SlashCommand,
  respond: RespondFn,
  client: webApi.WebClient,
): Promise<void> {
  const context = {
    command: `${AEGIS_COMMAND} ${command.text}`.trim(),
    user: command.user_id,
    channel: command.channel_id,
  };
  const origin: Origin = {
    text: command.text ?? '',
    userId: command.user_id,
    channelId: command.channel_id,
    channelName: command.channel_name,
    respond,
  };
  try {
    if (!deps.actionCommands) throw new AppError('usage', 'actions are not available in this deployment');
    const actionDeps = deps.actionCommands.deps();
    const offer = await parsed.command.execute(parsed.args, { service: parsed.service, deps: actionDeps });
    const channel = incidentChannel(origin, deps.config);
    const threadTs = parsed.command.inThread
      ? await incidentThreadFor(actionDeps, client, channel, parsed, command)
      : undefined;
    await client.chat.postMessage({
      channel,
      ...(threadTs ? { thread_ts: threadTs } : {}),
      ...message(offer),
      unfurl_links: false,
    });
  } catch (error) {
    await respond(errorAnswer(deps, error, context)).catch((e: unknown) =>
      deps.log.warn({ ...context, err: e }, 'could not answer an action command'),
    );
  }
}

/**
 * Slash commands carry no thread: the channel's most recent incident thread, or a new one (a root
 * message, recorded in the store) when the channel has none.
 */
async function incidentThreadFor(
  actionDeps: ActionDeps,
  client: webApi.WebClient,
  channel: string,
  parsed: ActionCommand,
  command: SlashCommand,
): Promise<string> {
  const latest = await actionDeps.store.latestIncidentThread(channel);
  if (latest) return latest.threadTs;
  const root = renderIncidentRoot({
    command: `${AEGIS_COMMAND} ${command.text.trim()}`,
    userId: command.user_id,
    service: parsed.service.name,
  });
  const posted = await client.chat.postMessage({ channel, ...message(root), unfurl_links: false });
  const ts = posted.ts as string;
  await actionDeps.store.recordIncidentThread({
    channel: posted.channel ?? channel,
    threadTs: ts,
    service: parsed.service.name,
    step: parsed.command.name,
    createdAt: (actionDeps.now ?? (() => new Date()))(),
  });
  return ts;
}

/** Help, usage and errors are answered in the acknowledgement itself; a step goes on after it. */
function answerAtOnce(
  deps: CommandDeps,
  command: SlashCommand,
): StepCommand | ActionCommand | { kind: 'answer'; answer: Ephemeral } {
  try {
    const parsed = parseAegisCommand(
      command.text ?? '',
      deps.steps,
      deps.config,
      deps.actionCommands?.definitions ?? [],
    );
    if (parsed.kind === 'help') {
      return { kind: 'answer', answer: ephemeral(deps.renderer.renderHelp(parsed.steps, parsed.builtins)) };
    }
    if (parsed.kind === 'usage') {
      return { kind: 'answer', answer: ephemeral(deps.renderer.renderUsage(parsed.message, parsed.usage)) };
    }
    return parsed;
  } catch (error) {
    return {
      kind: 'answer',
      answer: errorAnswer(deps, error, {
        command: `${AEGIS_COMMAND} ${command.text ?? ''}`.trim(),
        user: command.user_id,
        channel: command.channel_id,
      }),
    };
  }
}

/** The one error path for the acknowledgement itself; plain text if even the renderer fails. */
function errorAnswer(deps: CommandDeps, error: unknown, context: Record<string, unknown>): Ephemeral {
  const { message: text, ref } = toUserFacing(error, deps.log, context, deps.newRef);
  try {
    return ephemeral(deps.renderer.renderError(text, ref));
  } catch (renderError) {
    deps.log.error({ ...context, err: renderError }, 'the renderer failed to render an error');
    return { response_type: 'ephemeral', text };
  }
}

/** An ephemeral answer through the command's response_url; a failure here can only be logged. */
async function tellUser(job: Job, log: Log, m: Ephemeral): Promise<void> {
  try {
    await job.origin.respond(m);
  } catch (error) {
    log.warn({ ...logContext(job.origin), err: error }, 'could not answer through response_url');
  }
}

function incidentChannel(origin: Origin, config: Config): string {
  const name = origin.channelName ?? '';
  const direct = origin.channelId.startsWith('D') || name === 'directmessage' || name.startsWith('mpdm-');
  if (!direct) return origin.channelId;
  if (config.slack.incident_channel) return config.slack.incident_channel;
  throw new AppError(
    'usage',
    `Type ${AEGIS_COMMAND} in a channel: no incident channel is configured (slack.incident_channel) for commands typed in direct messages.`,
  );
}

function message(m: RenderedMessage): { text: string; blocks: SlackBlock[] } {
  return { text: m.text, blocks: [...m.blocks] };
}

function logContext(origin: Origin): Record<string, unknown> {
  return {
    command: `${AEGIS_COMMAND} ${origin.text}`.trim(),
    user: origin.userId,
    team: origin.teamId,
    channel: origin.channelId,
  };
}

/**
 * Serializes updates of one message, keeping only the newest pending one: progress never races the
 * final report, and a burst of progress costs at most one call in flight plus one waiting.
 */
function latestWins<M>(
  send: (m: M) => Promise<unknown>,
  onError: (error: unknown) => void,
): { push(m: M): void; close(): Promise<void> } {
  let pending: { m: M } | undefined;
  let running: Promise<void> | undefined;
  let closed = false;
  const pump = async () => {
    while (pending) {
      const { m } = pending;
      pending = undefined;
      try {
        await send(m);
      } catch (error) {
        onError(error);
      }
    }
    running = undefined;
  };
  return {
    push(m) {
      if (closed) return;
      pending = { m };
      running ??= pump();
    },
    async close() {
      closed = true;
      pending = undefined;
      await running;
    },
  };
}
