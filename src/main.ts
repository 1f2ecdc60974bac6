import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { prometheusMetricFor } from './actions/metric-probe.ts';
import { alertmanagerFrom, buildRuntime, type Runtime, stepContext } from './compose.ts';
import { type Config, ConfigError, configPath, loadConfig } from './config/load.ts';
import type { ServiceConfig } from './config/schema.ts';
import { demoConfig } from './console/demo/demo-config.ts';
import { createDemo } from './console/demo/demo-sources.ts';
import { loadRecordings } from './console/demo/recordings.ts';
import { type ConsoleHandle, startConsole } from './console/server.ts';
import { isAppError } from './domain/errors.ts';
import { prometheusMetricHistory } from './incidents/metric-history.ts';
import { createOpsRoutes, createReadiness } from './ops/health.ts';
import { createLogger, type Logger } from './ops/logger.ts';
import { createMetrics } from './ops/metrics.ts';
import { type Closer, installShutdown } from './ops/shutdown.ts';
import { alertsWiring } from './slack/alerts.ts';
import { createSlackApp, type RunStep } from './slack/app.ts';
import { remediation } from './slack/remediation.ts';
import * as render from './slack/render/index.ts';
import { loadKubeConfig } from './sources/kubernetes.ts';
import { KubernetesActions } from './sources/kubernetes-actions.ts';
import { PagerDutyEvents } from './sources/pagerduty.ts';
import { PostgresActions } from './sources/postgres-actions.ts';
import { createPooledAnalyzer } from './steps/profiling/pooled-analyzer.ts';
import { STEPS } from './steps/registry.ts';
import { createStore, type Store } from './store/index.ts';

/**
 * The bot process: `npm start`. With Slack tokens it is the Slack app (HTTP or Socket Mode, as
 * configured); without them it serves the local console in their place (see README).
 * This is the composition root: the one place that builds concrete sources (through compose.ts),
 * the App, and wires shutdown.
 */
async function main(): Promise<void> {
  const logger = createLogger({ level: (process.env.AEGIS_LOG_LEVEL as 'info' | undefined) ?? 'info' });
  // No Slack token and no configuration file at all: the local console with the bundled demo incident.
  const noConfigFile = !process.env.SLACK_BOT_TOKEN && !existsSync(configPath());
  let config: Config;
  try {
    config = noConfigFile ? demoConfig() : loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const metrics = createMetrics();
  const readiness = createReadiness();
  const routes = createOpsRoutes({ readiness, metrics, logger });

  if (config.secrets.slackBotToken) {
    try {
      // the store first: the profiling steps keep their captures in it (compose.ts)
      const store = await createStore(config, (m) => logger.warn({}, m));
      const runtime = await buildRuntime(config, { logger, store });
      const runStep: RunStep = (step, args, run) => step.run(stepContext(config, runtime.sources, run), args);
      await startSlack(config, runtime, store, { logger, routes, runStep, readiness, metrics });
    } catch (e) {
      if (!isAppError(e)) throw e;
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
  } else {
    try {
      await startLocal(noConfigFile ? undefined : config, { logger, routes, readiness, metrics });
    } catch (e) {
      if (!isAppError(e)) throw e;
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
  }
  readiness.markStarted();
}

interface Wiring {
  readonly logger: Logger;
  readonly metrics: ReturnType<typeof createMetrics>;
  readonly routes: ReturnType<typeof createOpsRoutes>;
  readonly readiness: ReturnType<typeof createReadiness>;
}

/**
 * With Slack tokens: the Slack app, with the remediation layer (store, Kubernetes and database action
 * clients, authorization through Slack user groups) and reminders of temporary changes.
 */
async function startSlack(
  config: Config,
  runtime: Runtime,
  store: Store,
  w: Wiring & { runStep: RunStep },
): Promise<void> {
  const actionDbs = actionDatabases(config);
  const remedy = remediation({
    config,
    store,
    ...(runtime.sources.kubernetes ? { cluster: KubernetesActions.fromConfig(config.kubernetes) } : {}),
    databaseFor: actionDbs.get,
    metricFor: prometheusMetricFor((s) => runtime.sources.prometheus?.(s)),
    log: w.logger,
    ...(config.secrets.pagerdutyRoutingKey
      ? {
          pager: new PagerDutyEvents({
            eventsUrl: config.paging.events_url,
            routingKey: config.secrets.pagerdutyRoutingKey,
          }),
        }
      : {}),
  });
  const routes = createOpsRoutes({
    readiness: w.readiness,
    metrics: w.metrics,
    logger: w.logger,
    probes: [(signal) => store.check(signal)],
  });
  // incidents from alerts: POST /alertmanager on the same port, threads, silences
  const silences = alertmanagerFrom(config);
  const alerts = alertsWiring({
    config,
    store,
    steps: STEPS,
    log: w.logger,
    owner: process.env.POD_NAME || hostname(),
    metrics: prometheusMetricHistory((s) => runtime.sources.prometheus?.(s)),
    ...(silences ? { silences } : {}),
  });
  const slack = createSlackApp({
    config,
    runStep: w.runStep,
    renderer: render,
    logger: w.logger,
    routes: [...routes, ...(alerts?.routes ?? [])],
    steps: STEPS,
    actionCommands: remedy.actionCommands,
    metrics: w.metrics,
    replays: store,
  });
  const botToken = config.secrets.slackBotToken as string;
  const attachedAlerts = alerts?.attach(slack, { botToken });
  const reminders = remedy.wire(slack, {
    botToken,
    log: w.logger,
    ...(process.env.POD_NAME ? { reminders: { owner: process.env.POD_NAME } } : {}),
  });
  const address = await slack.start();
  reminders.start();
  // notifications this replica (or a dead one) answered but never handled to the end: now and periodically
  attachedAlerts?.sweep.start();
  w.logger.info({ ...address, mode: config.slack.mode }, 'aegis-bot is running');
  installShutdown({
    logger: w.logger,
    markNotReady: () => w.readiness.markShuttingDown(),
    // before the drain, which waits for a sweep in progress
    stopAccepting: () => attachedAlerts?.sweep.stop(),
    drain: (ms) => slack.shutdown(ms),
    closers: [
      { name: 'reminders', close: () => reminders.stop() },
      { name: 'sources', close: () => runtime.close() },
      { name: 'action databases', close: () => actionDbs.close() },
      { name: 'store', close: () => store.close() },
    ],
  });
}

/** The action role's connection per service, opened on first use and closed at shutdown. */
function actionDatabases(config: Config): {
  get: (s: ServiceConfig) => PostgresActions;
  close: () => Promise<void>;
} {
  const dbs = new Map<string, PostgresActions>();
  return {
    get(s) {
      let db = dbs.get(s.name);
      if (!db) {
        db = PostgresActions.forService(config, s);
        dbs.set(s.name, db);
      }
      return db;
    },
    async close() {
      await Promise.allSettled([...dbs.values()].map((d) => d.close()));
    },
  };
}

/**
 * No Slack tokens: the local console (src/console) in Slack's place, on 127.0.0.1 (AEGIS_CONSOLE_HOST
 * to change it) at slack.port. With sources configured it runs the steps against them and remediation
 * against the configured cluster and databases; with none (or no configuration file) it replays the
 * bundled demo incident, and remediation changes an in-memory stand-in.
 */
async function startLocal(fileConfig: Config | undefined, w: Wiring): Promise<void> {
  const runtime = fileConfig ? await buildRuntime(fileConfig, { logger: w.logger }) : undefined;
  const host = process.env.AEGIS_CONSOLE_HOST || '127.0.0.1';
  const common = { logger: w.logger, routes: w.routes, host, steps: STEPS, metrics: w.metrics };
  let handle: ConsoleHandle;
  const closers: Closer[] = [];
  if (fileConfig && runtime?.live) {
    const config = fileConfig;
    const actionDbs = actionDatabases(config);
    const silences = alertmanagerFrom(config);
    handle = await startConsole({
      ...common,
      config,
      sources: runtime.sources,
      port: config.slack.port,
      demo: false,
      alerts: {
        ...(silences ? { silences } : {}),
        metrics: prometheusMetricHistory((s) => runtime.sources.prometheus?.(s)),
      },
      actions: {
        ...(runtime.sources.kubernetes
          ? {
              cluster: new KubernetesActions({
                kubeConfig: loadKubeConfig(config.kubernetes),
                timeoutMs: config.kubernetes.timeout,
              }),
            }
          : {}),
        databaseFor: actionDbs.get,
        ...(config.secrets.pagerdutyRoutingKey
          ? {
              pager: new PagerDutyEvents({
                eventsUrl: config.paging.events_url,
                routingKey: config.secrets.pagerdutyRoutingKey,
              }),
            }
          : {}),
      },
    });
    closers.push(
      { name: 'sources', close: () => runtime.close() },
      { name: 'action databases', close: () => actionDbs.close() },
    );
  } else {
    await runtime?.close();
    const config = demoConfig({ port: fileConfig?.slack.port ?? 3000 });
    const demo = createDemo(await loadRecordings(), { delayMs: 120 });
    // the demo's profiles and charts are analysed and drawn as the bot does it: large ones in workers
    const analyzer = createPooledAnalyzer();
    closers.push({ name: 'analysis workers', close: () => analyzer.close() });
    handle = await startConsole({
      ...common,
      config,
      sources: { ...demo.sources, analyzer, rasterize: (svg, signal) => analyzer.rasterize(svg, signal) },
      port: config.slack.port,
      demo: { recordedAt: demo.recordedAt },
      actions: {
        cluster: demo.cluster,
        databaseFor: () => demo.database,
        follow: { intervalMs: 1000, timeoutMs: 60_000 },
      },
    });
  }
  w.logger.info(
    { url: handle.url, demo: !(fileConfig && runtime?.live) },
    `no Slack tokens (SLACK_BOT_TOKEN): the local console is at ${handle.url}`,
  );
  installShutdown({
    logger: w.logger,
    markNotReady: () => w.readiness.markShuttingDown(),
    drain: (ms) => handle.shutdown(ms),
    closers,
  });
}

await main();
