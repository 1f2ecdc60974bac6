import type { App, BlockAction, ButtonAction, webApi } from '@slack/bolt';
import { z } from 'zod';
import { executeProposal } from '../actions/execute.ts';
import { onceKey } from '../actions/once-key.ts';
import { parseProposal } from '../actions/proposal-schema.ts';
import { silenceHandler } from '../actions/silence.ts';
import type { ActionDeps, ActionOutcome } from '../actions/types.ts';
import type { Config } from '../config/load.ts';
import { findService } from '../config/load.ts';
import { AppError } from '../domain/errors.ts';
import type { Proposal } from '../domain/finding.ts';
import { silenceProposal } from '../domain/proposals.ts';
import { type IncidentThreads, incidentThreads, onsetOf } from '../incidents/incident-threads.ts';
import { groupTitle } from '../incidents/model.ts';
import { onsetDiff } from '../incidents/onset-diff.ts';
import type { MetricHistory, SilenceClient } from '../incidents/ports.ts';
import { alertmanagerRoute, webhookAuth } from '../incidents/receiver.ts';
import { createAlertRouter } from '../incidents/routing.ts';
import { type NotificationSweep, notificationSweep } from '../incidents/sweep.ts';
import type { AlertNotification } from '../incidents/webhook-schema.ts';
import type { Store } from '../store/types.ts';
import type { AnyStep, HttpRoute, SlackApp } from './app.ts';
import { slackIncidentChat } from './incident-chat.ts';
import { slackGroupsOf } from './interactions.ts';
import type { Log } from './logger.ts';
import { renderRefused } from './render/action-messages.ts';
import {
  COMPARE_ONSET_ACTION_ID,
  renderOnsetComparison,
  renderSilenceCreated,
  renderSilenceExpired,
  renderSilenceFailed,
} from './render/incident-messages.ts';
import { deliverCommonOutcome, reportClickError, toThread, toUser, type Where } from './thread-post.ts';

/**
 * Incidents that start from alerts, wired into a Slack app (or the console's): `POST /alertmanager` on the
 * app's HTTP port, the incident threads, the Silence / Expire silence buttons (through actions/, as
 * authorization.silence), and "Compare with onset".
 *
 * The route exists before the app (createSlackApp mounts it), the threads after (they post with the app's
 * client): build with alertsWiring, pass `routes` to the app, then `attach` it.
 */

export interface AlertsWiringOptions {
  readonly config: Config;
  readonly store: Store;
  readonly steps: readonly AnyStep[];
  readonly log: Log;
  /** This replica's name in the store's claims (the pod name). */
  readonly owner: string;
  /** Alertmanager's API v2 (sources/alertmanager.ts); absent: the Silence buttons say it is not configured. */
  readonly silences?: SilenceClient;
  readonly metrics?: MetricHistory;
  readonly now?: () => Date;
}

export interface AlertsWiring {
  /** POST /alertmanager. */
  readonly routes: readonly HttpRoute[];
  attach(slack: SlackApp, options: { readonly botToken: string }): AttachedAlerts;
}

export interface AttachedAlerts {
  readonly threads: IncidentThreads;
  /**
   * Takes up notifications answered and never handled to the end (a replica died): start it in every
   * replica, stop it on shutdown.
   */
  readonly sweep: NotificationSweep;
}

/** Undefined when config.alerts is not set. Throws AppError('config') for a route naming an unknown step. */
export function alertsWiring(o: AlertsWiringOptions): AlertsWiring | undefined {
  const alerts = o.config.alerts;
  if (!alerts) return undefined;
  const secret = o.config.secrets.alertsWebhookSecret;
  if (!secret) throw new AppError('config', 'alerts.auth: the webhook secret is not set in the environment');
  const router = createAlertRouter(o.config, o.steps);
  const now = o.now ?? (() => new Date());
  let attached: { threads: IncidentThreads; slack: SlackApp } | undefined;
  const route = alertmanagerRoute({
    auth: webhookAuth(alerts, secret),
    bodyLimit: alerts.body_limit,
    store: o.store,
    log: o.log,
    now,
    onRecorded: async (record) => {
      if (!attached) throw new Error('an alert notification arrived before the Slack app was wired');
      await attached.threads.handle(record);
    },
    track: (work, describe) => attached?.slack.inFlight.track(work, describe),
  });
  return {
    routes: [route],
    attach(slack, options) {
      const threads = incidentThreads({
        config: o.config,
        store: o.store,
        router,
        chat: slackIncidentChat(slack, slack.botClient),
        owner: o.owner,
        log: o.log,
        now,
        ...(o.metrics ? { metrics: o.metrics } : {}),
      });
      attached = { threads, slack };
      const actions: ActionDeps = {
        config: o.config,
        store: o.store,
        groupsOf: slackGroupsOf(slack.app.client, { token: options.botToken }),
        log: o.log,
        now,
      };
      registerSilenceClicks(slack.app, { actions, threads, silences: o.silences, log: o.log, slack });
      registerCompareOnset(slack.app, {
        store: o.store,
        steps: o.steps,
        config: o.config,
        log: o.log,
        slack,
        now,
      });
      const sweep = notificationSweep({
        store: o.store,
        threads,
        log: o.log,
        now,
        track: (work, describe) => slack.inFlight.track(work, describe),
        ...(alerts.sweep_interval ? { intervalMs: alerts.sweep_interval } : {}),
      });
      return { threads, sweep };
    },
  };
}

type Click = BlockAction<ButtonAction>;
export const SILENCE_ACTION_ID = /^aegis_action:silence(#\d+)?$/;

function whereOf(
  body: Click,
): (Where & { channel: string; messageTs: string; threadTs: string }) | undefined {
  const channel = body.channel?.id ?? (body.container?.channel_id as string | undefined);
  const messageTs = body.message?.ts ?? (body.container?.message_ts as string | undefined);
  const threadTs = (body.message?.thread_ts as string | undefined) ?? messageTs;
  if (!channel || !messageTs || !threadTs) return undefined;
  return { channel, messageTs, threadTs, user: body.user.id };
}

function background(slack: SlackApp, log: Log, describe: string, work: () => Promise<void>): void {
  const job = new Promise<void>((resolve) => setImmediate(resolve)).then(work);
  slack.inFlight.track(
    job.catch((e: unknown) => log.error({ err: e }, `${describe} failed`)),
    describe,
  );
}

interface SilenceDeps {
  readonly actions: ActionDeps;
  readonly threads: IncidentThreads;
  readonly silences: SilenceClient | undefined;
  readonly log: Log;
  readonly slack: SlackApp;
}

function registerSilenceClicks(app: App, deps: SilenceDeps): void {
  app.action<Click>(
    { type: 'block_actions', action_id: SILENCE_ACTION_ID },
    async ({ ack, body, action, client }) => {
      await ack();
      background(deps.slack, deps.log, `silence click by ${body.user.id}`, () =>
        onSilenceClick(deps, body, action, client),
      );
    },
  );
}

async function onSilenceClick(
  deps: SilenceDeps,
  body: Click,
  action: ButtonAction,
  client: webApi.WebClient,
) {
  const where = whereOf(body);
  const context = { user: body.user.id, action: action.action_id };
  if (!where) {
    deps.log.warn(context, 'a silence button outside a channel message: nothing to report in');
    return;
  }
  try {
    const proposal = parseProposal(action.value);
    if (proposal.action !== 'silence') {
      throw new AppError('usage', "this button's action and the proposal it carries disagree");
    }
    // the click's thread names the incident (a root's thread_ts is its own ts)
    const incident = await deps.actions.store.alertIncidentByThread(where.channel, where.threadTs);
    const user = body.user as { id: string; username?: string; name?: string };
    const permalink = await client.chat
      .getPermalink({ channel: where.channel, message_ts: where.threadTs })
      .then((r) => r.permalink)
      .catch((e: unknown) => {
        deps.log.warn(
          { ...context, err: e },
          'chat.getPermalink failed: the silence comment names the thread by its ts',
        );
        return undefined;
      });
    const handler = silenceHandler(
      deps.silences,
      incident
        ? { incident, actorName: user.username || user.name || user.id, ...(permalink ? { permalink } : {}) }
        : undefined,
    );
    const key = onceKey({
      channel: where.channel,
      messageTs: where.messageTs,
      actionId: action.action_id,
      value: action.value ?? '',
    });
    const outcome = await executeProposal(
      proposal,
      { userId: where.user },
      { ...deps.actions, handlers: { silence: handler } },
      { key, channel: where.channel, threadTs: where.threadTs },
    );
    await deliverSilence(
      deps,
      client,
      where,
      proposal,
      outcome,
      handler.made(),
      incident?.latest as AlertNotification | undefined,
    );
    if (outcome.status === 'done' && incident) await deps.threads.refreshRoot(incident.groupKey);
  } catch (error) {
    await reportClickError(deps, client, where, error, context);
  }
}

async function deliverSilence(
  deps: SilenceDeps,
  client: webApi.WebClient,
  where: Where,
  proposal: Proposal,
  o: ActionOutcome,
  made: ReturnType<ReturnType<typeof silenceHandler>['made']>,
  n: AlertNotification | undefined,
): Promise<void> {
  if (await deliverCommonOutcome(client, where, o)) return;
  switch (o.status) {
    case 'done': {
      if (!made) throw new Error('a silence reported done without Alertmanager accepting it');
      if (made.op === 'create') {
        const service = findService(deps.actions.config, proposal.service);
        await toThread(
          client,
          where,
          renderSilenceCreated({
            id: made.id,
            endsAt: made.endsAt,
            actor: where.user,
            matchers: made.matchers,
            expire: silenceProposal(service, {
              op: 'expire',
              alerts: n ? groupTitle(n) : 'this alert group',
            }),
          }),
        );
      } else {
        await toThread(client, where, renderSilenceExpired({ id: made.id, actor: where.user, at: made.at }));
      }
      return;
    }
    case 'failed':
      await toThread(
        client,
        where,
        renderSilenceFailed({ message: o.error.message, actor: where.user, retry: proposal }),
      );
      return;
    case 'refused':
      await toUser(client, where, renderRefused({ message: o.error.message }));
      return;
  }
}

const compareValue = z.object({ step: z.string().max(40), service: z.string().max(253) });

function registerCompareOnset(
  app: App,
  deps: {
    store: Store;
    steps: readonly AnyStep[];
    config: Config;
    log: Log;
    slack: SlackApp;
    now: () => Date;
  },
): void {
  app.action<Click>(
    { type: 'block_actions', action_id: COMPARE_ONSET_ACTION_ID },
    async ({ ack, body, action, client }) => {
      await ack();
      background(deps.slack, deps.log, `compare with onset by ${body.user.id}`, async () => {
        const where = whereOf(body);
        if (!where) return;
        const context = { user: body.user.id, action: action.action_id };
        try {
          const value = compareValue.safeParse(safeJson(action.value));
          if (!value.success) throw new AppError('usage', 'this button carries no valid step');
          const incident = await deps.store.alertIncidentByThread(where.channel, where.threadTs);
          const onset = incident?.onset.find((e) => e.step === value.data.step);
          if (!incident || !onset) {
            throw new AppError(
              'not_found',
              'no onset evidence is kept for this thread (the store was reset?)',
            );
          }
          const step = deps.steps.find((s) => s.name === onset.step);
          if (!step) throw new AppError('usage', `"${onset.step}" is not a runbook step this bot knows`);
          const args = step.parse(onset.target ? [onset.target] : [], { config: deps.config });
          const service = findService(deps.config, incident.service);
          const result = await deps.slack.runStepInThread(
            { channel: where.channel, ts: where.threadTs },
            { step, args, service, text: `${step.name}${onset.target ? ` ${onset.target}` : ''}` },
          );
          const diff = await onsetDiff(deps.store, service, onset, result);
          await toThread(
            client,
            where,
            renderOnsetComparison({
              onset,
              now: result ? onsetOf(result, deps.now()) : undefined,
              actor: where.user,
              ...diff,
            }),
          );
        } catch (error) {
          await reportClickError(deps, client, where, error, context);
        }
      });
    },
  );
}

function safeJson(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? '');
  } catch {
    return undefined;
  }
}
