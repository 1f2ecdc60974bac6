import type { App, BlockAction, ButtonAction, MessageShortcut, webApi } from '@slack/bolt';
import { executeProposal } from '../actions/execute.ts';
import { onceKey } from '../actions/once-key.ts';
import {
  autoPage,
  autoPageDecision,
  type Pager,
  type PageThread,
  pageHandler,
  pageProposal,
} from '../actions/page.ts';
import { parseProposal } from '../actions/proposal-schema.ts';
import type { ActionDeps, ActionOutcome } from '../actions/types.ts';
import { findService } from '../config/load.ts';
import { AppError } from '../domain/errors.ts';
import type { Proposal } from '../domain/finding.ts';
import type { ReportPosted } from './commands/deps.ts';
import type { InFlightTracker } from './in-flight.ts';
import type { Log } from './logger.ts';
import {
  renderPageFailed,
  renderPageOffer,
  renderPageSent,
  renderPageUpdated,
  renderRefused,
} from './render/action-messages.ts';
import { deliverCommonOutcome, reportClickError, toThread, toUser } from './thread-post.ts';

/**
 * Paging on-call from Slack: the "Page on-call" buttons (on findings, offers, Retry) and Acknowledge /
 * Resolve (all `aegis_action:page` proposals), the message shortcut "Page on-call about this"
 * (callback_id page_oncall), and auto_page after a report. Every click goes through executeProposal
 * (authorization.page, once per click, audit) with a page handler bound to the click's own thread:
 * the thread gives the incident (its dedup_key), never the button's value.
 */

export const PAGE_SHORTCUT_CALLBACK_ID = 'page_oncall';
export const PAGE_ACTION_ID = /^aegis_action:page(#\d+)?$/;

export interface PagingDeps {
  /** Without a "page" handler of their own: the click binds one to its thread. */
  readonly actions: ActionDeps;
  readonly pager: Pager;
  readonly log: Log;
  readonly inFlight?: InFlightTracker;
  readonly newRef?: () => string;
}

interface Where {
  readonly channel: string;
  readonly threadTs: string;
  readonly messageTs: string;
  readonly user: string;
  readonly teamId?: string;
}

type Click = BlockAction<ButtonAction>;

export function registerPaging(app: App, deps: PagingDeps): void {
  app.action<Click>(
    { type: 'block_actions', action_id: PAGE_ACTION_ID },
    async ({ ack, body, action, client }) => {
      await ack();
      background(deps, `page click by ${body.user.id}`, () => onPageClick(deps, body, action, client));
    },
  );

  app.shortcut<MessageShortcut>(
    { type: 'message_action', callback_id: PAGE_SHORTCUT_CALLBACK_ID },
    async ({ ack, shortcut, client }) => {
      await ack();
      background(deps, `page shortcut by ${shortcut.user.id}`, () => onShortcut(deps, shortcut, client));
    },
  );
}

function background(deps: PagingDeps, describe: string, work: () => Promise<void>): void {
  const job = new Promise<void>((resolve) => setImmediate(resolve)).then(work);
  if (deps.inFlight) deps.inFlight.track(job, describe);
  else job.catch((e: unknown) => deps.log.error({ err: e }, `${describe} failed`));
}

async function onPageClick(deps: PagingDeps, body: Click, action: ButtonAction, client: webApi.WebClient) {
  const channel = body.channel?.id ?? (body.container?.channel_id as string | undefined);
  const messageTs = body.message?.ts ?? (body.container?.message_ts as string | undefined);
  const threadTs = (body.message?.thread_ts as string | undefined) ?? messageTs;
  const user = body.user.id;
  const context = { user, channel, action: action.action_id };
  if (!channel || !messageTs || !threadTs) {
    deps.log.warn(context, 'a page button outside a channel message: nothing to report in');
    return;
  }
  const where: Where = {
    channel,
    messageTs,
    threadTs,
    user,
    ...(body.team?.id ? { teamId: body.team.id } : {}),
  };
  try {
    const proposal = parseProposal(action.value);
    if (proposal.action !== 'page') {
      throw new AppError(
        'usage',
        "this button's action and the proposal it carries disagree: run the step again",
      );
    }
    const key = onceKey({ channel, messageTs, actionId: action.action_id, value: action.value ?? '' });
    await page(deps, client, where, proposal, key);
  } catch (error) {
    await reportClickError(deps, client, where, error, context);
  }
}

/** Runs a page proposal for the click's thread and posts what became of it. */
async function page(
  deps: PagingDeps,
  client: webApi.WebClient,
  where: Where,
  proposal: Proposal,
  key: string,
): Promise<void> {
  const permalink = await permalinkOf(deps, client, where.channel, where.threadTs);
  const thread: PageThread = {
    channel: where.channel,
    threadTs: where.threadTs,
    actor: where.user,
    ...(where.teamId ? { teamId: where.teamId } : {}),
    ...(permalink ? { permalink } : {}),
  };
  const handler = pageHandler(deps.pager, thread);
  const outcome = await executeProposal(
    proposal,
    { userId: where.user },
    { ...deps.actions, handlers: { ...deps.actions.handlers, page: handler } },
    { key, channel: where.channel, threadTs: where.threadTs },
  );
  const sent = handler.sent();
  await deliver(deps, client, where, proposal, outcome, sent);
}

async function deliver(
  deps: PagingDeps,
  client: webApi.WebClient,
  where: Where,
  proposal: Proposal,
  o: ActionOutcome,
  sent: ReturnType<ReturnType<typeof pageHandler>['sent']>,
): Promise<void> {
  if (await deliverCommonOutcome(client, where, o)) return;
  switch (o.status) {
    case 'done': {
      if (!sent) throw new Error('a page reported done without an accepted event');
      const service = findService(deps.actions.config, proposal.service);
      if (sent.event === 'trigger') {
        const group = deps.actions.config.slack.oncall_usergroup;
        await toThread(
          client,
          where,
          renderPageSent({
            dedupKey: sent.dedupKey,
            at: sent.at,
            actor: o.approvedBy ?? o.actor,
            ...(group ? { oncallGroup: group } : {}),
            ...(sent.payload ? { summary: sent.payload.summary, severity: sent.payload.severity } : {}),
            acknowledge: pageProposal(service, {
              summary: '',
              reason: 'acknowledge the page',
              event: 'acknowledge',
              label: 'Acknowledge',
            }),
            resolve: pageProposal(service, {
              summary: '',
              reason: 'resolve the page',
              event: 'resolve',
              label: 'Resolve',
            }),
          }),
        );
      } else {
        await toThread(
          client,
          where,
          renderPageUpdated({
            event: sent.event,
            dedupKey: sent.dedupKey,
            actor: o.approvedBy ?? o.actor,
            at: sent.at,
            ...(sent.event === 'acknowledge'
              ? {
                  resolve: pageProposal(service, {
                    summary: '',
                    reason: 'resolve the page',
                    event: 'resolve',
                    label: 'Resolve',
                  }),
                }
              : {}),
          }),
        );
      }
      return;
    }
    case 'failed':
      await toThread(
        client,
        where,
        renderPageFailed({
          message: o.error.message,
          actor: where.user,
          retry: proposal,
          event:
            proposal.params.event === 'acknowledge' || proposal.params.event === 'resolve'
              ? proposal.params.event
              : 'trigger',
        }),
      );
      return;
    case 'refused': {
      const e = o.error;
      if (e.code === 'source') {
        // e.g. the store could not be read: the page did not go out, and the thread should know
        await toThread(
          client,
          where,
          renderPageFailed({ message: e.message, actor: where.user, retry: proposal }),
        );
      } else {
        await toUser(client, where, renderRefused({ message: e.message }));
      }
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The message shortcut "Page on-call about this"

const QUOTE_MAX = 300;

async function onShortcut(deps: PagingDeps, shortcut: MessageShortcut, client: webApi.WebClient) {
  const channel = shortcut.channel.id;
  const message = shortcut.message;
  const threadTs = (message.thread_ts as string | undefined) ?? message.ts;
  const where: Where = {
    channel,
    messageTs: message.ts,
    threadTs,
    user: shortcut.user.id,
    ...(shortcut.team?.id ? { teamId: shortcut.team.id } : {}),
  };
  const context = { user: where.user, channel, shortcut: PAGE_SHORTCUT_CALLBACK_ID };
  try {
    const known = await deps.actions.store.incidentThread(channel, threadTs);
    const service = findService(deps.actions.config, known?.service);
    const permalink = await permalinkOf(deps, client, channel, message.ts);
    const text = quoteOf(typeof message.text === 'string' ? message.text : '');
    const proposal = pageProposal(service, {
      summary: `${service.name}: paged about a Slack message${text ? `: ${text.slice(0, 200)}` : ''}`,
      reason: `${where.user} asked to page on-call about a message in this channel`,
      ...(text ? { message: text } : {}),
      ...(permalink ? { messageLink: permalink } : {}),
      label: 'Page on-call about this',
    });
    // checked now, so a malformed page is refused before anyone is asked to confirm it
    pageHandler(deps.pager).check(proposal, service, deps.actions);
    await toThread(
      client,
      where,
      renderPageOffer(proposal, { requestedBy: where.user, ...(permalink ? { permalink } : {}) }),
    );
  } catch (error) {
    await reportClickError(deps, client, where, error, context);
  }
}

/** The message's text on one line, cut when long: the page carries the link to the whole of it. */
function quoteOf(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= QUOTE_MAX ? flat : `${flat.slice(0, QUOTE_MAX - 1)}…`;
}

// ---------------------------------------------------------------------------------------------
// auto_page

/**
 * The command router's afterReport hook: when a "page immediately" rule fired, the rule says auto_page
 * and config.paging.auto_page is on, pages at once and posts what was sent and why in the thread.
 */
export function autoPageAfterReport(deps: Omit<PagingDeps, 'inFlight'>): (r: ReportPosted) => Promise<void> {
  return async (r) => {
    const decision = autoPageDecision(r.result, deps.actions);
    if (!decision) return;
    const where: Where = {
      channel: r.channel,
      threadTs: r.threadTs,
      messageTs: r.threadTs,
      user: r.userId,
      ...(r.teamId ? { teamId: r.teamId } : {}),
    };
    const permalink = await permalinkOf(deps, r.client, r.channel, r.threadTs);
    const outcome = await autoPage(
      decision,
      r.result,
      {
        channel: r.channel,
        threadTs: r.threadTs,
        ...(r.teamId ? { teamId: r.teamId } : {}),
        ...(permalink ? { permalink } : {}),
      },
      deps.pager,
      deps.actions,
    );
    if (outcome.status === 'already') return;
    if (outcome.status === 'failed') {
      await toThread(
        r.client,
        where,
        renderPageFailed({ message: outcome.error.message, auto: outcome.why, retry: decision.proposal }),
      );
      return;
    }
    const service = findService(deps.actions.config, decision.proposal.service);
    const group = deps.actions.config.slack.oncall_usergroup;
    await toThread(
      r.client,
      where,
      renderPageSent({
        dedupKey: outcome.sent.dedupKey,
        at: outcome.sent.at,
        auto: outcome.why,
        ...(group ? { oncallGroup: group } : {}),
        ...(outcome.sent.payload
          ? { summary: outcome.sent.payload.summary, severity: outcome.sent.payload.severity }
          : {}),
        acknowledge: pageProposal(service, {
          summary: '',
          reason: 'acknowledge the page',
          event: 'acknowledge',
          label: 'Acknowledge',
        }),
        resolve: pageProposal(service, {
          summary: '',
          reason: 'resolve the page',
          event: 'resolve',
          label: 'Resolve',
        }),
      }),
    );
  };
}

// ---------------------------------------------------------------------------------------------
// Slack plumbing

/**
 * The thread's link for the page. A page without it still goes out (the on-call engineer gets the
 * channel and text), so a failure here is logged and the page goes on.
 */
async function permalinkOf(
  deps: Pick<PagingDeps, 'log'>,
  client: webApi.WebClient,
  channel: string,
  ts: string,
): Promise<string | undefined> {
  try {
    const r = await client.chat.getPermalink({ channel, message_ts: ts });
    return r.permalink;
  } catch (e) {
    deps.log.warn({ channel, ts, err: e }, 'chat.getPermalink failed: the page goes without the link');
    return undefined;
  }
}
