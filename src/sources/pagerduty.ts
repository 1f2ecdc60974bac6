import axios, { type AxiosInstance, isAxiosError } from 'axios';
import { SourceError } from '../domain/errors.ts';
import { errorSummary, sourceCall } from './http.ts';

/**
 * The PagerDuty Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/overview/): one POST
 * per event to `events_url`. A trigger opens (or, with the same dedup_key, updates) an incident;
 * acknowledge and resolve act on the incident of that dedup_key.
 *
 * The routing key is a secret: it goes into the request body and nowhere else (not into errors, messages
 * or logs; errors carry no axios cause, whose config holds the body).
 */

export type PagerDutyEventAction = 'trigger' | 'acknowledge' | 'resolve';
export type PagerDutySeverity = 'critical' | 'error' | 'warning' | 'info';

export interface PagerDutyPayload {
  /** At most 1024 characters (longer is cut with "…"). */
  readonly summary: string;
  readonly source: string;
  readonly severity: PagerDutySeverity;
  readonly timestamp?: string;
  readonly component?: string;
  readonly group?: string;
  readonly class?: string;
  readonly custom_details?: Readonly<Record<string, unknown>>;
}

export interface PagerDutyEvent {
  readonly event_action: PagerDutyEventAction;
  readonly dedup_key: string;
  /** Required for a trigger; ignored for acknowledge and resolve. */
  readonly payload?: PagerDutyPayload;
  readonly links?: readonly { readonly href: string; readonly text: string }[];
  readonly client?: string;
  readonly client_url?: string;
}

export interface PagerDutyAccepted {
  /** The incident's key as PagerDuty answered it (the one sent when the answer has none). */
  readonly dedupKey: string;
  readonly message: string;
  /** How many requests it took (retries after 429, 5xx or a network failure). */
  readonly attempts: number;
}

export interface PagerDutyOptions {
  readonly eventsUrl: string;
  readonly routingKey: string;
  /** Per request; default 10 s. */
  readonly timeoutMs?: number;
  /** Requests in all, first included; default 4. */
  readonly attempts?: number;
  /**
   * Backoff before retry n: full jitter, a random wait between 0 and baseDelayMs * 2^(n-1) (at most
   * maxDelayMs), so that replicas retrying the same outage spread out; defaults 500 ms and 8 s.
   * A Retry-After header (seconds or an HTTP date) on a 429 or 5xx is waited for instead.
   */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** All waits between attempts together stay within this; default 30 s. A longer Retry-After gives up. */
  readonly retryBudgetMs?: number;
  /** Tests: a sleep that does not wait, a fixed random in [0, 1), a fixed clock (ms since the epoch). */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly now?: () => number;
}

const SOURCE = 'pagerduty';
export const PAGERDUTY_SUMMARY_MAX = 1024;

type Attempt =
  | { readonly kind: 'accepted'; readonly dedupKey: string; readonly message: string }
  | { readonly kind: 'retry'; readonly why: string; readonly retryAfterMs?: number }
  | { readonly kind: 'fail'; readonly error: SourceError };

/** Retry-After as milliseconds from `now`: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: unknown, now: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export class PagerDutyEvents {
  private readonly http: AxiosInstance;
  private readonly options: PagerDutyOptions;

  constructor(options: PagerDutyOptions) {
    this.options = options;
    this.http = axios.create({ validateStatus: () => true, maxRedirects: 0, proxy: false });
  }

  /**
   * Sends one event. 202 is success; 400 (invalid event) and other 4xx fail at once with PagerDuty's
   * words, summarised; 429, 5xx and network failures are retried with exponential backoff and full
   * jitter (or after the answer's Retry-After), a bounded number of times within the retry budget.
   * Throws SourceError (source "pagerduty") when the event was not accepted.
   */
  async send(event: PagerDutyEvent): Promise<PagerDutyAccepted> {
    const operation = `send ${event.event_action}`;
    const attempts = Math.max(1, this.options.attempts ?? 4);
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const random = this.options.random ?? Math.random;
    const budget = this.options.retryBudgetMs ?? 30_000;
    const body = {
      routing_key: this.options.routingKey,
      ...event,
      ...(event.payload
        ? { payload: { ...event.payload, summary: cut(event.payload.summary, PAGERDUTY_SUMMARY_MAX) } }
        : {}),
    };
    return sourceCall(SOURCE, operation, async () => {
      let last: Extract<Attempt, { kind: 'retry' }> | undefined;
      let waited = 0;
      for (let n = 1; n <= attempts; n += 1) {
        if (last) {
          const ceiling = Math.min(
            (this.options.baseDelayMs ?? 500) * 2 ** (n - 2),
            this.options.maxDelayMs ?? 8000,
          );
          const delay = last.retryAfterMs ?? Math.floor(random() * ceiling);
          if (waited + delay > budget) {
            const asked =
              last.retryAfterMs !== undefined ? ` asked to retry after ${Math.ceil(delay / 1000)} s,` : '';
            throw new SourceError(
              SOURCE,
              operation,
              'unreachable',
              `${last.why};${asked} beyond the ${budget / 1000} s retry budget: gave up after ${n - 1} attempt${n - 1 === 1 ? '' : 's'}`,
            );
          }
          waited += delay;
          await sleep(delay);
        }
        const a = await this.attempt(body, operation, event.dedup_key);
        if (a.kind === 'accepted') return { dedupKey: a.dedupKey, message: a.message, attempts: n };
        if (a.kind === 'fail') throw a.error;
        last = a;
      }
      throw new SourceError(
        SOURCE,
        operation,
        'unreachable',
        `${last?.why ?? 'no answer'}; gave up after ${attempts} attempts`,
      );
    });
  }

  private async attempt(body: object, operation: string, dedupKey: string): Promise<Attempt> {
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    let status: number;
    let data: unknown;
    let retryAfter: unknown;
    try {
      const res = await this.http.post(this.options.eventsUrl, body, {
        timeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
        headers: { 'content-type': 'application/json' },
      });
      status = res.status;
      data = res.data;
      retryAfter = res.headers['retry-after'];
    } catch (e) {
      return { kind: 'retry', why: networkWhy(e, timeoutMs) };
    }
    const answer = (data && typeof data === 'object' ? data : {}) as {
      status?: unknown;
      message?: unknown;
      dedup_key?: unknown;
    };
    if (status === 202 || (status >= 200 && status < 300 && answer.status === 'success')) {
      return {
        kind: 'accepted',
        dedupKey: typeof answer.dedup_key === 'string' && answer.dedup_key ? answer.dedup_key : dedupKey,
        message: typeof answer.message === 'string' ? answer.message : 'Event processed',
      };
    }
    if (status === 429 || status >= 500) {
      const after = retryAfterMs(retryAfter, (this.options.now ?? Date.now)());
      return {
        kind: 'retry',
        why: status === 429 ? 'HTTP 429: rate limited' : `HTTP ${status}`,
        ...(after !== undefined ? { retryAfterMs: after } : {}),
      };
    }
    // PagerDuty's status, message and errors, summarised: an answer may echo the request, routing key and all.
    const words = errorSummary(data, [this.options.routingKey]);
    return {
      kind: 'fail',
      error: new SourceError(
        SOURCE,
        operation,
        status === 401 || status === 403 ? 'auth' : 'refused',
        `HTTP ${status}${words ? ` ${words}` : ''}`,
      ),
    };
  }
}

function networkWhy(e: unknown, timeoutMs: number): string {
  if (isAxiosError(e)) {
    const code = e.code ?? '';
    if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_CANCELED')
      return `no answer within ${timeoutMs} ms`;
    if (code) return `cannot connect (${code})`;
    // axios messages name the URL at most, never the body
    return `cannot connect (${e.message})`;
  }
  return `cannot connect (${e instanceof Error ? e.message : String(e)})`;
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
