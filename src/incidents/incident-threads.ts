import type { Config } from '../config/load.ts';
import { findService } from '../config/load.ts';
import { AppError } from '../domain/errors.ts';
import type { StepResult } from '../domain/finding.ts';
import { silenceProposal } from '../domain/proposals.ts';
import type { AlertIncident, AlertNotificationRecord, OnsetEvidence, Store } from '../store/types.ts';
import { alertExpression } from './alert-expression.ts';
import {
  groupEnd,
  groupStart,
  groupTitle,
  type IncidentView,
  incidentView,
  type ResolvedMetric,
} from './model.ts';
import { capturedDuring } from './onset-diff.ts';
import type { IncidentChat, MetricHistory, ThreadRef } from './ports.ts';
import type { AlertRoute, AlertRouter, RoutedStep } from './routing.ts';
import type { AlertNotification } from './webhook-schema.ts';

/** The profile steps: captured at onset and kept with the incident. */
export const PROFILE_STEPS: ReadonlySet<string> = new Set(['cpu', 'heap', 'goroutines']);
/** The console's recorded notifications say so in their receiver. */
export const DEMO_RECEIVER = 'aegis-console-demo';

export interface IncidentLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface IncidentDeps {
  readonly config: Config;
  readonly store: Store;
  readonly router: AlertRouter;
  readonly chat: IncidentChat;
  /** This replica's name, kept with its claims. */
  readonly owner: string;
  readonly log: IncidentLog;
  /** The alert's metric before, at worst and now, for the resolved update; absent: not shown. */
  readonly metrics?: MetricHistory;
  readonly now?: () => Date;
  /**
   * How long a replica waits for another one to post the root of a group (taking the claim over once it
   * is stale: the store's alert stale-claim window); default 60 s.
   */
  readonly rootWaitMs?: number;
  readonly pollMs?: number;
}

export interface IncidentThreads {
  /** Handles a recorded notification (after it was answered): once in any number of replicas. */
  handle(record: AlertNotificationRecord): Promise<void>;
  /** The root message of an incident as the store has it now. */
  view(incident: AlertIncident): IncidentView;
  /** Re-renders an incident's root (after a silence was made or expired). */
  refreshRoot(groupKey: string): Promise<void>;
}

/**
 * One incident thread per Alertmanager group. The first firing notification of a group claims the group
 * in the store (one replica wins), posts the root message and runs the routed steps in its thread;
 * later notifications update the root in place; the resolved one says so with the incident's duration
 * and the alert's metric before, at worst and now. A notification already handled (a repeat, the HA
 * twin, a retry) moves "last seen" and nothing else.
 *
 * A replica may die at any point of handling; the sweep (sweep.ts) then hands the notification to another
 * one once its claim is stale, and each stage resumes from what the store says was done:
 * 1. the notification's claim (stale: taken again);
 * 2. the group's root: claimed and posted (updated, never posted again), or claimed and never posted
 *    (taken over once that claim is stale, then posted);
 * 3. each routed step, recorded as it starts, once per group and step: never run again.
 * A replica that died between Slack posting the root and the store recording its ts leaves a root nobody
 * knows of: the next handler posts another (the only stage that is at least once).
 */
export function incidentThreads(deps: IncidentDeps): IncidentThreads {
  const now = deps.now ?? (() => new Date());
  const { store, chat, log } = deps;

  const view = (incident: AlertIncident): IncidentView => {
    const n = incident.latest as AlertNotification;
    const route = deps.router.route(n);
    const durations = deps.config.alertmanager?.silence_durations ?? [];
    const alerts = groupTitle(n);
    return incidentView(incident, {
      steps: route.steps.map((s) => s.text),
      silenceOffers: durations.map((durationMs) =>
        silenceProposal(route.service, { op: 'create', durationMs, alerts }),
      ),
      ...(deps.config.alertmanager
        ? { expireOffer: silenceProposal(route.service, { op: 'expire', alerts }) }
        : {}),
      ...(n.receiver === DEMO_RECEIVER ? { demo: true } : {}),
    });
  };

  const rootOf = (i: AlertIncident): ThreadRef | undefined =>
    i.channel && i.rootTs ? { channel: i.channel, ts: i.rootTs } : undefined;

  /** Another replica claimed the group: its root appears in the store once posted (resolved ones wait). */
  const waitForRoot = async (groupKey: string): Promise<{ incident: AlertIncident; root: ThreadRef }> => {
    const deadline = Date.now() + (deps.rootWaitMs ?? 60_000);
    for (;;) {
      const incident = await store.alertIncident(groupKey);
      const root = incident && rootOf(incident);
      if (incident && root) return { incident, root };
      if (Date.now() >= deadline) {
        throw new AppError('busy', `the root message of alert group ${groupKey} was not posted in time`);
      }
      await new Promise((r) => setTimeout(r, deps.pollMs ?? 100));
    }
  };

  const refresh = async (groupKey: string) => {
    const incident = await store.alertIncident(groupKey);
    const root = incident && rootOf(incident);
    if (incident && root) await chat.updateRoot(root, view(incident));
  };

  const keepOnset = async (groupKey: string, root: ThreadRef, routed: RoutedStep, result: StepResult) => {
    const table = onsetOf(result, now());
    if (!table) return;
    const capture = await onsetCapture(store, result, table.target).catch((err: unknown) => {
      log.warn({ groupKey, step: routed.text, err }, 'the onset capture could not be looked up');
      return undefined;
    });
    const onset: OnsetEvidence = { ...table, ...(capture ? { capture } : {}) };
    await store.updateAlertIncident(groupKey, { addOnset: onset });
    await chat.postOnsetKept(
      root,
      { step: onset.step, capturedAt: onset.capturedAt, ...(onset.target ? { target: onset.target } : {}) },
      result.service,
    );
    log.info({ groupKey, step: routed.text }, 'onset evidence kept');
  };

  /** The routed steps not started yet for this group (a replica that died may have started some). */
  const runSteps = async (groupKey: string, root: ThreadRef, route: AlertRoute) => {
    // All at once: the evidence of every step is taken while the alert is fresh.
    await Promise.all(
      route.steps.map(async (routed) => {
        if (!(await store.claimAlertStep(groupKey, routed.text, deps.owner, now()))) return;
        const result = await chat.runStep(root, routed, route.service);
        if (result && PROFILE_STEPS.has(routed.step.name)) await keepOnset(groupKey, root, routed, result);
      }),
    );
  };

  /** Posts the root of a group this replica claimed; answers where it is. */
  const postRoot = async (groupKey: string, route: AlertRoute): Promise<ThreadRef> => {
    const incident = await store.alertIncident(groupKey);
    if (!incident) throw new Error(`the incident of ${groupKey} vanished after it was claimed`);
    const root = await chat.postRoot(deps.router.channel, view(incident));
    // the thread first: once the root's ts is recorded, a handler that takes over finds the root posted
    await store.recordIncidentThread({
      channel: root.channel,
      threadTs: root.ts,
      service: route.service.name,
      ...(route.steps[0] ? { step: route.steps[0].step.name } : {}),
      createdAt: now(),
    });
    await store.setAlertIncidentRoot(groupKey, root);
    log.info({ groupKey, ...root, route: route.matched }, 'incident thread started');
    // another replica may have applied a newer notification while the root was being posted
    const after = await store.alertIncident(groupKey);
    if (after && (after.latestAt > incident.latestAt || after.status !== incident.status)) {
      await chat.updateRoot(root, view(after));
    }
    return root;
  };

  /**
   * The group's root: posted by this replica when it wins the claim (or takes over one a dead replica left
   * stale), else the one another replica posted, waited for while it is being posted.
   */
  const claimRoot = async (
    n: AlertNotification,
    record: AlertNotificationRecord,
    route: AlertRoute,
  ): Promise<
    { posted: true; root: ThreadRef } | { posted: false; root: ThreadRef; incident: AlertIncident }
  > => {
    const deadline = Date.now() + (deps.rootWaitMs ?? 60_000);
    for (;;) {
      const claim = await store.claimAlertIncident({
        groupKey: n.groupKey,
        service: route.service.name,
        owner: deps.owner,
        at: now(),
        startedAt: groupStart(n),
        latest: n,
        latestAt: record.firstSeen,
      });
      if (claim.claimed) return { posted: true, root: await postRoot(n.groupKey, route) };
      const root = rootOf(claim.incident);
      if (root) return { posted: false, root, incident: claim.incident };
      if (Date.now() >= deadline) {
        throw new AppError('busy', `the root message of alert group ${n.groupKey} was not posted in time`);
      }
      await new Promise((r) => setTimeout(r, deps.pollMs ?? 100));
    }
  };

  const onFiring = async (n: AlertNotification, record: AlertNotificationRecord, route: AlertRoute) => {
    const claimed = await claimRoot(n, record, route);
    const { root } = claimed;
    if (!claimed.posted) {
      const reopened = claimed.incident.status === 'resolved';
      const updated = await store.updateAlertIncident(n.groupKey, {
        status: 'firing',
        resolvedAt: null,
        lastSeen: record.lastSeen,
        latest: { payload: n, at: record.firstSeen },
      });
      if (!updated) return;
      await chat.updateRoot(root, view(updated));
      if (reopened && updated.status === 'firing') {
        await chat.postNote(
          root,
          'The alert group fires again: the root message above shows the alerts firing now.',
        );
      }
    }
    // the first handler runs them; a later one only when a replica died before starting some
    await runSteps(n.groupKey, root, route);
  };

  const onResolved = async (n: AlertNotification, record: AlertNotificationRecord, route: AlertRoute) => {
    const known = await store.alertIncident(n.groupKey);
    if (!known) {
      log.info(
        { groupKey: n.groupKey },
        'a resolved notification for a group with no incident thread: nothing to resolve',
      );
      return;
    }
    const { root } = rootOf(known) ? { root: rootOf(known) as ThreadRef } : await waitForRoot(n.groupKey);
    const resolvedAt = groupEnd(n, now());
    const updated = await store.updateAlertIncident(n.groupKey, {
      status: 'resolved',
      resolvedAt,
      lastSeen: record.lastSeen,
      latest: { payload: n, at: record.firstSeen },
    });
    if (updated?.status !== 'resolved') return; // a newer firing notification won
    const v = view(updated);
    await chat.updateRoot(root, v);
    const metric = await readMetric(n, route, updated);
    await chat.postResolved(root, v, metric);
  };

  const readMetric = async (
    n: AlertNotification,
    route: AlertRoute,
    incident: AlertIncident,
  ): Promise<ResolvedMetric | undefined> => {
    if (!deps.metrics) return undefined;
    const expr = route.metric ?? alertExpression(n.alerts.find((a) => a.generatorURL)?.generatorURL ?? '');
    if (!expr) return undefined;
    const span = (incident.resolvedAt ?? now()).getTime() - incident.startedAt.getTime();
    const from = new Date(incident.startedAt.getTime() - Math.max(span, 5 * 60_000));
    try {
      return await deps.metrics.read(expr, findService(deps.config, incident.service), { from, to: now() });
    } catch (e) {
      log.warn(
        { err: e, groupKey: n.groupKey, expr },
        'could not read the alert metric for the resolved update',
      );
      return { expr };
    }
  };

  return {
    view,
    refreshRoot: refresh,
    async handle(record) {
      const n = record.payload as AlertNotification;
      const context = { groupKey: n.groupKey, status: n.status, dedupKey: record.dedupKey };
      if (!(await store.claimAlertNotification(record.dedupKey, deps.owner, now()))) {
        // handled (or being handled) already: a repeat, the HA twin, a retry
        const incident = await store.updateAlertIncident(n.groupKey, { lastSeen: record.lastSeen });
        const root = incident && rootOf(incident);
        if (incident && root) {
          await chat.updateRoot(root, view(incident));
        }
        log.info({ ...context, seen: record.seen }, 'alert notification seen again: last seen updated');
        return;
      }
      try {
        const route = deps.router.route(n);
        if (n.status === 'firing') await onFiring(n, record, route);
        else await onResolved(n, record, route);
        await store.completeAlertNotification(record.dedupKey, 'done', now());
      } catch (e) {
        await store
          .completeAlertNotification(record.dedupKey, 'failed', now())
          .catch((err: unknown) => log.error({ ...context, err }, 'could not mark a notification failed'));
        throw e;
      }
    },
  };
}

/**
 * The raw profile the onset step kept in the capture store (cpu, heap; goroutines have no pprof diff).
 * Undefined when none was kept (no store for captures, a capture over the size limit): "compare with
 * onset" then shows the tables only.
 */
async function onsetCapture(
  store: Store,
  result: StepResult,
  pod: string | undefined,
): Promise<OnsetEvidence['capture']> {
  if (result.step !== 'cpu' && result.step !== 'heap') return undefined;
  const c = await capturedDuring(store, result.service, result.step, result, pod);
  return c ? { pod: c.pod, kind: c.kind, capturedAt: c.capturedAt } : undefined;
}

/** The first top-N table of a profile step's findings: what "compare with onset" shows again later. */
export function onsetOf(result: StepResult, at: Date): OnsetEvidence | undefined {
  for (const f of result.findings) {
    for (const e of f.evidence) {
      if (e.type !== 'table') continue;
      const target = result.findings
        .flatMap((x) => x.evidence)
        .flatMap((x) => (x.type === 'fields' ? x.fields : []))
        .find((field) => /^pod$/i.test(field.label))?.value;
      return {
        step: result.step,
        capturedAt: at,
        ...(target ? { target } : {}),
        table: { ...(e.title ? { title: e.title } : {}), columns: e.columns, rows: e.rows.slice(0, 15) },
      };
    }
  }
  return undefined;
}
