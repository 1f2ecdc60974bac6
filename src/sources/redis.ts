import net from 'node:net';
import tls from 'node:tls';
import { AppError, SourceError } from '../domain/errors.ts';
import type { Checkable, CheckResult } from '../domain/ports.ts';
import { sourceCall } from './http.ts';

/**
 * The service's Redis, read-only: INFO, SCAN with a bounded COUNT, TTL of sampled keys, CONFIG GET
 * (when allowed). Speaks RESP over node:net (or node:tls for rediss://) itself: one short connection
 * per operation, a deadline on the whole exchange, never KEYS *. Keys are binary (a Redis key is any
 * bytes): they stay Buffers from SCAN to TTL, and the TTLs of a sample are pipelined, one round trip
 * per TTL_PIPELINE_BATCH keys. The URL (redis://[user:pass@]host:port/db)
 * comes from the environment variable redis.url_env names.
 */

export interface RedisSourceOptions {
  readonly url: string;
  readonly timeoutMs: number;
  /** Source name in errors and call metrics; default "redis". */
  readonly name?: string;
}

/** Bulk strings are text by default; a connection reads them as Buffers (`bulk: 'buffer'`). */
export type RespValue = string | number | null | Buffer | RespValue[] | RespError;

/** TTL commands sent in one write before reading their answers. */
export const TTL_PIPELINE_BATCH = 1000;

export class RespError {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

/** One reply parsed from `buf` at `offset`, or undefined when the buffer does not hold all of it yet. */
export function parseReply(
  buf: Buffer,
  offset = 0,
  bulk: 'string' | 'buffer' = 'string',
): { value: RespValue; next: number } | undefined {
  if (offset >= buf.length) return undefined;
  const eol = buf.indexOf('\r\n', offset);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[offset] as number);
  const line = buf.toString('utf8', offset + 1, eol);
  const after = eol + 2;
  switch (type) {
    case '+':
      return { value: line, next: after };
    case '-':
      return { value: new RespError(line), next: after };
    case ':':
      return { value: Number(line), next: after };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, next: after };
      if (buf.length < after + len + 2) return undefined;
      const value =
        bulk === 'buffer'
          ? Buffer.from(buf.subarray(after, after + len))
          : buf.toString('utf8', after, after + len);
      return { value, next: after + len + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, next: after };
      const items: RespValue[] = [];
      let pos = after;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, pos, bulk);
        if (!r) return undefined;
        items.push(r.value);
        pos = r.next;
      }
      return { value: items, next: pos };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

const CRLF = Buffer.from('\r\n');

export function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const bytes = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

/** A key for the evidence: as text when it is UTF-8, else as redis-cli shows it ("\xff\xfe:a"). */
export function displayKey(key: Buffer): string {
  const text = key.toString('utf8');
  const control = key.some((b) => b < 0x20 || b === 0x7f);
  if (!control && Buffer.from(text, 'utf8').equals(key)) return text;
  let out = '';
  for (const b of key) {
    if (b === 0x22 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return `"${out}"`;
}

function asText(v: RespValue): string | undefined {
  return Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'string' ? v : undefined;
}

/** INFO's text as section -> key -> value ("keyspace_hits" -> "123"). Keys are unique across sections. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export interface TtlSample {
  /** Keys looked at (SCAN, bounded). */
  readonly sampled: number;
  /** Of those, keys with no expiry (TTL -1). */
  readonly noExpiry: number;
  /** Up to 5 of the keys with no expiry, for the evidence (displayKey: non-UTF-8 bytes escaped). */
  readonly examples: readonly string[];
  /** Keys in the database (DBSIZE). */
  readonly dbSize: number;
}

interface Connection {
  command(args: readonly (string | Buffer)[]): Promise<RespValue>;
  /** Sends all the commands in one write, then reads their answers, in order: one round trip. */
  pipeline(commands: readonly (readonly (string | Buffer)[])[]): Promise<RespValue[]>;
}

export class RedisSource implements Checkable {
  readonly name: string;
  /** host:port/db, never the password. */
  readonly target: string;
  readonly #url: URL;
  readonly #timeoutMs: number;

  constructor(options: RedisSourceOptions) {
    this.name = options.name ?? 'redis';
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new AppError('config', 'the Redis URL is not a valid URL (expected redis://host:6379/0)');
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      throw new AppError(
        'config',
        `the Redis URL must start with redis:// or rediss://, got ${url.protocol}//`,
      );
    }
    this.#url = url;
    this.#timeoutMs = options.timeoutMs;
    this.target = `${url.hostname || 'localhost'}:${url.port || '6379'}/${this.db()}`;
  }

  private db(): number {
    const n = Number(this.#url.pathname.replace(/^\//, '') || '0');
    return Number.isInteger(n) && n >= 0 ? n : 0;
  }

  /** INFO (all sections) as a flat map. */
  info(signal?: AbortSignal): Promise<Record<string, string>> {
    return this.session('INFO', signal, async (c) => {
      const reply = asText(await c.command(['INFO']));
      if (reply === undefined) throw new Error('INFO did not answer with text');
      return parseInfo(reply);
    });
  }

  /** CONFIG GET name; undefined when CONFIG is disabled or renamed (managed Redis often does that). */
  configGet(name: string, signal?: AbortSignal): Promise<string | undefined> {
    return this.session(`CONFIG GET ${name}`, signal, async (c) => {
      const reply = await c.command(['CONFIG', 'GET', name]);
      if (reply instanceof RespError || !Array.isArray(reply)) return undefined;
      return reply[1] === undefined ? undefined : asText(reply[1]);
    });
  }

  /**
   * Samples up to `limit` distinct keys with SCAN (COUNT bounded, at most 10 rounds) and reads their
   * TTLs pipelined, TTL_PIPELINE_BATCH per round trip. Keys stay bytes throughout.
   */
  sampleTtls(limit: number, signal?: AbortSignal): Promise<TtlSample> {
    return this.session('sample key TTLs', signal, async (c) => {
      const dbSize = Number(await c.command(['DBSIZE'])) || 0;
      const keys = new Map<string, Buffer>(); // by the key's bytes (latin1 is one char per byte)
      let cursor = '0';
      const count = Math.max(10, Math.min(1000, limit));
      for (let round = 0; round < 10 && keys.size < limit; round++) {
        const reply = await c.command(['SCAN', cursor, 'COUNT', String(count)]);
        const next = Array.isArray(reply) ? asText(reply[0] ?? null) : undefined;
        if (!Array.isArray(reply) || reply.length !== 2 || next === undefined || !Array.isArray(reply[1]))
          throw new Error('SCAN answered in an unexpected shape');
        cursor = next;
        for (const k of reply[1]) {
          if (Buffer.isBuffer(k) && keys.size < limit) keys.set(k.toString('latin1'), k);
        }
        if (cursor === '0') break;
      }
      const sampled = [...keys.values()];
      const noExpiry: Buffer[] = [];
      for (let i = 0; i < sampled.length; i += TTL_PIPELINE_BATCH) {
        const batch = sampled.slice(i, i + TTL_PIPELINE_BATCH);
        const ttls = await c.pipeline(batch.map((key) => ['TTL', key]));
        ttls.forEach((ttl, j) => {
          if (ttl === -1) noExpiry.push(batch[j] as Buffer);
        });
      }
      return {
        sampled: sampled.length,
        noExpiry: noExpiry.length,
        examples: noExpiry.slice(0, 5).map(displayKey),
        dbSize,
      };
    });
  }

  async check(signal?: AbortSignal): Promise<CheckResult[]> {
    const started = performance.now();
    try {
      const info = await this.info(signal);
      return [
        {
          name: 'redis',
          ok: true,
          detail: `${this.target}: Redis ${info.redis_version ?? '?'}, answered in ${Math.round(performance.now() - started)} ms`,
        },
      ];
    } catch (e) {
      return [
        {
          name: 'redis',
          ok: false,
          detail: e instanceof Error ? e.message : String(e),
          hint: 'check the URL in the environment variable redis.url_env names and that Redis is reachable from the bot',
        },
      ];
    }
  }

  /** Connect, authenticate, select the database, run fn, QUIT; the whole exchange within the timeout. */
  private session<T>(operation: string, signal: AbortSignal | undefined, fn: (c: Connection) => Promise<T>) {
    return sourceCall(this.name, operation, () => this.exchange(operation, signal, fn));
  }

  private exchange<T>(
    operation: string,
    signal: AbortSignal | undefined,
    fn: (c: Connection) => Promise<T>,
  ): Promise<T> {
    const url = this.#url;
    const host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
    const port = Number(url.port || '6379');
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let buffer: Buffer = Buffer.alloc(0);
      const waiting: { resolve: (v: RespValue) => void; reject: (e: Error) => void }[] = [];
      const socket =
        url.protocol === 'rediss:'
          ? tls.connect({ host, port, servername: host })
          : net.connect({ host, port });
      const fail = (reason: SourceError['reason'], detail: string, cause?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        const err = new SourceError(this.name, operation, reason, detail, { cause });
        for (const w of waiting.splice(0)) w.reject(err);
        reject(err);
      };
      const timer = setTimeout(
        () => fail('timeout', `no answer from ${this.target} within ${this.#timeoutMs} ms`),
        this.#timeoutMs,
      );
      const onAbort = () => fail('timeout', 'cancelled');
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.on('error', (e: NodeJS.ErrnoException) =>
        fail('unreachable', `cannot connect to ${this.target} (${e.code ?? e.message})`, e),
      );
      socket.on('close', () => fail('unreachable', `${this.target} closed the connection`));
      socket.on('data', (chunk: Buffer) => {
        buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
        for (;;) {
          let r: ReturnType<typeof parseReply>;
          try {
            r = parseReply(buffer, 0, 'buffer');
          } catch (e) {
            fail('malformed', `not a Redis answer: ${(e as Error).message}`, e);
            return;
          }
          if (!r) return;
          buffer = buffer.subarray(r.next);
          waiting.shift()?.resolve(r.value);
        }
      });
      const send = (commands: readonly (readonly (string | Buffer)[])[]) => {
        const replies = commands.map(
          () => new Promise<RespValue>((res, rej) => waiting.push({ resolve: res, reject: rej })),
        );
        socket.write(Buffer.concat(commands.map(encodeCommand)));
        return replies;
      };
      const command = (args: readonly (string | Buffer)[]) => send([args])[0] as Promise<RespValue>;
      const checked = async (args: readonly string[], what: string): Promise<RespValue> => {
        const reply = await command(args);
        if (reply instanceof RespError) {
          const auth = /NOAUTH|WRONGPASS|NOPERM|invalid password/i.test(reply.message);
          throw new SourceError(this.name, operation, auth ? 'auth' : 'refused', `${what}: ${reply.message}`);
        }
        return reply;
      };
      const run = async () => {
        const user = decodeURIComponent(url.username);
        const password = decodeURIComponent(url.password);
        if (password) await checked(user ? ['AUTH', user, password] : ['AUTH', password], 'AUTH');
        if (this.db() !== 0) await checked(['SELECT', String(this.db())], 'SELECT');
        const authChecked = (args: readonly (string | Buffer)[], reply: RespValue): RespValue => {
          if (reply instanceof RespError && /NOAUTH|NOPERM/i.test(reply.message)) {
            throw new SourceError(this.name, operation, 'auth', `${String(args[0])}: ${reply.message}`);
          }
          return reply;
        };
        const conn: Connection = {
          command: async (args) => authChecked(args, await command(args)),
          pipeline: async (commands) => {
            const replies = await Promise.all(send(commands));
            return replies.map((r, i) => authChecked(commands[i] ?? [], r));
          },
        };
        return fn(conn);
      };
      run().then(
        (value) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          socket.end(encodeCommand(['QUIT']));
          resolve(value);
        },
        (e: unknown) => {
          if (e instanceof SourceError) {
            if (!settled) {
              fail(e.reason, e.message.replace(/^.*? failed: /, ''), e);
            }
            return;
          }
          fail('malformed', e instanceof Error ? e.message : String(e), e);
        },
      );
    });
  }
}
