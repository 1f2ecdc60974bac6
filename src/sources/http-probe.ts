import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { AppError, SourceError } from '../domain/errors.ts';
import { sourceCall } from './http.ts';

export interface ApiProbeFacts {
  readonly url: string;
  readonly status: number;
  /** Content-Encoding of the answer to a request with Accept-Encoding: gzip. */
  readonly contentEncoding?: string;
  readonly connectionHeader?: string;
  /** The second request went over the first one's connection. */
  readonly reusedConnection: boolean;
  /** Rate-limit headers the answer carried (RateLimit-*, X-RateLimit-*, Retry-After). */
  readonly rateLimitHeaders: Readonly<Record<string, string>>;
}

export interface SlowClientFacts {
  readonly windowMs: number;
  /** When the server ended a request whose headers never finished; undefined: still open after the window. */
  readonly closedAfterMs?: number;
}

/**
 * Probes of a service's HTTP API from outside, for the runbook's Optimization Checklist (API layer):
 *
 * - compression and keep-alive: two GETs of one path over a keep-alive agent with one socket, with
 *   Accept-Encoding: gzip; reads Content-Encoding, Connection and rate-limit headers, and whether the
 *   second request reused the first one's connection. Bodies are read up to a limit and discarded.
 * - request timeouts: a request whose headers never finish (a slow client); the server passes when it
 *   ends the connection within the window (Go's http.Server ReadHeaderTimeout does).
 *
 * Nothing is sent but GET; no credentials; the URL comes from configuration (services[].api.url).
 */

export interface HttpProbeOptions {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly name?: string;
}

const RATE_LIMIT_HEADER = /^(x-)?rate-?limit|^retry-after$/i;
const MAX_BODY = 1 << 20;

export class HttpProbe {
  readonly name: string;
  readonly #base: URL;
  readonly #timeoutMs: number;

  constructor(options: HttpProbeOptions) {
    this.name = options.name ?? 'api';
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new AppError('config', `the API URL ${options.baseUrl} is not a valid URL`);
    }
    this.#base = url;
    this.#timeoutMs = options.timeoutMs;
  }

  /** GET `path` twice over one keep-alive connection with Accept-Encoding: gzip. */
  probe(path: string, signal?: AbortSignal): Promise<ApiProbeFacts> {
    const url = new URL(path, this.#base);
    return sourceCall(this.name, `GET ${url.pathname}`, async () => {
      const mod = url.protocol === 'https:' ? https : http;
      const agent = new mod.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const first = await this.get(mod, agent, url, signal);
        const second = await this.get(mod, agent, url, signal);
        const rateLimitHeaders: Record<string, string> = {};
        for (const [k, v] of Object.entries(first.headers)) {
          if (RATE_LIMIT_HEADER.test(k) && v !== undefined) rateLimitHeaders[k] = String(v);
        }
        return {
          url: url.toString(),
          status: first.status,
          ...(first.headers['content-encoding']
            ? { contentEncoding: String(first.headers['content-encoding']) }
            : {}),
          ...(first.headers.connection ? { connectionHeader: String(first.headers.connection) } : {}),
          reusedConnection: second.reused,
          rateLimitHeaders,
        };
      } finally {
        agent.destroy();
      }
    });
  }

  private get(
    mod: typeof http | typeof https,
    agent: http.Agent,
    url: URL,
    signal?: AbortSignal,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; reused: boolean }> {
    const operation = `GET ${url.pathname}`;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, {
        method: 'GET',
        agent,
        headers: { 'accept-encoding': 'gzip', 'user-agent': 'aegis-bot checklist' },
        timeout: this.#timeoutMs,
        ...(signal ? { signal } : {}),
      });
      req.on('timeout', () => {
        req.destroy(
          new SourceError(this.name, operation, 'timeout', `no answer within ${this.#timeoutMs} ms`),
        );
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        reject(
          e instanceof SourceError
            ? e
            : new SourceError(
                this.name,
                operation,
                'unreachable',
                `cannot reach ${url.host} (${e.code ?? e.message})`,
                {
                  cause: e,
                },
              ),
        );
      });
      req.on('response', (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > MAX_BODY) res.destroy();
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, reused: req.reusedSocket }),
        );
        res.on('close', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, reused: req.reusedSocket }),
        );
      });
      req.end();
    });
  }

  /**
   * Opens a connection, sends a request line and one header but never the blank line that ends the
   * headers, and waits up to windowMs for the server to end it.
   */
  slowClient(windowMs: number, signal?: AbortSignal): Promise<SlowClientFacts> {
    const url = this.#base;
    return sourceCall(this.name, 'slow-client probe', () => {
      return new Promise<SlowClientFacts>((resolve, reject) => {
        const host = url.hostname.replace(/^\[|\]$/g, '');
        const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
        let done = false;
        let connected = false;
        const socket =
          url.protocol === 'https:'
            ? tls.connect({ host, port, servername: host })
            : net.connect({ host, port });
        const finish = (r: SlowClientFacts | Error) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          socket.destroy();
          if (r instanceof Error) reject(r);
          else resolve(r);
        };
        const timer = setTimeout(
          () =>
            finish(
              new SourceError(
                this.name,
                'slow-client probe',
                'timeout',
                `no connection within ${this.#timeoutMs} ms`,
              ),
            ),
          this.#timeoutMs,
        );
        const onAbort = () => finish(new SourceError(this.name, 'slow-client probe', 'timeout', 'cancelled'));
        signal?.addEventListener('abort', onAbort, { once: true });
        socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
          connected = true;
          clearTimeout(timer);
          const t0 = performance.now();
          socket.write(
            `GET ${url.pathname || '/'} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: aegis-bot checklist\r\n`,
          );
          const windowTimer = setTimeout(() => finish({ windowMs }), windowMs);
          const ended = () => {
            clearTimeout(windowTimer);
            finish({ windowMs, closedAfterMs: Math.round(performance.now() - t0) });
          };
          socket.once('data', ended);
          socket.once('end', ended);
          socket.once('close', ended);
        });
        socket.on('error', (e: NodeJS.ErrnoException) => {
          if (connected) return; // a reset after connecting is the server ending it: 'close' follows
          finish(
            new SourceError(
              this.name,
              'slow-client probe',
              'unreachable',
              `cannot connect to ${url.host} (${e.code ?? e.message})`,
              {
                cause: e,
              },
            ),
          );
        });
      });
    });
  }
}
