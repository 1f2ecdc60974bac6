import { isAppError } from '../domain/errors.ts';
import { humanDuration } from '../lib/format.ts';
import type { MetricProbe, MetricReading, RolloutStatus } from './ports.ts';

export type FollowLine =
  | { readonly kind: 'progress'; readonly text: string; readonly status: RolloutStatus }
  | { readonly kind: 'done'; readonly text: string }
  | { readonly kind: 'timed_out'; readonly text: string }
  | { readonly kind: 'failed'; readonly text: string }
  | { readonly kind: 'metric'; readonly text: string };

export type FollowResult = 'done' | 'timed_out' | 'failed' | 'interrupted';

export interface FollowOptions {
  readonly rolloutStatus: (namespace: string, deployment: string) => Promise<RolloutStatus>;
  readonly namespace: string;
  readonly deployment: string;
  /** Told each line as it happens: progress when it changes, then done / timed out, then the metric. */
  readonly post: (line: FollowLine) => Promise<void>;
  readonly timeoutMs: number;
  readonly intervalMs: number;
  /** The motivating metric, and its value before the change. */
  readonly metric?: { readonly probe: MetricProbe; readonly before?: MetricReading };
  readonly signal?: AbortSignal;
  /** Injected in tests: a clock and a sleep that advance together. */
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * `kubectl rollout status`, in words: a rollout is complete when the controller has seen the newest
 * generation, every desired replica runs the new template, no old pod remains, and all are available.
 */
export function rolloutComplete(s: RolloutStatus): boolean {
  return (
    s.observedGeneration >= s.generation &&
    s.updated >= s.desired &&
    s.total <= s.updated &&
    s.available >= s.updated &&
    s.ready >= s.desired
  );
}

export function describeRollout(s: RolloutStatus): string {
  const parts = [`ready ${s.ready} of ${s.desired}`];
  if (s.updated < s.desired) parts.push(`${s.updated} updated`);
  if (s.total > s.updated)
    parts.push(`${s.total - s.updated} old pod${s.total - s.updated === 1 ? '' : 's'} terminating`);
  return parts.join(', ');
}

/**
 * Follows a change in the thread: posts "ready n of m" each time the rollout moves, then done, timed out
 * or failed (ProgressDeadlineExceeded), then the motivating metric before and after. A status call that
 * fails is retried on the next tick; the deadline still holds.
 */
export async function followRollout(o: FollowOptions): Promise<FollowResult> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? defaultSleep;
  const started = now();
  let last = '';
  let result: FollowResult = 'timed_out';
  let lastError = '';
  for (;;) {
    if (o.signal?.aborted) {
      result = 'interrupted';
      break;
    }
    try {
      const s = await o.rolloutStatus(o.namespace, o.deployment);
      lastError = '';
      const text = describeRollout(s);
      if (text !== last) {
        last = text;
        await o.post({ kind: 'progress', text: `deployment/${o.deployment}: ${text}`, status: s });
      }
      if (rolloutComplete(s)) {
        result = 'done';
        break;
      }
      if (s.failed) {
        result = 'failed';
        await o.post({ kind: 'failed', text: `deployment/${o.deployment}: the rollout failed: ${s.failed}` });
        break;
      }
    } catch (e) {
      if (!isAppError(e)) throw e;
      lastError = e.message;
    }
    if (now() - started >= o.timeoutMs) break;
    if (o.signal?.aborted) continue;
    await sleep(Math.min(o.intervalMs, Math.max(0, o.timeoutMs - (now() - started))), o.signal);
  }
  if (result === 'interrupted') {
    await o.post({
      kind: 'timed_out',
      text: `stopped following deployment/${o.deployment}${last ? ` at ${last}` : ''}: the bot is shutting down (kubectl rollout status deployment/${o.deployment} -n ${o.namespace} shows the rest)`,
    });
    return result;
  }
  if (result === 'done') {
    await o.post({ kind: 'done', text: `deployment/${o.deployment}: rollout complete (${last})` });
  } else if (result === 'timed_out') {
    const why = lastError ? `; last status check failed: ${lastError}` : last ? `; last seen: ${last}` : '';
    await o.post({
      kind: 'timed_out',
      text: `deployment/${o.deployment}: the rollout did not finish within ${humanDuration(o.timeoutMs)}${why}`,
    });
  }
  if (o.metric) {
    let after: MetricReading | undefined;
    try {
      after = await o.metric.probe.read();
    } catch (e) {
      if (!isAppError(e)) throw e;
    }
    await o.post({
      kind: 'metric',
      text: `${o.metric.probe.name}: before ${o.metric.before?.text ?? 'unknown'}, after ${after?.text ?? 'unknown'}`,
    });
  }
  return result;
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
