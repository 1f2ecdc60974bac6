import axios, { type AxiosInstance, type AxiosRequestConfig, isAxiosError } from 'axios';
import { SourceError, type SourceFailure } from '../domain/errors.ts';
import { scrubSecrets } from '../lib/secrets.ts';

/** Told of every source call (ops/metrics.ts records them); main.ts registers the observer. */
export type SourceCallObserver = (call: {
  source: string;
  operation: string;
  outcome: 'ok' | SourceFailure;
  seconds: number;
}) => void;

const observers: SourceCallObserver[] = [];
export function observeSourceCalls(observer: SourceCallObserver): () => void {
  observers.push(observer);
  return () => {
    const i = observers.indexOf(observer);
    if (i >= 0) observers.splice(i, 1);
  };
}

/** Times a source call, tells the observers, and turns any failure into a SourceError. */
export async function sourceCall<T>(source: string, operation: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  let outcome: 'ok' | SourceFailure = 'ok';
  try {
    return await fn();
  } catch (e) {
    const err = e instanceof SourceError ? e : toSourceError(source, operation, e);
    outcome = err.reason;
    throw err;
  } finally {
    const seconds = (performance.now() - started) / 1000;
    for (const o of observers) o({ source, operation, outcome, seconds });
  }
}

export interface HttpCall {
  readonly source: string;
  readonly operation: string;
  readonly timeoutMs: number;
  /** Refuse (not buffer) a response larger than this. */
  readonly maxBytes?: number;
  readonly signal?: AbortSignal;
  /** Summarises an error answer's body (status 400 or more) for the SourceError's detail. */
  readonly describeError?: (status: number, data: unknown) => string;
}

/** An axios instance that never throws on status (we map statuses ourselves) and never follows to other hosts. */
export function createHttpClient(baseURL: string, headers: Record<string, string> = {}): AxiosInstance {
  return axios.create({ baseURL, headers, validateStatus: () => true, maxRedirects: 0, proxy: false });
}

/**
 * GET with a hard deadline (connect + response), a size limit, and errors that say what happened:
 * unreachable, timeout, HTTP status, too large, or a body that is not what was asked for.
 */
export async function httpGet<T>(
  client: AxiosInstance,
  url: string,
  call: HttpCall,
  config: AxiosRequestConfig = {},
): Promise<{ status: number; data: T; headers: Record<string, unknown> }> {
  return httpRequest<T>(client, { ...config, method: 'GET', url }, call);
}

/**
 * Any method (GET, POST, DELETE…), with httpGet's deadline, size limit and errors. A status of 400
 * or more is a SourceError whose detail is `call.describeError`'s summary of the body when given,
 * else errorSummary's; either way secret-looking text is scrubbed, and the body is never copied.
 */
export async function httpRequest<T>(
  client: AxiosInstance,
  request: AxiosRequestConfig & { method: string; url: string },
  call: HttpCall,
): Promise<{ status: number; data: T; headers: Record<string, unknown> }> {
  return sourceCall(call.source, call.operation, async () => {
    const timeout = AbortSignal.timeout(call.timeoutMs);
    const signal = call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
    try {
      const res = await client.request<T>({
        ...request,
        signal,
        timeout: call.timeoutMs,
        maxContentLength: call.maxBytes ?? 16 * 2 ** 20,
        maxBodyLength: call.maxBytes ?? 16 * 2 ** 20,
      });
      if (res.status >= 400) {
        const reason: SourceFailure = res.status === 401 || res.status === 403 ? 'auth' : 'http_error';
        const said = call.describeError ? call.describeError(res.status, res.data) : errorSummary(res.data);
        const detail = `HTTP ${res.status}${said ? `: ${scrubSecrets(said)}` : ''}`;
        throw new SourceError(call.source, call.operation, reason, detail);
      }
      return { status: res.status, data: res.data, headers: res.headers as Record<string, unknown> };
    } catch (e) {
      if (e instanceof SourceError) throw e;
      if (timeout.aborted && !call.signal?.aborted) {
        throw new SourceError(
          call.source,
          call.operation,
          'timeout',
          `no answer within ${call.timeoutMs} ms`,
          { cause: e },
        );
      }
      throw toSourceError(call.source, call.operation, e, call.maxBytes);
    }
  });
}

/** Longest piece of an upstream's own words kept in a summary. */
const FIELD_MAX = 160;

/**
 * What an outside system's error answer said, summarised, never copied: the upstream's short code
 * and message fields when the body is JSON (Prometheus errorType/error, Kubernetes reason/message,
 * PagerDuty status/message/errors, Slack error, OAuth error_description), else the first line of a
 * plain-text body; each cut short, with the given secret values and anything secret-looking
 * replaced by ***. Empty when there is nothing worth saying.
 */
export function errorSummary(body: unknown, secrets: readonly string[] = []): string {
  let data = body;
  if (Buffer.isBuffer(data)) data = data.toString('utf8');
  if (typeof data === 'string') {
    const text = data.trim();
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
    // not JSON, or JSON holding just a string: its first line, unless it is markup (an HTML page)
    if (typeof data !== 'object' || data === null) {
      const words = typeof data === 'string' ? data.trim() : text;
      const first = words.split(/\r?\n/, 1)[0] ?? '';
      return first.startsWith('<') ? '' : scrub(first, secrets);
    }
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) return '';
  const o = data as Record<string, unknown>;
  const word = (k: string) => (typeof o[k] === 'string' && o[k] ? (o[k] as string) : undefined);
  const code = word('errorType') ?? word('reason') ?? word('code') ?? word('status');
  const message = word('message') ?? word('error_description') ?? word('error') ?? word('detail');
  const errors = Array.isArray(o.errors) ? o.errors.filter((x) => typeof x === 'string').slice(0, 3) : [];
  const parts = [code, message, ...errors].filter((x): x is string => typeof x === 'string' && x !== '');
  return [...new Set(parts)].map((p) => scrub(p, secrets)).join(': ');
}

function scrub(text: string, secrets: readonly string[]): string {
  let out = text.replace(/\s+/g, ' ').trim();
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('***');
  out = scrubSecrets(out);
  return out.length <= FIELD_MAX ? out : `${out.slice(0, FIELD_MAX - 1)}…`;
}

export function toSourceError(source: string, operation: string, e: unknown, maxBytes?: number): SourceError {
  if (e instanceof SourceError) return e;
  if (isAxiosError(e)) {
    const code = e.code ?? '';
    if (e.message.includes('maxContentLength')) {
      return new SourceError(
        source,
        operation,
        'too_large',
        `response larger than ${maxBytes ?? 'the limit'} bytes; refused`,
        { cause: e },
      );
    }
    if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_CANCELED') {
      return new SourceError(source, operation, 'timeout', 'no answer in time', { cause: e });
    }
    if (
      ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code)
    ) {
      return new SourceError(source, operation, 'unreachable', `cannot connect (${code})`, { cause: e });
    }
    return new SourceError(source, operation, 'unreachable', e.message, { cause: e });
  }
  if (e instanceof SyntaxError)
    return new SourceError(source, operation, 'malformed', `answer is not valid JSON: ${e.message}`, {
      cause: e,
    });
  const msg = e instanceof Error ? e.message : String(e);
  return new SourceError(source, operation, 'unreachable', msg, { cause: e });
}
