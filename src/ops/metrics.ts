import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { observeSourceCalls } from '../sources/http.ts';

/**
 * How a command ended, as the aegis_commands_total{outcome} label:
 * ok, user_error (usage, not found, forbidden: the user's message says why), source_error (an outside
 * system failed and nothing could be reported), internal_error (a bug: "internal error (ref …)"),
 * rejected (refused before work began: shutting down, busy).
 */
export type CommandOutcome = 'ok' | 'user_error' | 'source_error' | 'internal_error' | 'rejected';

/** Slack's deadline is 3 s; what matters is how far below 100 ms acks stay. */
export const ACK_LATENCY_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.06, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2, 3,
];
/** Source calls range from a 10 ms Prometheus query to a 30 s CPU profile. */
export const SOURCE_CALL_BUCKETS: readonly number[] = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

export interface Metrics {
  /** The bot's own registry (never prom-client's global one), served at /metrics. */
  readonly registry: Registry;
  readonly commands: Counter<'command' | 'outcome'>;
  readonly ackLatency: Histogram<'command'>;
  readonly sourceCallDuration: Histogram<'source' | 'operation' | 'outcome'>;
  readonly sourceErrors: Counter<'source' | 'reason'>;
  /** Count one command. `command` is a step or action name from a fixed list, never free text. */
  recordCommand(command: string, outcome: CommandOutcome): void;
  /** Seconds from receiving a Slack request to ack(). */
  observeAck(seconds: number, command?: string): void;
  /** The exposition text for /metrics. */
  expose(): Promise<{ contentType: string; body: string }>;
  /** Stops observing source calls. */
  close(): void;
}

export interface CreateMetricsOptions {
  /** Process metrics (CPU, memory, event loop lag, GC); on by default. */
  readonly defaultMetrics?: boolean;
  /** Record every source call made through sources/http.ts (sourceCall); on by default. */
  readonly observeSources?: boolean;
}

export function createMetrics(options: CreateMetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const commands = new Counter({
    name: 'aegis_commands_total',
    help: 'Commands handled (slash commands, buttons, CLI runs), by command and outcome.',
    labelNames: ['command', 'outcome'] as const,
    registers: [registry],
  });
  const ackLatency = new Histogram({
    name: 'aegis_ack_latency_seconds',
    help: "Seconds from receiving a Slack request to acknowledging it (Slack's deadline is 3 s).",
    labelNames: ['command'] as const,
    buckets: [...ACK_LATENCY_BUCKETS],
    registers: [registry],
  });
  const sourceCallDuration = new Histogram({
    name: 'aegis_source_call_duration_seconds',
    help: 'Duration of calls to outside systems, by source, operation and outcome (ok or the failure reason).',
    labelNames: ['source', 'operation', 'outcome'] as const,
    buckets: [...SOURCE_CALL_BUCKETS],
    registers: [registry],
  });
  const sourceErrors = new Counter({
    name: 'aegis_source_errors_total',
    help: 'Failed calls to outside systems, by source and reason (unreachable, timeout, http_error, ...).',
    labelNames: ['source', 'reason'] as const,
    registers: [registry],
  });

  const stopObserving =
    (options.observeSources ?? true)
      ? observeSourceCalls(({ source, operation, outcome, seconds }) => {
          sourceCallDuration.observe({ source, operation, outcome }, seconds);
          if (outcome !== 'ok') sourceErrors.inc({ source, reason: outcome });
        })
      : () => {};

  return {
    registry,
    commands,
    ackLatency,
    sourceCallDuration,
    sourceErrors,
    recordCommand: (command, outcome) => commands.inc({ command, outcome }),
    observeAck: (seconds, command = 'aegis') => ackLatency.observe({ command }, seconds),
    expose: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
    close: stopObserving,
  };
}
