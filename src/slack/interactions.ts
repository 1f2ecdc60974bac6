import { hostname } from 'node:os';
import type { App, BlockAction, ButtonAction, webApi } from '@slack/bolt';
import { ACTION_COMMAND_DEFINITIONS, type ActionCommand } from '../actions/commands.ts';
import { ACTION_HANDLERS, approveRequest, executeProposal } from '../actions/execute.ts';
import { type FollowLine, followRollout } from '../actions/follow.ts';
import { onceKey } from '../actions/once-key.ts';
import { parseProposal } from '../actions/proposal-schema.ts';
import { type ReminderLoop, reminderLoop } from '../actions/reminders.ts';
import type { ActionDeps, ActionOutcome, GroupsOf } from '../actions/types.ts';
import type { Config } from '../config/load.ts';
import type { ServiceConfig } from '../config/schema.ts';
import { AppError } from '../domain/errors.ts';
import { slackPlatformError } from './errors.ts';
import type { InFlightTracker } from './in-flight.ts';
import type { Log } from './logger.ts';
import {
  APPROVE_ACTION_PATTERN,
  renderActionDone,
  renderApprovalClosed,
  renderFailed,
  renderFollowLine,
  renderProposalOffer,
  renderRefused,
  renderReminder,
} from './render/action-messages.ts';
import type { RenderedMessage } from './render/blocks.ts';
import { PROPOSAL_ACTION_PREFIX, parseActionId } from './render/buttons.ts';
import {
  deliverCommonOutcome,
  plainMessage,
  reportClickError,
  toThread,
  toUser,
  type Where,
} from './thread-post.ts';

/**
 * The clicks on remediation buttons, and the action subcommands. Handlers ack at once, then run the
 * action through actions/ (validate, authorize, once, audit) in the background, and post what happened
 * in the button's thread: the outcome for everyone, refusals that concern only the clicker ephemerally.
 */

export interface FollowSettings {
  /** How long a rollout is followed in the thread; default 5 minutes. */
  readonly timeoutMs?: number;
  /** How often its status is read; default 3 s. */
  readonly intervalMs?: number;
  /** Tests: a clock and sleep that advance together. */
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface InteractionDeps {
  readonly actions: ActionDeps;
  readonly log: Log;
  /** Background work is tracked here, so a graceful shutdown waits for it (pass SlackApp.inFlight). */
  readonly inFlight?: InFlightTracker;
  readonly newRef?: () => string;
  /** The bot token, for posting reminders outside any request (the App is built with `authorize`). */
  readonly botToken?: string;
  readonly follow?: FollowSettings;
  /** Reminder checks: every intervalMs (default 30 s), taken in the store as `owner` (default the host name). */
  readonly reminders?: { readonly intervalMs?: number; readonly owner?: string };
}

export interface Interactions {
  /** Posts due reminders of temporary changes; call start() once the app runs, stop() on shutdown. */
  readonly reminders: ReminderLoop;
}

type Click = BlockAction<ButtonAction>;

/** Registers the proposal and approval click handlers on `app`. */
export function registerInteractions(app: App, deps: InteractionDeps): Interactions {
  const kinds = Object.keys({ ...ACTION_HANDLERS, ...(deps.actions.handlers ?? {}) });
  const proposalIds = new RegExp(`^${PROPOSAL_ACTION_PREFIX}(${kinds.join('|')})(#\\d+)?$`);

  app.action<Click>(
    { type: 'block_actions', action_id: proposalIds },
    async ({ ack, body, action, client }) => {
      await ack();
      background(deps, `click ${action.action_id} by ${body.user.id}`, (signal) =>
        onProposalClick(deps, body, action, client, signal),
      );
    },
  );

  app.action<Click>(
    { type: 'block_actions', action_id: APPROVE_ACTION_PATTERN },
    async ({ ack, body, action, client }) => {
      await ack();
      background(deps, `approval ${action.value ?? ''} by ${body.user.id}`, (signal) =>
        onApproveClick(deps, body, action, client, signal),
      );
    },
  );

  const token = deps.botToken;
  const reminders = reminderLoop({
    store: deps.actions.store,
    owner: deps.reminders?.owner ?? `${hostname()}:${process.pid}`,
    ...(deps.reminders?.intervalMs ? { intervalMs: deps.reminders.intervalMs } : {}),
    ...(deps.actions.now ? { now: deps.actions.now } : {}),
    log: deps.log,
    async post(r) {
      await app.client.chat.postMessage({
        ...(token ? { token } : {}),
        channel: r.channel,
        thread_ts: r.threadTs,
        ...plainMessage(renderReminder(r)),
        unfurl_links: false,
      });
    },
  });
  return { reminders };
}

function background(
  deps: InteractionDeps,
  describe: string,
  work: (signal: AbortSignal) => Promise<void>,
): void {
  const abort = new AbortController();
  // started on the next turn: the acknowledgements of clicks arriving together go out first
  const job = new Promise<void>((resolve) => setImmediate(resolve)).then(() => work(abort.signal));
  // a shutdown that gives up waiting aborts the work: following a rollout stops and says so
  if (deps.inFlight) deps.inFlight.track(job, describe, abort);
  else job.catch((e: unknown) => deps.log.error({ err: e }, `${describe} failed`));
}

function whereOf(body: Click): Where {
  const channel = body.channel?.id ?? (body.container?.channel_id as string | undefined);
  const messageTs = body.message?.ts ?? (body.container?.message_ts as string | undefined);
  const threadTs = (body.message?.thread_ts as string | undefined) ?? messageTs;
  return {
    user: body.user.id,
    ...(channel ? { channel } : {}),
    ...(messageTs ? { messageTs } : {}),
    ...(threadTs ? { threadTs } : {}),
  };
}

async function onProposalClick(
  deps: InteractionDeps,
  body: Click,
  action: ButtonAction,
  client: webApi.WebClient,
  signal: AbortSignal,
) {
  const where = whereOf(body);
  const context = { user: where.user, channel: where.channel, action: action.action_id };
  try {
    const proposal = parseProposal(action.value);
    if (parseActionId(action.action_id)?.name !== proposal.action) {
      throw new AppError(
        'usage',
        "this button's action and the proposal it carries disagree: run the step again",
      );
    }
    if (!where.channel || !where.messageTs) {
      throw new AppError(
        'usage',
        'this button is not on a channel message, so the bot has no thread to report in',
      );
    }
    const key = onceKey({
      channel: where.channel,
      messageTs: where.messageTs,
      actionId: action.action_id,
      value: action.value ?? '',
    });
    const outcome = await executeProposal(proposal, { userId: where.user }, deps.actions, {
      key,
      offered: true,
      channel: where.channel,
      ...(where.threadTs ? { threadTs: where.threadTs } : {}),
    });
    await deliver(deps, client, where, outcome, signal);
  } catch (error) {
    await reportClickError(deps, client, where, error, context);
  }
}

async function onApproveClick(
  deps: InteractionDeps,
  body: Click,
  action: ButtonAction,
  client: webApi.WebClient,
  signal: AbortSignal,
) {
  const where = whereOf(body);
  const context = { user: where.user, channel: where.channel, action: action.action_id };
  try {
    const id = action.value ?? '';
    if (!/^[0-9a-f]{64}$/.test(id))
      throw new AppError('usage', 'this Approve button carries no valid request');
    const outcome = await approveRequest(id, { userId: where.user }, deps.actions, {
      ...(where.channel ? { channel: where.channel } : {}),
      ...(where.threadTs ? { threadTs: where.threadTs } : {}),
    });
    if (outcome.status === 'done' && outcome.approvedBy && where.channel && where.messageTs) {
      await client.chat
        .update({
          channel: where.channel,
          ts: where.messageTs,
          ...plainMessage(
            renderApprovalClosed({
              requestedBy: outcome.actor,
              approvedBy: outcome.approvedBy,
              change: outcome.change,
            }),
          ),
        })
        .catch((e: unknown) => deps.log.warn({ ...context, err: e }, 'could not close the approval message'));
    }
    await deliver(deps, client, where, outcome, signal);
  } catch (error) {
    await reportClickError(deps, client, where, error, context);
  }
}

/** Posts an outcome: for the thread when it concerns everyone, ephemerally when only the clicker. */
async function deliver(
  deps: InteractionDeps,
  client: webApi.WebClient,
  where: Where,
  o: ActionOutcome,
  signal?: AbortSignal,
): Promise<void> {
  if (await deliverCommonOutcome(client, where, o)) return;
  switch (o.status) {
    case 'done': {
      await toThread(client, where, renderActionDone(o));
      if (o.rollout && deps.actions.cluster) {
        await follow(deps, client, where, o, signal);
      } else if (o.metric) {
        await toThread(
          client,
          where,
          renderFollowLine('metric', `${o.metric.probe.name}: before ${o.metric.before?.text ?? 'unknown'}`),
        );
      }
      return;
    }
    case 'refused': {
      const e = o.error;
      if (e.code === 'conflict') {
        // the state changed: everyone in the thread should know, and anyone may take the fresh proposal
        await toThread(
          client,
          where,
          renderRefused({ message: e.message, ...(o.fresh ? { fresh: o.fresh } : {}) }),
        );
      } else {
        await toUser(client, where, renderRefused({ message: e.message }));
      }
      return;
    }
    case 'failed':
      await toThread(
        client,
        where,
        renderFailed({ actor: where.user, message: o.error.message, change: o.change }),
      );
      return;
  }
}

/** Rollout progress in one message updated in place, then the metric before and after in another. */
async function follow(
  deps: InteractionDeps,
  client: webApi.WebClient,
  where: Where,
  o: Extract<ActionOutcome, { status: 'done' }>,
  signal?: AbortSignal,
): Promise<void> {
  const cluster = deps.actions.cluster;
  if (!cluster || !o.rollout) return;
  let progressTs: string | undefined;
  const post = async (line: FollowLine) => {
    const m = renderFollowLine(line.kind, line.text);
    if (line.kind !== 'metric' && progressTs && where.channel) {
      await client.chat.update({ channel: where.channel, ts: progressTs, ...plainMessage(m) });
      return;
    }
    const ts = await toThread(client, where, m);
    if (line.kind === 'progress') progressTs = ts;
  };
  const f = deps.follow ?? {};
  await followRollout({
    rolloutStatus: (ns, d) => cluster.rolloutStatus(ns, d),
    namespace: o.rollout.namespace,
    deployment: o.rollout.deployment,
    post,
    timeoutMs: f.timeoutMs ?? 5 * 60_000,
    intervalMs: f.intervalMs ?? 3000,
    ...(o.metric ? { metric: o.metric } : {}),
    ...(signal ? { signal } : {}),
    ...(f.now ? { now: f.now } : {}),
    ...(f.sleep ? { sleep: f.sleep } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// Group membership

export interface GroupLookupOptions {
  /** The bot token (needs usergroups:read); omit when the client carries one. */
  readonly token?: string;
  /** How long a group's member list is kept; default 60 s. */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

/**
 * `groupsOf` for actions/: which of the configured user groups a user is in, from usergroups.users.list,
 * each group's members cached briefly (a click does not wait for Slack when the list is fresh; a removed
 * member loses access within ttlMs). A failed lookup rejects: the click is refused, never allowed.
 */
export function slackGroupsOf(client: webApi.WebClient, options: GroupLookupOptions = {}): GroupsOf {
  const ttl = options.ttlMs ?? 60_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { at: number; members: Promise<ReadonlySet<string>> }>();
  const members = (group: string): Promise<ReadonlySet<string>> => {
    const hit = cache.get(group);
    if (hit && now() - hit.at < ttl) return hit.members;
    const p = client.usergroups.users
      .list({ usergroup: group, ...(options.token ? { token: options.token } : {}) })
      .then((r) => new Set(r.users ?? []) as ReadonlySet<string>);
    cache.set(group, { at: now(), members: p });
    p.catch(() => cache.delete(group));
    return p;
  };
  return async (userId, candidates) => {
    const result: string[] = [];
    for (const g of candidates) {
      let set: ReadonlySet<string>;
      try {
        set = await members(g);
      } catch (e) {
        throw new AppError(
          'source',
          `could not check membership of user group ${g} (usergroups.users.list: ${slackPlatformError(e) ?? (e instanceof Error ? e.message : String(e))}): nothing was changed`,
          { cause: e },
        );
      }
      if (set.has(userId)) result.push(g);
    }
    return result;
  };
}

// ---------------------------------------------------------------------------------------------
// Slash subcommands

export interface ActionCommandContext {
  readonly service: ServiceConfig;
  readonly deps: ActionDeps;
}

/**
 * `/aegis scale|memory|pool|cancel|terminate|vacuum …` for the command router: `parse` the words after
 * the subcommand (AppError('usage') when malformed; `service` is the optional service word), then
 * `execute` reads the live state and returns the message to post, which states the change exactly and
 * carries its button. Nothing changes until someone clicks that button and confirms.
 */
export interface ActionCommandDefinition {
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  parse(words: readonly string[], ctx: { config: Config }): { service?: string };
  execute(args: { service?: string }, ctx: ActionCommandContext): Promise<RenderedMessage>;
  /** The offer goes into the channel's most recent incident thread, or a new one (`/aegis page`). */
  readonly inThread?: boolean;
}

export const ACTION_COMMANDS: readonly ActionCommandDefinition[] = ACTION_COMMAND_DEFINITIONS.map(
  (c: ActionCommand): ActionCommandDefinition => ({
    name: c.name,
    usage: c.usage,
    summary: c.summary,
    ...(c.inThread ? { inThread: true } : {}),
    parse: (words, ctx) => c.parse(words, ctx),
    async execute(args, ctx) {
      return renderProposalOffer(await c.propose(args, ctx.service, ctx.deps));
    },
  }),
);
