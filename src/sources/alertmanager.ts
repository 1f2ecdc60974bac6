import type { AxiosInstance } from 'axios';
import { z } from 'zod';
import { AppError, SourceError } from '../domain/errors.ts';
import type { Checkable, CheckResult } from '../domain/ports.ts';
import { cut } from '../domain/proposals.ts';
import { createHttpClient, type HttpCall, httpRequest } from './http.ts';

/**
 * Alertmanager over its API v2 (https://github.com/prometheus/alertmanager/blob/main/api/v2/openapi.yaml):
 * create, list, read and expire silences, and the server's status for `aegis doctor`.
 *
 * Every call has its own deadline. Answers are validated; an error answer becomes a SourceError whose
 * detail is a one-line summary of Alertmanager's message (control characters removed, cut short),
 * never the body as it came. Credentials go into the Authorization header and nowhere else.
 */

/** One silence matcher, as API v2 has it: `isEqual: false` is `!=` (or `!~` with `isRegex`). */
export interface SilenceMatcher {
  readonly name: string;
  readonly value: string;
  readonly isRegex: boolean;
  readonly isEqual: boolean;
}

export interface NewSilence {
  readonly matchers: readonly SilenceMatcher[];
  readonly startsAt: Date;
  readonly endsAt: Date;
  readonly createdBy: string;
  readonly comment: string;
}

export type SilenceState = 'active' | 'pending' | 'expired';

export interface Silence extends NewSilence {
  readonly id: string;
  readonly state: SilenceState;
  readonly updatedAt: Date;
}

export interface AlertmanagerStatus {
  readonly version: string;
  /** "ready", "settling" or "disabled" (no clustering). */
  readonly cluster: string;
  readonly peers: number;
  readonly uptime: Date;
}

export type AlertmanagerAuth =
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'basic'; readonly username: string; readonly password: string };

/** Names of the environment variables holding the credentials (the config names them). */
export interface AlertmanagerAuthEnv {
  readonly bearer_token_env?: string | undefined;
  readonly basic_auth?: { readonly username_env: string; readonly password_env: string } | undefined;
}

export interface AlertmanagerSourceOptions {
  /** Base URL, e.g. http://alertmanager:9093 (a path prefix such as /alertmanager is kept). */
  readonly url: string;
  readonly timeoutMs: number;
  readonly auth?: AlertmanagerAuth | undefined;
  /** Source name in errors and call metrics; default "alertmanager". */
  readonly name?: string;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

/** Reads the credentials the config points at; a named variable that is unset is a config error. */
export function alertmanagerAuthFromEnv(
  names: AlertmanagerAuthEnv,
  env: Readonly<Record<string, string | undefined>>,
): AlertmanagerAuth | undefined {
  const read = (name: string, what: string): string => {
    const value = env[name];
    if (!value) {
      throw new AppError(
        'config',
        `environment variable ${name} is not set: it holds the Alertmanager ${what}`,
      );
    }
    return value;
  };
  if (names.bearer_token_env && names.basic_auth) {
    throw new AppError('config', 'Alertmanager auth: give either a bearer token or basic auth, not both');
  }
  if (names.bearer_token_env) return { kind: 'bearer', token: read(names.bearer_token_env, 'bearer token') };
  if (names.basic_auth) {
    return {
      kind: 'basic',
      username: read(names.basic_auth.username_env, 'basic-auth user name'),
      password: read(names.basic_auth.password_env, 'basic-auth password'),
    };
  }
  return undefined;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SILENCE_ID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const MAX_TEXT = 1024;

const matcherSchema = z.object({
  name: z.string(),
  value: z.string(),
  isRegex: z.boolean(),
  // absent in answers of Alertmanager before 0.22: equality
  isEqual: z.boolean().default(true),
});
const isoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
const silenceSchema = z.object({
  id: z.string().min(1),
  status: z.object({ state: z.enum(['active', 'pending', 'expired']) }),
  updatedAt: isoDate,
  matchers: z.array(matcherSchema),
  startsAt: isoDate,
  endsAt: isoDate,
  createdBy: z.string(),
  comment: z.string(),
});
const statusSchema = z.object({
  versionInfo: z.object({ version: z.string() }),
  cluster: z.object({ status: z.string(), peers: z.array(z.unknown()).nullish() }),
  uptime: isoDate,
});

export class AlertmanagerSource implements Checkable {
  readonly name: string;
  readonly url: string;
  private readonly timeoutMs: number;
  private readonly client: AxiosInstance;

  constructor(options: AlertmanagerSourceOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs;
    this.name = options.name ?? 'alertmanager';
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.auth?.kind === 'bearer') headers.authorization = `Bearer ${options.auth.token}`;
    if (options.auth?.kind === 'basic') {
      const pair = `${options.auth.username}:${options.auth.password}`;
      headers.authorization = `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
    }
    this.client = createHttpClient(this.url, headers);
  }

  /** POST /api/v2/silences; returns the new silence's ID. Bad input is refused before any request. */
  async createSilence(silence: NewSilence, options: CallOptions = {}): Promise<string> {
    checkNewSilence(silence);
    const body = {
      matchers: silence.matchers.map((m) => ({
        name: m.name,
        value: m.value,
        isRegex: m.isRegex,
        isEqual: m.isEqual,
      })),
      startsAt: silence.startsAt.toISOString(),
      endsAt: silence.endsAt.toISOString(),
      createdBy: silence.createdBy,
      comment: silence.comment,
    };
    const { data } = await httpRequest<unknown>(
      this.client,
      {
        method: 'POST',
        url: '/api/v2/silences',
        data: body,
        headers: { 'content-type': 'application/json' },
      },
      this.call('create silence', options),
    );
    const parsed = z.object({ silenceID: z.string().regex(SILENCE_ID) }).safeParse(data);
    if (!parsed.success) throw this.malformed('create silence', 'no silenceID in the answer');
    return parsed.data.silenceID;
  }

  /**
   * DELETE /api/v2/silence/{id}: the silence ends now (state "expired"). Expiring an expired silence
   * is accepted; an unknown ID is a SourceError saying so.
   */
  async expireSilence(id: string, options: CallOptions = {}): Promise<void> {
    await httpRequest<unknown>(
      this.client,
      { method: 'DELETE', url: `/api/v2/silence/${silenceIdPath(id)}` },
      this.call('expire silence', options),
    );
  }

  /** GET /api/v2/silence/{id}; undefined when Alertmanager does not know it. */
  async getSilence(id: string, options: CallOptions = {}): Promise<Silence | undefined> {
    try {
      const { data } = await httpRequest<unknown>(
        this.client,
        { method: 'GET', url: `/api/v2/silence/${silenceIdPath(id)}` },
        this.call('read silence', options),
      );
      return this.parseSilence(data, 'read silence');
    } catch (e) {
      if (e instanceof SourceError && e.reason === 'http_error' && / HTTP 404\b/.test(e.message)) {
        return undefined;
      }
      throw e;
    }
  }

  /** GET /api/v2/silences: every silence Alertmanager holds, expired ones included (it keeps them a while). */
  async listSilences(options: CallOptions = {}): Promise<Silence[]> {
    const { data } = await httpRequest<unknown>(
      this.client,
      { method: 'GET', url: '/api/v2/silences' },
      this.call('list silences', options),
    );
    if (!Array.isArray(data)) throw this.malformed('list silences', 'the answer is not a list');
    return data.map((s) => this.parseSilence(s, 'list silences'));
  }

  /** GET /api/v2/status: version, cluster state, uptime (never the config, which may hold secrets). */
  async status(options: CallOptions = {}): Promise<AlertmanagerStatus> {
    const { data } = await httpRequest<unknown>(
      this.client,
      { method: 'GET', url: '/api/v2/status' },
      this.call('read status', options),
    );
    const parsed = statusSchema.safeParse(data);
    if (!parsed.success) throw this.malformed('read status', 'no version, cluster or uptime in the answer');
    return {
      version: parsed.data.versionInfo.version,
      cluster: parsed.data.cluster.status,
      peers: parsed.data.cluster.peers?.length ?? 0,
      uptime: parsed.data.uptime,
    };
  }

  async check(signal?: AbortSignal): Promise<CheckResult[]> {
    const started = performance.now();
    try {
      const s = await this.status(signal ? { signal } : {});
      const cluster = s.cluster === 'disabled' ? 'no cluster' : `cluster ${s.cluster}, ${s.peers} peers`;
      return [
        {
          name: this.name,
          ok: true,
          detail: `${this.url}: Alertmanager ${s.version}, ${cluster}, answered in ${Math.round(performance.now() - started)} ms`,
        },
      ];
    } catch (e) {
      const auth = e instanceof SourceError && e.reason === 'auth';
      return [
        {
          name: this.name,
          ok: false,
          detail: e instanceof Error ? e.message : String(e),
          hint: auth
            ? 'check the Alertmanager credentials (the environment variables the config names)'
            : `check the Alertmanager URL (${this.url}) and that Alertmanager is reachable from the bot`,
        },
      ];
    }
  }

  private parseSilence(data: unknown, operation: string): Silence {
    const parsed = silenceSchema.safeParse(data);
    if (!parsed.success) {
      const where = parsed.error.issues[0]?.path.join('.') || 'the answer';
      throw this.malformed(operation, `a silence is not what API v2 describes (at ${where})`);
    }
    const s = parsed.data;
    return {
      id: s.id,
      state: s.status.state,
      updatedAt: s.updatedAt,
      matchers: s.matchers,
      startsAt: s.startsAt,
      endsAt: s.endsAt,
      createdBy: s.createdBy,
      comment: s.comment,
    };
  }

  private malformed(operation: string, detail: string): SourceError {
    return new SourceError(this.name, operation, 'malformed', detail);
  }

  private call(operation: string, options: CallOptions): HttpCall {
    return {
      source: this.name,
      operation,
      timeoutMs: options.timeoutMs ?? this.timeoutMs,
      maxBytes: 8 * 2 ** 20,
      describeError: summarizeAlertmanagerError,
      ...(options.signal ? { signal: options.signal } : {}),
    };
  }
}

function silenceIdPath(id: string): string {
  if (!SILENCE_ID.test(id)) throw new AppError('usage', 'that is not an Alertmanager silence ID');
  return id;
}

function checkNewSilence(s: NewSilence): void {
  if (s.matchers.length === 0) throw new AppError('usage', 'a silence needs at least one matcher');
  for (const m of s.matchers) {
    if (!LABEL_NAME.test(m.name)) {
      throw new AppError('usage', `"${oneLine(m.name, 100)}" is not a label name a silence can match`);
    }
  }
  if (!(s.startsAt instanceof Date) || Number.isNaN(s.startsAt.getTime())) {
    throw new AppError('usage', 'the silence has no valid start time');
  }
  if (!(s.endsAt instanceof Date) || Number.isNaN(s.endsAt.getTime())) {
    throw new AppError('usage', 'the silence has no valid end time');
  }
  if (s.endsAt.getTime() <= s.startsAt.getTime()) {
    throw new AppError('usage', 'a silence must end after it starts');
  }
  if (!s.createdBy.trim()) throw new AppError('usage', 'a silence needs createdBy');
  if (s.createdBy.length > MAX_TEXT || s.comment.length > MAX_TEXT) {
    throw new AppError('usage', `createdBy and comment are limited to ${MAX_TEXT} characters`);
  }
}

/**
 * Alertmanager answers errors as a JSON string ("silence invalid: …") or as go-swagger's
 * {code, message}. The summary is that message on one line, control characters removed, at most
 * 200 characters; anything else is summarised by its type and size.
 */
export function summarizeAlertmanagerError(_status: number, data: unknown): string {
  let text: string | undefined;
  if (typeof data === 'string') {
    text = data;
    try {
      const inner: unknown = JSON.parse(data);
      if (typeof inner === 'string') text = inner;
    } catch {
      // a plain-text body
    }
  } else if (
    data &&
    typeof data === 'object' &&
    typeof (data as { message?: unknown }).message === 'string'
  ) {
    text = (data as { message: string }).message;
  }
  if (text === undefined || !text.trim()) return 'no message in the answer';
  if (/^\s*</.test(text)) return `an HTML page (${text.length} characters), not an Alertmanager answer`;
  return oneLine(text, 200);
}

function oneLine(text: string, max: number): string {
  let flat = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    // C0 and C1 control characters (line breaks, escapes, bells) become spaces
    flat += code < 0x20 || (code >= 0x7f && code <= 0x9f) ? ' ' : ch;
  }
  return cut(flat.replace(/\s+/g, ' ').trim(), max);
}
