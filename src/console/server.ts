import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { App } from '@slack/bolt';
import type { AllSources } from '../compose.ts';
import type { Config } from '../config/load.ts';
import type { AnyStep, HttpRoute, SlackApp } from '../slack/app.ts';
import type { CommandMeter } from '../slack/commands/outcome.ts';
import type { InFlightWork } from '../slack/in-flight.ts';
import { type Log, silentLog } from '../slack/logger.ts';
import { type ConsoleActions, type ConsoleAlerts, startConsoleBot } from './bot.ts';
import { signedDelivery } from './deliver.ts';
import { demoAlertSender } from './demo/demo-alert.ts';
import { CONSOLE_FILE_BYTES, CONSOLE_HISTORY, createFeed } from './feed.ts';
import { isWildcard, listenOn } from './listen.ts';
import { createResponseUrls } from './response-urls.ts';
import { consoleRequestHandler } from './routes.ts';
import { type SlackApiEmulator, start as startEmulator } from './slack-api-emulator.ts';
import { CONSOLE_CHANNEL, CONSOLE_USERS, consoleUsergroups } from './workspace.ts';

/**
 * The local console: the incident channel in a browser, for trying the bot without a Slack workspace.
 *
 * It runs the real Slack app (bot.ts) on a private loopback port, with its Web API pointed at the
 * emulated Slack Web API. The page talks to this server only (routes.ts): a typed command becomes a
 * slash-command request (typed-command.ts) signed with a secret made at start and delivered to the Bolt
 * app as Slack delivers it (deliver.ts); a click becomes a signed block_actions payload built from the
 * message as the console holds it (click.ts). What the bot posts, updates, uploads and answers through
 * response_url (response-urls.ts) comes back from the emulator, is drawn into HTML (render-html.ts,
 * everything escaped) and reaches the page over Server-Sent Events (feed.ts).
 *
 * It has no authentication: it binds to 127.0.0.1 by default, answers only requests whose Host is the
 * address it listens on (against DNS rebinding), and takes POSTs only as JSON from its own origin.
 */

export interface ConsoleOptions {
  readonly config: Config;
  /** What the runbook steps run against: the configured sources, or the demo's recordings. */
  readonly sources: AllSources;
  /** Default: the runbook registry. */
  readonly steps?: readonly AnyStep[];
  readonly logger?: Log;
  /** /healthz, /readyz, /metrics: served by the console server too. */
  readonly routes?: readonly HttpRoute[];
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default config.slack.port; 0 picks a free port. */
  readonly port?: number;
  /** A recorded demo incident, not live systems: the page says so. */
  readonly demo: false | { readonly recordedAt: Date };
  /** Remediation (the `aegis_action:*` buttons); absent, the buttons answer that nothing handles them. */
  readonly actions?: ConsoleActions;
  /**
   * Incidents from alerts: POST /alertmanager on the console's port (with config.alerts as configured;
   * without, a demo control sends a recorded notification through it), silences and the alert metric.
   */
  readonly alerts?: ConsoleAlerts;
  /** More listeners on the Bolt app (e.g. paging), registered after the built-in ones. */
  readonly registerExtras?: (app: App, ctx: { readonly slack: SlackApp; readonly botToken: string }) => void;
  /** Commands and acks counted for /metrics (ops/metrics.ts). */
  readonly metrics?: CommandMeter;
}

export interface ConsoleHandle {
  /** The page, e.g. http://127.0.0.1:3000/. */
  readonly url: string;
  /** The Bolt app's Slack endpoint (on a private loopback port): signed requests only. */
  readonly eventsUrl: string;
  readonly emulator: SlackApiEmulator;
  readonly slack: SlackApp;
  /** Stops taking commands, waits up to drainMs for work in flight, then closes everything. */
  shutdown(drainMs: number): Promise<InFlightWork[]>;
  stop(): Promise<void>;
}

export async function startConsole(opts: ConsoleOptions): Promise<ConsoleHandle> {
  const log = opts.logger ?? silentLog;
  // Per process, made at start: the signing secret of what the console forwards to the Bolt app, the
  // emulated Web API's bot token, and the page's secret for its state-changing requests.
  const secret = randomBytes(32).toString('hex');
  const botToken = `xoxb-console-${randomBytes(24).toString('hex')}`;
  const pageSecret = randomBytes(32).toString('hex');
  const emulator = await startEmulator({
    tokens: [botToken],
    channels: [{ id: CONSOLE_CHANNEL.id, name: CONSOLE_CHANNEL.name }],
    users: CONSOLE_USERS.map((u) => ({ id: u.id, name: u.name, realName: u.realName })),
    // "you" is in every group the configuration names: the console is one person's.
    usergroups: consoleUsergroups(opts.config),
    // a console runs for days: Slack's side keeps only as much as the page shows
    retain: CONSOLE_HISTORY,
    retainFileBytes: CONSOLE_FILE_BYTES,
  });
  const { slack, eventsUrl, reminders, alertRoutes, demoAlertsToken } = await startConsoleBot({
    config: opts.config,
    sources: opts.sources,
    ...(opts.alerts ? { alerts: opts.alerts } : {}),
    ...(opts.steps ? { steps: opts.steps } : {}),
    ...(opts.actions ? { actions: opts.actions } : {}),
    ...(opts.registerExtras ? { registerExtras: opts.registerExtras } : {}),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    emulator,
    secret,
    botToken,
    log,
  });

  const feed = createFeed();
  const responseUrls = createResponseUrls(emulator, botToken, feed, log);
  const unsubscribe = emulator.onChange((c) => {
    if (c.kind === 'message') feed.showMessage(c.message);
    else if (c.kind === 'ephemeral') feed.showEphemeral(c.message);
    else responseUrls.answer(c.response);
  });

  const host = opts.host ?? '127.0.0.1';
  let own: ReadonlySet<string> = new Set();
  let selfUrl = '';
  const server = createServer(
    consoleRequestHandler({
      routes: [...(opts.routes ?? []), ...alertRoutes],
      ...(demoAlertsToken ? { demoAlert: demoAlertSender(() => selfUrl, demoAlertsToken) } : {}),
      wildcard: isWildcard(host),
      isOwn: (hostPort) => own.has(hostPort),
      demo: opts.demo,
      services: opts.config.services.map((s) => s.name),
      files: emulator.files,
      forwarding: { feed, deliver: signedDelivery(eventsUrl, secret), responseUrls },
      pageSecret,
      log,
    }),
  );
  const listening = await listenOn(server, host, opts.port ?? opts.config.slack.port, async () => {
    await slack.shutdown(1000);
    await emulator.stop();
  });
  own = listening.own;
  const url = listening.url;
  selfUrl = url;
  log.info({ url, demo: Boolean(opts.demo) }, 'local console listening');

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    unsubscribe();
    await reminders?.stop();
    feed.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await emulator.stop();
  };
  return {
    url,
    eventsUrl,
    emulator,
    slack,
    async shutdown(drainMs) {
      const interrupted = await slack.shutdown(drainMs);
      await close();
      return interrupted;
    },
    async stop() {
      await slack.shutdown(5000);
      await close();
    },
  };
}
