import { buildRuntime, type Runtime, stepContext } from './compose.ts';
import { type Config, ConfigError, loadConfig } from './config/load.ts';
import { createOpsRoutes, createReadiness, startOpsServer } from './ops/health.ts';
import { createLogger, type Logger } from './ops/logger.ts';
import { createMetrics } from './ops/metrics.ts';
import { installShutdown } from './ops/shutdown.ts';
import { STEPS } from './runbook/registry.ts';
import { createSlackApp, type RunStep } from './slack/app.ts';
import * as render from './slack/render/index.ts';

/**
 * The bot process: `npm start`. With Slack tokens it is the Slack app (HTTP or Socket Mode, as
 * configured); without them it serves the local console in their place (see README).
 * This is the composition root: the one place that builds concrete sources (through compose.ts),
 * the App, and wires shutdown.
 */
async function main(): Promise<void> {
  const logger = createLogger({ level: (process.env.AEGIS_LOG_LEVEL as 'info' | undefined) ?? 'info' });
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const metrics = createMetrics();
  const readiness = createReadiness();
  const runtime = await buildRuntime(config, { logger });
  const routes = createOpsRoutes({ readiness, metrics, logger });
  const runStep: RunStep = (step, args, run) => step.run(stepContext(config, runtime.sources, run), args);

  if (config.secrets.slackBotToken) {
    await startSlack(config, runtime, { logger, routes, runStep, readiness });
  } else {
    await startLocal(config, runtime, { logger, routes, readiness });
  }
  readiness.markStarted();
}

interface Wiring {
  readonly logger: Logger;
  readonly routes: ReturnType<typeof createOpsRoutes>;
  readonly readiness: ReturnType<typeof createReadiness>;
}

async function startSlack(config: Config, runtime: Runtime, w: Wiring & { runStep: RunStep }): Promise<void> {
  const slack = createSlackApp({
    config,
    runStep: w.runStep,
    renderer: render,
    logger: w.logger,
    routes: w.routes,
    steps: STEPS,
  });
  const address = await slack.start();
  w.logger.info({ ...address, mode: config.slack.mode }, 'aegis-bot is running');
  installShutdown({
    logger: w.logger,
    markNotReady: () => w.readiness.markShuttingDown(),
    drain: (ms) => slack.shutdown(ms),
    closers: [{ name: 'sources', close: () => runtime.close() }],
  });
}

/** No Slack tokens: serve the health routes and say how to get a report locally. */
async function startLocal(config: Config, runtime: Runtime, w: Wiring): Promise<void> {
  const server = await startOpsServer({
    routes: w.routes,
    port: config.slack.port,
    host: config.slack.host,
    logger: w.logger,
  });
  w.logger.info({ url: server.url }, 'no Slack tokens (SLACK_BOT_TOKEN): serving health routes only');
  installShutdown({
    logger: w.logger,
    markNotReady: () => w.readiness.markShuttingDown(),
    drain: async () => [],
    closers: [
      { name: 'http', close: () => server.close() },
      { name: 'sources', close: () => runtime.close() },
    ],
  });
}

await main();
