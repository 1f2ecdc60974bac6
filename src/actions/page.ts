import type { ServiceConfig } from '../config/schema.ts';
import { AppError, isAppError } from '../domain/errors.ts';
import type { Escalation, Proposal, StepResult } from '../domain/finding.ts';
import {
  cut,
  MESSAGE_MAX,
  PAGE_EVENTS,
  PAGE_SEVERITIES,
  type PageEventAction,
  type PageProposalInput,
  type PageSeverity,
  pageProposal,
} from '../domain/proposals.ts';
import type { IncidentThread } from '../store/types.ts';
import { unknownParams } from './params.ts';
import type { ActionDeps, ActionHandler, PreparedChange } from './types.ts';

export type { PageEventAction, PageProposalInput, PageSeverity };
export { PAGE_EVENTS, PAGE_SEVERITIES, pageProposal };

/**
 * Paging on-call (the runbook's escalation table): the "page" action. A page belongs to an incident
 * thread: its dedup_key is derived from the thread and kept with it in the store, so every page from
 * one thread triggers or updates one incident, and Acknowledge / Resolve act on that incident.
 *
 * The handler is bound to the thread of the click (see pageHandler): the click, not the button's value,
 * says which thread, and so which incident, a page is for.
 */

/** What is sent (sources/pagerduty.ts is one implementation). */
export interface PageEvent {
  readonly event_action: PageEventAction;
  readonly dedup_key: string;
  readonly payload?: {
    readonly summary: string;
    readonly source: string;
    readonly severity: PageSeverity;
    readonly timestamp?: string;
    readonly component?: string;
    readonly group?: string;
    readonly class?: string;
    readonly custom_details?: Readonly<Record<string, unknown>>;
  };
  readonly links?: readonly { readonly href: string; readonly text: string }[];
  readonly client?: string;
  readonly client_url?: string;
}

export interface Pager {
  /** Throws AppError (SourceError) when the event was not accepted. */
  send(event: PageEvent): Promise<{ readonly dedupKey: string; readonly message: string }>;
}

/** The thread a page is for, and who asked: from the click (or the report, for auto_page). */
export interface PageThread {
  readonly channel: string;
  readonly threadTs: string;
  readonly teamId?: string;
  /** Slack user ID, or "auto_page". */
  readonly actor: string;
  /** Link back to the Slack thread. */
  readonly permalink?: string;
}

/** What went out, once PagerDuty accepted it. */
export interface PageSent {
  readonly event: PageEventAction;
  readonly dedupKey: string;
  readonly at: Date;
  readonly payload?: PageEvent['payload'];
}

export const SUMMARY_MAX = 1024;

/** One incident per thread: `aegis-<team>-<channel>-<thread_ts>`. */
export function incidentDedupKey(thread: Pick<PageThread, 'teamId' | 'channel' | 'threadTs'>): string {
  return ['aegis', thread.teamId, thread.channel, thread.threadTs].filter(Boolean).join('-');
}

function eventOf(p: Proposal): PageEventAction {
  const e = p.params.event ?? 'trigger';
  if (typeof e !== 'string' || !(PAGE_EVENTS as readonly string[]).includes(e)) {
    throw new AppError('usage', `a page's event is trigger, acknowledge or resolve, not "${String(e)}"`);
  }
  return e as PageEventAction;
}

function textParam(p: Proposal, name: string, max: number): string | undefined {
  const v = p.params[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > max) {
    throw new AppError('usage', `the page's ${name} must be text of at most ${max} characters`);
  }
  return v;
}

/** Every parameter a page button may carry: anything else is refused, not dropped. */
const PAGE_PARAMS: ReadonlySet<string> = new Set([
  'event',
  'severity',
  'summary',
  'message',
  'messageLink',
  'rules',
]);

function checkPage(p: Proposal): void {
  const unknown = Object.keys(p.params).filter((k) => !PAGE_PARAMS.has(k));
  if (unknown.length) throw unknownParams('page', unknown);
  eventOf(p);
  const severity = p.params.severity ?? 'error';
  if (typeof severity !== 'string' || !(PAGE_SEVERITIES as readonly string[]).includes(severity)) {
    throw new AppError('usage', `a page's severity is critical, error, warning or info`);
  }
  textParam(p, 'summary', SUMMARY_MAX);
  textParam(p, 'message', MESSAGE_MAX);
  textParam(p, 'rules', 200);
  const link = textParam(p, 'messageLink', 400);
  if (link !== undefined && !/^https:\/\/[^\s<>|]+$/.test(link)) {
    throw new AppError('usage', 'the page carries a message link that is not an https:// URL');
  }
}

/** The event a proposal sends for a thread, with everything PagerDuty shows the on-call engineer. */
export function pageEvent(
  p: Proposal,
  service: ServiceConfig,
  thread: PageThread,
  dedupKey: string,
  at: Date,
  findings?: readonly Record<string, string>[],
): PageEvent {
  const event = eventOf(p);
  if (event !== 'trigger') return { event_action: event, dedup_key: dedupKey };
  const message = textParam(p, 'message', MESSAGE_MAX);
  const messageLink = textParam(p, 'messageLink', 400);
  const rules = textParam(p, 'rules', 200);
  const summary = textParam(p, 'summary', SUMMARY_MAX) || `${service.name}: on-call paged from Slack`;
  const links = [
    ...(thread.permalink ? [{ href: thread.permalink, text: 'Slack incident thread' }] : []),
    ...(messageLink ? [{ href: messageLink, text: 'Slack message' }] : []),
  ];
  return {
    event_action: 'trigger',
    dedup_key: dedupKey,
    payload: {
      summary: cut(message && !summary.includes(message) ? `${summary}: ${message}` : summary, SUMMARY_MAX),
      source: `${service.namespace}/${service.deployment}`,
      severity: (p.params.severity as PageSeverity | undefined) ?? 'error',
      timestamp: at.toISOString(),
      component: service.name,
      group: service.namespace,
      ...(rules ? { class: rules } : {}),
      custom_details: {
        service: service.name,
        reason: p.reason,
        ...(rules ? { escalation_rules: rules } : {}),
        ...(message ? { message } : {}),
        ...(findings?.length ? { findings } : {}),
        paged_by: thread.actor === 'auto_page' ? 'aegis-bot (auto_page)' : `Slack user ${thread.actor}`,
        ...(thread.permalink ? { slack_thread: thread.permalink } : {}),
        ...(messageLink ? { slack_message: messageLink } : {}),
      },
    },
    ...(links.length ? { links } : {}),
    client: 'aegis-bot',
    ...(thread.permalink ? { client_url: thread.permalink } : {}),
  };
}

function describe(event: PageEventAction, dedupKey: string): string {
  return event === 'trigger'
    ? `paged on-call: incident ${dedupKey} (PagerDuty accepted)`
    : event === 'acknowledge'
      ? `acknowledged incident ${dedupKey} in PagerDuty`
      : `resolved incident ${dedupKey} in PagerDuty`;
}

/**
 * The "page" handler for one click: `thread` is where the click happened. Without a thread (a proposal
 * checked for `/aegis page` before it is offered) it checks only; preparing needs the thread.
 * `sent()` tells what PagerDuty accepted, for the message in the thread.
 */
export function pageHandler(
  pager: Pager,
  thread?: PageThread,
  extra: { readonly findings?: readonly Record<string, string>[] } = {},
): ActionHandler & { sent(): PageSent | undefined } {
  let sent: PageSent | undefined;
  return {
    verb: 'page on-call',
    sent: () => sent,
    check(proposal) {
      checkPage(proposal);
    },
    async prepare(proposal, service, deps): Promise<PreparedChange> {
      if (!thread) throw new AppError('usage', 'a page needs the incident thread it is about');
      const event = eventOf(proposal);
      const existing = await deps.store.incidentThread(thread.channel, thread.threadTs);
      if (event !== 'trigger' && !existing?.dedupKey) {
        throw new AppError(
          'not_found',
          'nothing was paged from this thread, so there is no incident to update',
        );
      }
      const dedupKey = existing?.dedupKey ?? incidentDedupKey(thread);
      const now = deps.now ?? (() => new Date());
      return {
        what: 'on-call (PagerDuty)',
        from: existing?.dedupKey ? `incident ${existing.dedupKey}` : 'not paged',
        to: `${event === 'trigger' ? 'triggered' : event === 'acknowledge' ? 'acknowledged' : 'resolved'} ${dedupKey}`,
        async apply() {
          const at = now();
          const ev = pageEvent(proposal, service, thread, dedupKey, at, extra.findings);
          // kept before sending: a second page from the thread, even a concurrent one, uses the same key
          if (!existing?.dedupKey)
            await deps.store.recordIncidentThread(threadRecord(existing, thread, service, dedupKey, at));
          const accepted = await pager.send(ev);
          sent = { event, dedupKey: accepted.dedupKey, at, ...(ev.payload ? { payload: ev.payload } : {}) };
          return { summary: describe(event, accepted.dedupKey) };
        },
      };
    },
  };
}

function threadRecord(
  existing: IncidentThread | undefined,
  thread: PageThread,
  service: ServiceConfig,
  dedupKey: string,
  at: Date,
): IncidentThread {
  return existing
    ? { ...existing, dedupKey }
    : { channel: thread.channel, threadTs: thread.threadTs, service: service.name, dedupKey, createdAt: at };
}

// ---------------------------------------------------------------------------------------------
// auto_page

export interface AutoPageDecision {
  readonly escalation: Escalation;
  readonly proposal: Proposal;
}

/**
 * Whether a report pages without a click: a fired rule with action page_immediately whose configured
 * rule says auto_page, while config.paging.auto_page is on, and the report offers a page.
 */
export function autoPageDecision(
  result: StepResult,
  deps: Pick<ActionDeps, 'config'>,
): AutoPageDecision | undefined {
  if (!deps.config.paging.auto_page) return undefined;
  const proposal = result.proposals.find((p) => p.action === 'page');
  if (!proposal) return undefined;
  const escalation = result.escalations.find(
    (e) =>
      e.action === 'page_immediately' &&
      deps.config.escalationRules.some((r) => r.id === e.ruleId && r.autoPage),
  );
  return escalation ? { escalation, proposal } : undefined;
}

/** "rule error-rate (Error rate > 5%), observed 7.2%". */
export function autoPageWhy(e: Escalation): string {
  return `rule ${e.ruleId} (${e.condition.trim()}), observed ${e.observed}`;
}

export type AutoPageOutcome =
  | { readonly status: 'done'; readonly sent: PageSent; readonly why: string; readonly summary: string }
  | { readonly status: 'already' }
  | { readonly status: 'failed'; readonly error: AppError; readonly why: string };

/**
 * Pages for a report without a click (auto_page), once per thread and rule, audited with the actor
 * "auto_page". The configuration is the authorization: no user is involved.
 */
export async function autoPage(
  decision: AutoPageDecision,
  result: StepResult,
  thread: Omit<PageThread, 'actor'>,
  pager: Pager,
  deps: ActionDeps,
): Promise<AutoPageOutcome> {
  const now = deps.now ?? (() => new Date());
  const why = autoPageWhy(decision.escalation);
  const key = `auto-page:${thread.channel}:${thread.threadTs}:${decision.escalation.ruleId}`;
  const claim = await deps.store.claimOnce({
    key,
    actor: 'auto_page',
    action: 'page',
    what: `page on-call automatically: ${why}`,
    at: now(),
  });
  if (!claim.claimed) return { status: 'already' };
  const handler = pageHandler(pager, { ...thread, actor: 'auto_page' }, { findings: findingDetails(result) });
  const proposal: Proposal = {
    ...decision.proposal,
    params: { ...decision.proposal.params, event: 'trigger', severity: 'critical' },
  };
  const service = deps.config.services.find((s) => s.name === proposal.service);
  const entry = (result: 'done' | 'failed', detail: string, to: string) =>
    deps.store.audit({
      at: now(),
      actor: 'auto_page',
      action: 'page',
      service: proposal.service,
      what: 'on-call (PagerDuty)',
      from: 'not paged',
      to,
      result,
      detail: `${detail} (auto_page: ${why})`,
      key,
      channel: thread.channel,
      threadTs: thread.threadTs,
    });
  try {
    if (!service) throw new AppError('not_found', `unknown service ${proposal.service}`);
    handler.check(proposal, service, deps);
    const prepared = await handler.prepare(proposal, service, deps);
    const applied = await prepared.apply();
    const sent = handler.sent() as PageSent;
    await deps.store.completeOnce(key, { state: 'done', result: applied.summary, at: now() });
    await entry('done', applied.summary, prepared.to);
    return { status: 'done', sent, why, summary: applied.summary };
  } catch (e) {
    if (!isAppError(e)) {
      await deps.store.releaseOnce(key);
      throw e;
    }
    await deps.store.completeOnce(key, { state: 'failed', result: `failed: ${e.message}`, at: now() });
    await entry('failed', e.message, 'paged');
    return { status: 'failed', error: e, why };
  }
}

/** The report's findings as PagerDuty custom details: severity, title, summary. */
export function findingDetails(result: StepResult): Record<string, string>[] {
  return result.findings
    .filter((f) => f.severity !== 'normal')
    .slice(0, 10)
    .map((f) => ({ severity: f.severity, title: f.title, summary: cut(f.summary, 300) }));
}
