import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceConfig } from '../../src/config/schema.ts';
import { SourceError } from '../../src/domain/errors.ts';
import { busiestPodByCpu, CaptureRegistry, PprofSource } from '../../src/sources/pprof.ts';
import { profilingConfig } from '../steps/profiling/support.ts';

interface Server {
  url: string;
  requests: { url: string; headers: http.IncomingHttpHeaders }[];
  /** Bytes the server managed to write to the socket before the client went away, per request. */
  written: number[];
  close(): Promise<void>;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, written: (n: number) => void) => void,
): Promise<Server> {
  const requests: Server['requests'] = [];
  const written: number[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    const i = written.push(0) - 1;
    handler(req, res, (n) => {
      written[i] = (written[i] as number) + n;
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const s: Server = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    written,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  servers.push(s);
  return s;
}

function service(baseUrl: string, limits: { maxBytes?: number; timeout?: string } = {}): ServiceConfig {
  return profilingConfig({ mode: 'url', baseUrl }, limits).services[0] as ServiceConfig;
}

async function sourceError(p: Promise<unknown>): Promise<SourceError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SourceError) return e;
    throw e;
  }
  throw new Error('no error');
}

const PROFILE = gzipSync(Buffer.from('not really a profile, but gzipped'));

describe('the pprof source', () => {
  it('fetches a CPU profile for the number of seconds asked, as raw gzip bytes', async () => {
    const s = await serve((_req, res) => {
      res.setHeader('Content-Type', 'application/octet-stream');
      res.end(PROFILE);
    });
    const src = new PprofSource(service(s.url), { captures: new CaptureRegistry() });
    const f = await src.fetch('profile', { seconds: 7 });
    expect(s.requests[0]?.url).toBe('/debug/pprof/profile?seconds=7');
    expect(Buffer.compare(f.bytes, PROFILE)).toBe(0);
    expect(f.target).toEqual({ label: new URL(s.url).host, chosen: 'configured-url' });
    expect(f.joined).toBe(false);
  });

  it('asks for a goroutine dump with debug=2', async () => {
    const s = await serve((_req, res) => res.end('goroutine 1 [running]:\nmain.main()\n'));
    const src = new PprofSource(service(s.url), { captures: new CaptureRegistry() });
    const f = await src.fetch('goroutine', { debug: 2 });
    expect(s.requests[0]?.url).toBe('/debug/pprof/goroutine?debug=2');
    expect(f.bytes.toString()).toMatch(/^goroutine 1/);
  });

  it('refuses an answer that keeps coming past max_bytes, and stops reading it', async () => {
    const s = await serve((_req, res, written) => {
      res.setHeader('Content-Type', 'application/octet-stream');
      const chunk = Buffer.alloc(64 * 1024, 7);
      let sent = 0;
      const push = () => {
        // An endless body: the client has to stop it.
        while (sent < 64 * 2 ** 20) {
          sent += chunk.length;
          written(chunk.length);
          if (!res.write(chunk)) {
            res.once('drain', push);
            return;
          }
        }
        res.end();
      };
      res.on('close', () => res.destroy());
      push();
    });
    const src = new PprofSource(service(s.url, { maxBytes: 256 * 1024 }), {
      captures: new CaptureRegistry(),
    });
    const e = await sourceError(src.fetch('heap'));
    expect(e.reason).toBe('too_large');
    expect(e.message).toMatch(/over the limit of 262,144 bytes \(pprof\.max_bytes\); refused/);
    // The server could not push the whole 64 MiB: the client hung up.
    await new Promise((r) => setTimeout(r, 50));
    expect(s.written[0]).toBeLessThan(64 * 2 ** 20);
  });

  it('refuses an answer whose Content-Length is over max_bytes without reading it', async () => {
    const s = await serve((_req, res) => {
      res.setHeader('Content-Length', String(10 * 2 ** 20));
      res.write(Buffer.alloc(1024));
    });
    const src = new PprofSource(service(s.url, { maxBytes: 2 ** 20 }), { captures: new CaptureRegistry() });
    const e = await sourceError(src.fetch('heap'));
    expect(e.reason).toBe('too_large');
    expect(e.message).toMatch(/announces 10485760 bytes/);
  });

  it('gives up after the timeout (seconds plus the configured margin for a CPU profile)', async () => {
    const s = await serve(() => {
      // never answers
    });
    const src = new PprofSource(service(s.url, { timeout: '300ms' }), { captures: new CaptureRegistry() });
    const e = await sourceError(src.fetch('heap'));
    expect(e.reason).toBe('timeout');
    expect(e.message).toMatch(
      /pprof aegis-api: fetch heap profile of .* failed: no complete answer within 0.3 s/,
    );
  });

  it('passes on what pprof says when it refuses (a CPU profile already running)', async () => {
    const s = await serve((_req, res) => {
      res.statusCode = 500;
      res.end('Could not enable CPU profiling: cpu profiling already in use\n');
    });
    const src = new PprofSource(service(s.url), { captures: new CaptureRegistry() });
    const e = await sourceError(src.fetch('profile', { seconds: 5 }));
    expect(e.reason).toBe('http_error');
    expect(e.message).toMatch(/HTTP 500: Could not enable CPU profiling: cpu profiling already in use/);
  });

  it('says what a 404 means', async () => {
    const s = await serve((_req, res) => {
      res.statusCode = 404;
      res.end('404 page not found');
    });
    const e = await sourceError(
      new PprofSource(service(s.url), { captures: new CaptureRegistry() }).fetch('heap'),
    );
    expect(e.message).toMatch(/HTTP 404 at \/debug\/pprof\/heap: is net\/http\/pprof registered/);
  });

  it('says the endpoint is unreachable when nothing listens', async () => {
    const s = await serve(() => {});
    const url = s.url;
    await s.close();
    servers.splice(servers.indexOf(s), 1);
    const e = await sourceError(
      new PprofSource(service(url), { captures: new CaptureRegistry() }).fetch('heap'),
    );
    expect(e.reason).toBe('unreachable');
  });

  it('joins a capture of the same target and kind that is running instead of starting a second', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const s = await serve(async (_req, res) => {
      await gate;
      res.end(PROFILE);
    });
    const captures = new CaptureRegistry();
    const a = new PprofSource(service(s.url), { captures });
    const b = new PprofSource(service(s.url), { captures });
    const first = a.fetch('profile', { seconds: 30, requestedBy: 'U111' });
    await new Promise((r) => setTimeout(r, 20));
    const target = await b.resolveTarget(undefined);
    expect(b.running('profile', target)).toMatchObject({ seconds: 30, startedBy: 'U111' });
    const second = b.fetch('profile', { seconds: 30 });
    release();
    const [x, y] = await Promise.all([first, second]);
    expect(s.requests).toHaveLength(1);
    expect(x.joined).toBe(false);
    expect(y.joined).toBe(true);
    expect(y.startedBy).toBe('U111');
    expect(Buffer.compare(x.bytes, y.bytes)).toBe(0);
    expect(captures.size).toBe(0);
  });

  it('refuses a pod name when the endpoint is a fixed URL', async () => {
    const src = new PprofSource(service('http://127.0.0.1:1'), { captures: new CaptureRegistry() });
    await expect(src.resolveTarget('aegis-api-7d9f-x2')).rejects.toThrow(
      /cannot pick pod "aegis-api-7d9f-x2"/,
    );
  });

  describe('through the Kubernetes API pod proxy', () => {
    const podService = () => profilingConfig({ mode: 'pod_proxy' }).services[0] as ServiceConfig;

    it('reaches the named pod through the proxy base it is given, with its headers', async () => {
      const s = await serve((_req, res) => res.end(PROFILE));
      const calls: unknown[] = [];
      const src = new PprofSource(podService(), {
        captures: new CaptureRegistry(),
        podProxyBase: async (namespace, pod, port) => {
          calls.push([namespace, pod, port]);
          return {
            baseURL: `${s.url}/api/v1/namespaces/${namespace}/pods/${pod}:${port}/proxy`,
            headers: { Authorization: 'Bearer t0ken' },
          };
        },
      });
      const f = await src.fetch('heap', { pod: 'aegis-api-7d9f-x2' });
      expect(calls).toEqual([['aegis', 'aegis-api-7d9f-x2', 6060]]);
      expect(s.requests[0]?.url).toBe(
        '/api/v1/namespaces/aegis/pods/aegis-api-7d9f-x2:6060/proxy/debug/pprof/heap',
      );
      expect(s.requests[0]?.headers.authorization).toBe('Bearer t0ken');
      expect(f.target).toEqual({ pod: 'aegis-api-7d9f-x2', label: 'aegis-api-7d9f-x2', chosen: 'named' });
    });

    it('picks the busiest pod when none is named', async () => {
      const s = await serve((_req, res) => res.end(PROFILE));
      const src = new PprofSource(podService(), {
        captures: new CaptureRegistry(),
        busiestPod: async () => 'aegis-api-7d9f-hot',
        podProxyBase: async (ns, pod, port) => ({
          baseURL: `${s.url}/api/v1/namespaces/${ns}/pods/${pod}:${port}/proxy`,
        }),
      });
      const f = await src.fetch('goroutine', { debug: 2 });
      expect(f.target).toMatchObject({ pod: 'aegis-api-7d9f-hot', chosen: 'busiest' });
      expect(s.requests[0]?.url).toContain(
        '/pods/aegis-api-7d9f-hot:6060/proxy/debug/pprof/goroutine?debug=2',
      );
    });

    it('ranks pods by the CPU their containers use, as kubectl top pods does', async () => {
      const asked: unknown[] = [];
      const busiest = busiestPodByCpu(async (ns, selector) => {
        asked.push([ns, selector]);
        return [
          { name: 'aegis-api-a', containers: [{ cpu: 0.2 }, { cpu: 0.1 }] },
          { name: 'aegis-api-b', containers: [{ cpu: 0.45 }] },
          { name: 'aegis-api-c', containers: [{ cpu: 0.05 }] },
        ];
      });
      expect(await busiest(podService())).toBe('aegis-api-b');
      expect(asked).toEqual([['aegis', 'app=aegis-api']]);
      await expect(busiestPodByCpu(async () => [])(podService())).rejects.toThrow(
        /no pod metrics for app=aegis-api/,
      );
    });

    it('refuses a pod name that is not an RFC 1123 name', async () => {
      const src = new PprofSource(podService(), { captures: new CaptureRegistry() });
      await expect(src.resolveTarget('../../secrets')).rejects.toThrow(/not a valid pod name/);
    });
  });

  it('checks the endpoint: GET /debug/pprof/ answers', async () => {
    const s = await serve((req, res) => {
      if (req.url === '/debug/pprof/') res.end('<html>profile heap goroutine mutex</html>');
      else {
        res.statusCode = 404;
        res.end();
      }
    });
    const [ok] = await new PprofSource(service(s.url), { captures: new CaptureRegistry() }).check();
    expect(ok).toMatchObject({ name: 'pprof aegis-api', ok: true });
    expect(ok?.detail).toMatch(/reachable \(profile, heap, goroutine, mutex\)/);
    const [bad] = await new PprofSource(service('http://127.0.0.1:1'), {
      captures: new CaptureRegistry(),
    }).check();
    expect(bad?.ok).toBe(false);
    expect(bad?.hint).toMatch(/pprof.base_url/);
  });
});
