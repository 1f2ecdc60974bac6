/**
 * Helpers of the profiling tests: a configuration with a pprof endpoint and a step context that
 * records progress. (Real Go profiles and `go tool pprof` output are in go-pprof.ts, which needs go.)
 */
import { type Config, parseConfig } from '../../../src/config/load.ts';
import type { ServiceConfig } from '../../../src/config/schema.ts';
import type { PartUpdate, StepContext } from '../../../src/steps/step.ts';

/** A configuration with one service whose pprof endpoint is `pprof` (url mode) or the pod proxy. */
export function profilingConfig(
  pprof: { mode: 'url'; baseUrl: string } | { mode: 'pod_proxy' },
  limits: { maxBytes?: number; timeout?: string } = {},
): Config {
  const lines = [
    'services:',
    '  - name: aegis-api',
    '    deployment: aegis-api',
    '    pprof:',
    `      mode: ${pprof.mode}`,
    ...(pprof.mode === 'url' ? [`      base_url: ${pprof.baseUrl}`] : ['      port: 6060']),
    ...(limits.maxBytes ? [`      max_bytes: ${limits.maxBytes}`] : []),
    ...(limits.timeout ? [`      timeout: ${limits.timeout}`] : []),
  ];
  return parseConfig(`${lines.join('\n')}\n`, 'test.yml', {});
}

export interface TestContext<S> {
  readonly ctx: StepContext<S>;
  readonly updates: PartUpdate[];
  readonly service: ServiceConfig;
}

export function stepContext<S>(
  config: Config,
  sources: S,
  signal: AbortSignal = new AbortController().signal,
): TestContext<S> {
  const service = config.services[0] as ServiceConfig;
  const updates: PartUpdate[] = [];
  return {
    ctx: { config, service, sources, signal, progress: (u) => updates.push(u), now: () => new Date() },
    updates,
    service,
  };
}
