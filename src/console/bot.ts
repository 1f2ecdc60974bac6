import { randomBytes } from 'node:crypto';
import type { App } from '@slack/bolt';
import type { Pager } from '../actions/page.ts';
import type { ClusterActions, DatabaseActions } from '../actions/ports.ts';
import type { ReminderLoop } from '../actions/reminders.ts';
import { type AllSources, stepContext } from '../compose.ts';
import type { Config } from '../config/load.ts';
import type { ServiceConfig } from '../config/schema.ts';
import type { MetricHistory, SilenceClient } from '../incidents/ports.ts';
import { alertsWiring } from '../slack/alerts.ts';
import {
  type AnyStep,
  createSlackApp,
  type HttpRoute,
  type RunStep,
  SLACK_EVENTS_PATH,
  type SlackApp,
} from '../slack/app.ts';
import type { CommandMeter } from '../slack/commands/outcome.ts';
import type { FollowSettings } from '../slack/interactions.ts';
import type { Log } from '../slack/logger.ts';
import { remediation } from '../slack/remediation.ts';
import * as render from '../slack/render/index.ts';
import { STEPS } from '../steps/registry.ts';
import { MemoryStore, type Store } from '../store/index.ts';
import type { SlackApiEmulator } from './slack-api-emulator.ts';
import { CONSOLE_CHANNEL } from './workspace.ts';

export interface ConsoleActions {
  /** The cluster the remediation buttons change (the demo's stand-in, or the real Kubernetes API). */
  readonly cluster?: ClusterActions;
  /** The action role's connection per service. */
  readonly databaseFor?: (service: ServiceConfig) => DatabaseActions;
  /** Default: a MemoryStore (the console is one process and one user). */
  readonly store?: Store;
  readonly follow?: FollowSettings;
  /** Pages on-call (PagerDuty Events API v2); without it `/aegis page` says paging is not configured. */
  readonly pager?: Pager;
}

export interface ConsoleBotOptions {
  readonly config: Config;
  readonly sources: AllSources;
  readonly steps?: readonly AnyStep[];
  readonly actions?: ConsoleActions;
  readonly registerExtras?: (app: App, ctx: { readonly slack: SlackApp; readonly botToken: string }) => void;
  /** Alertmanager's silences and the alert metric, for incidents from alerts. */
  readonly alerts?: ConsoleAlerts;
  readonly metrics?: CommandMeter;
  readonly emulator: SlackApiEmulator;
  /** The signing secret the console signs what it forwards with. */
  readonly secret: string;
  /** The emulated Web API's bot token (made per process by the console). */
  readonly botToken: string;
  readonly log: Log;
}

export interface ConsoleAlerts {
  readonly silences?: SilenceClient;
  readonly metrics?: MetricHistory;
}

export interface ConsoleBot {
  readonly slack: SlackApp;
  /** POST /alertmanager, served on the console's own port. */
  readonly alertRoutes: readonly HttpRoute[];
  /**
   * Without alerts configured, the receiver takes a bearer token made at start that only the console's
   * demo control knows; undefined when alerts are configured (Alertmanager sends, with its credentials).
   */
  readonly demoAlertsToken?: string;
  /** The Bolt app's Slack endpoint, on a private loopback port. */
  readonly eventsUrl: string;
  /** Reminders of temporary changes, running; absent without remediation. */
  readonly reminders?: ReminderLoop;
}

/**
 * The real Slack app (createSlackApp: the same Bolt app, signature gate and handlers as in Slack), with
 * remediation wired when the console has actions, started on a private loopback port with its Web API
 * pointed at the emulator and the console's channel as the incident channel.
 */
export async function startConsoleBot(opts: ConsoleBotOptions): Promise<ConsoleBot> {
  const { emulator, log } = opts;
  const steps = opts.steps ?? STEPS;
  const demoAlertsToken = opts.config.alerts ? undefined : randomBytes(24).toString('hex');
  const config: Config = {
    ...opts.config,
    slack: { ...opts.config.slack, mode: 'http', incident_channel: CONSOLE_CHANNEL.id },
    secrets: {
      ...opts.config.secrets,
      slackBotToken: opts.botToken,
      slackSigningSecret: opts.secret,
      ...(demoAlertsToken ? { alertsWebhookSecret: demoAlertsToken } : {}),
    },
    ...(demoAlertsToken ? { alerts: demoAlertsConfig(steps) } : {}),
  };
  const runStep: RunStep = (step, args, run) => step.run(stepContext(config, opts.sources, run), args);
  const actions = opts.actions;
  const store = actions?.store ?? new MemoryStore();
  const alerts = alertsWiring({
    config,
    store,
    steps,
    log,
    owner: 'console',
    ...(opts.alerts?.silences ? { silences: opts.alerts.silences } : {}),
    ...(opts.alerts?.metrics ? { metrics: opts.alerts.metrics } : {}),
  });
  const remedy = actions
    ? remediation({
        config,
        store,
        ...(actions.cluster ? { cluster: actions.cluster } : {}),
        ...(actions.databaseFor ? { databaseFor: actions.databaseFor } : {}),
        ...(actions.pager ? { pager: actions.pager } : {}),
        log,
      })
    : undefined;
  const slack = createSlackApp({
    config,
    runStep,
    renderer: render,
    logger: log,
    ...(opts.steps ? { steps: opts.steps } : {}),
    ...(remedy ? { actionCommands: remedy.actionCommands } : {}),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    listen: { host: '127.0.0.1', port: 0 },
    clientOptions: {
      slackApiUrl: `${emulator.url}/api/`,
      retryConfig: { retries: 1, factor: 1, minTimeout: 100, maxTimeout: 200 },
    },
  });
  const reminders = remedy?.wire(slack, {
    botToken: opts.botToken,
    log,
    ...(actions?.follow ? { follow: actions.follow } : {}),
  });
  alerts?.attach(slack, { botToken: opts.botToken });
  opts.registerExtras?.(slack.app, { slack, botToken: opts.botToken });
  const boltAddress = await slack.start();
  const eventsUrl = `http://${boltAddress.host}:${boltAddress.port}${SLACK_EVENTS_PATH}`;
  reminders?.start();
  return {
    slack,
    eventsUrl,
    alertRoutes: alerts?.routes ?? [],
    ...(demoAlertsToken ? { demoAlertsToken } : {}),
    ...(reminders ? { reminders } : {}),
  };
}

/** The demo's alerts: any alert runs step 1 (latency) in a thread of the console's channel. */
function demoAlertsConfig(steps: readonly AnyStep[]): NonNullable<Config['alerts']> {
  return {
    channel: CONSOLE_CHANNEL.id,
    auth: { bearer_token_env: 'AEGIS_CONSOLE_DEMO_TOKEN' },
    body_limit: 2 ** 20,
    routes: [],
    default_steps: [steps.some((s) => s.name === 'latency') ? 'latency' : (steps[0]?.name ?? 'latency')],
  };
}
