import { App, type Receiver, SocketModeReceiver, webApi } from '@slack/bolt';
import type { Config, Secrets } from '../config/load.ts';
import type { ServiceConfig } from '../config/schema.ts';
import { AppError } from '../domain/errors.ts';
import type { StepResult } from '../domain/finding.ts';
import { STEPS } from '../steps/registry.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { createAckGate } from './ack-gate.ts';
import { meterAcks } from './ack-meter.ts';
import { runStepInThread } from './commands/alert-run.ts';
import type { ActionCommandWiring, AnyStep, RunStep } from './commands/deps.ts';
import { type CommandMeter, commandLabel } from './commands/outcome.ts';
import { registerAegisCommand } from './commands/register.ts';
import { registerStepButtons } from './commands/step-buttons.ts';
import { createInFlightTracker, type InFlightTracker, type InFlightWork } from './in-flight.ts';
import { boltLogger, type Log, silentLog } from './logger.ts';
import {
  createVerifyingReceiver,
  type HttpRoute,
  type ListenAddress,
  type ReplayCache,
  startRouteServer,
  type VerifyingReceiver,
} from './receiver.ts';
import type { Renderer } from './renderer.ts';

export type { Actor, AnyStep, RunStep, StepRun } from './commands/deps.ts';
export { AEGIS_COMMAND, BUILTIN_COMMANDS, parseAegisCommand } from './commands/parse.ts';
export type { HttpRoute, ListenAddress } from './receiver.ts';
export { SLACK_EVENTS_PATH } from './receiver.ts';

export interface SlackClientOptions {
  /** The Web API base, e.g. `${emulator.url}/api/` (default https://slack.com/api/). */
  readonly slackApiUrl?: string;
  /** Retries of failed Web API calls (rate limits are waited out as Slack's Retry-After says, then retried). */
  readonly retryConfig?: webApi.RetryOptions;
  /** Per-call deadline in milliseconds. */
  readonly timeoutMs?: number;
}

export interface SlackAppOptions {
  readonly config: Config;
  /** Defaults to config.secrets. */
  readonly secrets?: Secrets;
  /** Defaults to the runbook registry. */
  readonly steps?: readonly AnyStep[];
  /** Runs a step with its sources: built by the composition root, so slack/ never builds sources. */
  readonly runStep: RunStep;
  readonly renderer: Renderer;
  readonly logger?: Log;
  /** Extra routes: /healthz, /readyz, /metrics. Served by the Slack server, or in Socket Mode by a small one. */
  readonly routes?: readonly HttpRoute[];
  readonly clientOptions?: SlackClientOptions;
  /** Defaults to a new tracker; pass one to drain it from the SIGTERM handler. */
  readonly inFlight?: InFlightTracker;
  /** Overrides config.slack.host / port (tests listen on 127.0.0.1:0). */
  readonly listen?: Partial<ListenAddress>;
  /** Largest request body accepted, in bytes (default 1 MiB). */
  readonly bodyLimit?: number;
  /** The action subcommands (`/aegis scale 5`), wired by the composition root with the remediation layer. */
  readonly actionCommands?: ActionCommandWiring;
  /** The "ref" of internal errors (tests). */
  readonly newRef?: () => string;
  /** aegis_commands_total and aegis_ack_latency_seconds (ops/metrics.ts's Metrics). */
  readonly metrics?: CommandMeter;
  /**
   * The replay cache of signed requests (pass the Store, so that replicas share it); default one of
   * this process alone.
   */
  readonly replays?: ReplayCache;
}

export interface SlackApp {
  readonly app: App;
  readonly inFlight: InFlightTracker;
  /** Starts receiving. Resolves with where the HTTP server (Slack endpoint or, in Socket Mode, health routes) listens. */
  start(): Promise<ListenAddress>;
  /** Stops receiving new requests; work in flight goes on (see shutdown). */
  stop(): Promise<void>;
  /** stop(), then wait up to drainMs for work in flight; returns what had to be interrupted. */
  shutdown(drainMs: number): Promise<InFlightWork[]>;
  /** A Web API client holding the bot token, for work no request started (alerts). */
  readonly botClient: webApi.WebClient;
  /**
   * Runs a step in an existing thread as if typed there (incident threads of alerts), tracked by the
   * in-flight tracker; answers the result, or undefined when it failed (said in the thread).
   */
  runStepInThread(
    thread: { readonly channel: string; readonly ts: string },
    run: {
      readonly step: AnyStep;
      readonly args: unknown;
      readonly service: ServiceConfig;
      readonly text: string;
    },
  ): Promise<StepResult | undefined>;
}

/** Default Web API retries: a few, quickly, so that shutdown is not held for Slack's 30-minute policy. */
const DEFAULT_RETRY: webApi.RetryOptions = { retries: 4, factor: 2, minTimeout: 500, maxTimeout: 5000 };

/**
 * The Bolt app: `/aegis` and its subcommands, over HTTP (signed requests, checked in front of Bolt) or
 * Socket Mode, as config.slack.mode says.
 */
export function createSlackApp(opts: SlackAppOptions): SlackApp {
  const { config } = opts;
  const secrets = opts.secrets ?? config.secrets;
  const log = opts.logger ?? silentLog;
  const routes = opts.routes ?? [];
  const inFlight = opts.inFlight ?? createInFlightTracker();
  const listenAt: ListenAddress = {
    host: opts.listen?.host ?? config.slack.host,
    port: opts.listen?.port ?? config.slack.port,
  };
  const botToken = secrets.slackBotToken;
  if (!botToken) throw new AppError('config', 'the Slack bot token is not set (SLACK_BOT_TOKEN)');

  const slackApiUrl = opts.clientOptions?.slackApiUrl ?? config.slack.api_url;
  const clientOptions: webApi.WebClientOptions = {
    ...(slackApiUrl ? { slackApiUrl } : {}),
    retryConfig: opts.clientOptions?.retryConfig ?? DEFAULT_RETRY,
    timeout: opts.clientOptions?.timeoutMs ?? 10_000,
  };

  const ackGate = createAckGate();
  const steps = opts.steps ?? STEPS;
  const known = [
    'help',
    ...steps.map((s) => s.name),
    ...(opts.actionCommands?.definitions ?? []).map((a) => a.name),
  ];
  const metrics = opts.metrics;
  let receiver: Receiver;
  let httpReceiver: VerifyingReceiver | undefined;
  if (config.slack.mode === 'http') {
    const signingSecret = secrets.slackSigningSecret;
    if (!signingSecret) {
      throw new AppError('config', 'slack.mode http needs the signing secret (SLACK_SIGNING_SECRET)');
    }
    httpReceiver = createVerifyingReceiver({
      signingSecret,
      routes,
      listen: listenAt,
      log,
      ackGate,
      replays: opts.replays ?? new MemoryStore(),
      ...(opts.bodyLimit ? { bodyLimit: opts.bodyLimit } : {}),
      ...(metrics
        ? { onAck: (seconds: number, body: Buffer) => metrics.observeAck(seconds, ackLabel(body, known)) }
        : {}),
    });
    receiver = httpReceiver;
  } else {
    const appToken = secrets.slackAppToken;
    if (!appToken)
      throw new AppError('config', 'slack.mode socket needs the app-level token (SLACK_APP_TOKEN)');
    const socket = new SocketModeReceiver({
      appToken,
      logger: boltLogger(log),
      installerOptions: { clientOptions },
    });
    receiver = metrics
      ? meterAcks(socket, (seconds, body) => metrics.observeAck(seconds, envelopeLabel(body, known)))
      : socket;
  }

  // Who the bot is, from auth.test at start; never awaited on the acknowledgement path.
  const identity: { botId?: string; botUserId?: string } = {};
  let botName: string | undefined;
  const app = new App({
    receiver,
    authorize: async () => ({ botToken, ...identity }),
    clientOptions,
    logger: boltLogger(log),
    // We listen to commands, actions and shortcuts only; ignoreSelf needs the bot's ids on the ack path.
    ignoreSelf: false,
  });
  app.error(async (error) => {
    log.error({ err: error }, 'unhandled error in a Slack listener');
  });
  // A click, command or shortcut no listener takes (an action_id this bot does not know, an action kind
  // it has no handler for) is acknowledged empty once the listeners are done, instead of waiting out
  // Slack's 3 s and being logged as an error. One a listener already acknowledged: ack() refuses again.
  app.use(async (args) => {
    await args.next();
    const ack = (args as { ack?: () => Promise<void> }).ack;
    if (!ack) return;
    try {
      await ack();
      log.debug(
        { type: (args.body as { type?: unknown }).type },
        'no listener took this request: acknowledged empty',
      );
    } catch {
      // acknowledged by its listener
    }
  });

  const commandDeps = {
    config,
    steps,
    renderer: opts.renderer,
    runStep: opts.runStep,
    log,
    inFlight,
    ackGate,
    ...(opts.newRef ? { newRef: opts.newRef } : {}),
    botMention: () => `@${botName ?? 'aegis'}`,
    ...(opts.actionCommands ? { actionCommands: opts.actionCommands } : {}),
    ...(metrics ? { meter: metrics } : {}),
  };
  registerAegisCommand(app, commandDeps);
  registerStepButtons(app, commandDeps);

  let routeServer: { address: ListenAddress; stop(): Promise<void> } | undefined;
  const learnIdentity = () =>
    app.client.auth
      .test({ token: botToken })
      .then((r) => {
        Object.assign(identity, { botId: r.bot_id, botUserId: r.user_id });
        botName = r.user;
        log.info(
          { team: r.team, teamId: r.team_id, bot: r.user, botUserId: r.user_id },
          'connected to Slack',
        );
      })
      .catch((error: unknown) => {
        log.warn({ err: error }, 'auth.test failed: check the bot token (aegis doctor)');
      });

  const stop = async () => {
    await app.stop();
    if (routeServer) {
      const s = routeServer;
      routeServer = undefined;
      await s.stop();
    }
  };

  const botClient = new webApi.WebClient(botToken, { ...clientOptions, logger: boltLogger(log) });
  return {
    app,
    inFlight,
    botClient,
    runStepInThread(thread, run) {
      const abort = new AbortController();
      const job = runStepInThread(commandDeps, botClient, thread, run, abort.signal);
      inFlight.track(
        job.then(() => undefined),
        `/aegis ${run.text} for an alert (channel ${thread.channel}, thread ${thread.ts})`,
        abort,
      );
      return job;
    },
    async start() {
      await app.start();
      void learnIdentity();
      if (httpReceiver) {
        const address = httpReceiver.address() as ListenAddress;
        log.info({ ...address, mode: 'http' }, 'Slack app listening');
        return address;
      }
      routeServer = await startRouteServer(routes, listenAt, log);
      log.info({ ...routeServer.address, mode: 'socket' }, 'Slack app connected over Socket Mode');
      return routeServer.address;
    },
    stop,
    async shutdown(drainMs) {
      await stop();
      const interrupted = await inFlight.drain(drainMs);
      for (const w of interrupted)
        log.warn({ work: w.describe, startedAt: w.startedAt }, 'interrupted by shutdown');
      return interrupted;
    },
  };
}

/** The aegis_ack_latency_seconds{command} label: the subcommand of a slash command, or "interaction". */
function ackLabel(body: Buffer, known: readonly string[]): string {
  const form = new URLSearchParams(body.toString('utf8'));
  if (form.has('payload')) return 'interaction';
  return commandLabel(form.get('text') ?? '', known);
}

/** The same label for a Socket Mode envelope's body (already parsed: a command has `command` and `text`). */
function envelopeLabel(body: Record<string, unknown>, known: readonly string[]): string {
  if (typeof body.command !== 'string') return 'interaction';
  return commandLabel(typeof body.text === 'string' ? body.text : '', known);
}
