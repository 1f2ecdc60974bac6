import { randomBytes } from 'node:crypto';
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';
import { scrubSecrets } from '../lib/secrets.ts';

export type { Logger } from 'pino';
export { scrubSecrets } from '../lib/secrets.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface CreateLoggerOptions {
  readonly level?: LogLevel | string;
  /** Where JSON lines go; stdout when omitted. Tests pass a stream that collects lines. */
  readonly destination?: { write(line: string): unknown };
  /** Fields on every line, e.g. { service: 'aegis-bot' }. */
  readonly base?: Record<string, unknown>;
}

/** Field names whose values are secrets wherever they appear (compared case-insensitively, `-` = `_`). */
const SECRET_KEY =
  /(^|_)(token|secret|password|passwd|authorization|routing_key|api_key|apikey|private_key|cookie|signing_secret|client_secret|access_key)$/i;

/**
 * pino redact paths: the fast path for the usual places a secret sits. Deeper or unusually nested
 * secrets are caught by the scrub that every line also goes through (formatters below).
 */
export const REDACT_PATHS: readonly string[] = [
  'token',
  'secret',
  'password',
  'authorization',
  'routing_key',
  'routingKey',
  '*.token',
  '*.secret',
  '*.password',
  '*.authorization',
  '*.routing_key',
  '*.routingKey',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  'req.headers.authorization',
  'config.headers.Authorization',
];

export const REDACTED = '[redacted]';

function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key.replace(/-/g, '_').replace(/([a-z])([A-Z])/g, '$1_$2'));
}

/**
 * A copy of a value that is safe to log: secret-named fields replaced, strings scrubbed, errors turned
 * into plain objects (type, message, stack, code, cause, own fields), cycles cut.
 */
export function scrubValue(value: unknown, seen: WeakSet<object> = new WeakSet(), depth = 0): unknown {
  if (typeof value === 'string') return scrubSecrets(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 12) return '[too deep]';
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (value instanceof Error) return scrubValue(serializeError(value), seen, depth + 1);
  if (value instanceof Date) return value.toISOString();
  if (value instanceof URL) return scrubSecrets(value.href);
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, seen, depth + 1));
  if (value instanceof Map) return scrubValue(Object.fromEntries(value), seen, depth + 1);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      isSecretKey(k) && v !== undefined && v !== null && v !== '' ? REDACTED : scrubValue(v, seen, depth + 1);
  }
  return out;
}

function serializeError(e: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { type: e.name || e.constructor?.name || 'Error', message: e.message };
  if (e.stack) out.stack = e.stack;
  for (const [k, v] of Object.entries(e)) {
    // axios errors carry the whole request config (headers included) and the socket: keep the gist only
    if (k === 'config' || k === 'request' || k === 'response') continue;
    out[k] = v;
  }
  const res = (e as { response?: { status?: unknown } }).response;
  if (res && typeof res === 'object' && 'status' in res) out.status = res.status;
  if (e.cause !== undefined) out.cause = e.cause;
  if (e instanceof AggregateError) out.errors = e.errors;
  return out;
}

/**
 * The bot's logger: JSON lines (pino), secrets redacted by field name (pino redact paths and a deep
 * scrub) and by shape (Slack tokens, URL passwords, bearer tokens) in messages, fields and errors.
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? 'info',
    base: { name: 'aegis-bot', ...options.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    formatters: {
      level: (label) => ({ level: label }),
      log: (obj) => scrubValue(obj) as Record<string, unknown>,
      bindings: (bindings) => scrubValue(bindings) as Record<string, unknown>,
    },
    // formatters.log has already turned errors into scrubbed plain objects
    serializers: { err: (e: unknown) => e },
    hooks: {
      logMethod(args, method) {
        return method.apply(this, safeArguments(args) as Parameters<typeof method>);
      },
    },
  };
  const logger = pino(opts, (options.destination ?? stdoutDestination()) as DestinationStream);
  // pino applies the bindings formatter to the root only; children (which inherit this) scrub theirs here
  const child = logger.child;
  logger.child = function scrubbedChild(this: Logger, bindings, childOptions) {
    return child.call(this, scrubValue(bindings) as typeof bindings, childOptions);
  } as typeof logger.child;
  return logger;
}

/**
 * stdout, written as lines, that survives its reader going away. pino's own default (an asynchronous
 * SonicBoom) flushes synchronously at exit and, on EPIPE, retries forever inside process.exit: the
 * process then hangs and no signal can end it. Here a write error (EPIPE: the pipe's reader closed)
 * stops logging and nothing else; there is nothing buffered to flush at exit.
 */
function stdoutDestination(): { write(line: string): void } {
  let open = true;
  process.stdout.on('error', () => {
    open = false;
  });
  return {
    write(line) {
      if (!open || process.stdout.destroyed || !process.stdout.writable) return;
      try {
        process.stdout.write(line);
      } catch {
        open = false;
      }
    },
  };
}

/**
 * pino takes the message of `log.error(err)` or `log.error({ err })` from the error itself, before any
 * formatter runs: give it the scrubbed message instead. Strings (message, printf arguments) are scrubbed.
 */
function safeArguments(args: readonly unknown[]): unknown[] {
  const [first, ...rest] = args;
  let head: unknown = first;
  let tail: unknown[] = rest;
  if (first instanceof Error) head = { err: first };
  const err = head && typeof head === 'object' ? (head as { err?: unknown }).err : undefined;
  if (err instanceof Error && (tail.length === 0 || typeof tail[0] !== 'string')) {
    tail = [err.message, ...tail];
  }
  return [
    typeof head === 'string' ? scrubSecrets(head) : head,
    ...tail.map((a) => (typeof a === 'string' ? scrubSecrets(a) : scrubValue(a))),
  ];
}

/** A short reference shown to the user for an internal error and logged with its cause. */
export function newErrorRef(): string {
  return randomBytes(4).toString('hex');
}
