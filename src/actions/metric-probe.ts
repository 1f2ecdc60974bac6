import type { ServiceConfig } from '../config/schema.ts';
import type { Proposal } from '../domain/finding.ts';
import { humanDuration } from '../lib/format.ts';
import {
  cpuRatioByPod,
  latencyQuantile,
  maxOverPods,
  memoryRatioByPod,
  targetFor,
} from '../sources/promql.ts';
import type { MetricProbe } from './ports.ts';

/** The part of a Prometheus client the probes need (sources/prometheus.ts PrometheusSource has it). */
export interface InstantQuery {
  instantQuery(expr: string): Promise<{ readonly samples: readonly { readonly value: number }[] }>;
}

const WINDOW_MS = 5 * 60_000;

/**
 * The runbook metric that motivates each change, for the follow-up "before, after":
 * scale -> CPU of the hottest pod (share of its limit), memory limit -> memory of the hottest pod
 * (share of its limit), pool size -> P99 latency. None for the database actions.
 */
export function prometheusMetricFor(
  prometheusFor: (service: ServiceConfig) => InstantQuery | undefined,
): (proposal: Proposal, service: ServiceConfig) => MetricProbe | undefined {
  return (proposal, service) => {
    const prom = prometheusFor(service);
    if (!prom) return undefined;
    const t = targetFor(service);
    const probe = (name: string, expr: string, format: (v: number) => string): MetricProbe => ({
      name,
      async read() {
        const { samples } = await prom.instantQuery(expr);
        const v = samples[0]?.value;
        return v === undefined || !Number.isFinite(v) ? undefined : { value: v, text: format(v) };
      },
    });
    const percent = (v: number) => `${Math.round(v * 100)}%`;
    switch (proposal.action) {
      case 'scale':
        return probe(
          'CPU of the hottest pod (share of its limit)',
          maxOverPods(cpuRatioByPod(t, WINDOW_MS)),
          percent,
        );
      case 'set_memory_limit':
        return probe(
          'memory of the hottest pod (share of its limit)',
          maxOverPods(memoryRatioByPod(t)),
          percent,
        );
      case 'set_pool_size':
        return probe('P99 latency', latencyQuantile(t, 0.99, WINDOW_MS), (v) => humanDuration(v * 1000));
      default:
        return undefined;
    }
  };
}
