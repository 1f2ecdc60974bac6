import { RE2JS } from 're2js';
import type { Config } from '../config/load.ts';
import { findService } from '../config/load.ts';
import type { AlertRouteConfig, ServiceConfig } from '../config/schema.ts';
import { AppError, isAppError } from '../domain/errors.ts';
import type { StepDefinition } from '../steps/step.ts';
import type { AlertNotification } from './webhook-schema.ts';

// biome-ignore lint/suspicious/noExplicitAny: steps differ in argument and source types (see steps/registry.ts)
type AnyStep = StepDefinition<any, any>;

/** A step to run in the incident thread, parsed as if typed after /aegis. */
export interface RoutedStep {
  readonly step: AnyStep;
  readonly args: unknown;
  /** As configured, e.g. "cpu 10". */
  readonly text: string;
}

/** What an alert group is about and what runs for it. */
export interface AlertRoute {
  readonly service: ServiceConfig;
  readonly steps: readonly RoutedStep[];
  /** The PromQL the resolved update reads; undefined: the alert's own expression. */
  readonly metric?: string;
  /** "alerts.routes[2]", or "default" when no route matched. */
  readonly matched: string;
}

export interface AlertRouter {
  /** The channel incident threads start in. */
  readonly channel: string;
  route(n: AlertNotification): AlertRoute;
}

interface CompiledRoute {
  readonly index: number;
  readonly match: readonly [string, string][];
  readonly matchRe: readonly [string, RE2JS][];
  readonly service?: string;
  readonly steps?: readonly RoutedStep[];
  readonly metric?: string;
}

/**
 * The routing of config.alerts: first route whose matchers all hold on the group's common labels wins.
 * With no match: the service named by the `service` label (when it is a configured service), else the
 * default service; the default steps. Steps are parsed once, here, so a typo fails at start with its
 * key path, never when an incident starts.
 */
export function createAlertRouter(config: Config, steps: readonly AnyStep[]): AlertRouter {
  const alerts = config.alerts;
  if (!alerts) throw new AppError('config', 'alerts: not configured');
  const channel = alerts.channel ?? config.slack.incident_channel;
  if (!channel) throw new AppError('config', 'alerts.channel: no channel for incident threads');
  const defaults = parseSteps(alerts.default_steps, 'alerts.default_steps', steps, config);
  const routes: CompiledRoute[] = alerts.routes.map((r: AlertRouteConfig, index) => ({
    index,
    match: Object.entries(r.match),
    matchRe: Object.entries(r.match_re).map(([k, p]) => [k, RE2JS.compile(`^(?:${p})$`)] as [string, RE2JS]),
    ...(r.service ? { service: r.service } : {}),
    ...(r.steps ? { steps: parseSteps(r.steps, `alerts.routes[${index}].steps`, steps, config) } : {}),
    ...(r.metric ? { metric: r.metric } : {}),
  }));
  return {
    channel,
    route(n) {
      const labels = { ...n.groupLabels, ...n.commonLabels };
      const hit = routes.find(
        (r) =>
          r.match.every(([k, v]) => (labels[k] ?? '') === v) &&
          r.matchRe.every(([k, re]) => re.matcher(labels[k] ?? '').matches()),
      );
      const serviceName = hit?.service ?? knownService(config, labels.service);
      return {
        service: findService(config, serviceName),
        steps: hit?.steps ?? defaults,
        ...(hit?.metric ? { metric: hit.metric } : {}),
        matched: hit ? `alerts.routes[${hit.index}]` : 'default',
      };
    },
  };
}

function knownService(config: Config, name: string | undefined): string | undefined {
  return name && config.services.some((s) => s.name === name) ? name : undefined;
}

function parseSteps(
  texts: readonly string[],
  path: string,
  steps: readonly AnyStep[],
  config: Config,
): RoutedStep[] {
  return texts.map((text, i) => {
    const [name, ...words] = text.trim().split(/\s+/);
    const step = steps.find((s) => s.name === name);
    if (!step) {
      throw new AppError(
        'config',
        `${path}[${i}]: unknown step "${name}": the steps are ${steps.map((s) => s.name).join(', ')}`,
      );
    }
    try {
      return { step, args: step.parse(words, { config }), text };
    } catch (e) {
      if (isAppError(e)) throw new AppError('config', `${path}[${i}]: ${e.message}`, { cause: e });
      throw e;
    }
  });
}
