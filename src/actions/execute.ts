import { findService } from '../config/load.ts';
import type { ServiceConfig } from '../config/schema.ts';
import { AppError, isAppError } from '../domain/errors.ts';
import type { ActionKind, Proposal } from '../domain/finding.ts';
import type { AuditEntry, AuditResult } from '../store/types.ts';
import { authorize, permissionFor } from './authorize.ts';
import { cancelQueryHandler, terminateSessionHandler, vacuumHandler } from './database-handlers.ts';
import { ConflictError, ForbiddenError } from './errors.ts';
import { memoryLimitHandler, poolSizeHandler, scaleHandler } from './kubernetes-handlers.ts';
import { approvalKey } from './once-key.ts';
import type { MetricReading } from './ports.ts';
import type {
  ActionDeps,
  ActionHandler,
  ActionOutcome,
  Actor,
  ChangeText,
  ClickContext,
  PreparedChange,
} from './types.ts';

/** The handlers of the runbook's fixes. "page" is not here: the paging module passes its own in deps.handlers. */
export const ACTION_HANDLERS: Partial<Record<ActionKind, ActionHandler>> = {
  scale: scaleHandler,
  set_memory_limit: memoryLimitHandler,
  set_pool_size: poolSizeHandler,
  cancel_query: cancelQueryHandler,
  terminate_session: terminateSessionHandler,
  vacuum_analyze: vacuumHandler,
};

export function handlerFor(action: ActionKind, deps: Pick<ActionDeps, 'handlers'>): ActionHandler {
  const h = deps.handlers?.[action] ?? ACTION_HANDLERS[action];
  if (!h) throw new AppError('usage', `the bot has no handler for the action "${action}"`);
  return h;
}

/**
 * Executes a clicked proposal, trusting the click and the configuration, not the message:
 *
 * 1. check: the service is configured, the parameters are valid and within the configured bounds;
 * 2. authorize: config.authorization[action] lists the actor or one of their groups;
 * 3. second approver: when configured, record a pending approval instead (approveRequest runs it);
 * 4. once: claim the click's key, so two clicks, a retry or two replicas make one change;
 * 5. validate: re-read the live state; the target exists and is what the proposal saw;
 * 6. run, then audit who, what, from, to, when and the result.
 *
 * Refusals, conflicts and failures come back as outcomes (audited); only a bug throws.
 */
export async function executeProposal(
  proposal: Proposal,
  actor: Actor,
  deps: ActionDeps,
  click: ClickContext,
): Promise<ActionOutcome> {
  const now = deps.now ?? (() => new Date());
  const claimed: Pick<ChangeText, 'what' | 'from' | 'to'> = proposal.change;
  let handler: ActionHandler;
  let service: ServiceConfig;
  try {
    handler = handlerFor(proposal.action, deps);
    service = findService(deps.config, proposal.service);
    handler.check(proposal, service, deps);
  } catch (e) {
    if (!isAppError(e)) throw e;
    await audit(deps, proposal, actor, click, claimed, 'refused', e.message);
    return { status: 'refused', error: e };
  }

  try {
    await authorize(deps.config, proposal.action, handler.verb, actor, deps.groupsOf);
  } catch (e) {
    if (!isAppError(e)) throw e;
    await audit(
      deps,
      proposal,
      actor,
      click,
      claimed,
      e instanceof ForbiddenError ? 'forbidden' : 'refused',
      e.message,
    );
    return e instanceof ForbiddenError
      ? { status: 'refused', error: e, allowed: e.allowed }
      : { status: 'refused', error: e };
  }

  if (click.offered) {
    const old = await askAgainIfOld(proposal, actor, deps, click, handler, service, now());
    if (old) return old;
  }

  if (permissionFor(deps.config, proposal.action).secondApprover) {
    return requestApproval(proposal, actor, deps, click, handler, service);
  }
  return runOnce(proposal, actor, deps, click, handler, service, click.key, now);
}

/**
 * A second person approves a pending request (second_approver). They must be authorized for the action
 * and not be the requester; the first approval runs it, once, after validating the live state again.
 */
export async function approveRequest(
  approvalId: string,
  actor: Actor,
  deps: ActionDeps,
  click: Omit<ClickContext, 'key'>,
): Promise<ActionOutcome> {
  const now = deps.now ?? (() => new Date());
  const approval = await deps.store.getApproval(approvalId);
  if (!approval) {
    return {
      status: 'refused',
      error: new AppError(
        'not_found',
        'this approval request is unknown (the store was reset?): run the step again',
      ),
    };
  }
  const proposal = approval.proposal;
  const key = approvalKey(approvalId);
  const context: ClickContext = {
    key,
    ...((click.channel ?? approval.channel) ? { channel: click.channel ?? approval.channel } : {}),
    ...((click.threadTs ?? approval.threadTs) ? { threadTs: click.threadTs ?? approval.threadTs } : {}),
  };
  if (approval.status !== 'pending') {
    const record = await deps.store.onceRecord(key);
    return {
      status: 'already',
      by: approval.decidedBy ?? record?.actor ?? 'someone',
      at: approval.decidedAt ?? record?.claimedAt ?? approval.requestedAt,
      state: record?.state ?? 'done',
      what: record?.what ?? proposal.change.what,
      ...(record?.result
        ? { result: record.result }
        : approval.status === 'stale'
          ? { result: 'not run: the state had changed' }
          : {}),
    };
  }
  let handler: ActionHandler;
  let service: ServiceConfig;
  try {
    handler = handlerFor(proposal.action, deps);
    service = findService(deps.config, proposal.service);
    handler.check(proposal, service, deps);
    if (actor.userId === approval.requestedBy) {
      const { allowed } = permissionFor(deps.config, proposal.action);
      throw new ForbiddenError(`you asked for this change: another authorized person must approve it`, {
        allowed,
        verb: `approve your own request to ${handler.verb}`,
        reason: 'own_request',
      });
    }
    await authorize(deps.config, proposal.action, handler.verb, actor, deps.groupsOf);
  } catch (e) {
    if (!isAppError(e)) throw e;
    await audit(
      deps,
      proposal,
      actor,
      context,
      proposal.change,
      e instanceof ForbiddenError ? 'forbidden' : 'refused',
      e.message,
    );
    return e instanceof ForbiddenError
      ? { status: 'refused', error: e, allowed: e.allowed }
      : { status: 'refused', error: e };
  }
  return runOnce(proposal, { userId: approval.requestedBy }, deps, context, handler, service, key, now, {
    approvalId,
    approver: actor.userId,
  });
}

async function requestApproval(
  proposal: Proposal,
  actor: Actor,
  deps: ActionDeps,
  click: ClickContext,
  handler: ActionHandler,
  service: ServiceConfig,
): Promise<ActionOutcome> {
  const now = deps.now ?? (() => new Date());
  let prepared: PreparedChange;
  try {
    // asking a second person about a state that has already changed would waste their attention
    prepared = await handler.prepare(proposal, service, deps);
  } catch (e) {
    if (!isAppError(e)) throw e;
    return refuse(deps, proposal, actor, click, proposal.change, e);
  }
  const change = { what: prepared.what, from: prepared.from, to: prepared.to };
  const { created, approval } = await deps.store.createApproval({
    id: click.key.replace(/^click:/, ''),
    proposal,
    requestedBy: actor.userId,
    requestedAt: now(),
    ...(click.channel ? { channel: click.channel } : {}),
    ...(click.threadTs ? { threadTs: click.threadTs } : {}),
  });
  if (created) {
    await audit(
      deps,
      proposal,
      actor,
      click,
      change,
      'approval_requested',
      'waiting for a second authorized person',
    );
  }
  return {
    status: 'awaiting_approval',
    approvalId: approval.id,
    proposal,
    requestedBy: approval.requestedBy,
    requestedAt: approval.requestedAt,
    change,
    created,
  };
}

async function runOnce(
  proposal: Proposal,
  actor: Actor,
  deps: ActionDeps,
  click: ClickContext,
  handler: ActionHandler,
  service: ServiceConfig,
  key: string,
  now: () => Date,
  approval?: { approvalId: string; approver: string },
): Promise<ActionOutcome> {
  const runner = approval?.approver ?? actor.userId;
  const claim = await deps.store.claimOnce({
    key,
    actor: runner,
    action: proposal.action,
    what: `${proposal.change.what}: ${proposal.change.from} → ${proposal.change.to}`,
    at: now(),
  });
  if (!claim.claimed) {
    const e = claim.existing;
    return {
      status: 'already',
      by: e.actor,
      at: e.completedAt ?? e.claimedAt,
      state: e.state,
      what: e.what,
      ...(e.result ? { result: e.result } : {}),
    };
  }

  let prepared: PreparedChange;
  try {
    prepared = await handler.prepare(proposal, service, deps);
  } catch (e) {
    if (!isAppError(e)) {
      await deps.store.releaseOnce(key);
      throw e;
    }
    if (approval && (e.code === 'conflict' || e.code === 'not_found')) {
      // the request no longer describes the live state: close it; the fresh proposal starts a new one
      await deps.store.decideApproval(approval.approvalId, {
        status: 'stale',
        by: approval.approver,
        at: now(),
      });
      await deps.store.completeOnce(key, { state: 'done', result: `not run: ${e.message}`, at: now() });
    } else {
      await deps.store.releaseOnce(key);
    }
    return refuse(deps, proposal, actor, click, proposal.change, e, approval?.approver);
  }
  if (approval)
    await deps.store.decideApproval(approval.approvalId, {
      status: 'approved',
      by: approval.approver,
      at: now(),
    });

  const change: ChangeText = { what: prepared.what, from: prepared.from, to: prepared.to };
  const probe = deps.metricFor?.(proposal, service);
  const before = probe ? await readQuietly(probe.read, deps) : undefined;
  try {
    const applied = await prepared.apply();
    const at = now();
    await deps.store.completeOnce(key, { state: 'done', result: applied.summary, at });
    await audit(deps, proposal, actor, click, change, 'done', applied.summary, approval?.approver);
    let reminderAt: Date | undefined;
    if (applied.temporary && click.channel && click.threadTs) {
      reminderAt = new Date(at.getTime() + deps.config.actions.temporary_change_reminder);
      await deps.store.addReminder({
        id: `${key}:reminder`,
        dueAt: reminderAt,
        channel: click.channel,
        threadTs: click.threadTs,
        text: applied.temporary.text,
        proposal: applied.temporary.revert,
        createdAt: at,
      });
    }
    return {
      status: 'done',
      proposal,
      actor: actor.userId,
      ...(approval ? { approvedBy: approval.approver } : {}),
      change,
      summary: applied.summary,
      at,
      ...(applied.rollout ? { rollout: applied.rollout } : {}),
      ...(probe ? { metric: { probe, ...(before ? { before } : {}) } } : {}),
      ...(reminderAt ? { reminderAt } : {}),
    };
  } catch (e) {
    const at = now();
    if (e instanceof ConflictError || (isAppError(e) && e.code === 'conflict')) {
      // nothing changed: free the key and ask again from the state as it is now
      await deps.store.releaseOnce(key);
      const fresh = await freshAfterConflict(proposal, service, handler, deps);
      await audit(
        deps,
        proposal,
        actor,
        click,
        change,
        'conflict',
        (e as AppError).message,
        approval?.approver,
      );
      const error =
        e instanceof ConflictError ? e : new ConflictError((e as AppError).message, undefined, { cause: e });
      return { status: 'refused', error, ...(fresh ? { fresh } : {}) };
    }
    const message = isAppError(e) ? e.message : 'internal error';
    await deps.store.completeOnce(key, { state: 'failed', result: `failed: ${message}`, at });
    await audit(
      deps,
      proposal,
      actor,
      click,
      change,
      'failed',
      isAppError(e) ? e.message : String(e),
      approval?.approver,
    );
    if (!isAppError(e)) throw e;
    return { status: 'failed', error: e, change };
  }
}

/**
 * How far in the future an offer's `offeredAt` may be and still count as recent: replicas' clocks differ
 * by a little. Beyond it the offer is treated like a too-old one (an offer cannot come from the future:
 * the stamp was made up, e.g. to outlive actions.proposal_max_age).
 */
export const OFFER_CLOCK_SKEW_MS = 60_000;

/**
 * A click on an offer older than actions.proposal_max_age, dated more than OFFER_CLOCK_SKEW_MS in the
 * future, or that does not say when it was offered changes nothing: the answer says why and carries a
 * fresh offer built from the live state (the same change when the state still matches). Undefined when
 * the offer is recent enough.
 */
async function askAgainIfOld(
  proposal: Proposal,
  actor: Actor,
  deps: ActionDeps,
  click: ClickContext,
  handler: ActionHandler,
  service: ServiceConfig,
  now: Date,
): Promise<ActionOutcome | undefined> {
  const maxAge = deps.config.actions.proposal_max_age;
  const offeredAt = proposal.offeredAt ? Date.parse(proposal.offeredAt) : Number.NaN;
  const ageMs = now.getTime() - offeredAt;
  if (Number.isFinite(offeredAt) && ageMs <= maxAge && ageMs >= -OFFER_CLOCK_SKEW_MS) return undefined;
  const minutes = Math.max(1, Math.round(maxAge / 60_000));
  const when = `offered ${new Date(offeredAt).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const age = !Number.isFinite(offeredAt)
    ? 'this offer does not say when it was made'
    : ageMs < 0
      ? `this offer claims to be from the future (${when})`
      : `this offer is older than ${minutes} minute${minutes === 1 ? '' : 's'} (${when})`;
  const { offeredAt: _old, ...unstamped } = proposal;
  let fresh: Proposal | undefined;
  try {
    await handler.prepare(proposal, service, deps);
    fresh = unstamped;
  } catch (e) {
    if (e instanceof ConflictError) fresh = e.fresh;
    else if (isAppError(e)) return refuse(deps, proposal, actor, click, proposal.change, e);
    else throw e;
  }
  const message = `${age}: nothing was changed. ${fresh ? 'Here it is again with the current values.' : 'Run the step again for a current offer.'}`;
  return refuse(deps, proposal, actor, click, proposal.change, new ConflictError(message, fresh));
}

/** After a 409 from the API server: the proposal again if the state still matches, or the fresh one. */
async function freshAfterConflict(
  proposal: Proposal,
  service: ServiceConfig,
  handler: ActionHandler,
  deps: ActionDeps,
): Promise<Proposal | undefined> {
  try {
    await handler.prepare(proposal, service, deps);
    return proposal;
  } catch (e) {
    if (e instanceof ConflictError) return e.fresh;
    if (isAppError(e)) return undefined;
    throw e;
  }
}

async function refuse(
  deps: ActionDeps,
  proposal: Proposal,
  actor: Actor,
  click: ClickContext,
  change: ChangeText,
  e: AppError,
  approvedBy?: string,
): Promise<ActionOutcome> {
  const result: AuditResult = e.code === 'conflict' ? 'conflict' : e.code === 'source' ? 'failed' : 'refused';
  await audit(deps, proposal, actor, click, change, result, e.message, approvedBy);
  const fresh = e instanceof ConflictError ? e.fresh : undefined;
  return { status: 'refused', error: e, ...(fresh ? { fresh } : {}) };
}

async function readQuietly(read: () => Promise<MetricReading | undefined>, deps: ActionDeps) {
  try {
    return await read();
  } catch (e) {
    deps.log?.warn({ err: e }, 'could not read the motivating metric before the change');
    return undefined;
  }
}

async function audit(
  deps: ActionDeps,
  proposal: Proposal,
  actor: Actor,
  click: ClickContext,
  change: Pick<ChangeText, 'what' | 'from' | 'to'>,
  result: AuditResult,
  detail: string,
  approvedBy?: string,
): Promise<void> {
  const entry: AuditEntry = {
    at: (deps.now ?? (() => new Date()))(),
    actor: actor.userId,
    action: proposal.action,
    service: proposal.service,
    what: change.what,
    from: change.from,
    to: change.to,
    result,
    detail,
    key: click.key,
    ...(approvedBy ? { approvedBy } : {}),
    ...(click.channel ? { channel: click.channel } : {}),
    ...(click.threadTs ? { threadTs: click.threadTs } : {}),
  };
  await deps.store.audit(entry);
  deps.log?.info({ audit: entry }, `action ${proposal.action} by ${actor.userId}: ${result}`);
}
